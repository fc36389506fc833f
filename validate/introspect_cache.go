package validate

import (
	"crypto/sha256"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rsguard/rsguard"
)

// introCache remembers introspection answers, per Validator, for every
// introspecting issuer, keyed by the SHA-256 of the token (the token itself
// is not kept). It has bounds of its own, equal to the verified-token cache's
// ([CacheOptions.MaxEntries], [CacheOptions.MaxBytes]).
//
// A positive entry holds the claims of an answer that passed every check;
// it is fresh (used without asking) until min("exp", answer + CacheTTL), and
// kept, stale, until "exp": a stale entry never accepts the token but with
// FailOpen while the endpoint cannot answer, and it marks the token as known,
// re-checked from the budget reserved for known tokens (introspector.take).
// A negative entry holds the refusal of an answer ("active": false, or
// refused by the checks) for NegativeTTL. Failures of the endpoint are never
// entered.
//
// Reads take no lock (sync.Map); inserts and evictions are bounded by
// entries and bytes, as in tokenCache.
type introCache struct {
	m          sync.Map // [sha256.Size]byte -> *introEntry
	entries    atomic.Int64
	bytes      atomic.Int64
	maxEntries int64
	maxBytes   int64
	evicting   sync.Mutex
}

type introEntry struct {
	claims  *Claims        // a positive answer's, never handed out (nil for a refusal)
	refusal *rsguard.Error // a negative answer's, never handed out
	fresh   time.Time      // used without asking before this
	until   time.Time      // dropped at this time
	size    int64
}

func newIntroCache(maxEntries int, maxBytes int64) *introCache {
	return &introCache{maxEntries: int64(maxEntries), maxBytes: maxBytes}
}

// get returns the entry of key if it is still kept at now (fresh or, for a
// positive answer, stale).
func (c *introCache) get(key [sha256.Size]byte, now time.Time) *introEntry {
	v, ok := c.m.Load(key)
	if !ok {
		return nil
	}
	e := v.(*introEntry)
	if !now.Before(e.until) {
		c.remove(key, e)
		return nil
	}
	return e
}

// put enters e (if not nil) under key, replacing any entry.
func (c *introCache) put(key [sha256.Size]byte, e *introEntry, now time.Time) {
	if e == nil {
		if old, ok := c.m.Load(key); ok {
			c.remove(key, old.(*introEntry)) // no stale answer may outlive a newer one
		}
		return
	}
	e.size = entryOverhead + sha256.Size
	if e.claims != nil {
		e.size += e.claims.footprint()
	}
	if e.size > c.maxBytes/16 {
		return // one entry may not take a large share of the budget
	}
	if c.entries.Load() >= c.maxEntries || c.bytes.Load()+e.size > c.maxBytes {
		c.evict(now)
		if c.entries.Load() >= c.maxEntries || c.bytes.Load()+e.size > c.maxBytes {
			return
		}
	}
	if old, loaded := c.m.Swap(key, e); loaded {
		c.bytes.Add(e.size - old.(*introEntry).size)
		return
	}
	c.entries.Add(1)
	c.bytes.Add(e.size)
}

func (c *introCache) remove(key [sha256.Size]byte, e *introEntry) {
	if c.m.CompareAndDelete(key, e) {
		c.entries.Add(-1)
		c.bytes.Add(-e.size)
	}
}

// evict drops the entries no longer kept and, if the cache is still over
// three quarters of its bounds, the stale ones (past their CacheTTL) until
// it is not, then about a quarter of the others, as tokenCache.evict does.
func (c *introCache) evict(now time.Time) {
	if !c.evicting.TryLock() {
		return
	}
	defer c.evicting.Unlock()
	c.m.Range(func(k, v any) bool {
		if e := v.(*introEntry); !now.Before(e.until) {
			c.remove(k.([sha256.Size]byte), e)
		}
		return true
	})
	over := func() bool {
		return c.entries.Load() > c.maxEntries*3/4 || c.bytes.Load() > c.maxBytes*3/4
	}
	if !over() {
		return
	}
	c.m.Range(func(k, v any) bool {
		if e := v.(*introEntry); !now.Before(e.fresh) {
			c.remove(k.([sha256.Size]byte), e)
		}
		return over()
	})
	if !over() {
		return
	}
	i := 0
	c.m.Range(func(k, v any) bool {
		if i%4 == 0 {
			c.remove(k.([sha256.Size]byte), v.(*introEntry))
		}
		i++
		return over()
	})
}

// introFlight makes concurrent introspections of one token one request.
type introFlight struct {
	mu    sync.Mutex
	calls map[[sha256.Size]byte]*introCall
}

// introCall is one introspection request in flight. Its fields are written
// before done is closed and only read after.
type introCall struct {
	done        chan struct{}
	claims      *Claims
	refusal     *rsguard.Error
	unavailable bool // the endpoint could not answer: refusal is a 503
	rejected    bool // it refused the client's credentials: no FailOpen
}

// join returns the call in flight for key, or the one start begins (start
// runs under the lock, so at most one call per key starts); start's error
// (the rate limit is spent) is returned as is.
func (f *introFlight) join(key [sha256.Size]byte, start func() (*introCall, *rsguard.Error)) (*introCall, *rsguard.Error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if c := f.calls[key]; c != nil {
		return c, nil
	}
	c, e := start()
	if e != nil {
		return nil, e
	}
	f.calls[key] = c
	return c, nil
}

// done ends the call for key and wakes its waiters.
func (f *introFlight) done(key [sha256.Size]byte, c *introCall) {
	f.mu.Lock()
	if f.calls[key] == c {
		delete(f.calls, key)
	}
	f.mu.Unlock()
	close(c.done)
}

// tokenBucket is a rate limit: rate tokens a second, at most burst saved.
type tokenBucket struct {
	mu     sync.Mutex
	rate   float64
	burst  float64
	tokens float64
	last   time.Time
}

// take takes a token at now if there is one; else it reports how long
// until there is.
func (b *tokenBucket) take(now time.Time) (bool, time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.last.IsZero() && now.After(b.last) {
		b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	}
	if b.last.IsZero() || now.After(b.last) {
		b.last = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) / b.rate * float64(time.Second))
}
