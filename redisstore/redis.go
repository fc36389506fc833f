package redisstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rsguard/rsguard"
)

// DefaultTimeout is the bound of one call to Redis when a config's Timeout
// is zero.
const DefaultTimeout = 250 * time.Millisecond

// retryAfter is the Retry-After of the errors that wrap [ErrUnavailable].
const retryAfter = 5 * time.Second

// outageLogInterval is the least time between two log lines about Redis
// being unavailable: one line per outage, and no more than one a minute
// however often it comes and goes.
const outageLogInterval = time.Minute

// ErrUnavailable is wrapped by the errors of every store of this package
// when Redis did not answer within the store's Timeout (down, slow,
// unreachable, out of memory). Such an error also has a RetryAfter()
// time.Duration method, which [validate.ReplayStore] callers use for the
// Retry-After of their 503.
var ErrUnavailable = errors.New("redisstore: redis unavailable")

// unavailable is the error of a call Redis did not answer: it wraps
// ErrUnavailable and the client's error, which names no key.
type unavailable struct {
	op  string
	err error
}

func (e *unavailable) Error() string {
	return "redisstore: redis unavailable (" + e.op + "): " + e.err.Error()
}
func (e *unavailable) Unwrap() []error           { return []error{ErrUnavailable, e.err} }
func (e *unavailable) RetryAfter() time.Duration { return retryAfter }

// common is what every store of this package has: its client, key prefix,
// per-call timeout, clock and outage state.
type common struct {
	client  redis.UniversalClient
	prefix  string
	timeout time.Duration
	now     func() time.Time
	health  *health
}

// newCommon checks the fields every config has; what names the store in
// errors ("DenyListConfig").
func newCommon(what string, client redis.UniversalClient, prefix, defPrefix string, timeout time.Duration,
	now func() time.Time, logger *slog.Logger) (common, error) {
	bad := func(format string, args ...any) (common, error) {
		return common{}, fmt.Errorf("%w: redisstore: %s.%s", rsguard.ErrInvalidConfig, what, fmt.Sprintf(format, args...))
	}
	switch {
	case isNil(client):
		return bad("Client is required")
	case !contextTimeouts(client):
		return bad("Client must be built with ContextTimeoutEnabled: true (redis.Options, ClusterOptions, RingOptions …), so that Timeout bounds every call")
	case strings.ContainsAny(prefix, "{}"):
		return bad("Prefix must not contain { or }: the stores put Redis Cluster hash tags in their keys")
	case timeout < 0:
		return bad("Timeout is negative")
	case logger != nil && logger.Handler() == nil:
		return bad("Logger has no handler: build it with slog.New, or leave it nil")
	}
	c := common{client: client, prefix: prefix, timeout: timeout, now: now}
	if c.prefix == "" {
		c.prefix = defPrefix
	}
	if c.timeout == 0 {
		c.timeout = DefaultTimeout
	}
	if c.now == nil {
		c.now = time.Now
	}
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	c.health = &health{name: what, logger: logger, now: c.now}
	return c, nil
}

// contextTimeouts reports whether client honours the deadline of a
// call's context. The clients go-redis builds (Client, also for Sentinel
// failover; ClusterClient; Ring) say so in their options; another
// implementation of UniversalClient is trusted to.
func contextTimeouts(client redis.UniversalClient) bool {
	switch c := client.(type) {
	case *redis.Client:
		return c.Options().ContextTimeoutEnabled
	case *redis.ClusterClient:
		return c.Options().ContextTimeoutEnabled
	case *redis.Ring:
		return c.Options().ContextTimeoutEnabled
	}
	return true
}

// isNil reports whether v is nil or an interface holding a nil pointer.
func isNil(v any) bool {
	if v == nil {
		return true
	}
	switch rv := reflect.ValueOf(v); rv.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Func, reflect.Slice, reflect.Chan, reflect.Interface:
		return rv.IsNil()
	}
	return false
}

// call runs fn with ctx bounded by the store's timeout, and records the
// outcome in the outage state. fn's errors that are Redis's answers (a
// script's refusal) must not reach here: every error is an outage, except
// when the caller's own ctx is done (its request canceled, or its deadline,
// shorter than Timeout, passed): then call returns ctx's error, which does
// not wrap ErrUnavailable, and Redis is not counted as down.
func (c *common) call(parent context.Context, op string, fn func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(parent, c.timeout)
	defer cancel()
	if err := fn(ctx); err != nil {
		if perr := parent.Err(); perr != nil {
			return fmt.Errorf("redisstore: %s: %w", op, perr)
		}
		c.health.fail(err)
		return &unavailable{op: op, err: err}
	}
	c.health.ok()
	return nil
}

// health is a store's outage state: down since the first failure, up
// again at the first success; it logs one error line when an outage begins
// (at most one per outageLogInterval) and one info line when a logged one
// ends.
type health struct {
	name   string
	logger *slog.Logger
	now    func() time.Time

	down           atomic.Bool // read without the lock on every success
	mu             sync.Mutex
	since, lastLog time.Time
	logged         bool
	failures       int
}

func (h *health) fail(err error) {
	now := h.now()
	h.mu.Lock()
	if h.down.Load() {
		h.failures++
		h.mu.Unlock()
		return
	}
	h.down.Store(true)
	h.since, h.failures = now, 1
	h.logged = h.lastLog.IsZero() || now.Sub(h.lastLog) >= outageLogInterval
	if h.logged {
		h.lastLog = now
	}
	logged := h.logged
	h.mu.Unlock()
	if logged {
		h.logger.Error("redisstore: redis unavailable: requests that need it are refused until it answers",
			"store", h.name, "error", err.Error())
	}
}

func (h *health) ok() {
	if !h.down.Load() {
		return
	}
	now := h.now()
	h.mu.Lock()
	if !h.down.Load() {
		h.mu.Unlock()
		return
	}
	h.down.Store(false)
	logged, outage, failures := h.logged, now.Sub(h.since), h.failures
	h.mu.Unlock()
	if logged {
		h.logger.Info("redisstore: redis available again", "store", h.name, "outage", outage, "failed_calls", failures)
	}
}

// ceilMillis returns d in whole milliseconds, rounded up, at least 1: a
// TTL that keeps a key at least d.
func ceilMillis(d time.Duration) int64 {
	ms := int64((d + time.Millisecond - 1) / time.Millisecond)
	return max(ms, 1)
}
