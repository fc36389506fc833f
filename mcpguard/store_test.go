package mcpguard

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rsguard/rsguard/audit"
)

// testClock is the clock of the store tests.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newTestStore(max int) (*memStore, *testClock) {
	return newMemStore(max, max), &testClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func TestMemStoreBind(t *testing.T) {
	ctx := context.Background()
	s, c := newTestStore(10)
	t0 := c.now()
	require.NoError(t, s.Bind(ctx, "a", "alice", t0, t0.Add(time.Minute)))
	require.NoError(t, s.Bind(ctx, "a", "alice", t0, t0.Add(time.Hour)), "the same owner: extended")

	err := s.Bind(ctx, "a", "bob", t0, t0.Add(2*time.Hour))
	assert.ErrorIs(t, err, audit.ReasonSessionNotOwned)
	assert.NotErrorIs(t, err, audit.ReasonTooManySessions)
	t59 := t0.Add(59 * time.Minute)
	require.NoError(t, s.Use(ctx, "a", "alice", t59, t59), "a refused Bind changes nothing")
	assert.ErrorIs(t, s.Use(ctx, "a", "alice", t0.Add(time.Hour), t0.Add(time.Hour)), audit.ReasonUnknownSession,
		"a refused Bind did not extend the binding")

	c.add(time.Hour)
	require.NoError(t, s.Bind(ctx, "a", "alice", c.now(), c.now().Add(time.Minute)))
	c.add(time.Minute)
	require.NoError(t, s.Bind(ctx, "a", "bob", c.now(), c.now().Add(time.Minute)), "an expired binding is free")
	assert.NoError(t, s.Use(ctx, "a", "bob", c.now(), c.now()))
	assert.ErrorIs(t, s.Use(ctx, "a", "alice", c.now(), c.now()), audit.ReasonSessionNotOwned)

	require.NoError(t, s.Delete(ctx, "a"))
	require.NoError(t, s.Delete(ctx, "a"), "no binding: no error")
	assert.ErrorIs(t, s.Use(ctx, "a", "bob", c.now(), c.now()), audit.ReasonUnknownSession)
}

func TestMemStoreUse(t *testing.T) {
	ctx := context.Background()
	s, c := newTestStore(10)
	t0 := c.now()
	err := s.Use(ctx, "never", "alice", t0, t0.Add(time.Minute))
	assert.ErrorIs(t, err, audit.ReasonUnknownSession)
	assert.NotErrorIs(t, err, audit.ReasonSessionNotOwned)

	require.NoError(t, s.Bind(ctx, "a", "alice", t0, t0.Add(time.Minute)))
	require.NoError(t, s.Use(ctx, "a", "alice", t0.Add(time.Minute-1), t0.Add(2*time.Minute)))
	assert.NoError(t, s.Use(ctx, "a", "alice", t0.Add(2*time.Minute-1), t0), "extended by the last use, never shortened")
	err = s.Use(ctx, "a", "alice", t0.Add(2*time.Minute), t0.Add(3*time.Minute))
	assert.ErrorIs(t, err, audit.ReasonUnknownSession, "expired at its expiry")
	assert.NotErrorIs(t, err, audit.ReasonSessionNotOwned)
	assert.Zero(t, s.size(), "purged when met")
}

// TestMemStoreUseNotOwned: another owner's use is refused and changes
// nothing: the binding is neither extended nor purged.
func TestMemStoreUseNotOwned(t *testing.T) {
	ctx := context.Background()
	s, c := newTestStore(10)
	t0 := c.now()
	require.NoError(t, s.Bind(ctx, "a", "alice", t0, t0.Add(time.Minute)))
	for _, at := range []time.Duration{0, 30 * time.Second, time.Minute - 1} {
		err := s.Use(ctx, "a", "bob", t0.Add(at), t0.Add(at+time.Hour))
		assert.ErrorIs(t, err, audit.ReasonSessionNotOwned)
		assert.NotErrorIs(t, err, audit.ReasonUnknownSession)
		assert.NotContains(t, err.Error(), "alice")
	}
	assert.Equal(t, t0.Add(time.Minute), s.m["a"].expires, "not extended")
	assert.ErrorIs(t, s.Use(ctx, "a", "alice", t0.Add(time.Minute), t0.Add(time.Hour)), audit.ReasonUnknownSession,
		"expired at its own expiry, whatever bob tried")
	assert.ErrorIs(t, s.Use(ctx, "a", "bob", t0.Add(time.Minute), t0.Add(time.Hour)), audit.ReasonUnknownSession,
		"an expired binding is nobody's")
}

// TestMemStoreCapacity: a full store refuses new bindings, never evicts a
// live one, and purges expired ones to make room.
func TestMemStoreCapacity(t *testing.T) {
	ctx := context.Background()
	s, c := newTestStore(3)
	t0 := c.now()
	for i, ttl := range []time.Duration{time.Hour, time.Minute, 2 * time.Hour} {
		require.NoError(t, s.Bind(ctx, fmt.Sprint("s", i), "alice", t0, t0.Add(ttl)))
	}
	assert.True(t, s.full("bob", c.now()))
	assert.Equal(t, t0.Add(time.Minute), s.lowest)
	assert.ErrorIs(t, s.Bind(ctx, "new", "bob", t0, t0.Add(time.Hour)), audit.ReasonTooManySessions)
	require.NoError(t, s.Bind(ctx, "s1", "alice", t0, t0.Add(30*time.Minute)), "an existing binding is extended even when full")

	c.add(time.Minute)
	assert.ErrorIs(t, s.Bind(ctx, "new", "bob", c.now(), t0.Add(time.Hour)), audit.ReasonTooManySessions, "s1 was extended: nothing expired")
	assert.Equal(t, t0.Add(30*time.Minute), s.lowest, "the sweep found the exact earliest expiry")
	assert.Equal(t, 3, s.size())

	c.add(29 * time.Minute)
	assert.False(t, s.full("bob", c.now()), "s1 expired")
	require.NoError(t, s.Bind(ctx, "new", "bob", c.now(), c.now().Add(time.Hour)))
	for id, owner := range map[string]string{"s0": "alice", "s2": "alice", "new": "bob"} {
		assert.NoError(t, s.Use(ctx, id, owner, c.now(), c.now()), "%s: live bindings are never evicted", id)
	}
	assert.True(t, s.full("bob", c.now()))
}

// TestMemStorePerOwner: an owner holding perOwner live bindings is refused
// a new one, changing nothing, while other owners bind freely; its expired
// or deleted bindings give it room again, and the counts never leak.
func TestMemStorePerOwner(t *testing.T) {
	ctx := context.Background()
	s := newMemStore(100, 3)
	c := &testClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	t0 := c.now()
	for i, ttl := range []time.Duration{time.Minute, time.Hour, time.Hour} {
		require.NoError(t, s.Bind(ctx, fmt.Sprint("m", i), "mallory", t0, t0.Add(ttl)))
	}
	err := s.Bind(ctx, "m3", "mallory", t0, t0.Add(time.Hour))
	assert.ErrorIs(t, err, audit.ReasonTooManySessions)
	assert.NotContains(t, err.Error(), "mallory")
	assert.True(t, s.full("mallory", t0))
	assert.ErrorIs(t, s.Use(ctx, "m3", "mallory", t0, t0), audit.ReasonUnknownSession, "the refused Bind changed nothing")
	require.NoError(t, s.Bind(ctx, "m1", "mallory", t0, t0.Add(2*time.Hour)), "her existing binding is extended at her bound")
	for i := range 3 {
		require.NoError(t, s.Bind(ctx, fmt.Sprint("a", i), "alice", t0, t0.Add(time.Hour)), "another owner is unaffected")
	}
	require.NoError(t, s.Delete(ctx, "a0"))
	require.NoError(t, s.Delete(ctx, "a0"))
	assert.Equal(t, map[string]int{"mallory": 3, "alice": 2}, s.owners)

	require.NoError(t, s.Delete(ctx, "m2"), "a deleted binding gives room")
	require.NoError(t, s.Bind(ctx, "m3", "mallory", t0, t0.Add(time.Hour)))
	assert.ErrorIs(t, s.Bind(ctx, "m4", "mallory", t0, t0.Add(time.Hour)), audit.ReasonTooManySessions)

	c.add(time.Minute) // m0 expired: swept to make room
	require.NoError(t, s.Bind(ctx, "m4", "mallory", c.now(), c.now().Add(time.Hour)))
	assert.ErrorIs(t, s.Bind(ctx, "m5", "mallory", c.now(), c.now().Add(time.Hour)), audit.ReasonTooManySessions)

	c.add(time.Hour) // everything expired but m1; met by Use and Bind, one at a time
	assert.ErrorIs(t, s.Use(ctx, "m3", "mallory", c.now(), c.now()), audit.ReasonUnknownSession)
	require.NoError(t, s.Bind(ctx, "m4", "bob", c.now(), c.now().Add(time.Hour)), "an expired binding is free for another owner")
	assert.Equal(t, map[string]int{"mallory": 1, "alice": 2, "bob": 1}, s.owners, "expired bindings met are counted off")
	require.NoError(t, s.Bind(ctx, "m5", "mallory", c.now(), c.now().Add(time.Hour)))
	assert.False(t, s.full("mallory", c.now()))

	c.add(3 * time.Hour)
	assert.False(t, s.full("bob", c.now()))
	s.sweep(c.now())
	assert.Zero(t, s.size())
	assert.Empty(t, s.owners, "no count outlives its bindings")
}

// TestMemStoreConcurrent: many goroutines binding and using at once fill
// the store exactly to its bound.
func TestMemStoreConcurrent(t *testing.T) {
	const workers, each, max = 32, 40, 500
	ctx := context.Background()
	s, c := newTestStore(max)
	require.NoError(t, s.Bind(ctx, "shared", "alice", c.now(), c.now().Add(time.Hour)))
	var bound, refused, wrong atomic.Int32
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				switch err := s.Bind(ctx, fmt.Sprintf("w%d-%d", w, i), fmt.Sprint("owner", w), c.now(), c.now().Add(time.Hour)); {
				case err == nil:
					bound.Add(1)
				case errors.Is(err, audit.ReasonTooManySessions):
					refused.Add(1)
				default:
					wrong.Add(1)
				}
				if s.Use(ctx, "shared", "alice", c.now(), c.now().Add(time.Hour)) != nil {
					wrong.Add(1)
				}
				if !errors.Is(s.Use(ctx, "shared", fmt.Sprint("owner", w), c.now(), c.now().Add(time.Hour)), audit.ReasonSessionNotOwned) {
					wrong.Add(1)
				}
				if s.Bind(ctx, "shared", fmt.Sprint("owner", w), c.now(), c.now().Add(time.Hour)) == nil {
					wrong.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	assert.Zero(t, wrong.Load())
	assert.Equal(t, int32(max-1), bound.Load())
	assert.Equal(t, int32(workers*each-max+1), refused.Load())
	assert.Equal(t, max, s.size())
}

func TestLimiter(t *testing.T) {
	var l limiter
	t0 := time.Unix(0, 0)
	ok, n := l.allow(t0)
	assert.True(t, ok)
	assert.Zero(t, n)
	for range 5 {
		ok, _ = l.allow(t0.Add(time.Second))
		assert.False(t, ok)
	}
	ok, n = l.allow(t0.Add(logInterval))
	assert.True(t, ok)
	assert.Equal(t, 5, n)
}
