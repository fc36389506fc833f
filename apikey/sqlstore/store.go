package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/apikey"
	"github.com/rsguard/rsguard/audit"
	"github.com/rsguard/rsguard/internal/check"
)

// The defaults of [Config].
const (
	DefaultMaxStaleness  = 30 * time.Second
	DefaultUnknownTTL    = 5 * time.Second
	DefaultQueryTimeout  = 2 * time.Second
	DefaultRetryInterval = time.Second
	DefaultMaxKeys       = 10000
	DefaultMaxUnknown    = 10000
	DefaultMaxQueries    = 16
)

// outageLogInterval is the least time between two log lines about the
// database being unavailable: one line per outage, and no more than one a
// minute however often it comes and goes.
const outageLogInterval = time.Minute

// ErrUnavailable is wrapped by the errors of [Store.Lookup] when the
// database could not answer in time and the cache could not either: the
// [apikey.Authenticator] answers them 503 (audit.ReasonStoreUnavailable).
var ErrUnavailable = errors.New("sqlstore: database unavailable")

// Config configures a [Store]. DB is required; every other field has a
// documented default, used when it is zero.
type Config struct {
	// DB is the database holding the rsguard_api_keys table (see [Schema]),
	// opened with the PostgreSQL driver of your choice, such as pgx's
	// stdlib ("pgx") or lib/pq ("postgres"). Required. The Store never
	// closes it.
	DB *sql.DB

	// MaxStaleness bounds how long a cached record is served without the
	// database confirming it: a change to a key's row (revoked, blocked,
	// scopes, expiry) is seen by every replica at most MaxStaleness after
	// it commits. While the database answers, a record is read again once
	// it is Refresh old; while it does not, the cached record is served
	// until it is MaxStaleness old, then the key is refused with 503.
	// If zero, 30 s.
	MaxStaleness time.Duration

	// Refresh is the age at which a cached record is read again. If zero,
	// MaxStaleness / 3; it must not exceed MaxStaleness. The time between
	// Refresh and MaxStaleness is what an outage is bridged by.
	Refresh time.Duration

	// UnknownTTL is how long a hash the table does not have is answered as
	// unknown (401 unknown_api_key) without a query, so that a client that
	// repeats a wrong key costs one query per UnknownTTL. A key inserted
	// since works after at most this long. If zero, 5 s, or MaxStaleness
	// when that is shorter; at most MaxStaleness.
	UnknownTTL time.Duration

	// MaxKeys bounds the records cached, and MaxUnknown the unknown hashes,
	// each least recently used first out. They are kept apart: a flood of
	// invented keys cannot evict the records of real ones. If zero, 10000
	// each (about 500 bytes a record).
	MaxKeys, MaxUnknown int

	// QueryTimeout bounds one lookup in the database, the wait for a query
	// slot (MaxQueries) included: no request waits longer for the database.
	// If zero, 2 s.
	QueryTimeout time.Duration

	// MaxQueries bounds the lookup queries in flight at once: lookups
	// beyond it wait for a slot within QueryTimeout. Lookups of the same
	// hash share one query. If zero, 16.
	MaxQueries int

	// RetryInterval is how long, after a query failed, lookups that need
	// the database skip it and are answered at once from the cache, or
	// refused: during an outage the database gets one query per interval,
	// not one per request. If zero, 1 s.
	RetryInterval time.Duration

	// Now returns the current time, for the ages of cached entries and the
	// retry interval. If nil, time.Now.
	Now func() time.Time

	// Logger receives one error line when the database becomes unavailable
	// (at most one a minute) and one info line when it answers again. It
	// never names a key or a hash. If nil, nothing is logged.
	Logger *slog.Logger
}

// Store is an [apikey.Store] over the rsguard_api_keys table of a
// PostgreSQL database, with a bounded local cache: see the package
// documentation for the staleness and fault policy. It is safe for
// concurrent use. Build it with [New].
type Store struct {
	db                                       *sql.DB
	maxStale, refresh, unknownTTL, timeout   time.Duration
	retryInterval                            time.Duration
	now                                      func() time.Time
	logger                                   *slog.Logger
	sem                                      chan struct{}
	queries, hits, stale, refusedUnavailable atomic.Uint64
	mu                                       sync.Mutex
	keys, unknown                            *lru
	calls                                    map[apikey.Hash]*call
	down, downLogged                         bool      // the last query failed; and it was logged
	retryAt, downSince, lastLog              time.Time // while down
	lastErr                                  error
}

// call is one lookup query that concurrent lookups of a hash share.
type call struct {
	done chan struct{} // closed when rec and err are set
	rec  *apikey.Record
	err  error
}

// New checks cfg and returns a Store. Errors wrap [rsguard.ErrInvalidConfig]
// and name the field at fault. New does not touch the database: a database
// down at start is an outage like any other (lookups are refused with 503
// until it answers).
func New(cfg Config) (*Store, error) {
	switch {
	case cfg.DB == nil || check.IsNil(cfg.DB):
		return nil, fmt.Errorf("%w: sqlstore: DB is required", rsguard.ErrInvalidConfig)
	case cfg.Logger != nil && cfg.Logger.Handler() == nil:
		return nil, fmt.Errorf("%w: sqlstore: Logger has no handler: build it with slog.New, or leave it nil", rsguard.ErrInvalidConfig)
	}
	for _, f := range []struct {
		name string
		v    int64
	}{
		{"MaxStaleness", int64(cfg.MaxStaleness)}, {"Refresh", int64(cfg.Refresh)},
		{"UnknownTTL", int64(cfg.UnknownTTL)}, {"QueryTimeout", int64(cfg.QueryTimeout)},
		{"RetryInterval", int64(cfg.RetryInterval)}, {"MaxKeys", int64(cfg.MaxKeys)},
		{"MaxUnknown", int64(cfg.MaxUnknown)}, {"MaxQueries", int64(cfg.MaxQueries)},
	} {
		if f.v < 0 {
			return nil, fmt.Errorf("%w: sqlstore: %s is negative", rsguard.ErrInvalidConfig, f.name)
		}
	}
	s := &Store{
		db:            cfg.DB,
		maxStale:      or(cfg.MaxStaleness, DefaultMaxStaleness),
		timeout:       or(cfg.QueryTimeout, DefaultQueryTimeout),
		retryInterval: or(cfg.RetryInterval, DefaultRetryInterval),
		now:           cfg.Now,
		logger:        cfg.Logger,
		sem:           make(chan struct{}, or(cfg.MaxQueries, DefaultMaxQueries)),
		keys:          newLRU(or(cfg.MaxKeys, DefaultMaxKeys)),
		unknown:       newLRU(or(cfg.MaxUnknown, DefaultMaxUnknown)),
		calls:         make(map[apikey.Hash]*call),
	}
	s.refresh = or(cfg.Refresh, s.maxStale/3)
	s.unknownTTL = or(cfg.UnknownTTL, min(DefaultUnknownTTL, s.maxStale))
	switch {
	case s.refresh > s.maxStale:
		return nil, fmt.Errorf("%w: sqlstore: Refresh (%v) exceeds MaxStaleness (%v)", rsguard.ErrInvalidConfig, s.refresh, s.maxStale)
	case s.unknownTTL > s.maxStale:
		return nil, fmt.Errorf("%w: sqlstore: UnknownTTL (%v) exceeds MaxStaleness (%v)", rsguard.ErrInvalidConfig, s.unknownTTL, s.maxStale)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.logger == nil {
		s.logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return s, nil
}

func or[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// Lookup implements [apikey.Store]: the record whose hash is h, from the
// cache while it is younger than Refresh, else from the database. It
// returns audit.ReasonUnknownAPIKey when the table has no such hash (also
// from the cache of unknown hashes, for UnknownTTL), and an error wrapping
// [ErrUnavailable] when the database does not answer within QueryTimeout
// and the cache has no record of h younger than MaxStaleness. A row that
// makes no valid [apikey.Record] is an error too (the key gets 503, and the
// Authenticator logs the error, which names the row by id). The record is
// shared: treat it as read-only.
func (s *Store) Lookup(ctx context.Context, h apikey.Hash) (*apikey.Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	now := s.now()
	s.mu.Lock()
	e := s.keys.get(h)
	if e != nil && now.Sub(e.fetched) < s.refresh {
		s.mu.Unlock()
		s.hits.Add(1)
		return e.rec, nil
	}
	if e == nil {
		if u := s.unknown.get(h); u != nil && now.Sub(u.fetched) < s.unknownTTL {
			s.mu.Unlock()
			s.hits.Add(1)
			return nil, audit.ReasonUnknownAPIKey
		}
	}
	skip := s.down && now.Before(s.retryAt)
	lastErr := s.lastErr
	s.mu.Unlock()

	var err error
	if skip {
		err = fmt.Errorf("%w: %w", ErrUnavailable, lastErr)
	} else {
		var rec *apikey.Record
		rec, err = s.fetch(ctx, h)
		if err == nil || errors.Is(err, audit.ReasonUnknownAPIKey) || !errors.Is(err, ErrUnavailable) {
			return rec, err
		}
		// The failed query may have taken up to QueryTimeout: the cached
		// record's age is judged now, not when the lookup began, so that it
		// is never served past MaxStaleness.
		now = s.now()
	}
	if e != nil && now.Sub(e.fetched) < s.maxStale {
		s.stale.Add(1)
		return e.rec, nil
	}
	s.refusedUnavailable.Add(1)
	return nil, err
}

// fetch reads h from the database, sharing the query with concurrent
// lookups of h; the query runs apart from ctx (bounded by QueryTimeout),
// so that a caller that leaves does not cancel it for the others.
func (s *Store) fetch(ctx context.Context, h apikey.Hash) (*apikey.Record, error) {
	s.mu.Lock()
	c := s.calls[h]
	if c == nil {
		c = &call{done: make(chan struct{})}
		s.calls[h] = c
		go s.run(context.WithoutCancel(ctx), h, c)
	}
	s.mu.Unlock()
	select {
	case <-c.done:
		return c.rec, c.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// run runs the query of c and records its outcome in the caches and the
// outage state.
func (s *Store) run(ctx context.Context, h apikey.Hash, c *call) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	start := s.now()
	s.queries.Add(1)
	rec, err := s.query(ctx, h)
	var rowErr *rowError
	var logDown, logUp bool
	var outage time.Duration
	s.mu.Lock()
	delete(s.calls, h)
	switch {
	case err == nil:
		s.keys.put(&entry{hash: h, rec: rec, fetched: start})
		s.unknown.remove(h)
	case errors.Is(err, sql.ErrNoRows):
		s.unknown.put(&entry{hash: h, fetched: start})
		s.keys.remove(h)
		err = audit.ReasonUnknownAPIKey
	case errors.As(err, &rowErr):
		// The database answered: not an outage. The key is refused (503)
		// until its row is fixed.
		s.keys.remove(h)
	default:
		err = fmt.Errorf("%w: %w", ErrUnavailable, err)
		if !s.down {
			s.down, s.downSince = true, start
			logDown = s.lastLog.IsZero() || start.Sub(s.lastLog) >= outageLogInterval
			if s.downLogged = logDown; logDown {
				s.lastLog = start
			}
		}
		// The interval runs from the failure, not from the query's start:
		// a query that hung for QueryTimeout (longer than RetryInterval)
		// must not leave retryAt already past, or every lookup would query
		// the hung database and wait the full QueryTimeout.
		s.retryAt, s.lastErr = s.now().Add(s.retryInterval), err
	}
	if err == nil || rowErr != nil || errors.Is(err, audit.ReasonUnknownAPIKey) {
		if s.down {
			logUp, outage = s.downLogged, start.Sub(s.downSince)
			s.down, s.downLogged, s.lastErr = false, false, nil
		}
	}
	c.rec, c.err = rec, err
	s.mu.Unlock()
	close(c.done)
	switch {
	case logDown:
		s.logger.Error("apikey/sqlstore: database unavailable: serving cached keys up to their staleness bound, refusing the others with 503",
			"error", err, "max_staleness", s.maxStale, "retry_interval", s.retryInterval)
	case logUp:
		s.logger.Info("apikey/sqlstore: database available again", "outage", outage)
	}
}

// rowError is the error of a row that makes no valid record.
type rowError struct{ err error }

func (e *rowError) Error() string { return e.err.Error() }
func (e *rowError) Unwrap() error { return e.err }

// query reads the row of h within ctx, waiting for a query slot first.
func (s *Store) query(ctx context.Context, h apikey.Hash) (*apikey.Record, error) {
	select {
	case s.sem <- struct{}{}:
		defer func() { <-s.sem }()
	case <-ctx.Done():
		return nil, fmt.Errorf("waiting for a query slot (%d in flight): %w", cap(s.sem), ctx.Err())
	}
	var r row
	err := s.db.QueryRowContext(ctx, selectKey, h[:]).Scan(&r.id, &r.hash, &r.owner, &r.clientID,
		&r.tenant, &r.scopes, &r.created, &r.expires, &r.revoked, &r.state)
	if err != nil {
		return nil, err
	}
	rec, err := r.record()
	if err != nil {
		return nil, &rowError{err}
	}
	return rec, nil
}

// Stats are a [Store]'s counters since it was built, and its cache sizes.
type Stats struct {
	// Queries counts the lookup queries sent to the database.
	Queries uint64
	// Hits counts lookups answered from the cache without a query, known
	// keys and unknown ones.
	Hits uint64
	// Stale counts lookups answered from a cached record older than
	// Refresh because the database did not answer.
	Stale uint64
	// Unavailable counts lookups refused because the database did not
	// answer and the cache could not.
	Unavailable uint64
	// Keys and Unknown are the entries in the two caches.
	Keys, Unknown int
	// Down reports whether the last query failed.
	Down bool
}

// Stats returns the Store's counters, for metrics and tests.
func (s *Store) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Stats{
		Queries: s.queries.Load(), Hits: s.hits.Load(), Stale: s.stale.Load(),
		Unavailable: s.refusedUnavailable.Load(),
		Keys:        s.keys.len(), Unknown: s.unknown.len(), Down: s.down,
	}
}

// Forget drops the cached entry of h, if any, so that the next lookup reads
// the database: call it on the replica that changed a key's row, to see the
// change at once there (the others see it within MaxStaleness).
func (s *Store) Forget(h apikey.Hash) {
	s.mu.Lock()
	s.keys.remove(h)
	s.unknown.remove(h)
	s.mu.Unlock()
}
