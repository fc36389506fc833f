package apikey

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/rsguard/rsguard"
)

// Store finds key records by the SHA-256 hash of the key. Implementations
// must be safe for concurrent use.
//
// Lookup returns the record whose Hash is h, or an error wrapping
// [ErrUnknown] when there is none. Any other error is treated as an outage
// (the client gets 503, and the error is logged: never put the hash in it).
// The Authenticator compares the returned record's Hash with h in constant time
// and checks its ID against the key's, so a store may use an index that is
// looser than exact equality. Lookup should honour ctx's cancellation.
//
// To keep keys in your own database, implement Lookup over a table indexed
// by the hash; see the package documentation for a database/sql example.
type Store interface {
	Lookup(ctx context.Context, h Hash) (*Record, error)
}

// MemoryStore is a concurrency-safe in-memory [Store], indexed by hash (for
// lookups) and by id (for updates). Its zero value is an empty store ready
// to use. Records are copied in and the copies are shared with readers:
// callers cannot change a stored record except through the methods.
//
// A nil *MemoryStore is an empty store that cannot be written: Lookup
// returns [ErrUnknown], Get, Revoke and Delete find nothing, and Put and
// Replace return an error wrapping [rsguard.ErrInvalidConfig]. ([New] refuses a nil
// *MemoryStore as Config.Store.)
type MemoryStore struct {
	mu     sync.RWMutex
	byHash map[Hash]*Record
	byID   map[string]*Record
}

// NewMemoryStore returns a store holding recs; see [MemoryStore.Replace].
func NewMemoryStore(recs ...Record) (*MemoryStore, error) {
	s := new(MemoryStore)
	if err := s.Replace(recs); err != nil {
		return nil, err
	}
	return s, nil
}

// Lookup implements [Store]. It returns [ErrUnknown] when no record has
// hash h, and ctx's error when ctx is done.
func (s *MemoryStore) Lookup(ctx context.Context, h Hash) (*Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if s == nil {
		return nil, ErrUnknown
	}
	s.mu.RLock()
	r := s.byHash[h]
	s.mu.RUnlock()
	if r == nil {
		return nil, ErrUnknown
	}
	return r, nil
}

// Put adds rec, or replaces the record with the same ID (to revoke a key,
// change its state or scopes: Get, modify, Put). The record must pass
// [Record.Validate] and its hash must not belong to another id.
func (s *MemoryStore) Put(rec Record) error {
	if s == nil {
		return errNilStore("Put")
	}
	r, err := cloneRecord(rec)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if other := s.byHash[r.Hash]; other != nil && other.ID != r.ID {
		return fmt.Errorf("%w: key %s: hash already used by key %s", ErrInvalidRecord, r.ID, other.ID)
	}
	if s.byID == nil {
		s.byID = make(map[string]*Record)
		s.byHash = make(map[Hash]*Record)
	}
	if old := s.byID[r.ID]; old != nil {
		delete(s.byHash, old.Hash)
	}
	s.byID[r.ID] = r
	s.byHash[r.Hash] = r
	return nil
}

// Get returns a copy of the record with the given id.
func (s *MemoryStore) Get(id string) (Record, bool) {
	if s == nil {
		return Record{}, false
	}
	s.mu.RLock()
	r := s.byID[id]
	s.mu.RUnlock()
	if r == nil {
		return Record{}, false
	}
	c := *r
	c.Scopes = slices.Clone(r.Scopes)
	return c, true
}

// Revoke marks the key with the given id revoked, and reports whether it
// exists.
func (s *MemoryStore) Revoke(id string) bool {
	if s == nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.byID[id]
	if r == nil {
		return false
	}
	c := *r // readers may hold r: replace it, never mutate it
	c.Revoked = true
	s.byID[id] = &c
	s.byHash[c.Hash] = &c
	return true
}

// Delete removes the key with the given id, and reports whether it existed.
func (s *MemoryStore) Delete(id string) bool {
	if s == nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.byID[id]
	if r == nil {
		return false
	}
	delete(s.byID, id)
	delete(s.byHash, r.Hash)
	return true
}

// Replace atomically replaces the whole content of the store with recs (for
// reloading a key file). Every record must pass [Record.Validate], and ids
// and hashes must be unique; on error the store is left unchanged.
func (s *MemoryStore) Replace(recs []Record) error {
	if s == nil {
		return errNilStore("Replace")
	}
	byID := make(map[string]*Record, len(recs))
	byHash := make(map[Hash]*Record, len(recs))
	for _, rec := range recs {
		r, err := cloneRecord(rec)
		if err != nil {
			return err
		}
		if byID[r.ID] != nil {
			return fmt.Errorf("%w: duplicate key id %s", ErrInvalidRecord, r.ID)
		}
		if other := byHash[r.Hash]; other != nil {
			return fmt.Errorf("%w: keys %s and %s have the same hash", ErrInvalidRecord, other.ID, r.ID)
		}
		byID[r.ID] = r
		byHash[r.Hash] = r
	}
	s.mu.Lock()
	s.byID, s.byHash = byID, byHash
	s.mu.Unlock()
	return nil
}

// Records returns copies of all records, sorted by id.
func (s *MemoryStore) Records() []Record {
	if s == nil {
		return []Record{}
	}
	s.mu.RLock()
	out := make([]Record, 0, len(s.byID))
	for _, r := range s.byID {
		c := *r
		c.Scopes = slices.Clone(r.Scopes)
		out = append(out, c)
	}
	s.mu.RUnlock()
	slices.SortFunc(out, func(a, b Record) int {
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
	return out
}

// Len returns the number of records.
func (s *MemoryStore) Len() int {
	if s == nil {
		return 0
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.byID)
}

func errNilStore(method string) error {
	return fmt.Errorf("%w: %s on a nil *MemoryStore", rsguard.ErrInvalidConfig, method)
}

func cloneRecord(rec Record) (*Record, error) {
	if err := rec.Validate(); err != nil {
		return nil, err
	}
	rec.Scopes = slices.Clone(rec.Scopes)
	return &rec, nil
}
