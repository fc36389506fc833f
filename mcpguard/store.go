package mcpguard

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/rsguard/rsguard/audit"
)

// SessionStore holds session bindings; one shared by replicas lets any
// replica check any session. Implementations must be safe for concurrent
// use. Every time is the caller's (from [SessionConfig.Now]): a store
// reads no clock of its own. Their errors other than those wrapping the
// reasons below are logged, and so must not contain a session id.
type SessionStore interface {
	// Bind binds session id to owner until expires, as of now. If id is
	// bound (unexpired at now) to another owner it returns an error
	// wrapping audit.ReasonSessionNotOwned and changes nothing; to the same
	// owner, it extends it. A store at capacity returns an error wrapping
	// audit.ReasonTooManySessions (live bindings are never evicted to make
	// room; expired ones may be).
	Bind(ctx context.Context, id, owner string, now, expires time.Time) error

	// Use reports whether id is bound to owner at now, and if so extends
	// the binding to expires. It returns nil when it is; an error wrapping
	// audit.ReasonUnknownSession for an id never bound, deleted or expired;
	// an error wrapping audit.ReasonSessionNotOwned, changing nothing, when
	// another owner holds it; any other error is the store's failure.
	Use(ctx context.Context, id, owner string, now, expires time.Time) error

	// Delete ends id's binding (no error if there is none).
	Delete(ctx context.Context, id string) error
}

// The errors of memStore.Use: fixed, they name no session id.
var (
	errUnknown  = fmt.Errorf("%w: the session id is not bound", audit.ReasonUnknownSession)
	errNotOwned = fmt.Errorf("%w: the session id is bound to another owner", audit.ReasonSessionNotOwned)
)

// binding is the owner of a session and when its binding ends.
type binding struct {
	owner   string
	expires time.Time
}

// memStore is the default SessionStore: a map in this process's memory,
// guarded by a mutex and bounded by max. Expired bindings are purged
// lazily: one at a time when Use or Bind meets it, all at once when the
// store is full and one may have expired. Live bindings are never evicted.
type memStore struct {
	max int

	mu sync.Mutex
	m  map[string]binding
	// lowest is a lower bound of every binding's expiry (exact after a
	// sweep; extensions and deletions keep it a bound): before it, a full
	// store need not be swept.
	lowest time.Time
}

func newMemStore(max int) *memStore {
	return &memStore{max: max, m: make(map[string]binding)}
}

// Bind implements [SessionStore.Bind].
func (s *memStore) Bind(_ context.Context, id, owner string, now, expires time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if b, ok := s.m[id]; ok {
		if now.Before(b.expires) {
			if b.owner != owner {
				return errNotOwned
			}
			if expires.After(b.expires) {
				b.expires = expires
				s.m[id] = b
			}
			return nil
		}
		delete(s.m, id) // expired: free for a new binding
	}
	if len(s.m) >= s.max && !s.sweep(now) {
		return fmt.Errorf("%w: the session store holds its maximum of %d bindings", audit.ReasonTooManySessions, s.max)
	}
	if len(s.m) == 0 || expires.Before(s.lowest) {
		s.lowest = expires
	}
	s.m[id] = binding{owner: owner, expires: expires}
	return nil
}

// Use implements [SessionStore.Use] in O(1).
func (s *memStore) Use(_ context.Context, id, owner string, now, expires time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.m[id]
	switch {
	case !ok:
		return errUnknown
	case !now.Before(b.expires):
		delete(s.m, id)
		return errUnknown
	case b.owner != owner:
		return errNotOwned // before any extension: a refused use changes nothing
	case expires.After(b.expires):
		b.expires = expires
		s.m[id] = b
	}
	return nil
}

// Delete implements [SessionStore.Delete].
func (s *memStore) Delete(_ context.Context, id string) error {
	s.mu.Lock()
	delete(s.m, id)
	s.mu.Unlock()
	return nil
}

// full reports whether a new binding would be refused at now.
func (s *memStore) full(now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m) >= s.max && !s.sweep(now)
}

// sweep purges the bindings expired at now, if any may have, and reports
// whether there is room for one more. A full store of live bindings is
// swept at most once per expiry of its earliest binding: the cost is
// amortised over the bindings that expire. s.mu must be held.
func (s *memStore) sweep(now time.Time) bool {
	if now.Before(s.lowest) {
		return len(s.m) < s.max
	}
	var lowest time.Time
	for id, b := range s.m {
		switch {
		case !now.Before(b.expires):
			delete(s.m, id)
		case lowest.IsZero() || b.expires.Before(lowest):
			lowest = b.expires
		}
	}
	s.lowest = lowest
	return len(s.m) < s.max
}

// size returns the number of bindings held, expired or not.
func (s *memStore) size() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}
