package apikey

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMemoryStore(t *testing.T) {
	ctx := context.Background()
	k1, r1 := mustKey(t, testPrefix, Record{Owner: "a", Scopes: []string{"s"}})
	_, r2 := mustKey(t, testPrefix, Record{Owner: "b"})
	s, err := NewMemoryStore(r1, r2)
	require.NoError(t, err)
	require.Equal(t, 2, s.Len(), "Len")
	got, err := s.Lookup(ctx, HashKey(k1))
	require.NoError(t, err, "Lookup")
	require.Equal(t, r1.ID, got.ID, "Lookup = %v", got)
	_, err = s.Lookup(ctx, HashKey(k1+"x"))
	assert.ErrorIs(t, err, ErrUnknown, "unknown")
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = s.Lookup(cctx, r1.Hash)
	assert.ErrorIs(t, err, context.Canceled, "cancelled")

	// Get returns a copy; changing it changes nothing until Put.
	c, ok := s.Get(r1.ID)
	require.True(t, ok, "Get: missing")
	c.Scopes[0] = "changed"
	c.State = StateBlocked
	got, _ = s.Lookup(ctx, r1.Hash)
	require.Equal(t, "s", got.Scopes[0], "Get did not copy")
	require.Empty(t, got.State, "Get did not copy")
	require.NoError(t, s.Put(c))
	got, _ = s.Lookup(ctx, r1.Hash)
	assert.Equal(t, StateBlocked, got.State, "Put did not replace: %+v", got)

	// Revoke replaces, never mutates a record a reader may hold.
	held, _ := s.Lookup(ctx, r2.Hash)
	require.True(t, s.Revoke(r2.ID), "Revoke result")
	require.False(t, s.Revoke("nope"), "Revoke result")
	assert.False(t, held.Revoked, "Revoke mutated a shared record")
	got, _ = s.Lookup(ctx, r2.Hash)
	assert.True(t, got.Revoked, "not revoked")

	// A hash may not move to another id.
	dup := r2
	dup.ID = "AAAAAAAAAAAA"
	assert.ErrorIs(t, s.Put(dup), ErrInvalidRecord, "Put duplicate hash")
	assert.ErrorIs(t, s.Put(Record{}), ErrInvalidRecord, "Put invalid")

	// Re-keying an id drops the old hash.
	_, r3 := mustKey(t, testPrefix, Record{Owner: "a"})
	r3.ID = r1.ID
	require.NoError(t, s.Put(r3))
	_, err = s.Lookup(ctx, r1.Hash)
	assert.ErrorIs(t, err, ErrUnknown, "old hash still found after re-keying")

	recs := s.Records()
	if assert.Len(t, recs, 2, "Records = %v", recs) {
		assert.LessOrEqual(t, recs[0].ID, recs[1].ID, "Records = %v", recs)
	}
	assert.True(t, s.Delete(r2.ID), "Delete")
	assert.False(t, s.Delete(r2.ID), "Delete")
	assert.Equal(t, 1, s.Len(), "Delete")

	assert.ErrorIs(t, s.Replace([]Record{r1, r1}), ErrInvalidRecord, "Replace with duplicates")
	assert.Equal(t, 1, s.Len(), "Replace with duplicates: len")
	r1b := r1
	r1b.ID = "BBBBBBBBBBBB"
	assert.ErrorIs(t, s.Replace([]Record{r1, r1b}), ErrInvalidRecord, "Replace with duplicate hash")
	_, err = NewMemoryStore(Record{})
	assert.Error(t, err, "NewMemoryStore(invalid) succeeded")

	var zero MemoryStore
	_, err = zero.Lookup(ctx, r1.Hash)
	assert.ErrorIs(t, err, ErrUnknown, "zero store lookup")
	assert.NoError(t, zero.Put(r1), "zero store Put")
	assert.Equal(t, 1, zero.Len(), "zero store Put")
}

func TestMemoryStoreConcurrent(t *testing.T) {
	var recs []Record
	for range 20 {
		_, r := mustKey(t, testPrefix, Record{Owner: "o"})
		recs = append(recs, r)
	}
	s, _ := NewMemoryStore(recs...)
	// The goroutines record failures and the test goroutine asserts on
	// them: testify's assertions synchronise on t even when they pass,
	// which would order the goroutines' store calls and hide races.
	var (
		failMu   sync.Mutex
		failures []string
	)
	fail := func(format string, args ...any) {
		failMu.Lock()
		failures = append(failures, fmt.Sprintf(format, args...))
		failMu.Unlock()
	}
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				r := recs[(g+i)%len(recs)]
				switch i % 5 {
				case 0:
					if !s.Revoke(r.ID) {
						fail("Revoke(%s): no such key", r.ID)
					}
				case 1:
					r.State = StateDeprecated
					if err := s.Put(r); err != nil {
						fail("Put(%s): %v", r.ID, err)
					}
				case 2:
					if err := s.Replace(recs); err != nil {
						fail("Replace: %v", err)
					}
				default:
					if got, err := s.Lookup(context.Background(), r.Hash); err != nil || got.ID != r.ID {
						fail("Lookup(%s) = %v, %v", r.ID, got, err)
					}
					if n := len(s.Records()); n != len(recs) {
						fail("Records: %d, want %d", n, len(recs))
					}
				}
			}
		}()
	}
	wg.Wait()
	assert.Empty(t, failures, "failures in the concurrent goroutines")

	// The end state: every key still there once, and both indexes (by id
	// and by hash) holding the same version of each record, whichever
	// writer came last.
	assert.Equal(t, len(recs), s.Len(), "Len")
	all := s.Records()
	require.Len(t, all, len(recs), "Records")
	for i, r := range recs {
		byID, ok := s.Get(r.ID)
		byHash, err := s.Lookup(context.Background(), r.Hash)
		if !assert.True(t, ok, "key %s: Get ok", r.ID) || !assert.NoError(t, err, "key %s: Lookup", r.ID) {
			continue
		}
		assert.Equal(t, r.ID, byHash.ID, "key %s: by id %+v, by hash %+v", r.ID, byID, *byHash)
		assert.Equal(t, r.Hash, byID.Hash, "key %s: by id %+v, by hash %+v", r.ID, byID, *byHash)
		assert.Equal(t, byID.Revoked, byHash.Revoked, "key %s: by id %+v, by hash %+v", r.ID, byID, *byHash)
		assert.Equal(t, byID.State, byHash.State, "key %s: by id %+v, by hash %+v", r.ID, byID, *byHash)
		if byID.State != StateDeprecated {
			assert.Equal(t, r.State, byID.State, "key %s: state, want %q or %q", r.ID, r.State, StateDeprecated)
		}
		if i > 0 {
			assert.Less(t, all[i-1].ID, all[i].ID, "Records not sorted by id at %d", i)
		}
	}
}
