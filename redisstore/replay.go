package redisstore

import (
	"context"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultReplayPrefix is [ReplayStoreConfig].Prefix when empty.
const DefaultReplayPrefix = "rsguard:dpop:"

// replayClockMargin is added to every id's TTL in a [ReplayStore]: the
// time an id is held beyond its until, so that replicas whose clocks differ
// by up to this much (on top of the Validator's own 1 s margin) still
// refuse a replayed proof.
const replayClockMargin = time.Second

// ReplayStoreConfig configures a [ReplayStore]. Client is required; every
// other field has a documented default, used when it is zero.
type ReplayStoreConfig struct {
	// Client is the Redis the replicas share, as in [DenyListConfig].Client
	// (ContextTimeoutEnabled: true, and maxmemory-policy noeviction, or a
	// full Redis may evict a live id and a replayed proof pass). Required.
	// The ReplayStore never closes it.
	Client redis.UniversalClient

	// Prefix starts every key of the store; it must not contain { or }.
	// If empty, "rsguard:dpop:".
	Prefix string

	// Timeout bounds every call to Redis: no request waits longer for it.
	// If zero, 250 ms.
	Timeout time.Duration

	// Now returns the current time, from which an id's TTL is computed
	// (until − now, plus 1 s). If nil, time.Now.
	Now func() time.Time

	// Logger receives one error line when Redis becomes unavailable (at
	// most one a minute) and one info line when it answers again. It never
	// names an id. If nil, nothing is logged.
	Logger *slog.Logger
}

// ReplayStore is a [validate.ReplayStore] in Redis, for
// validate.DPoPConfig.Replay: the DPoP proof ids seen by any replica, so
// that a proof replayed to another replica is refused too. Use is one SET
// NX PX, atomic in Redis: of two replicas using one id, exactly one
// reports it unseen. The TTL is until − now, now read on the replica that
// stores the id, rounded up to the millisecond, plus a clock margin of 1 s,
// so the id is held at least until until (Redis expires a key no earlier
// than its TTL, and with maxmemory-policy noeviction never evicts it).
// Because the TTL is computed from the storing replica's clock while
// another replica judges a replayed proof by its own, the replicas' clocks
// must agree within 2 s: the Validator's 1 s margin on until plus this
// one. A replica whose clock runs further ahead stores ids that expire
// before the others stop accepting the proof, and a replay to them passes;
// keep the clocks synchronised (NTP) well within that. An
// error wraps [ErrUnavailable] and has a RetryAfter method: the Validator
// answers 503 store_unavailable with that Retry-After (5 s). It is safe
// for concurrent use; build it with [NewReplayStore].
type ReplayStore struct {
	common
}

// NewReplayStore checks cfg and returns a ReplayStore. Errors wrap
// [rsguard.ErrInvalidConfig] and name the field at fault. It does not
// touch Redis.
func NewReplayStore(cfg ReplayStoreConfig) (*ReplayStore, error) {
	c, err := newCommon("ReplayStoreConfig", cfg.Client, cfg.Prefix, DefaultReplayPrefix, cfg.Timeout, cfg.Now, cfg.Logger)
	if err != nil {
		return nil, err
	}
	return &ReplayStore{common: c}, nil
}

// Use implements validate.ReplayStore.Use: it records id until until and
// reports whether it was already recorded (and not yet expired).
func (r *ReplayStore) Use(ctx context.Context, id string, until time.Time) (seen bool, err error) {
	ttl := time.Duration(ceilMillis(until.Sub(r.now())))*time.Millisecond + replayClockMargin
	var set bool
	err = r.call(ctx, "use", func(ctx context.Context) error {
		var err error
		set, err = r.client.SetNX(ctx, r.prefix+id, "", ttl).Result()
		return err
	})
	if err != nil {
		return false, err
	}
	return !set, nil
}
