package mcpguard

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/audit"
	"github.com/rsguard/rsguard/internal/check"
)

const (
	// headerSession is the MCP Streamable HTTP session header, canonical.
	headerSession = "Mcp-Session-Id"

	defaultMaxSessions         = 10000
	defaultMaxSessionsPerOwner = 64
	defaultIdleTimeout         = time.Hour

	// logInterval spaces the log lines of repeated failures.
	logInterval = time.Minute
)

// SessionConfig configures [Sessions]. Every field has a documented default.
type SessionConfig struct {
	// Store holds the bindings. If nil, a store in this process's memory
	// holding at most MaxSessions bindings, MaxSessionsPerOwner of them for
	// each owner; set a shared one when several replicas serve the same
	// sessions.
	Store SessionStore

	// MaxSessions bounds the default store: a new session beyond it is
	// refused with 503 (audit.ReasonTooManySessions) until a binding ends.
	// If 0, 10000. For the default store only: refused with a Store, whose
	// capacity is its own.
	MaxSessions int

	// MaxSessionsPerOwner bounds the live bindings of one owner in the
	// default store, so that one caller cannot exhaust it: a caller already
	// holding that many is refused a new session with 503 and Retry-After
	// (audit.ReasonTooManySessions) until one of them ends (DELETE, expiry);
	// other callers are unaffected, and live bindings are never evicted. If
	// 0, 64. For the default store only: refused with a Store, which should
	// enforce a bound of its own (see [SessionStore].Bind).
	MaxSessionsPerOwner int

	// IdleTimeout ends a binding unused this long (each request of the
	// session extends it); the session is then unknown (404). If 0, 1 hour;
	// negative is refused.
	IdleTimeout time.Duration

	// Now is the clock of bindings and their timeouts. If nil, time.Now.
	Now func() time.Time

	// OnDecision, if set, receives one authorize-stage audit.Decision per
	// refused request (nothing when a request passes). If nil, no decision
	// is made.
	OnDecision audit.Func

	// Logger receives store failures, at most one line a minute, and
	// programming errors (a missing principal or one with an empty Subject,
	// an unusable session id from the server), never a session id. If nil,
	// nothing is logged.
	Logger *slog.Logger
}

// Sessions binds MCP sessions to the principals that create them: see
// [Sessions.Middleware]. Build it with [NewSessions]; it is safe for
// concurrent use.
type Sessions struct {
	store      SessionStore
	mem        *memStore // the default store; nil with SessionConfig.Store
	idle       time.Duration
	now        func() time.Time
	onDecision audit.Func
	logger     *slog.Logger
	storeLog   limiter // store failures
	serverLog  limiter // programming errors around the middleware
}

// NewSessions checks cfg and returns a Sessions. Errors wrap
// [rsguard.ErrInvalidConfig] and name the field at fault.
func NewSessions(cfg SessionConfig) (*Sessions, error) {
	switch {
	case cfg.Store != nil && check.IsNil(cfg.Store):
		return nil, fmt.Errorf("%w: SessionConfig.Store is a typed nil: leave it nil for the default store", rsguard.ErrInvalidConfig)
	case cfg.MaxSessions < 0:
		return nil, fmt.Errorf("%w: SessionConfig.MaxSessions is negative", rsguard.ErrInvalidConfig)
	case cfg.Store != nil && cfg.MaxSessions != 0:
		return nil, fmt.Errorf("%w: SessionConfig.MaxSessions bounds the default store only: leave it 0 with a Store", rsguard.ErrInvalidConfig)
	case cfg.MaxSessionsPerOwner < 0:
		return nil, fmt.Errorf("%w: SessionConfig.MaxSessionsPerOwner is negative", rsguard.ErrInvalidConfig)
	case cfg.Store != nil && cfg.MaxSessionsPerOwner != 0:
		return nil, fmt.Errorf("%w: SessionConfig.MaxSessionsPerOwner bounds the default store only: leave it 0 with a Store, and bound each owner's bindings in the Store", rsguard.ErrInvalidConfig)
	case cfg.IdleTimeout < 0:
		return nil, fmt.Errorf("%w: SessionConfig.IdleTimeout is negative", rsguard.ErrInvalidConfig)
	case cfg.Logger != nil && cfg.Logger.Handler() == nil:
		return nil, fmt.Errorf("%w: SessionConfig.Logger has no handler: build it with slog.New, or leave it nil to log nothing", rsguard.ErrInvalidConfig)
	}
	s := &Sessions{
		store: cfg.Store, idle: cfg.IdleTimeout, now: cfg.Now,
		onDecision: cfg.OnDecision, logger: cfg.Logger,
	}
	if s.idle == 0 {
		s.idle = defaultIdleTimeout
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.store == nil {
		n, per := cfg.MaxSessions, cfg.MaxSessionsPerOwner
		if n == 0 {
			n = defaultMaxSessions
		}
		if per == 0 {
			per = defaultMaxSessionsPerOwner
		}
		s.mem = newMemStore(n, per)
		s.store = s.mem
	}
	return s, nil
}

// Middleware checks the MCP session of every request to next, the MCP
// server; it runs after an [rsguard.Guard]. The owner of a request is its
// principal's [rsguard.Principal.Subject], stable across token refreshes
// and distinct across kinds of principal.
//
//   - Every method is checked alike (GET, POST, DELETE, HEAD, PUT, "get",
//     …), except an OPTIONS without Mcp-Session-Id, which passes through
//     unchanged: a CORS preflight carries no credentials, nor a session to
//     check. An OPTIONS that names a session is checked like the others,
//     so that no method lets a caller probe another's session.
//   - A request without a principal, or whose principal has an empty
//     Subject (the middlewares are misordered, or an Authenticator is
//     wrong), is answered 500 (audit.ReasonInternalError) and logged: it
//     never passes, so sessions are never shared by empty subjects.
//   - A request without Mcp-Session-Id passes. If the server's answer sets
//     Mcp-Session-Id (initialize), the id is bound to the owner until
//     IdleTimeout from now, before the status line is sent. If it cannot
//     be, the answer is replaced — the server's headers, including
//     Mcp-Session-Id, dropped and its body discarded, its further writes
//     failing: 503 with Retry-After: 30 when the store is full
//     (audit.ReasonTooManySessions), 503 with Retry-After: 5 when the
//     store fails (audit.ReasonStoreUnavailable), 500 when the server
//     reused an id bound to another owner (audit.ReasonSessionNotOwned) or
//     issued an unusable one (not 1–256 visible ASCII characters, or
//     several; audit.ReasonInternalError). With the default store full, or
//     the owner holding SessionConfig.MaxSessionsPerOwner live bindings, a
//     POST is refused with the same 503 before the server sees it.
//   - A request with one Mcp-Session-Id passes when its session is bound
//     to the same owner and its binding has not expired; the binding is
//     extended by IdleTimeout. An id that is not 1–256 visible ASCII
//     characters, unknown, ended or expired (audit.ReasonUnknownSession),
//     or bound to another owner (audit.ReasonSessionNotOwned) is answered
//     404, identically, without reaching the server; a store failure 503
//     with Retry-After: 5 (audit.ReasonStoreUnavailable). If the server
//     answers with a different Mcp-Session-Id, it is bound to the same
//     owner by the rules above. A DELETE the server answers 2xx ends the
//     binding, and so does any request the server answers 404 (MCP: the
//     server no longer knows the session, after a restart or its own
//     timeout); a store failure there is logged, the answer stands.
//   - A request with more than one Mcp-Session-Id header is answered 400
//     (audit.ReasonInvalidRequest) without reaching the server.
//
// Refusals carry a JSON-RPC error object with a null id and a short
// message ("session not found" for every 404), Content-Type
// application/json and Cache-Control: no-store; they never echo the id or
// the principal. Each one makes an authorize-stage decision
// (SessionConfig.OnDecision); a request that passes makes none.
//
// Streaming answers stream: the writer next gets flushes (http.Flusher,
// and [http.ResponseController]), so SSE events reach the client as they
// are written; Unwrap lets ResponseController set deadlines. Hijacking is
// not supported through Sessions, which must see the whole answer: the
// writer's Hijack, and ResponseController.Hijack, return an error wrapping
// [http.ErrNotSupported]. Stateless servers never issue a session id:
// nothing is bound and every request passes.
func (s *Sessions) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodOptions && len(r.Header.Values(headerSession)) == 0 { // exactly, RFC 9110 §9.1
			next.ServeHTTP(w, r)
			return
		}
		var start time.Time
		if s.onDecision != nil {
			start = time.Now()
		}
		p, ok := rsguard.FromContext(r.Context())
		switch {
		case !ok:
			s.logServer(r.Context(), "mcpguard: no principal in the request context: put Sessions.Middleware after an rsguard.Guard")
			s.refuse(w, r, nil, refuseNoPrincipal, start)
			return
		case p.Subject == "":
			s.logServer(r.Context(), "mcpguard: the principal has an empty Subject: sessions cannot be bound to it")
			s.refuse(w, r, p, refuseNoPrincipal, start)
			return
		}
		var current string
		switch ids := r.Header[headerSession]; len(ids) {
		case 0:
			if r.Method == http.MethodPost && s.mem != nil && s.mem.full(p.Subject, s.now()) {
				s.refuse(w, r, p, refuseTooMany, start)
				return
			}
		case 1:
			if rf := s.use(r.Context(), ids[0], p.Subject); rf != refuseNone {
				s.refuse(w, r, p, rf, start)
				return
			}
			current = ids[0]
		default:
			s.refuse(w, r, p, refuseTwoIDs, start)
			return
		}
		sw := &sessionWriter{ResponseWriter: w, s: s, r: r, p: p, current: current, start: start}
		if h := w.Header(); len(h) != 0 {
			// Only a replaced answer needs them (rare), but the server
			// may change them in place: a copy, when there are any.
			sw.before = h.Clone()
		}
		if s.onDecision != nil {
			sw.spent = time.Since(start)
		}
		next.ServeHTTP(sw, r)
		if !sw.wroteHeader && len(w.Header()[headerSession]) != 0 {
			sw.WriteHeader(http.StatusOK) // as net/http will: bind first
		}
		status := sw.status
		if !sw.wroteHeader {
			status = http.StatusOK
		}
		ended := status == http.StatusNotFound || r.Method == http.MethodDelete && status >= 200 && status <= 299
		if current != "" && !sw.refused && ended {
			if err := s.store.Delete(context.WithoutCancel(r.Context()), current); err != nil {
				s.logStore(r.Context(), "delete", err)
			}
		}
	})
}

// use checks the session id of a request by owner.
func (s *Sessions) use(ctx context.Context, id, owner string) refusal {
	if !check.IsSessionID(id) {
		return refuseUnknown
	}
	now := s.now()
	err := s.store.Use(ctx, id, owner, now, now.Add(s.idle))
	switch {
	case err == nil:
		return refuseNone
	case errors.Is(err, audit.ReasonUnknownSession):
		return refuseUnknown
	case errors.Is(err, audit.ReasonSessionNotOwned):
		return refuseNotOwned
	}
	s.logStore(ctx, "use", err)
	return refuseStore
}

// refuse answers r with rf, up front, and makes its decision.
func (s *Sessions) refuse(w http.ResponseWriter, r *http.Request, p *rsguard.Principal, rf refusal, start time.Time) {
	if s.onDecision != nil {
		s.decide(r, p, rf, start, time.Since(start))
	}
	rf.write(w)
}

// decide sends the decision of r, refused with rf, to OnDecision.
func (s *Sessions) decide(r *http.Request, p *rsguard.Principal, rf refusal, start time.Time, latency time.Duration) {
	d := rsguard.NewDecision(r, audit.StageAuthorize, p)
	d.Reason, d.Status, d.Time, d.Latency = rf.reason(), rf.status(), start, latency
	s.onDecision(r.Context(), d)
}

// logStore logs a store failure, at most once per logInterval.
func (s *Sessions) logStore(ctx context.Context, op string, err error) {
	if s.logger == nil {
		return
	}
	if ok, skipped := s.storeLog.allow(s.now()); ok {
		s.logger.ErrorContext(ctx, "mcpguard: session store failed", "op", op, "error", err, "suppressed", skipped)
	}
}

// logServer logs a programming error, at most once per logInterval.
func (s *Sessions) logServer(ctx context.Context, msg string) {
	if s.logger == nil {
		return
	}
	if ok, skipped := s.serverLog.allow(s.now()); ok {
		s.logger.ErrorContext(ctx, msg, "suppressed", skipped)
	}
}

// limiter lets one event through per logInterval and counts the others.
type limiter struct {
	mu         sync.Mutex
	next       time.Time
	used       bool
	suppressed int
}

// allow reports whether an event at now may be logged, and how many were
// not since the last one that was.
func (l *limiter) allow(now time.Time) (bool, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.used && now.Before(l.next) {
		l.suppressed++
		return false, 0
	}
	n := l.suppressed
	l.used, l.next, l.suppressed = true, now.Add(logInterval), 0
	return true, n
}
