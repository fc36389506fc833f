package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/apikey"
	"github.com/rsguard/rsguard/audit"
	"github.com/rsguard/rsguard/internal/check"
)

// The defaults of [RecorderConfig].
const (
	DefaultFlushInterval = 10 * time.Second
	DefaultFlushEvery    = 10000
	DefaultFlushTimeout  = 10 * time.Second
	DefaultMaxRows       = 100000
)

// The credential kinds of the usage table's "kind" column.
const (
	// KindAPIKey counts requests that carried an API key.
	KindAPIKey = "api_key"
	// KindOAuth counts requests [apikey.Config].Bearer decided: OAuth
	// access tokens (JWTs, introspected or DPoP-bound tokens), or any
	// other credential kind of your own.
	KindOAuth = "oauth"
	// KindAnonymous counts requests without any credential.
	KindAnonymous = "anonymous"
)

// rowsPerStatement bounds the rows of one INSERT: 11 parameters a row,
// well under PostgreSQL's 65535.
const rowsPerStatement = 500

// RecorderConfig configures a [Recorder]. DB is required; every other field
// has a documented default, used when it is zero.
type RecorderConfig struct {
	// DB is the database holding the rsguard_api_key_usage table (see
	// [Schema]). Required. The Recorder never closes it.
	DB *sql.DB

	// FlushInterval is how often the counts are written. If zero, 10 s:
	// a process killed without warning (SIGKILL, a crash, the OOM killer)
	// loses at most the counts of the last interval.
	FlushInterval time.Duration

	// FlushEvery writes the counts as soon as this many requests were
	// counted since the last write, before the interval is up. If zero,
	// 10000. It bounds what a kill loses under heavy traffic.
	FlushEvery int

	// FlushTimeout bounds one write. If zero, 10 s.
	FlushTimeout time.Duration

	// MaxRows bounds the rows (day, kind, client, key) held in memory
	// waiting to be written, which grow while the database is down: the
	// counts of new rows beyond it are dropped (and counted in
	// [RecorderStats].Dropped, and logged once per outage). If zero,
	// 100000 (about 200 bytes a row).
	MaxRows int

	// Now returns the current time, for the day and times of bearer and
	// anonymous requests (a key's use has its own, [apikey.Use].Time). If
	// nil, time.Now.
	Now func() time.Time

	// Logger receives one error line when a write fails (at most one a
	// minute) and one info line when writes succeed again. It never names
	// a key or a hash. If nil, nothing is logged.
	Logger *slog.Logger
}

// Recorder counts requests per UTC day, credential kind, client and key, and
// adds the counts to the rsguard_api_key_usage table in batches, summing
// with the other replicas' (INSERT … ON CONFLICT DO UPDATE SET n = n +
// excluded.n). Counting is in memory and never waits for the database.
// Hook it into an [apikey.Authenticator] with [Recorder.OnUse] and
// [Recorder.Bearer]; read the sums back with [ReadUsage]. Call Close when
// the server has stopped serving (after http.Server.Shutdown, on SIGTERM):
// it writes what is left. It is safe for concurrent use. Build it with
// [NewRecorder].
type Recorder struct {
	db                                  *sql.DB
	interval, timeout                   time.Duration
	every, maxRows                      int
	now                                 func() time.Time
	logger                              *slog.Logger
	kick, stop, stopped                 chan struct{}
	closeOnce                           sync.Once
	recorded, written, dropped, flushes atomic.Uint64
	failing                             atomic.Bool

	mu      sync.Mutex // guards pending and uses
	pending map[usageKey]*usageCounts
	uses    int // requests counted in pending

	flushMu            sync.Mutex // one write at a time
	lastLog, failSince time.Time  // under flushMu
	failLogged         bool
}

type usageKey struct {
	day                 string // YYYY-MM-DD, UTC
	kind, client, keyID string
}

type usageCounts struct {
	accepted, refused, policyRefused uint64
	first, last, lastAccepted        time.Time
	state                            apikey.State
}

func (c *usageCounts) add(o *usageCounts) {
	c.accepted += o.accepted
	c.refused += o.refused
	c.policyRefused += o.policyRefused
	if o.first.Before(c.first) {
		c.first = o.first
	}
	if !o.last.Before(c.last) {
		c.last, c.state = o.last, o.state
	}
	if o.lastAccepted.After(c.lastAccepted) {
		c.lastAccepted = o.lastAccepted
	}
}

// NewRecorder checks cfg and starts a Recorder, whose background writes run
// until Close. Errors wrap [rsguard.ErrInvalidConfig] and name the field at
// fault.
func NewRecorder(cfg RecorderConfig) (*Recorder, error) {
	switch {
	case cfg.DB == nil || check.IsNil(cfg.DB):
		return nil, fmt.Errorf("%w: sqlstore: recorder: DB is required", rsguard.ErrInvalidConfig)
	case cfg.Logger != nil && cfg.Logger.Handler() == nil:
		return nil, fmt.Errorf("%w: sqlstore: recorder: Logger has no handler: build it with slog.New, or leave it nil", rsguard.ErrInvalidConfig)
	case cfg.FlushInterval < 0, cfg.FlushEvery < 0, cfg.FlushTimeout < 0, cfg.MaxRows < 0:
		return nil, fmt.Errorf("%w: sqlstore: recorder: FlushInterval, FlushEvery, FlushTimeout and MaxRows must not be negative", rsguard.ErrInvalidConfig)
	}
	r := &Recorder{
		db:       cfg.DB,
		interval: or(cfg.FlushInterval, DefaultFlushInterval),
		timeout:  or(cfg.FlushTimeout, DefaultFlushTimeout),
		every:    or(cfg.FlushEvery, DefaultFlushEvery),
		maxRows:  or(cfg.MaxRows, DefaultMaxRows),
		now:      cfg.Now,
		logger:   cfg.Logger,
		kick:     make(chan struct{}, 1),
		stop:     make(chan struct{}),
		stopped:  make(chan struct{}),
		pending:  make(map[usageKey]*usageCounts),
	}
	if r.now == nil {
		r.now = time.Now
	}
	if r.logger == nil {
		r.logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	go r.loop()
	return r, nil
}

// OnUse counts one request that presented an API key: set it as
// [apikey.Config].OnUse (call it from your own OnUse if you have one). A
// key that matched a record is counted under its id and its client
// ([apikey.Record.Client]); one that matched none (unknown, malformed) is
// counted under the empty id and client, so that invented keys cannot grow
// the table.
func (r *Recorder) OnUse(_ *http.Request, u apikey.Use) {
	k := usageKey{kind: KindAPIKey}
	if u.Owner != "" || u.ClientID != "" { // a record was found
		k.keyID, k.client = u.ID, cmp.Or(u.ClientID, u.Owner)
	}
	var byPolicy bool
	if u.Err != nil {
		var reason audit.Reason
		errors.As(u.Err, &reason)
		byPolicy = reason == audit.ReasonAPIKeyBlocked || reason == audit.ReasonAPIKeyRetired
	}
	r.count(k, u.Time, u.Err == nil, byPolicy, u.Status.State)
}

// Bearer returns an [rsguard.Authenticator] that runs next and counts what
// it decides, for [apikey.Config].Bearer: an accepted request under the
// principal's ClientID (kind "oauth"), a refused one under the ClientID of
// the refusal's principal when it has one (a token verified, then refused)
// or "", and a request without any credential as anonymous. The apikey
// Authenticator never hands it a request that carries an API key, so no
// request is counted twice. A nil next gives nil (keys only).
func (r *Recorder) Bearer(next rsguard.Authenticator) rsguard.Authenticator {
	if next == nil {
		return nil
	}
	return countingBearer{r: r, next: next}
}

type countingBearer struct {
	r    *Recorder
	next rsguard.Authenticator
}

func (b countingBearer) Authenticate(req *http.Request) (*rsguard.Principal, error) {
	p, err := b.next.Authenticate(req)
	now := b.r.now()
	var reason audit.Reason
	switch {
	case err == nil && p != nil:
		b.r.count(usageKey{kind: KindOAuth, client: p.ClientID}, now, true, false, "")
	case errors.As(err, &reason) && reason == audit.ReasonNoCredential:
		b.r.count(usageKey{kind: KindAnonymous}, now, false, false, "")
	case err != nil:
		k := usageKey{kind: KindOAuth}
		var e *rsguard.Error
		if errors.As(err, &e) && e.Principal != nil {
			k.client = e.Principal.ClientID
		}
		b.r.count(k, now, false, false, "")
	}
	return p, err
}

// count adds one request to the pending counts, and asks for a write once
// FlushEvery requests are pending.
func (r *Recorder) count(k usageKey, t time.Time, accepted, byPolicy bool, st apikey.State) {
	t = t.UTC()
	k.day = t.Format(time.DateOnly)
	r.mu.Lock()
	c := r.pending[k]
	if c == nil {
		if len(r.pending) >= r.maxRows {
			r.recorded.Add(1)
			r.dropped.Add(1)
			r.mu.Unlock()
			return
		}
		c = &usageCounts{first: t, last: t}
		r.pending[k] = c
	}
	if accepted {
		c.accepted++
		if t.After(c.lastAccepted) {
			c.lastAccepted = t
		}
	} else {
		c.refused++
	}
	if byPolicy {
		c.policyRefused++
	}
	if t.Before(c.first) {
		c.first = t
	}
	if !t.Before(c.last) {
		c.last, c.state = t, st
	}
	r.uses++
	full := r.uses >= r.every
	r.recorded.Add(1)
	r.mu.Unlock()
	if full {
		select {
		case r.kick <- struct{}{}:
		default:
		}
	}
}

// loop writes the counts every interval, and when FlushEvery are pending
// (but not while writes fail: then once an interval), until Close.
func (r *Recorder) loop() {
	t := time.NewTicker(r.interval)
	defer t.Stop()
	defer close(r.stopped)
	for {
		select {
		case <-r.stop:
			return
		case <-t.C:
		case <-r.kick:
			if r.failing.Load() {
				continue
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), r.timeout)
		_ = r.Flush(ctx)
		cancel()
	}
}

// Flush writes the pending counts now, in one transaction, and returns
// when they are written or the write failed; on failure the counts are kept
// for the next write. Close calls it.
func (r *Recorder) Flush(ctx context.Context) error {
	r.flushMu.Lock()
	defer r.flushMu.Unlock()
	r.mu.Lock()
	batch, n := r.pending, r.uses
	r.pending, r.uses = make(map[usageKey]*usageCounts, len(batch)), 0
	r.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	err := r.write(ctx, batch)
	now := r.now()
	if err != nil {
		r.mu.Lock()
		for k, c := range batch {
			switch cur := r.pending[k]; {
			case cur != nil:
				cur.add(c)
			case len(r.pending) < r.maxRows:
				r.pending[k] = c
			default:
				r.dropped.Add(c.accepted + c.refused)
				n -= int(c.accepted + c.refused)
			}
		}
		r.uses += n
		r.mu.Unlock()
		if !r.failing.Swap(true) {
			r.failSince = now
			if r.failLogged = r.lastLog.IsZero() || now.Sub(r.lastLog) >= outageLogInterval; r.failLogged {
				r.lastLog = now
				r.logger.Error("apikey/sqlstore: writing API key usage failed: counts are kept in memory and written once the database answers",
					"error", err, "rows", len(batch))
			}
		}
		return fmt.Errorf("%w: writing usage: %w", ErrUnavailable, err)
	}
	r.written.Add(uint64(n))
	r.flushes.Add(1)
	if r.failing.Swap(false) && r.failLogged {
		r.logger.Info("apikey/sqlstore: API key usage written again", "outage", now.Sub(r.failSince))
	}
	return nil
}

// upsert is the head and tail of the statement that adds a batch of counts
// to the usage table; each row is 11 parameters, cast so that PostgreSQL
// types the VALUES list (a multi-row VALUES of untyped parameters would be
// text).
const (
	upsertHead = `INSERT INTO rsguard_api_key_usage AS t
  (day, kind, client, key_id, accepted, refused, policy_refused, first_seen, last_seen, last_accepted, state)
VALUES `
	upsertRow  = `($%d::date, $%d::text, $%d::text, $%d::text, $%d::bigint, $%d::bigint, $%d::bigint, $%d::timestamptz, $%d::timestamptz, $%d::timestamptz, $%d::text)`
	upsertTail = `
ON CONFLICT (day, kind, client, key_id) DO UPDATE SET
  accepted       = t.accepted + excluded.accepted,
  refused        = t.refused + excluded.refused,
  policy_refused = t.policy_refused + excluded.policy_refused,
  first_seen     = least(t.first_seen, excluded.first_seen),
  last_seen      = greatest(t.last_seen, excluded.last_seen),
  last_accepted  = greatest(t.last_accepted, excluded.last_accepted),
  state          = CASE WHEN excluded.last_seen >= t.last_seen THEN excluded.state ELSE t.state END`
)

// write adds batch to the table in one transaction. Rows go in primary key
// order, the same in every replica, so that two replicas writing the same
// rows at once wait for each other instead of deadlocking.
func (r *Recorder) write(ctx context.Context, batch map[usageKey]*usageCounts) (err error) {
	keys := make([]usageKey, 0, len(batch))
	for k := range batch {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b usageKey) int {
		return cmp.Or(cmp.Compare(a.day, b.day), cmp.Compare(a.kind, b.kind),
			cmp.Compare(a.client, b.client), cmp.Compare(a.keyID, b.keyID))
	})
	tx, err := r.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	for len(keys) > 0 {
		chunk := keys[:min(len(keys), rowsPerStatement)]
		keys = keys[len(chunk):]
		var q strings.Builder
		q.WriteString(upsertHead)
		args := make([]any, 0, 11*len(chunk))
		for i, k := range chunk {
			if i > 0 {
				q.WriteString(",\n")
			}
			p := len(args)
			fmt.Fprintf(&q, upsertRow, p+1, p+2, p+3, p+4, p+5, p+6, p+7, p+8, p+9, p+10, p+11)
			c := batch[k]
			last := sql.NullTime{Time: c.lastAccepted, Valid: !c.lastAccepted.IsZero()}
			args = append(args, k.day, k.kind, k.client, k.keyID,
				int64(c.accepted), int64(c.refused), int64(c.policyRefused),
				c.first, c.last, last, string(c.state))
		}
		q.WriteString(upsertTail)
		if _, err = tx.ExecContext(ctx, q.String(), args...); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// Close stops the background writes and writes what is pending, within
// ctx: call it once the server has stopped serving (on SIGTERM, after
// http.Server.Shutdown), with a deadline. While the write fails (the
// database down) Close tries again, backing off from 100 ms to 2 s, until
// it succeeds or ctx is done: no count is lost if the database answers
// before ctx's deadline; if it does not, Close returns the last write's
// error and the counts pending are lost when the process exits. A ctx that
// can never be done (context.Background) gets one attempt. Requests
// counted after Close are kept until a Flush. Calling Close again only
// flushes, the same way.
func (r *Recorder) Close(ctx context.Context) error {
	r.closeOnce.Do(func() { close(r.stop) })
	select {
	case <-r.stopped:
	case <-ctx.Done():
		return ctx.Err()
	}
	err := r.Flush(ctx)
	if ctx.Done() == nil {
		return err
	}
	for wait := closeRetryMin; err != nil; wait = min(2*wait, closeRetryMax) {
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		err = r.Flush(ctx)
	}
	return nil
}

// The backoff of Close's retries.
const (
	closeRetryMin = 100 * time.Millisecond
	closeRetryMax = 2 * time.Second
)

// RecorderStats are a [Recorder]'s counters since it started.
type RecorderStats struct {
	// Recorded counts the requests counted; Written, those whose counts
	// were written to the database; Dropped, those whose counts were
	// dropped because MaxRows rows were pending. Recorded − Written −
	// Dropped are pending.
	Recorded, Written, Dropped uint64
	// Flushes counts the successful writes.
	Flushes uint64
	// Failing reports whether the last write failed.
	Failing bool
}

// Stats returns the Recorder's counters, for metrics and tests.
func (r *Recorder) Stats() RecorderStats {
	return RecorderStats{Recorded: r.recorded.Load(), Written: r.written.Load(),
		Dropped: r.dropped.Load(), Flushes: r.flushes.Load(), Failing: r.failing.Load()}
}
