package apikey

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/audit"
)

// Store finds key records by the SHA-256 hash of the key. Implementations
// must be safe for concurrent use.
//
// Lookup returns the record whose Hash is h, or audit.ReasonUnknownAPIKey
// (or an error wrapping it) when there is none. Any other error is treated as an outage
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
// callers cannot change a stored record except through the methods. To
// revoke a key, or change its state or scopes, Put its record changed.
//
// A nil *MemoryStore is an empty store that cannot be written: Lookup
// returns audit.ReasonUnknownAPIKey, Delete finds nothing, Records is
// empty, and Put and Replace return an error wrapping
// [rsguard.ErrInvalidConfig]. ([New] refuses a nil *MemoryStore as
// Config.Store.)
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

// Lookup implements [Store]. It returns audit.ReasonUnknownAPIKey when no
// record has hash h, and ctx's error when ctx is done. The record is shared:
// treat it as read-only.
func (s *MemoryStore) Lookup(ctx context.Context, h Hash) (*Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if s == nil {
		return nil, audit.ReasonUnknownAPIKey
	}
	s.mu.RLock()
	r := s.byHash[h]
	s.mu.RUnlock()
	if r == nil {
		return nil, audit.ReasonUnknownAPIKey
	}
	return r, nil
}

// Put adds rec, or replaces the record with the same ID: to revoke a key,
// Put its record with Revoked set; to change its state or scopes, Put it
// changed. The record must pass [Record.Validate] and its hash must not
// belong to another id; errors wrap [rsguard.ErrInvalidConfig].
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
		return invalidRecord("key record %s: hash already used by key %s", r.ID, other.ID)
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
// and hashes must be unique; on error, which wraps [rsguard.ErrInvalidConfig],
// the store is left unchanged.
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
			return invalidRecord("duplicate key record id %s", r.ID)
		}
		if other := byHash[r.Hash]; other != nil {
			return invalidRecord("key records %s and %s have the same hash", other.ID, r.ID)
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
