package validate

import (
	"context"
	"hash/maphash"
	"strconv"
	"testing"
	"time"
)

func TestCacheCollisionAndBounds(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1_800_000_000, 0)
	k := &key{kid: "k"}
	snap := &keySnapshot{byKid: map[string]*key{"k": k}, usable: []*key{k}}
	keys := &staticKeySet{snap: snap}
	c := newTokenCache(100, 1<<20)
	cl := &Claims{ExpiresAt: now.Add(time.Hour)}

	// An entry stored under the hash of "a" but for another token is never
	// returned for "a".
	c.m.Store(maphash.String(c.seed, "a"), &cacheEntry{token: "b", claims: cl, keys: keys, key: k})
	if _, ok := c.get(ctx, "a", now, 0); ok {
		t.Fatal("a colliding entry was returned")
	}

	c = newTokenCache(100, 1<<20)
	for i := range 1000 {
		c.put("token-"+strconv.Itoa(i), cl, keys, k, "RS256", now)
	}
	if n := c.entries.Load(); n > 100 {
		t.Fatalf("%d entries, bound 100", n)
	}
	if n := c.entries.Load(); n == 0 {
		t.Fatal("nothing cached")
	}
	var count int64
	c.m.Range(func(any, any) bool { count++; return true })
	if count != c.entries.Load() {
		t.Fatalf("counter %d, map %d", c.entries.Load(), count)
	}

	c = newTokenCache(100, 64<<10)
	big := &Claims{ExpiresAt: now.Add(time.Hour), raw: make([]byte, 2000)}
	for i := range 1000 {
		c.put("token-"+strconv.Itoa(i), big, keys, k, "RS256", now)
	}
	if b := c.bytes.Load(); b > 64<<10 {
		t.Fatalf("%d bytes, bound %d", b, 64<<10)
	}

	// A key no longer in the set invalidates the entry.
	c = newTokenCache(100, 1<<20)
	c.put("t", cl, keys, k, "RS256", now)
	if _, ok := c.get(ctx, "t", now, 0); !ok {
		t.Fatal("miss on a fresh entry")
	}
	keys.snap = &keySnapshot{byKid: map[string]*key{"k": {kid: "k"}}} // the key was replaced
	if _, ok := c.get(ctx, "t", now, 0); ok {
		t.Fatal("entry used although its key was replaced")
	}
}
