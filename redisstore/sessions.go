package redisstore

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/audit"
)

// The defaults of [SessionStoreConfig].
const (
	DefaultSessionPrefix       = "rsguard:session:"
	DefaultMaxSessionsPerOwner = 64
)

// SessionStoreConfig configures a [SessionStore]. Client is required;
// every other field has a documented default, used when it is zero.
type SessionStoreConfig struct {
	// Client is the Redis the replicas share, as in [DenyListConfig].Client
	// (ContextTimeoutEnabled: true, and maxmemory-policy noeviction, or a
	// full Redis may evict live bindings: their sessions would end, 404).
	// Required. The SessionStore never closes it.
	Client redis.UniversalClient

	// Prefix starts every key of the store; it must not contain { or }.
	// If empty, "rsguard:session:".
	Prefix string

	// MaxSessionsPerOwner bounds the live bindings of one owner, as
	// mcpguard.SessionConfig.MaxSessionsPerOwner bounds the default
	// store's: a new binding beyond it is refused with an error wrapping
	// audit.ReasonTooManySessions (503 with Retry-After) until one ends;
	// live bindings are never evicted. If zero, 64; negative is refused.
	MaxSessionsPerOwner int

	// Timeout bounds every call to Redis: no request waits longer for it.
	// If zero, 250 ms.
	Timeout time.Duration

	// Logger receives one error line when Redis becomes unavailable (at
	// most one a minute) and one info line when it answers again. It never
	// names a session or an owner. If nil, nothing is logged.
	Logger *slog.Logger
}

// SessionStore is an [mcpguard.SessionStore] in Redis, for
// mcpguard.SessionConfig.Store: MCP session bindings shared by replicas, so
// that a session created through one replica is honoured by every other
// for its owner, and refused (404) for anyone else. Bind is one Lua script,
// atomic in Redis: of two replicas binding one id to two owners, one
// wins and the other gets audit.ReasonSessionNotOwned. A binding is a key
// whose TTL is its idle timeout, extended by Use; each owner's bindings are
// counted in a sorted set, for MaxSessionsPerOwner. Every call is one round
// trip, bounded by Timeout; an error wrapping [ErrUnavailable] is answered
// 503 with Retry-After by mcpguard.Sessions (audit.ReasonStoreUnavailable).
//
// There is no bound on the bindings of all owners together, as
// mcpguard.SessionConfig.MaxSessions gives the default store: Redis's
// maxmemory is the store's capacity, and a full Redis refuses new bindings
// (an error, so 503) while keeping the live ones. The times a SessionStore
// is given are the caller's: it turns them into TTLs (expires − now,
// rounded up to the millisecond), which Redis counts on its own clock.
// On a Redis Cluster every key of a store carries one hash tag ({s}), so
// the store lives on one shard: its scripts need an owner's keys together.
type SessionStore struct {
	common
	perOwner int
}

// NewSessionStore checks cfg and returns a SessionStore. Errors wrap
// [rsguard.ErrInvalidConfig] and name the field at fault. It does not
// touch Redis.
func NewSessionStore(cfg SessionStoreConfig) (*SessionStore, error) {
	if cfg.MaxSessionsPerOwner < 0 {
		return nil, fmt.Errorf("%w: redisstore: SessionStoreConfig.MaxSessionsPerOwner is negative", rsguard.ErrInvalidConfig)
	}
	c, err := newCommon("SessionStoreConfig", cfg.Client, cfg.Prefix, DefaultSessionPrefix, cfg.Timeout, nil, cfg.Logger)
	if err != nil {
		return nil, err
	}
	s := &SessionStore{common: c, perOwner: cfg.MaxSessionsPerOwner}
	if s.perOwner == 0 {
		s.perOwner = DefaultMaxSessionsPerOwner
	}
	return s, nil
}

// sessionKey is the key of a session's binding (its value is the owner),
// ownerKey the sorted set of an owner's session ids, scored by their
// expiry (unix milliseconds, the caller's clock).
func (s *SessionStore) sessionKey(id string) string  { return s.prefix + "{s}i:" + id }
func (s *SessionStore) ownerKey(owner string) string { return s.prefix + "{s}o:" + owner }
func (s *SessionStore) ownerPrefix() string          { return s.prefix + "{s}o:" }
func ttlArgs(now, expires time.Time) (ttl, exp string) {
	return strconv.FormatInt(ceilMillis(expires.Sub(now)), 10), strconv.FormatInt(expires.UnixMilli()+1, 10)
}

// The answers of the scripts, beside 0 (done).
const (
	answerNotOwned = 1
	answerTooMany  = 2
	answerUnknown  = 3
)

// bindScript: KEYS[1] the session, KEYS[2] its owner's set; ARGV: owner,
// id, now (ms), expiry (ms), TTL (ms), per-owner maximum.
var bindScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur and cur ~= ARGV[1] then return 1 end
if not cur then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[3])
  if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[6]) then return 2 end
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[5])
elseif tonumber(ARGV[5]) > redis.call('PTTL', KEYS[1]) then
  redis.call('PEXPIRE', KEYS[1], ARGV[5])
end
if tonumber(ARGV[4]) > tonumber(redis.call('ZSCORE', KEYS[2], ARGV[2]) or '0') then
  redis.call('ZADD', KEYS[2], ARGV[4], ARGV[2])
end
if tonumber(ARGV[5]) > redis.call('PTTL', KEYS[2]) then redis.call('PEXPIRE', KEYS[2], ARGV[5]) end
return 0
`)

// useScript: KEYS[1] the session, KEYS[2] its owner's set; ARGV: owner,
// id, expiry (ms), TTL (ms).
var useScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if not cur then return 3 end
if cur ~= ARGV[1] then return 1 end
if tonumber(ARGV[4]) > redis.call('PTTL', KEYS[1]) then
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
  redis.call('ZADD', KEYS[2], ARGV[3], ARGV[2])
  if tonumber(ARGV[4]) > redis.call('PTTL', KEYS[2]) then redis.call('PEXPIRE', KEYS[2], ARGV[4]) end
end
return 0
`)

// deleteScript: KEYS[1] the session; ARGV: id, the prefix of owner sets
// (the owner's set shares the session's hash tag, so its slot).
var deleteScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur then
  redis.call('DEL', KEYS[1])
  redis.call('ZREM', ARGV[2] .. cur, ARGV[1])
end
return 0
`)

// The errors of Bind and Use that are answers, not failures: fixed, they
// name no session id.
var (
	errUnknown  = fmt.Errorf("%w: the session id is not bound", audit.ReasonUnknownSession)
	errNotOwned = fmt.Errorf("%w: the session id is bound to another owner", audit.ReasonSessionNotOwned)
)

// Bind implements mcpguard.SessionStore.Bind, atomically: it binds id to
// owner for expires − now, or extends the binding if owner holds it; it
// returns an error wrapping audit.ReasonSessionNotOwned, changing nothing,
// if another owner holds it, and one wrapping audit.ReasonTooManySessions
// if owner already holds MaxSessionsPerOwner live bindings.
func (s *SessionStore) Bind(ctx context.Context, id, owner string, now, expires time.Time) error {
	ttl, exp := ttlArgs(now, expires)
	var answer int64
	err := s.call(ctx, "bind", func(ctx context.Context) error {
		var err error
		answer, err = bindScript.Run(ctx, s.client, []string{s.sessionKey(id), s.ownerKey(owner)},
			owner, id, now.UnixMilli(), exp, ttl, s.perOwner).Int64()
		return err
	})
	switch {
	case err != nil:
		return err
	case answer == answerNotOwned:
		return errNotOwned
	case answer == answerTooMany:
		return fmt.Errorf("%w: the owner holds its maximum of %d bindings", audit.ReasonTooManySessions, s.perOwner)
	}
	return nil
}

// Use implements mcpguard.SessionStore.Use: nil when id is bound to owner,
// whose binding it extends to expires − now (never shortens); an error
// wrapping audit.ReasonUnknownSession for an id not bound (never, deleted
// or expired), audit.ReasonSessionNotOwned when another owner holds it
// (changing nothing), [ErrUnavailable] when Redis did not answer.
func (s *SessionStore) Use(ctx context.Context, id, owner string, now, expires time.Time) error {
	ttl, exp := ttlArgs(now, expires)
	var answer int64
	err := s.call(ctx, "use", func(ctx context.Context) error {
		var err error
		answer, err = useScript.Run(ctx, s.client, []string{s.sessionKey(id), s.ownerKey(owner)},
			owner, id, exp, ttl).Int64()
		return err
	})
	switch {
	case err != nil:
		return err
	case answer == answerUnknown:
		return errUnknown
	case answer == answerNotOwned:
		return errNotOwned
	}
	return nil
}

// Delete implements mcpguard.SessionStore.Delete: it ends id's binding, if
// any, and counts it off its owner's bindings.
func (s *SessionStore) Delete(ctx context.Context, id string) error {
	return s.call(ctx, "delete", func(ctx context.Context) error {
		return deleteScript.Run(ctx, s.client, []string{s.sessionKey(id)}, id, s.ownerPrefix()).Err()
	})
}
