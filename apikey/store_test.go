package apikey

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/audit"
)

func TestMemoryStore(t *testing.T) {
	ctx := context.Background()
	k1, r1 := mustKey(t, testPrefix, Record{Owner: "a", Scopes: []string{"s"}})
	_, r2 := mustKey(t, testPrefix, Record{Owner: "b"})
	s, err := NewMemoryStore(r1, r2)
	require.NoError(t, err)
	require.Len(t, s.Records(), 2, "Records")
	got, err := s.Lookup(ctx, HashKey(k1))
	require.NoError(t, err, "Lookup")
	require.Equal(t, r1.ID, got.ID, "Lookup = %v", got)
	_, err = s.Lookup(ctx, HashKey(k1+"x"))
	assert.ErrorIs(t, err, audit.ReasonUnknownAPIKey, "unknown")
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = s.Lookup(cctx, r1.Hash)
	assert.ErrorIs(t, err, context.Canceled, "cancelled")

	// Records returns copies; changing one changes nothing until Put.
	c, ok := recordByID(s, r1.ID)
	require.True(t, ok, "Records: missing")
	c.Scopes[0] = "changed"
	c.State = StateBlocked
	got, _ = s.Lookup(ctx, r1.Hash)
	require.Equal(t, "s", got.Scopes[0], "Records did not copy")
	require.Empty(t, got.State, "Records did not copy")
	require.NoError(t, s.Put(c))
	got, _ = s.Lookup(ctx, r1.Hash)
	assert.Equal(t, StateBlocked, got.State, "Put did not replace: %+v", got)

	// Revoking is a Put of the record with Revoked set: it replaces, never
	// mutates a record a reader may hold.
	held, _ := s.Lookup(ctx, r2.Hash)
	revoked := *held
	revoked.Revoked = true
	require.NoError(t, s.Put(revoked), "Put revoked")
	assert.False(t, held.Revoked, "Put mutated a shared record")
	got, _ = s.Lookup(ctx, r2.Hash)
	assert.True(t, got.Revoked, "not revoked")

	// A hash may not move to another id.
	dup := r2
	dup.ID = "AAAAAAAAAAAA"
	assert.ErrorIs(t, s.Put(dup), rsguard.ErrInvalidConfig, "Put duplicate hash")
	assert.ErrorIs(t, s.Put(Record{}), rsguard.ErrInvalidConfig, "Put invalid")

	// Re-keying an id drops the old hash.
	_, r3 := mustKey(t, testPrefix, Record{Owner: "a"})
	r3.ID = r1.ID
	require.NoError(t, s.Put(r3))
	_, err = s.Lookup(ctx, r1.Hash)
	assert.ErrorIs(t, err, audit.ReasonUnknownAPIKey, "old hash still found after re-keying")

	recs := s.Records()
	if assert.Len(t, recs, 2, "Records = %v", recs) {
		assert.LessOrEqual(t, recs[0].ID, recs[1].ID, "Records = %v", recs)
	}
	assert.True(t, s.Delete(r2.ID), "Delete")
	assert.False(t, s.Delete(r2.ID), "Delete")
	assert.Len(t, s.Records(), 1, "Delete")

	assert.ErrorIs(t, s.Replace([]Record{r1, r1}), rsguard.ErrInvalidConfig, "Replace with duplicates")
	assert.Len(t, s.Records(), 1, "Replace with duplicates: len")
	r1b := r1
	r1b.ID = "BBBBBBBBBBBB"
	assert.ErrorIs(t, s.Replace([]Record{r1, r1b}), rsguard.ErrInvalidConfig, "Replace with duplicate hash")
	_, err = NewMemoryStore(Record{})
	assert.Error(t, err, "NewMemoryStore(invalid) succeeded")

	var zero MemoryStore
	_, err = zero.Lookup(ctx, r1.Hash)
	assert.ErrorIs(t, err, audit.ReasonUnknownAPIKey, "zero store lookup")
	assert.NoError(t, zero.Put(r1), "zero store Put")
	assert.Len(t, zero.Records(), 1, "zero store Put")
}

// recordByID returns a copy of the record with the given id, read from
// Records (the store's index by id).
func recordByID(s *MemoryStore, id string) (Record, bool) {
	for _, r := range s.Records() {
		if r.ID == id {
			return r, true
		}
	}
	return Record{}, false
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
					r.Revoked = true
					if err := s.Put(r); err != nil {
						fail("Put(%s revoked): %v", r.ID, err)
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
	all := s.Records()
	require.Len(t, all, len(recs), "Records")
	for i, r := range recs {
		byID, ok := recordByID(s, r.ID)
		byHash, err := s.Lookup(context.Background(), r.Hash)
		if !assert.True(t, ok, "key %s: in Records", r.ID) || !assert.NoError(t, err, "key %s: Lookup", r.ID) {
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
