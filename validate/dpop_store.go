package validate

import (
	"container/heap"
	"context"
	"sync"
	"time"
)

// memoryReplay is the in-memory [ReplayStore] of a Validator without
// DPoPConfig.Replay: a map of the ids of live proofs, and a min-heap of
// their expiry times, so that forgetting the expired costs O(log n) each.
// It never forgets an id before its until time: when it holds max live
// ids, Use fails with a *replayFull until the oldest expires.
type memoryReplay struct {
	mu  sync.Mutex
	ids map[string]time.Time
	exp proofHeap
	max int
	now func() time.Time
}

func newMemoryReplay(max int, now func() time.Time) *memoryReplay {
	return &memoryReplay{ids: make(map[string]time.Time), max: max, now: now}
}

// replayFull is the error of a full memoryReplay: retry after the oldest
// proof is forgotten.
type replayFull struct{ retry time.Duration }

func (e *replayFull) Error() string {
	return "validate: the DPoP replay store is full of live proofs"
}

// RetryAfter is how long until the store has room.
func (e *replayFull) RetryAfter() time.Duration { return e.retry }

func (s *memoryReplay) Use(_ context.Context, id string, until time.Time) (bool, error) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.exp) > 0 && !s.exp[0].until.After(now) {
		e := heap.Pop(&s.exp).(proofExpiry)
		delete(s.ids, e.id)
	}
	if u, ok := s.ids[id]; ok && u.After(now) {
		return true, nil
	}
	if len(s.ids) >= s.max {
		retry := max(time.Second, s.exp[0].until.Sub(now))
		return false, &replayFull{retry: retry}
	}
	s.ids[id] = until
	heap.Push(&s.exp, proofExpiry{until: until, id: id})
	return false, nil
}

// len returns the number of ids held (for tests).
func (s *memoryReplay) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.ids)
}

type proofExpiry struct {
	until time.Time
	id    string
}

// proofHeap is a min-heap of proof expiries (container/heap).
type proofHeap []proofExpiry

func (h proofHeap) Len() int           { return len(h) }
func (h proofHeap) Less(i, j int) bool { return h[i].until.Before(h[j].until) }
func (h proofHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *proofHeap) Push(x any)        { *h = append(*h, x.(proofExpiry)) }
func (h *proofHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	old[len(old)-1] = proofExpiry{}
	*h = old[:len(old)-1]
	return x
}
