package apikey

import (
	"context"
	"errors"
	"sync"
	"testing"
)

func TestMemoryStore(t *testing.T) {
	ctx := context.Background()
	k1, r1 := mustKey(t, testPrefix, Record{Owner: "a", Scopes: []string{"s"}})
	_, r2 := mustKey(t, testPrefix, Record{Owner: "b"})
	s, err := NewMemoryStore(r1, r2)
	if err != nil {
		t.Fatal(err)
	}
	if s.Len() != 2 {
		t.Fatalf("Len = %d", s.Len())
	}
	got, err := s.Lookup(ctx, HashKey(k1))
	if err != nil || got.ID != r1.ID {
		t.Fatalf("Lookup = %v, %v", got, err)
	}
	if _, err := s.Lookup(ctx, HashKey(k1+"x")); !errors.Is(err, ErrUnknown) {
		t.Errorf("unknown: err = %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.Lookup(cctx, r1.Hash); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: err = %v", err)
	}

	// Get returns a copy; changing it changes nothing until Put.
	c, ok := s.Get(r1.ID)
	if !ok {
		t.Fatal("Get: missing")
	}
	c.Scopes[0] = "changed"
	c.State = StateBlocked
	if got, _ := s.Lookup(ctx, r1.Hash); got.Scopes[0] != "s" || got.State != "" {
		t.Fatal("Get did not copy")
	}
	if err := s.Put(c); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Lookup(ctx, r1.Hash); got.State != StateBlocked {
		t.Errorf("Put did not replace: %+v", got)
	}

	// Revoke replaces, never mutates a record a reader may hold.
	held, _ := s.Lookup(ctx, r2.Hash)
	if !s.Revoke(r2.ID) || s.Revoke("nope") {
		t.Fatal("Revoke result")
	}
	if held.Revoked {
		t.Error("Revoke mutated a shared record")
	}
	if got, _ := s.Lookup(ctx, r2.Hash); !got.Revoked {
		t.Error("not revoked")
	}

	// A hash may not move to another id.
	dup := r2
	dup.ID = "AAAAAAAAAAAA"
	if err := s.Put(dup); !errors.Is(err, ErrInvalidRecord) {
		t.Errorf("Put duplicate hash: %v", err)
	}
	if err := s.Put(Record{}); !errors.Is(err, ErrInvalidRecord) {
		t.Errorf("Put invalid: %v", err)
	}

	// Re-keying an id drops the old hash.
	_, r3 := mustKey(t, testPrefix, Record{Owner: "a"})
	r3.ID = r1.ID
	if err := s.Put(r3); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Lookup(ctx, r1.Hash); !errors.Is(err, ErrUnknown) {
		t.Error("old hash still found after re-keying")
	}

	if recs := s.Records(); len(recs) != 2 || recs[0].ID > recs[1].ID {
		t.Errorf("Records = %v", recs)
	}
	if !s.Delete(r2.ID) || s.Delete(r2.ID) || s.Len() != 1 {
		t.Error("Delete")
	}

	if err := s.Replace([]Record{r1, r1}); !errors.Is(err, ErrInvalidRecord) || s.Len() != 1 {
		t.Errorf("Replace with duplicates: %v, len %d", err, s.Len())
	}
	r1b := r1
	r1b.ID = "BBBBBBBBBBBB"
	if err := s.Replace([]Record{r1, r1b}); !errors.Is(err, ErrInvalidRecord) {
		t.Errorf("Replace with duplicate hash: %v", err)
	}
	if _, err := NewMemoryStore(Record{}); err == nil {
		t.Error("NewMemoryStore(invalid) succeeded")
	}

	var zero MemoryStore
	if _, err := zero.Lookup(ctx, r1.Hash); !errors.Is(err, ErrUnknown) {
		t.Error("zero store lookup")
	}
	if err := zero.Put(r1); err != nil || zero.Len() != 1 {
		t.Error("zero store Put")
	}
}

func TestMemoryStoreConcurrent(t *testing.T) {
	var recs []Record
	for range 20 {
		_, r := mustKey(t, testPrefix, Record{Owner: "o"})
		recs = append(recs, r)
	}
	s, _ := NewMemoryStore(recs...)
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
						t.Errorf("Revoke(%s): no such key", r.ID)
					}
				case 1:
					r.State = StateDeprecated
					if err := s.Put(r); err != nil {
						t.Errorf("Put(%s): %v", r.ID, err)
					}
				case 2:
					if err := s.Replace(recs); err != nil {
						t.Errorf("Replace: %v", err)
					}
				default:
					if got, err := s.Lookup(context.Background(), r.Hash); err != nil || got.ID != r.ID {
						t.Errorf("Lookup(%s) = %v, %v", r.ID, got, err)
					}
					if n := len(s.Records()); n != len(recs) {
						t.Errorf("Records: %d, want %d", n, len(recs))
					}
				}
			}
		}()
	}
	wg.Wait()

	// The end state: every key still there once, and both indexes (by id
	// and by hash) holding the same version of each record, whichever
	// writer came last.
	if s.Len() != len(recs) {
		t.Errorf("Len = %d, want %d", s.Len(), len(recs))
	}
	all := s.Records()
	if len(all) != len(recs) {
		t.Fatalf("Records: %d, want %d", len(all), len(recs))
	}
	for i, r := range recs {
		byID, ok := s.Get(r.ID)
		byHash, err := s.Lookup(context.Background(), r.Hash)
		if !ok || err != nil {
			t.Errorf("key %s: Get ok %v, Lookup error %v", r.ID, ok, err)
			continue
		}
		if byHash.ID != r.ID || byID.Hash != r.Hash || byHash.Revoked != byID.Revoked || byHash.State != byID.State {
			t.Errorf("key %s: by id %+v, by hash %+v", r.ID, byID, *byHash)
		}
		if byID.State != r.State && byID.State != StateDeprecated {
			t.Errorf("key %s: state %q, want %q or %q", r.ID, byID.State, r.State, StateDeprecated)
		}
		if i > 0 && all[i-1].ID >= all[i].ID {
			t.Errorf("Records not sorted by id at %d: %s, %s", i, all[i-1].ID, all[i].ID)
		}
	}
}
