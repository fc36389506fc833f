package apikey

import (
	"encoding/csv"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/audit"
)

// TestReportHidesKeyClientAfterOAuthFlood (found by an audit): OAuth clients
// (which anyone can register with dynamic client registration) fill the
// MaxActivityClients places of per-client activity; a client that uses its
// API key, and breaks at its cutoff, must still be shown breaking at the
// cutoff with its key requests counted (issue 16: "clients that would break
// at the cutoff highlighted"), whether the flood comes before, after or
// between its key requests, and in the page, the JSON and the CSV alike.
// Before the fix it was shown "idle", with 0 key requests, and
// clients_breaking_at_cutoff was 0.
func TestReportHidesKeyClientAfterOAuthFlood(t *testing.T) {
	for _, tc := range []struct {
		name string
		// steps: a positive number n is n new OAuth clients making one
		// bearer request each; a negative one, -n key requests of
		// legacy-pos; 0, one bearer request of legacy-pos itself.
		steps []int
	}{
		{"flood to the bound, then keys", []int{MaxActivityClients, -5}},
		{"flood past the bound, then keys", []int{MaxActivityClients + 10, -5}},
		{"keys, then flood", []int{-5, MaxActivityClients + 10}},
		{"interleaved", []int{MaxActivityClients / 2, -2, MaxActivityClients/2 + 10, -3, 10}},
		{"left out as an OAuth client, then keys", []int{MaxActivityClients + 10, 0, -5}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
			store := new(MemoryStore)
			key, rec, err := Generate("sk_live_", Record{ClientID: "legacy-pos", Scopes: []string{"inventory:read"}, Created: now})
			require.NoError(t, err)
			require.NoError(t, store.Put(rec))
			bearer := bearerFunc(func(r *http.Request) (*rsguard.Principal, error) {
				return &rsguard.Principal{Subject: "s", Credential: audit.CredentialJWT, ClientID: r.Header.Get("X-Client")}, nil
			})
			auth, err := New(Config{Store: store, Prefix: "sk_live_", Bearer: bearer, Now: func() time.Time { return now },
				Policy: Policy{Cutoff: now.Add(30 * 24 * time.Hour)}})
			require.NoError(t, err)
			do := func(header, value, client string) {
				r := httptest.NewRequest(http.MethodGet, "/api", nil)
				r.Header.Set(header, value)
				r.Header.Set("X-Client", client)
				_, err := auth.Authenticate(r)
				require.NoError(t, err)
			}
			var flooded, bearerOfPos int
			for _, n := range tc.steps {
				switch {
				case n > 0:
					for range n {
						do("Authorization", "Bearer tok", "dcr-"+strconv.Itoa(flooded))
						flooded++
					}
				case n < 0:
					for range -n {
						do("X-API-Key", key, "")
					}
				default:
					do("Authorization", "Bearer tok", "legacy-pos")
					bearerOfPos++
				}
			}
			truncated := flooded+bearerOfPos > MaxActivityClients

			h, err := NewReportHandler(ReportConfig{Source: auth, Days: 1, Authorize: func(*http.Request) error { return nil }}) // one day: 4,096 charts of one bar
			require.NoError(t, err)
			rep := h.Report()
			var got *ReportClient
			for i := range rep.Clients {
				if rep.Clients[i].Client == "legacy-pos" {
					got = &rep.Clients[i]
				}
			}
			require.NotNil(t, got, "legacy-pos is in the report")
			assert.Equal(t, StatusBreaksAtCutoff, got.Status, "a client using its key today, with a cutoff, breaks at the cutoff")
			assert.Equal(t, uint64(5), got.APIKey.Accepted, "its key requests of the window")
			assert.Equal(t, uint64(5), got.Days[len(got.Days)-1].APIKey.Accepted, "today's bar")
			assert.Equal(t, now, got.LastAPIKey)
			assert.Equal(t, 1, rep.Totals.ClientsBreakingAtCutoff)
			assert.Equal(t, truncated, rep.ActivityTruncated)
			assert.Equal(t, uint64(5), rep.Totals.APIKey.Accepted)
			assert.Equal(t, uint64(flooded+bearerOfPos), rep.Totals.Bearer, "every bearer request is in the totals")

			srv := httptest.NewServer(h)
			defer srv.Close()
			get := func(query string) string {
				resp, err := srv.Client().Get(srv.URL + query)
				require.NoError(t, err)
				defer resp.Body.Close()
				require.Equal(t, http.StatusOK, resp.StatusCode)
				b, err := io.ReadAll(resp.Body)
				require.NoError(t, err)
				return string(b)
			}

			var js struct {
				Totals struct {
					Breaking int `json:"clients_breaking_at_cutoff"`
					OnKeys   int `json:"clients_on_keys"`
				}
				Clients []struct {
					Client string
					Status ClientStatus
					APIKey Counts `json:"api_key"`
					Days   []DayUsage
				}
				Truncated *bool `json:"activity_truncated"`
			}
			require.NoError(t, json.Unmarshal([]byte(get("?format=json")), &js))
			assert.Equal(t, 1, js.Totals.Breaking, "JSON")
			assert.Equal(t, 1, js.Totals.OnKeys, "JSON")
			require.NotNil(t, js.Truncated, "JSON: activity_truncated is always present")
			assert.Equal(t, truncated, *js.Truncated, "JSON")
			found := false
			for _, c := range js.Clients {
				if c.Client == "legacy-pos" {
					found = true
					assert.Equal(t, StatusBreaksAtCutoff, c.Status, "JSON")
					assert.Equal(t, Counts{Accepted: 5}, c.APIKey, "JSON")
					assert.Equal(t, got.Days, c.Days, "JSON")
				}
			}
			assert.True(t, found, "JSON: legacy-pos listed")

			rows, err := csv.NewReader(strings.NewReader(get("?format=csv"))).ReadAll()
			require.NoError(t, err)
			require.Len(t, rows, len(rep.Clients)+1, "CSV: one row per client of the report")
			found = false
			for _, row := range rows[1:] {
				if row[0] == "legacy-pos" {
					found = true
					assert.Equal(t, "breaks_at_cutoff", row[2], "CSV status")
					assert.Equal(t, []string{"5", "0"}, row[4:6], "CSV key requests")
					assert.Equal(t, now.Format(time.RFC3339), row[8], "CSV last_api_key")
					assert.Equal(t, rec.ID, row[10], "CSV key_ids")
				}
			}
			assert.True(t, found, "CSV: legacy-pos listed")

			page := get("")
			assert.Regexp(t, `<dd id="breaking">1 <small>1 still on keys</small>`, page)
			row := regexp.MustCompile(`(?s)<tr class="client [a-z_]+" data-client="legacy-pos".*?</tr>`).FindString(page)
			require.NotEmpty(t, row, "page: legacy-pos listed")
			containsText(t, row, `data-status="breaks_at_cutoff"`, "page")
			containsText(t, row, `<td class="num">5</td>`, "page: key requests")
			containsText(t, row, `data-day="2026-03-01" data-api-key="5"`, "page: today's bar")
			if truncated {
				containsText(t, page, `id="truncated"`, "page: says clients were left out")
			} else {
				lacksText(t, page, `id="truncated"`, "page")
			}
		})
	}
}

// TestNewReportKeysWithoutActivity: a source whose Activity missed a
// client's key requests (left out, or tracked late) cannot hide the client:
// its keys' usage makes it one on keys, breaking at the cutoff, with its
// keys' counts, unless its keys were last used before the last 7 days,
// never accepted, blocked, or the Activity saw their last use.
func TestNewReportKeysWithoutActivity(t *testing.T) {
	now := time.Date(2026, 3, 15, 12, 0, 0, 0, time.UTC)
	today := now.Truncate(24 * time.Hour)
	key := func(accepted, rejected uint64, first, last time.Time, st State) KeyUsage {
		return KeyUsage{ID: "AAAAAAAAAAAA", Client: "c", Counts: Counts{Accepted: accepted, Rejected: rejected},
			FirstSeen: first, LastSeen: last, State: st}
	}
	hourAgo := now.Add(-time.Hour)
	for _, tc := range []struct {
		name       string
		key        KeyUsage
		activity   []ClientActivity
		want       ClientStatus
		wantCounts Counts
	}{
		{"no activity", key(5, 1, hourAgo, hourAgo, StateDeprecated), nil, StatusBreaksAtCutoff, Counts{5, 1}},
		{"activity of its tokens only", key(5, 0, hourAgo, hourAgo, StateAllowed),
			[]ClientActivity{{Client: "c", LastBearer: now, Days: []DayUsage{{Day: today, Bearer: 3}}}}, StatusBreaksAtCutoff, Counts{5, 0}},
		{"activity tracked late", key(5, 0, today.AddDate(0, 0, -3), hourAgo, StateAllowed),
			[]ClientActivity{{Client: "c", LastAPIKey: now.Add(-2 * time.Hour), Days: []DayUsage{{Day: today, APIKey: Counts{Accepted: 2}}}}},
			StatusBreaksAtCutoff, Counts{5, 0}},
		{"first seen before the window: the window's counts are not known", key(50, 0, today.AddDate(0, 0, -20), hourAgo, StateAllowed),
			nil, StatusBreaksAtCutoff, Counts{}},
		{"last used 7 days ago", key(5, 0, today.AddDate(0, 0, -8), today.AddDate(0, 0, -7), StateAllowed), nil, StatusIdle, Counts{5, 0}},
		{"used 6 days ago", key(5, 0, today.AddDate(0, 0, -8), today.AddDate(0, 0, -6), StateAllowed), nil, StatusBreaksAtCutoff, Counts{5, 0}},
		{"never accepted", key(0, 4, hourAgo, hourAgo, ""), nil, StatusIdle, Counts{0, 4}},
		{"key blocked", key(5, 4, hourAgo, hourAgo, StateBlocked), nil, StatusIdle, Counts{5, 4}},
		{"activity saw the last use: it decides", key(5, 1, today.AddDate(0, 0, -9), hourAgo, ""),
			[]ClientActivity{{Client: "c", LastAPIKey: hourAgo, Days: []DayUsage{
				{Day: today.AddDate(0, 0, -9), APIKey: Counts{Accepted: 5}}, {Day: today, APIKey: Counts{Rejected: 1}}}}},
			StatusIdle, Counts{5, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := Snapshot{Keys: []KeyUsage{tc.key}, Activity: tc.activity}
			r := NewReport(s, Policy{Cutoff: now.Add(24 * time.Hour)}, now, 14)
			require.Len(t, r.Clients, 1)
			c := r.Clients[0]
			assert.Equal(t, tc.want, c.Status)
			assert.Equal(t, tc.wantCounts, c.APIKey)
			assert.Equal(t, tc.key.LastSeen, c.LastAPIKey)
			assert.Len(t, c.Days, 14)
			wantBreaking := 0
			if tc.want == StatusBreaksAtCutoff {
				wantBreaking = 1
			}
			assert.Equal(t, wantBreaking, r.Totals.ClientsBreakingAtCutoff)
		})
	}
}
