package mcpguard

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/audit"
	"github.com/rsguard/rsguard/internal/check"
)

// refusal is one of the answers of [Sessions.Middleware] to a request it
// does not pass on, or whose answer it replaces.
type refusal int

const (
	refuseNone        refusal = iota
	refuseUnknown             // 404: unknown, ended, expired or malformed id
	refuseNotOwned            // 404, the same bytes: bound to another owner
	refuseTwoIDs              // 400: more than one Mcp-Session-Id
	refuseStore               // 503: the store failed
	refuseTooMany             // 503: the store is full
	refuseNoPrincipal         // 500: no Guard ran before
	refuseReused              // 500: the server issued an id bound to another owner
	refuseBadID               // 500: the server issued an unusable id, or several
)

// JSON-RPC error bodies (MCP Streamable HTTP allows one on an HTTP error
// status): a null id, chosen text, never the session id or the principal.
const (
	bodyNotFound    = `{"jsonrpc":"2.0","id":null,"error":{"code":-32001,"message":"session not found"}}` + "\n"
	bodyTwoIDs      = `{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"more than one session id"}}` + "\n"
	bodyUnavailable = `{"jsonrpc":"2.0","id":null,"error":{"code":-32000,"message":"session store unavailable"}}` + "\n"
	bodyTooMany     = `{"jsonrpc":"2.0","id":null,"error":{"code":-32000,"message":"too many sessions"}}` + "\n"
	bodyInternal    = `{"jsonrpc":"2.0","id":null,"error":{"code":-32603,"message":"internal error"}}` + "\n"
)

// answer returns rf's status, audit reason, Retry-After (seconds, or "")
// and body.
func (rf refusal) answer() (int, audit.Reason, string, string) {
	switch rf {
	case refuseUnknown:
		return http.StatusNotFound, audit.ReasonUnknownSession, "", bodyNotFound
	case refuseNotOwned:
		return http.StatusNotFound, audit.ReasonSessionNotOwned, "", bodyNotFound
	case refuseTwoIDs:
		return http.StatusBadRequest, audit.ReasonInvalidRequest, "", bodyTwoIDs
	case refuseStore:
		return http.StatusServiceUnavailable, audit.ReasonStoreUnavailable, "5", bodyUnavailable
	case refuseTooMany:
		return http.StatusServiceUnavailable, audit.ReasonTooManySessions, "30", bodyTooMany
	case refuseReused:
		return http.StatusInternalServerError, audit.ReasonSessionNotOwned, "", bodyInternal
	}
	return http.StatusInternalServerError, audit.ReasonInternalError, "", bodyInternal
}

func (rf refusal) status() int {
	s, _, _, _ := rf.answer()
	return s
}

func (rf refusal) reason() audit.Reason {
	_, r, _, _ := rf.answer()
	return r
}

// write answers with rf on w.
func (rf refusal) write(w http.ResponseWriter) {
	status, _, retry, body := rf.answer()
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Type", "application/json")
	if retry != "" {
		h.Set("Retry-After", retry)
	}
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

// errReplaced is what writes to an answer the middleware replaced return.
var errReplaced = errors.New("mcpguard: the answer was replaced: its session could not be bound")

// sessionWriter is the writer the MCP server gets: before the status line
// is sent, it binds a session id the answer sets; when that fails, it
// replaces the answer.
type sessionWriter struct {
	http.ResponseWriter
	s       *Sessions
	r       *http.Request
	p       *rsguard.Principal
	current string      // the request's session id, already checked; "" for none
	before  http.Header // the headers set before the server ran; nil for none

	start time.Time     // for the decision
	spent time.Duration // by the middleware before the server ran

	wroteHeader bool
	status      int
	refused     bool
}

// WriteHeader binds the session id the answer sets, if new, then writes
// the status; informational (1xx) answers are sent without Mcp-Session-Id.
// An invalid code (not 3 digits) binds nothing: it goes to the wrapped
// writer, which panics as net/http does.
func (sw *sessionWriter) WriteHeader(code int) {
	if sw.refused {
		return
	}
	if sw.wroteHeader || code < 100 || code > 999 {
		sw.ResponseWriter.WriteHeader(code) // superfluous, or invalid: net/http reports it
		return
	}
	h := sw.ResponseWriter.Header()
	if code >= 100 && code <= 199 && code != http.StatusSwitchingProtocols {
		ids, had := h[headerSession]
		delete(h, headerSession)
		sw.ResponseWriter.WriteHeader(code)
		if had {
			h[headerSession] = ids
		}
		return
	}
	sw.wroteHeader, sw.status = true, code
	if ids := h[headerSession]; len(ids) != 0 && (len(ids) != 1 || ids[0] != sw.current) {
		if rf := sw.bind(ids); rf != refuseNone {
			sw.replace(rf)
			return
		}
	}
	sw.ResponseWriter.WriteHeader(code)
}

// bind binds the session id the server issued to the request's owner.
func (sw *sessionWriter) bind(ids []string) refusal {
	s, ctx := sw.s, sw.r.Context()
	var t time.Time
	if s.onDecision != nil {
		t = time.Now()
		defer func() { sw.spent += time.Since(t) }()
	}
	if len(ids) != 1 || !check.IsSessionID(ids[0]) {
		s.logServer(ctx, "mcpguard: the MCP server issued an unusable Mcp-Session-Id (not 1-256 visible ASCII characters, or several)")
		return refuseBadID
	}
	now := s.now()
	err := s.store.Bind(ctx, ids[0], sw.p.Subject, now, now.Add(s.idle))
	switch {
	case err == nil:
		return refuseNone
	case errors.Is(err, audit.ReasonTooManySessions):
		return refuseTooMany
	case errors.Is(err, audit.ReasonSessionNotOwned):
		s.logServer(ctx, "mcpguard: the MCP server issued a session id bound to another principal")
		return refuseReused
	}
	s.logStore(ctx, "bind", err)
	return refuseStore
}

// replace drops the server's answer and answers with rf instead.
func (sw *sessionWriter) replace(rf refusal) {
	sw.refused, sw.status = true, rf.status()
	h := sw.ResponseWriter.Header()
	for k := range h {
		delete(h, k)
	}
	for k, v := range sw.before {
		h[k] = v
	}
	if sw.s.onDecision != nil {
		sw.s.decide(sw.r, sw.p, rf, sw.start, sw.spent)
	}
	rf.write(sw.ResponseWriter)
}

// Write writes b, after the status 200 if none was written. The writes to
// a replaced answer fail with errReplaced.
func (sw *sessionWriter) Write(b []byte) (int, error) {
	if !sw.wroteHeader {
		sw.WriteHeader(http.StatusOK)
	}
	if sw.refused {
		return 0, errReplaced
	}
	return sw.ResponseWriter.Write(b)
}

// FlushError sends what was written, after the status 200 if none was
// written; [http.ResponseController] calls it.
func (sw *sessionWriter) FlushError() error {
	if !sw.wroteHeader {
		sw.WriteHeader(http.StatusOK)
	}
	if sw.refused {
		return errReplaced
	}
	return http.NewResponseController(sw.ResponseWriter).Flush()
}

// Flush implements [http.Flusher], for SSE streams.
func (sw *sessionWriter) Flush() { _ = sw.FlushError() }

// errHijack is what Hijack returns.
var errHijack = fmt.Errorf("mcpguard: hijacking is not supported through Sessions, which must see the whole answer: %w", http.ErrNotSupported)

// Hijack implements [http.Hijacker] by refusing: the middleware must see
// the whole answer, to bind the session id it sets. Being found first, it
// also answers [http.ResponseController].Hijack, which Unwrap would
// otherwise lead to the wrapped writer.
func (sw *sessionWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return nil, nil, errHijack
}

// Unwrap returns the wrapped writer, for [http.ResponseController]'s
// deadlines and full duplex; it flushes through FlushError, and cannot
// hijack (Hijack).
func (sw *sessionWriter) Unwrap() http.ResponseWriter { return sw.ResponseWriter }
