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
	// owner, it extends it. A new binding is refused with an error
	// wrapping audit.ReasonTooManySessions, changing nothing, when the store
	// is at capacity or when owner already holds the per-owner maximum of
	// live bindings (live bindings are never evicted to make room; expired
	// ones may be). A shared store should bound each owner's bindings too,
	// so that one caller cannot exhaust it for every other (the default
	// store's bound is [SessionConfig.MaxSessionsPerOwner]).
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
// guarded by a mutex and bounded by max bindings in all and perOwner for
// each owner. Expired bindings are purged lazily: one at a time when Use
// or Bind meets it, all at once when a bound is reached and one may have
// expired. Live bindings are never evicted.
type memStore struct {
	max, perOwner int

	mu     sync.Mutex
	m      map[string]binding
	owners map[string]int // the bindings of each owner in m, expired or not; no zero counts
	// lowest is a lower bound of every binding's expiry (exact after a
	// sweep; extensions and deletions keep it a bound): before it, a full
	// store need not be swept.
	lowest time.Time
}

func newMemStore(max, perOwner int) *memStore {
	return &memStore{max: max, perOwner: perOwner, m: make(map[string]binding), owners: make(map[string]int)}
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
		s.remove(id, b) // expired: free for a new binding
	}
	if err := s.room(owner, now); err != nil {
		return err
	}
	if len(s.m) == 0 || expires.Before(s.lowest) {
		s.lowest = expires
	}
	s.m[id] = binding{owner: owner, expires: expires}
	s.owners[owner]++
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
		s.remove(id, b)
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
	if b, ok := s.m[id]; ok {
		s.remove(id, b)
	}
	s.mu.Unlock()
	return nil
}

// full reports whether a new binding of owner would be refused at now.
func (s *memStore) full(owner string, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.room(owner, now) != nil
}

// room reports, by an error wrapping audit.ReasonTooManySessions, whether
// a new binding of owner at now would exceed a bound, after purging the
// expired bindings if one is reached. s.mu must be held.
func (s *memStore) room(owner string, now time.Time) error {
	if len(s.m) < s.max && s.owners[owner] < s.perOwner {
		return nil
	}
	s.sweep(now)
	switch {
	case len(s.m) >= s.max:
		return fmt.Errorf("%w: the session store holds its maximum of %d bindings", audit.ReasonTooManySessions, s.max)
	case s.owners[owner] >= s.perOwner:
		return fmt.Errorf("%w: the owner holds its maximum of %d bindings", audit.ReasonTooManySessions, s.perOwner)
	}
	return nil
}

// sweep purges the bindings expired at now, if any may have. A store whose
// bounds are reached by live bindings is swept at most once per expiry of
// its earliest binding: the cost is amortised over the bindings that
// expire. s.mu must be held.
func (s *memStore) sweep(now time.Time) {
	if now.Before(s.lowest) {
		return
	}
	var lowest time.Time
	for id, b := range s.m {
		switch {
		case !now.Before(b.expires):
			s.remove(id, b)
		case lowest.IsZero() || b.expires.Before(lowest):
			lowest = b.expires
		}
	}
	s.lowest = lowest
}

// remove deletes id, bound as b, and counts it off its owner's bindings.
// s.mu must be held.
func (s *memStore) remove(id string, b binding) {
	delete(s.m, id)
	if n := s.owners[b.owner] - 1; n > 0 {
		s.owners[b.owner] = n
	} else {
		delete(s.owners, b.owner)
	}
}

// size returns the number of bindings held, expired or not.
func (s *memStore) size() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}
