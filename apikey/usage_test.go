package apikey

import (
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
				u.bearerSeen.Add(1)
				if i%2 == 0 {
					u.bearerAccepted.Add(1)
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
	assert.Equal(t, uint64(total), s.APIKey.Accepted+s.APIKey.Rejected, "APIKey = %+v", s.APIKey)
	assert.Equal(t, uint64(total/4), s.APIKey.Rejected, "APIKey = %+v", s.APIKey)
	assert.Equal(t, uint64(total/2), s.Bearer.Accepted, "Bearer = %+v", s.Bearer)
	assert.Equal(t, uint64(total/2), s.Bearer.Rejected, "Bearer = %+v", s.Bearer)
	require.Len(t, s.Keys, 3, "Keys = %+v", s.Keys)
	require.Equal(t, "AAAAAAAAAAAA", s.Keys[0].ID, "Keys = %+v", s.Keys)
	require.Equal(t, "o3", s.Keys[2].Client, "Keys = %+v", s.Keys)
	var sum uint64
	for _, k := range s.Keys {
		sum += k.Accepted + k.Rejected
		if k.ID == "AAAAAAAAAAAA" {
			assert.True(t, k.FirstSeen.Equal(base), "FirstSeen = %v, want %v", k.FirstSeen, base)
		}
		assert.Equal(t, StateDeprecated, k.State, "State")
	}
	assert.Equal(t, uint64(total), sum, "per-key sum")
	last := base.Add(time.Duration(total-1) * time.Millisecond)
	require.Len(t, s.Clients, 2, "Clients = %+v", s.Clients)
	require.Equal(t, "c1", s.Clients[0].Client, "Clients = %+v", s.Clients)
	require.Equal(t, 2, s.Clients[0].Keys, "Clients = %+v", s.Clients)
	require.Equal(t, 1, s.Clients[1].Keys, "Clients = %+v", s.Clients)
	var maxLast time.Time
	for _, c := range s.Clients {
		if c.LastSeen.After(maxLast) {
			maxLast = c.LastSeen
		}
	}
	assert.True(t, maxLast.Equal(last), "latest LastSeen = %v, want %v", maxLast, last)
}

// TestSnapshotJSON: a usage report is served as JSON with snake_case
// members and RFC 3339 times; counts are always present, a key's state and
// the lists only when set.
func TestSnapshotJSON(t *testing.T) {
	var u usage
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	u.recordKey(&Record{ID: "AAAAAAAAAAAA", ClientID: "billing-cron"}, StateDeprecated, at, true)
	u.recordKey(&Record{ID: "AAAAAAAAAAAA", ClientID: "billing-cron"}, StateDeprecated, at.Add(time.Hour), false)
	u.keyAccepted.Add(1)
	u.keyReject.Add(1)
	u.bearerSeen.Add(3)
	u.bearerAccepted.Add(2)
	u.anonymous.Add(4)
	s := u.snapshot(at.Add(2 * time.Hour))
	b, err := json.Marshal(s)
	require.NoError(t, err)
	assert.JSONEq(t, `{
		"time": "2026-03-01T14:00:00Z",
		"bearer": {"accepted": 2, "rejected": 1},
		"api_key": {"accepted": 1, "rejected": 1},
		"anonymous": 4,
		"keys": [{"id": "AAAAAAAAAAAA", "client": "billing-cron", "accepted": 1, "rejected": 1,
			"first_seen": "2026-03-01T12:00:00Z", "last_seen": "2026-03-01T13:00:00Z", "state": "deprecated"}],
		"clients": [{"client": "billing-cron", "keys": 1, "accepted": 1, "rejected": 1, "last_seen": "2026-03-01T13:00:00Z"}],
		"since": "2026-03-01T12:00:00Z", "source": "process",
		"days": [{"day": "2026-03-01T00:00:00Z", "api_key": {"accepted": 1, "rejected": 1}, "bearer": 0}],
		"activity": [{"client": "billing-cron", "last_api_key": "2026-03-01T13:00:00Z", "policy_refused": 1,
			"days": [{"day": "2026-03-01T00:00:00Z", "api_key": {"accepted": 1, "rejected": 1}, "bearer": 0}]}]
	}`, string(b))

	b, err = json.Marshal(Snapshot{Time: at})
	require.NoError(t, err)
	assert.JSONEq(t, `{"time": "2026-03-01T12:00:00Z", "since": "0001-01-01T00:00:00Z", "source": "",
		"bearer": {"accepted": 0, "rejected": 0}, "api_key": {"accepted": 0, "rejected": 0}, "anonymous": 0}`,
		string(b), "an empty report")
}
