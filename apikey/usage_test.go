package apikey

import (
	"sync"
	"testing"
	"time"
)

func TestUsageConcurrent(t *testing.T) {
	var u usage
	recs := []*Record{
		{ID: "AAAAAAAAAAAA", ClientID: "c1"},
		{ID: "BBBBBBBBBBBB", ClientID: "c1"},
		{ID: "CCCCCCCCCCCC", Owner: "o3"},
	}
	base := time.Unix(1_700_000_000, 0)
	const goroutines, perG = 32, 1000
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perG {
				rec := recs[i%len(recs)]
				at := base.Add(time.Duration(g*perG+i) * time.Millisecond)
				ok := i%4 != 0
				u.recordKey(rec, StateDeprecated, at, ok)
				if ok {
					u.keyAccepted.Add(1)
				} else {
					u.keyReject.Add(1)
				}
				u.jwtSeen.Add(1)
				if i%2 == 0 {
					u.jwtAccepted.Add(1)
				}
				if i%100 == 0 {
					_ = u.snapshot(at) // readers race with writers
				}
			}
		}()
	}
	wg.Wait()
	s := u.snapshot(base)
	const total = goroutines * perG
	if s.APIKey.Accepted+s.APIKey.Rejected != total || s.APIKey.Rejected != total/4 {
		t.Errorf("APIKey = %+v", s.APIKey)
	}
	if s.JWT.Accepted != total/2 || s.JWT.Rejected != total/2 {
		t.Errorf("JWT = %+v", s.JWT)
	}
	if len(s.Keys) != 3 || s.Keys[0].ID != "AAAAAAAAAAAA" || s.Keys[2].Client != "o3" {
		t.Fatalf("Keys = %+v", s.Keys)
	}
	var sum uint64
	for _, k := range s.Keys {
		sum += k.Accepted + k.Rejected
		if !k.FirstSeen.Equal(base) && k.ID == "AAAAAAAAAAAA" {
			t.Errorf("FirstSeen = %v, want %v", k.FirstSeen, base)
		}
		if k.State != StateDeprecated {
			t.Errorf("State = %q", k.State)
		}
	}
	if sum != total {
		t.Errorf("per-key sum = %d, want %d", sum, total)
	}
	last := base.Add(time.Duration(total-1) * time.Millisecond)
	if len(s.Clients) != 2 || s.Clients[0].Client != "c1" || s.Clients[0].Keys != 2 || s.Clients[1].Keys != 1 {
		t.Fatalf("Clients = %+v", s.Clients)
	}
	var maxLast time.Time
	for _, c := range s.Clients {
		if c.LastSeen.After(maxLast) {
			maxLast = c.LastSeen
		}
	}
	if !maxLast.Equal(last) {
		t.Errorf("latest LastSeen = %v, want %v", maxLast, last)
	}
}
