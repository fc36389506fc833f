package validate

import (
	"crypto/sha256"
	"testing"
	"time"
)

// TestIntroCacheEvictsStaleFirst: positive answers are now kept, stale,
// until their tokens expire; when the cache is full the stale ones go
// before any fresh one.
func TestIntroCacheEvictsStaleFirst(t *testing.T) {
	now := time.Unix(1893456000, 0)
	c := newIntroCache(8, 1<<20)
	key := func(i int) [sha256.Size]byte { return sha256.Sum256([]byte{byte(i)}) }
	for i := range 8 {
		fresh := now.Add(time.Minute)
		if i%2 == 0 {
			fresh = now.Add(-time.Second) // stale
		}
		c.put(key(i), &introEntry{claims: &Claims{}, fresh: fresh, until: now.Add(time.Hour)}, now)
	}
	c.put(key(100), &introEntry{claims: &Claims{}, fresh: now.Add(time.Minute), until: now.Add(time.Hour)}, now)
	for i := 1; i < 8; i += 2 {
		if c.get(key(i), now) == nil {
			t.Errorf("fresh entry %d evicted", i)
		}
	}
	if c.get(key(100), now) == nil {
		t.Error("the new entry was not put")
	}
}
