package apikey

import (
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestActivityDays: per-day counts per client, by credential, kept for
// ActivityDays days; a slot is reused when its day comes round again, and a
// request dated before the days kept is counted in the totals only.
func TestActivityDays(t *testing.T) {
	var u usage
	day0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	rec := &Record{ID: "AAAAAAAAAAAA", ClientID: "pos"}
	for d := range 40 {
		at := day0.Add(time.Duration(d)*24*time.Hour + 23*time.Hour)
		u.recordKey(rec, StateDeprecated, at, true)
		u.recordBearer("pos", at)
		u.recordBearer("pos", at.Add(time.Hour+59*time.Minute)) // the next day, 00:59
	}
	now := day0.Add(40 * 24 * time.Hour).Add(time.Hour)
	s := u.snapshot(now)
	require.Len(t, s.Activity, 1)
	a := s.Activity[0]
	assert.Equal(t, "pos", a.Client)
	assert.Equal(t, day0.Add(39*24*time.Hour+23*time.Hour), a.LastAPIKey)
	assert.Equal(t, day0.Add(40*24*time.Hour+59*time.Minute), a.LastBearer)
	require.Len(t, a.Days, ActivityDays)
	first := day0.Add(time.Duration(40-ActivityDays+1) * 24 * time.Hour)
	assert.Equal(t, first, a.Days[0].Day)
	for i, d := range a.Days {
		want := DayUsage{Day: first.Add(time.Duration(i) * 24 * time.Hour), APIKey: Counts{Accepted: 1}, Bearer: 2}
		if i == len(a.Days)-1 { // today: only the 00:59 request
			want.APIKey, want.Bearer = Counts{}, 1
		}
		assert.Equal(t, want, d, "day %d", i)
	}
	assert.Equal(t, a.Days, s.Days, "one client: its days are the totals")
	assert.Equal(t, uint64(0), a.PolicyRefused)

	// A request dated before the days kept (a clock moved back) is not
	// put in a slot that holds a later day.
	u.recordKey(rec, StateDeprecated, day0, true)
	assert.Equal(t, a.Days, u.snapshot(now).Activity[0].Days)

	// Refusals by the policy carry a state; the record's own do not.
	u.recordKey(rec, StateBlocked, now, false)
	u.recordKey(rec, "", now, false)
	a = u.snapshot(now).Activity[0]
	assert.Equal(t, uint64(1), a.PolicyRefused)
	assert.Equal(t, Counts{Rejected: 2}, a.Days[len(a.Days)-1].APIKey)
}

// TestActivityClientCap: at most MaxActivityClients clients are tracked;
// later ones count in the totals only.
func TestActivityClientCap(t *testing.T) {
	var u usage
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for i := range MaxActivityClients + 10 {
		u.recordBearer("dcr-client-"+strconv.Itoa(i), now)
	}
	s := u.snapshot(now)
	assert.Len(t, s.Activity, MaxActivityClients)
	require.Len(t, s.Days, 1)
	assert.Equal(t, uint64(MaxActivityClients+10), s.Days[0].Bearer)
}

// TestActivityConcurrent: concurrent counting across a day boundary loses
// nothing (run with -race).
func TestActivityConcurrent(t *testing.T) {
	var u usage
	midnight := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	recs := []*Record{{ID: "AAAAAAAAAAAA", ClientID: "a"}, {ID: "BBBBBBBBBBBB", ClientID: "b"}}
	const goroutines, perG = 16, 500
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perG {
				at := midnight.Add(time.Duration(i-perG/2) * time.Second) // half before midnight
				if i%2 == 0 {
					u.recordKey(recs[g%2], StateAllowed, at, true)
				} else {
					u.recordBearer(recs[g%2].ClientID, at)
				}
			}
		}()
	}
	wg.Wait()
	s := u.snapshot(midnight.Add(time.Hour))
	var keys, bearer uint64
	for _, a := range s.Activity {
		require.Len(t, a.Days, 2, a.Client)
		for _, d := range a.Days {
			keys += d.APIKey.Accepted
			bearer += d.Bearer
		}
	}
	assert.Equal(t, uint64(goroutines*perG/2), keys)
	assert.Equal(t, uint64(goroutines*perG/2), bearer)
}

func TestDayOf(t *testing.T) {
	for _, tc := range []struct {
		t    time.Time
		want int64
	}{
		{time.Unix(0, 0), 0},
		{time.Unix(86399, 999), 0},
		{time.Unix(86400, 0), 1},
		{time.Unix(-1, 0), -1},
		{time.Unix(-86400, 0), -1},
		{time.Unix(-86401, 0), -2},
	} {
		assert.Equal(t, tc.want, dayOf(tc.t.UnixNano()), "%v", tc.t)
	}
}
