package validate

import (
	"context"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of the verified-token cache ([CacheOptions]).
const (
	defaultCacheEntries = 10000
	defaultCacheBytes   = 32 << 20
)

// tokenCache remembers tokens that passed full verification, so that an
// agent calling tools in a loop with the same token pays for one signature
// verification, not one per call.
//
// What a hit skips, and why that is safe: an entry is found only for a token
// identical, byte for byte, to one that was verified (the map key is a hash
// with a per-Validator random seed, and the stored token is compared in full).
// Everything verification derives from those bytes and the Validator's
// fixed configuration — signature, "alg", "typ", "crit", "iss", "aud", claim
// types — would give the same answer again.
//
// What a hit re-checks, on every request: "exp" and "nbf" against the clock
// (with the leeway), that the key which verified the token is still in the
// issuer's current key set (a key removed from the JWKS stops its cached
// tokens at the next refresh; an application's KeySet is asked again), and
// the application's checks (Revocations, Check: see
// Validator.applicationChecks). An entry is never used past the token's
// expiry, and is dropped then.
//
// Reads take no lock (sync.Map); inserts and evictions are bounded by
// entries and bytes.
type tokenCache struct {
	seed       maphash.Seed
	m          sync.Map // uint64 -> *cacheEntry
	entries    atomic.Int64
	bytes      atomic.Int64
	maxEntries int64
	maxBytes   int64
	evicting   sync.Mutex
}

type cacheEntry struct {
	token  string
	claims *Claims   // never handed out: Verify returns a clone
	keys   keySource // the issuer's key set the token was verified with
	key    *key
	alg    string // the token's "alg"
	size   int64
}

// entryOverhead approximates the memory of an entry besides the token and
// the claims it holds (Claims.footprint): the entry, its sync.Map node and
// key. The cache keeps nothing else: the Claims handed to requests are copies,
// and what Claims.Get decodes belongs to the request that asked.
const entryOverhead = 512

func newTokenCache(maxEntries int, maxBytes int64) *tokenCache {
	return &tokenCache{seed: maphash.MakeSeed(), maxEntries: int64(maxEntries), maxBytes: maxBytes}
}

// get returns the cached claims of raw if they may be used now.
func (c *tokenCache) get(ctx context.Context, raw string, now time.Time, leeway time.Duration) (*Claims, bool) {
	h := maphash.String(c.seed, raw)
	v, ok := c.m.Load(h)
	if !ok {
		return nil, false
	}
	e := v.(*cacheEntry)
	if e.token != raw {
		return nil, false // a hash collision: verify in full
	}
	cl := e.claims
	if !now.Before(cl.ExpiresAt.Add(leeway)) {
		c.remove(h, e)
		return nil, false // let full verification give the precise error
	}
	if now.Add(leeway).Before(cl.NotBefore) || !e.keys.holds(ctx, e.key, e.alg) {
		return nil, false
	}
	return cl, true
}

// put remembers a verified token: a JWS compact serialisation that passed
// every check (verifyUncached is its one caller), so exactly two dots and
// base64url — Authenticate relies on it to send any other shape straight to
// introspection.
func (c *tokenCache) put(raw string, cl *Claims, keys keySource, k *key, alg string, now time.Time) {
	size := int64(len(raw)) + cl.footprint() + entryOverhead
	if size > c.maxBytes/16 {
		return // one entry may not take a large share of the budget
	}
	if c.entries.Load() >= c.maxEntries || c.bytes.Load()+size > c.maxBytes {
		c.evict(now)
		if c.entries.Load() >= c.maxEntries || c.bytes.Load()+size > c.maxBytes {
			return
		}
	}
	e := &cacheEntry{token: raw, claims: cl, keys: keys, key: k, alg: alg, size: size}
	if old, loaded := c.m.Swap(maphash.String(c.seed, raw), e); loaded {
		o := old.(*cacheEntry)
		c.bytes.Add(size - o.size)
		return
	}
	c.entries.Add(1)
	c.bytes.Add(size)
}

func (c *tokenCache) remove(h uint64, e *cacheEntry) {
	if c.m.CompareAndDelete(h, e) {
		c.entries.Add(-1)
		c.bytes.Add(-e.size)
	}
}

// evict drops expired entries and, if the cache is still over three quarters
// of its bounds, about a quarter of the others (sync.Map's iteration order
// is unspecified, which makes it a random choice). One goroutine evicts at a
// time; the others skip caching meanwhile.
func (c *tokenCache) evict(now time.Time) {
	if !c.evicting.TryLock() {
		return
	}
	defer c.evicting.Unlock()
	c.m.Range(func(k, v any) bool {
		if e := v.(*cacheEntry); !now.Before(e.claims.ExpiresAt) {
			c.remove(k.(uint64), e)
		}
		return true
	})
	over := func() bool {
		return c.entries.Load() > c.maxEntries*3/4 || c.bytes.Load() > c.maxBytes*3/4
	}
	if !over() {
		return
	}
	i := 0
	c.m.Range(func(k, v any) bool {
		if i%4 == 0 {
			c.remove(k.(uint64), v.(*cacheEntry))
		}
		i++
		return over()
	})
}

// holds reports whether k is still one of the snapshot's usable keys.
func (s *keySnapshot) holds(k *key) bool {
	if s == nil || k == nil {
		return false
	}
	if k.kid != "" {
		return s.byKid[k.kid] == k
	}
	for _, u := range s.usable {
		if u == k {
			return true
		}
	}
	return false
}
