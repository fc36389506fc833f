package redisstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/validate"
)

// The defaults of [DenyListConfig].
const (
	DefaultDenyListPrefix   = "rsguard:revoked:"
	DefaultMaxTokenLifetime = 24 * time.Hour
)

// maxLeeway is the largest leeway a validate.Validator may have: an entry
// is kept this much longer than the tokens it matches.
const maxLeeway = 5 * time.Minute

// DenyListConfig configures a [DenyList]. Client is required; every other
// field has a documented default, used when it is zero.
type DenyListConfig struct {
	// Client is the Redis the replicas share: a *redis.Client (also from
	// redis.NewFailoverClient, for Sentinel), a *redis.ClusterClient or a
	// *redis.Ring, built with ContextTimeoutEnabled: true so that Timeout
	// bounds every call. Required. The DenyList never closes it.
	//
	// Redis must not evict the entries: run it with maxmemory-policy
	// noeviction (Redis's default), under which a full Redis refuses new
	// revocations with an error instead of forgetting old ones.
	Client redis.UniversalClient

	// Prefix starts every key of the list; it must not contain { or }.
	// If empty, "rsguard:revoked:".
	Prefix string

	// MaxTokenLifetime is the longest lifetime ("exp" minus "iat") of the
	// access tokens your issuers issue, as in [validate.DenyListConfig]: a
	// revocation of a client, subject or session expires from Redis at
	// before + MaxTokenLifetime + 5 min. If zero, 24 h; negative is
	// refused.
	MaxTokenLifetime time.Duration

	// Timeout bounds every call to Redis, a lookup and a revocation alike:
	// no request waits longer for Redis. If zero, 250 ms.
	Timeout time.Duration

	// Now returns the current time, for the entries' expiry. If nil,
	// time.Now.
	Now func() time.Time

	// Logger receives one error line when Redis becomes unavailable (at
	// most one a minute) and one info line when it answers again. It never
	// names a token, a subject or a client. If nil, nothing is logged.
	Logger *slog.Logger
}

// DenyList is a [validate.Revocations] in Redis, with the semantics and
// the write methods of [validate.DenyList]: revoked token ids ("jti"), and
// clients, subjects and sessions whose tokens issued before a given time
// are revoked, each scoped to one issuer, every entry expiring (a Redis
// TTL) when the longest-lived token it can match would have. Replicas that
// share the Redis share the list: a revocation written through any of them
// is seen by every one at its next lookup. See the package documentation
// for the cost and the fault policy. It is safe for concurrent use; build
// it with [NewDenyList].
type DenyList struct {
	common
	maxLifetime time.Duration
}

// NewDenyList checks cfg and returns a DenyList. Errors wrap
// [rsguard.ErrInvalidConfig] and name the field at fault. It does not
// touch Redis: Redis down at start is an outage like any other.
func NewDenyList(cfg DenyListConfig) (*DenyList, error) {
	if cfg.MaxTokenLifetime < 0 {
		return nil, fmt.Errorf("%w: redisstore: DenyListConfig.MaxTokenLifetime is negative", rsguard.ErrInvalidConfig)
	}
	c, err := newCommon("DenyListConfig", cfg.Client, cfg.Prefix, DefaultDenyListPrefix, cfg.Timeout, cfg.Now, cfg.Logger)
	if err != nil {
		return nil, err
	}
	d := &DenyList{common: c, maxLifetime: cfg.MaxTokenLifetime}
	if d.maxLifetime == 0 {
		d.maxLifetime = DefaultMaxTokenLifetime
	}
	return d, nil
}

// The kinds of entry, in the keys.
const (
	kindToken   = "jti"
	kindClient  = "client"
	kindSubject = "sub"
	kindSession = "sid"
)

// key returns the key of an entry: the prefix, the issuer's length and the
// issuer in a Redis Cluster hash tag (so that the keys of one issuer, which
// one lookup reads together, share a slot), the kind and the value.
// Unambiguous: the length delimits the issuer, the kinds contain no colon.
func (d *DenyList) key(kind, issuer, value string) string {
	var b strings.Builder
	b.Grow(len(d.prefix) + 24 + len(issuer) + len(value))
	b.WriteString(d.prefix)
	b.WriteString(strconv.Itoa(len(issuer)))
	b.WriteString(":{")
	b.WriteString(issuer)
	b.WriteString("}")
	b.WriteString(kind)
	b.WriteByte(':')
	b.WriteString(value)
	return b.String()
}

// errEmpty is returned by the Revoke methods for an empty issuer or value.
var errEmpty = errors.New("redisstore: DenyList: issuer and value must not be empty")

// revokeScript stores the entry "before until" (unix microseconds, unix
// milliseconds) under KEYS[1], merged with the one there (the later
// cut-off and the later expiry win), expiring at until. It compares
// numbers but writes back the strings it was given, so no precision is
// lost to Lua's doubles.
var revokeScript = redis.NewScript(`
local before, untl = ARGV[1], ARGV[2]
local old = redis.call('GET', KEYS[1])
if old then
  local ob, ou = string.match(old, '^(%-?%d+) (%d+)$')
  if ob then
    if tonumber(ob) > tonumber(before) then before = ob end
    if tonumber(ou) > tonumber(untl) then untl = ou end
  end
end
redis.call('SET', KEYS[1], before .. ' ' .. untl)
redis.call('PEXPIREAT', KEYS[1], untl)
return 1
`)

// RevokeToken revokes the token of issuer whose "jti" is jti, as
// [validate.DenyList.RevokeToken] does: exp is the token's expiry, after
// which (plus 5 min) the entry expires; if zero, the entry is kept for
// MaxTokenLifetime. The error wraps [ErrUnavailable] when Redis did not
// answer within Timeout: the revocation may or may not have been stored,
// so retry it.
func (d *DenyList) RevokeToken(ctx context.Context, issuer, jti string, exp time.Time) error {
	now := d.now()
	if exp.IsZero() {
		exp = now.Add(d.maxLifetime)
	}
	return d.revoke(ctx, kindToken, issuer, jti, time.Time{}, exp.Add(maxLeeway), now)
}

// RevokeClient revokes every token of issuer for the OAuth client clientID
// issued before the time before, as [validate.DenyList.RevokeClient] does
// (a token without "iat" is revoked whenever its client is).
func (d *DenyList) RevokeClient(ctx context.Context, issuer, clientID string, before time.Time) error {
	return d.revokeBefore(ctx, kindClient, issuer, clientID, before)
}

// RevokeSubject revokes every token of issuer for the subject sub issued
// before the time before, as [validate.DenyList.RevokeSubject] does.
func (d *DenyList) RevokeSubject(ctx context.Context, issuer, sub string, before time.Time) error {
	return d.revokeBefore(ctx, kindSubject, issuer, sub, before)
}

// RevokeSession revokes every token of issuer for the authentication
// session sid issued before the time before, as
// [validate.DenyList.RevokeSession] does.
func (d *DenyList) RevokeSession(ctx context.Context, issuer, sid string, before time.Time) error {
	return d.revokeBefore(ctx, kindSession, issuer, sid, before)
}

func (d *DenyList) revokeBefore(ctx context.Context, kind, issuer, value string, before time.Time) error {
	if before.IsZero() {
		return errors.New("redisstore: DenyList: the time before which tokens are revoked is required")
	}
	return d.revoke(ctx, kind, issuer, value, before, before.Add(d.maxLifetime+maxLeeway), d.now())
}

func (d *DenyList) revoke(ctx context.Context, kind, issuer, value string, before, until, now time.Time) error {
	if issuer == "" || value == "" {
		return errEmpty
	}
	if !now.Before(until) {
		return nil // matches no token that any Validator would still accept
	}
	// The cut-off rounded up to the microsecond: a token issued within the
	// rounding is revoked too, never the other way round.
	var us int64
	if !before.IsZero() {
		us = before.UnixMicro()
		if before.Sub(time.UnixMicro(us)) > 0 {
			us++
		}
	}
	untilMS := until.UnixMilli() + 1 // rounded up
	args := []any{strconv.FormatInt(us, 10), strconv.FormatInt(untilMS, 10)}
	key := d.key(kind, issuer, value)
	return d.call(ctx, "revoke", func(ctx context.Context) error {
		return revokeScript.Run(ctx, d.client, []string{key}, args...).Err()
	})
}

// Revoked implements [validate.Revocations]: it reports whether an entry
// matches c's "jti", or its "client_id", "sub" or "sid" with c issued
// before the entry's time. It reads every candidate entry in one MGET, one
// round trip, bounded by Timeout; an error wraps [ErrUnavailable], and the
// Validator then refuses the request with 503 (unless
// validate.Config.RevocationFailOpen). An entry not written by this
// package (malformed) is an error too, but only when no other entry
// revokes c: every candidate is checked first.
func (d *DenyList) Revoked(ctx context.Context, c *validate.Claims) (bool, error) {
	var kinds [4]string
	var keys [4]string
	n := 0
	for _, e := range [4]struct{ kind, value string }{
		{kindToken, c.ID}, {kindClient, c.ClientID}, {kindSubject, c.Subject}, {kindSession, c.SessionID},
	} {
		if e.value != "" && c.Issuer != "" {
			kinds[n], keys[n] = e.kind, d.key(e.kind, c.Issuer, e.value)
			n++
		}
	}
	if n == 0 {
		return false, nil
	}
	var vals []any
	err := d.call(ctx, "lookup", func(ctx context.Context) error {
		var err error
		vals, err = d.client.MGet(ctx, keys[:n]...).Result()
		return err
	})
	if err != nil {
		return false, err
	}
	var malformed error
	for i, v := range vals {
		s, ok := v.(string)
		if !ok {
			continue // no entry
		}
		if kinds[i] == kindToken || c.IssuedAt.IsZero() {
			return true, nil
		}
		b, _, ok := strings.Cut(s, " ")
		us, err := strconv.ParseInt(b, 10, 64)
		if !ok || err != nil {
			// Not written by this package: refuse rather than guess, unless
			// another entry revokes the token (with RevocationFailOpen the
			// error alone would accept it).
			if malformed == nil {
				malformed = fmt.Errorf("redisstore: DenyList: an entry of kind %q is malformed", kinds[i])
			}
			continue
		}
		if c.IssuedAt.Before(time.UnixMicro(us)) {
			return true, nil
		}
	}
	return false, malformed
}
