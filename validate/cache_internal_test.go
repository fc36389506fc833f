package validate

import (
	"context"
	"hash/maphash"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
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
	_, ok := c.get(ctx, "a", now, 0)
	require.False(t, ok, "a colliding entry was returned")

	c = newTokenCache(100, 1<<20)
	for i := range 1000 {
		c.put("token-"+strconv.Itoa(i), cl, keys, k, "RS256", now)
	}
	require.LessOrEqual(t, c.entries.Load(), int64(100), "entries, bound 100")
	require.NotZero(t, c.entries.Load(), "nothing cached")
	var count int64
	c.m.Range(func(any, any) bool { count++; return true })
	require.Equal(t, count, c.entries.Load(), "the entry counter disagrees with the map")

	c = newTokenCache(100, 64<<10)
	big := &Claims{ExpiresAt: now.Add(time.Hour), raw: make([]byte, 2000)}
	for i := range 1000 {
		c.put("token-"+strconv.Itoa(i), big, keys, k, "RS256", now)
	}
	require.LessOrEqual(t, c.bytes.Load(), int64(64<<10), "bytes, bound %d", 64<<10)

	// A key no longer in the set invalidates the entry.
	c = newTokenCache(100, 1<<20)
	c.put("t", cl, keys, k, "RS256", now)
	_, ok = c.get(ctx, "t", now, 0)
	require.True(t, ok, "miss on a fresh entry")
	keys.snap = &keySnapshot{byKid: map[string]*key{"k": {kid: "k"}}} // the key was replaced
	_, ok = c.get(ctx, "t", now, 0)
	require.False(t, ok, "entry used although its key was replaced")
}
