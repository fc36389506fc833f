package apikey

import (
	"encoding/json"
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

// TestActivityClientCap: at most MaxActivityClients clients that only used
// bearer tokens are tracked, later ones count in the totals only, and
// ActivityTruncated says so; a client that used a key is tracked whenever
// its keys are used: before, after or during a flood of new OAuth clients,
// and after it was itself left out as a bearer-only client.
func TestActivityClientCap(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	pos := &Record{ID: "AAAAAAAAAAAA", ClientID: "legacy-pos"}
	flood := func(u *usage, from, n int) {
		for i := range n {
			u.recordBearer("dcr-client-"+strconv.Itoa(from+i), now)
		}
	}
	keys := func(u *usage, n int) {
		for range n {
			u.recordKey(pos, StateAllowed, now, true)
		}
	}
	for _, tc := range []struct {
		name string
		run  func(u *usage)
	}{
		{"flood first", func(u *usage) { flood(u, 0, MaxActivityClients+10); keys(u, 5) }},
		{"keys first", func(u *usage) { keys(u, 5); flood(u, 0, MaxActivityClients+10) }},
		{"interleaved", func(u *usage) {
			for i := range 5 {
				flood(u, i*(MaxActivityClients/2), MaxActivityClients/2)
				keys(u, 1)
			}
		}},
		{"left out as a bearer client, then keys", func(u *usage) {
			flood(u, 0, MaxActivityClients+10)
			u.recordBearer(pos.ClientID, now) // not tracked: no place left
			keys(u, 5)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var u usage
			tc.run(&u)
			s := u.snapshot(now)
			assert.True(t, s.ActivityTruncated)
			var pos *ClientActivity
			bearerOnly := 0
			for i, a := range s.Activity {
				if a.Client == "legacy-pos" {
					pos = &s.Activity[i]
				} else {
					bearerOnly++
				}
			}
			assert.Equal(t, MaxActivityClients, bearerOnly)
			require.NotNil(t, pos, "the key client is tracked")
			require.Len(t, pos.Days, 1)
			assert.Equal(t, Counts{Accepted: 5}, pos.Days[0].APIKey)
			assert.Equal(t, now, pos.LastAPIKey)
			require.Len(t, s.Days, 1)
			assert.Equal(t, uint64(5), s.Days[0].APIKey.Accepted)
		})
	}

	var u usage // under the bound: nothing left out
	flood(&u, 0, MaxActivityClients)
	s := u.snapshot(now)
	assert.Len(t, s.Activity, MaxActivityClients)
	assert.False(t, s.ActivityTruncated)
	js, err := json.Marshal(s)
	require.NoError(t, err)
	assert.NotContains(t, string(js), "activity_truncated")
}

// TestActivityClientCapConcurrent: bearer-only clients racing for the last
// places never exceed MaxActivityClients, and key clients counted at the
// same time lose no request (run with -race).
func TestActivityClientCapConcurrent(t *testing.T) {
	var u usage
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	recs := []*Record{{ID: "AAAAAAAAAAAA", ClientID: "a"}, {ID: "BBBBBBBBBBBB", ClientID: "b"}}
	const goroutines, perG = 8, MaxActivityClients / 4
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perG {
				u.recordBearer("dcr-"+strconv.Itoa(g)+"-"+strconv.Itoa(i), now)
				rec := recs[i%2]
				u.recordBearer(rec.ClientID, now) // a key client's tokens, before and after its keys
				u.recordKey(rec, StateAllowed, now, true)
			}
		}()
	}
	wg.Wait()
	s := u.snapshot(now)
	assert.True(t, s.ActivityTruncated)
	byClient := map[string]ClientActivity{}
	for _, a := range s.Activity {
		byClient[a.Client] = a
	}
	assert.Len(t, byClient, MaxActivityClients+2, "every place taken, and the two key clients")
	for _, rec := range recs {
		a := byClient[rec.ClientID]
		require.Len(t, a.Days, 1, rec.ClientID)
		assert.Equal(t, uint64(goroutines*perG/2), a.Days[0].APIKey.Accepted, rec.ClientID)
	}
	assert.Equal(t, int64(MaxActivityClients), u.oauthOnly.Load())
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
