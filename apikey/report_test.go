package apikey

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/audit"
	"github.com/rsguard/rsguard/scopes"
)

const (
	reportScope = "apikey:report"
	metadataURL = "https://api.example.com/.well-known/oauth-protected-resource/api"
	// hostileClient is a client name from configuration that would inject
	// markup, a script and a spreadsheet formula if it were not escaped.
	hostileClient = `=HYPERLINK("x")<script>window.pwned=1</script>"><img src=x onerror=alert(1)>`
)

// reportFixture is a migration in progress behind a Guard, with the report
// at /report (scope apikey:report) on a real server over 127.0.0.1.
type reportFixture struct {
	t      *testing.T
	auth   *Authenticator
	bearer *fakeBearer
	now    atomic.Int64 // unix nanoseconds; the clock of the Authenticator and the report
	keys   map[string]string
	srv    *httptest.Server
	admin  string // a token with the report's scope
	user   string // a token without it
}

var reportStart = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

func newReportFixture(t *testing.T) *reportFixture {
	f := &reportFixture{t: t, bearer: newFakeBearer(), keys: map[string]string{}}
	f.now.Store(reportStart.UnixNano())
	clock := func() time.Time { return time.Unix(0, f.now.Load()).UTC() }
	store := new(MemoryStore)
	for _, client := range []string{"legacy-pos", "warehouse-sync", "nightly-report", hostileClient} {
		key, rec, err := Generate("sk_live_", Record{ClientID: client, Scopes: []string{"inventory:read"}, Created: reportStart})
		require.NoError(t, err)
		require.NoError(t, store.Put(rec))
		f.keys[client] = key
	}
	var err error
	f.auth, err = New(Config{Store: store, Prefix: "sk_live_", Bearer: f.bearer, Now: clock, Policy: Policy{
		Cutoff: reportStart.Add(60 * 24 * time.Hour),
		Clients: map[string]ClientPolicy{
			"legacy-pos":     {State: StateDeprecated, Cutoff: reportStart.Add(30 * 24 * time.Hour)},
			"warehouse-sync": {State: StateDeprecated},
			"nightly-report": {State: StateBlocked},
			"never-seen":     {State: StateDeprecated},
		},
	}})
	require.NoError(t, err)
	guard, err := rsguard.New(rsguard.Config{Authenticator: f.auth, ResourceMetadata: metadataURL})
	require.NoError(t, err)
	report, err := NewReportHandler(ReportConfig{Source: f.auth, Scope: reportScope, Days: 14})
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.Handle("/api", guard.Middleware(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {})))
	mux.Handle("/report", guard.Middleware(report))
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	f.admin = f.bearer.issue(rsguard.Principal{Subject: "user:ops", Credential: audit.CredentialJWT, ClientID: "ops-console", Scopes: []string{reportScope}})
	f.user = f.bearer.issue(rsguard.Principal{Subject: "user:bob", Credential: audit.CredentialJWT, ClientID: "ops-console", Scopes: []string{"inventory:read"}})
	return f
}

// do sends GET path with the header set, and returns the response and body.
func (f *reportFixture) do(path, header, value string) (*http.Response, string) {
	f.t.Helper()
	req, err := http.NewRequest(http.MethodGet, f.srv.URL+path, nil)
	require.NoError(f.t, err)
	if header != "" {
		req.Header.Set(header, value)
	}
	resp, err := f.srv.Client().Do(req)
	require.NoError(f.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(f.t, err)
	return resp, string(b)
}

// traffic makes n API requests with the key of client, or, with oauth, with
// a token of client.
func (f *reportFixture) traffic(client string, oauth bool, n int) {
	f.t.Helper()
	header, value := "X-API-Key", f.keys[client]
	if oauth {
		header, value = "Authorization", "Bearer "+f.bearer.issue(rsguard.Principal{Subject: "client:" + client, Credential: audit.CredentialJWT, ClientID: client})
	}
	for range n {
		f.do("/api", header, value)
	}
}

// history makes ten days of traffic: legacy-pos on keys only, warehouse-sync
// moving from keys to OAuth, order-service on OAuth, nightly-report blocked
// but trying, and the hostile client on keys.
func (f *reportFixture) history() {
	for day := range 10 {
		f.now.Store(reportStart.Add(time.Duration(day) * 24 * time.Hour).UnixNano())
		f.traffic("legacy-pos", false, 3)
		f.traffic("warehouse-sync", false, max(0, 5-day))
		f.traffic("warehouse-sync", true, day)
		f.traffic("order-service", true, 2)
		f.traffic("nightly-report", false, 1)
		if day == 9 {
			f.traffic(hostileClient, false, 1)
		}
	}
}

func TestNewReportHandlerConfig(t *testing.T) {
	auth := newTestAuthenticator(t)
	allow := func(*http.Request) error { return nil }
	for _, tc := range []struct {
		name    string
		config  ReportConfig
		wantErr string
	}{
		{"no source", ReportConfig{Scope: "admin"}, "Source is required"},
		{"typed nil source", ReportConfig{Source: (*Authenticator)(nil), Scope: "admin"}, "Source is a nil"},
		{"no authorization rule", ReportConfig{Source: auth}, "authorization rule is required"},
		{"bad scope", ReportConfig{Source: auth, Scope: `admin"`}, "not one RFC 6749 scope token"},
		{"two scopes", ReportConfig{Source: auth, Scope: "a b"}, "not one RFC 6749 scope token"},
		{"negative days", ReportConfig{Source: auth, Scope: "admin", Days: -1}, "Days"},
		{"too many days", ReportConfig{Source: auth, Scope: "admin", Days: ActivityDays + 1}, "Days"},
		{"scope", ReportConfig{Source: auth, Scope: "admin"}, ""},
		{"authorize", ReportConfig{Source: auth, Authorize: allow, Days: ActivityDays}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, err := NewReportHandler(tc.config)
			if tc.wantErr == "" {
				require.NoError(t, err)
				require.NotNil(t, h)
				return
			}
			require.ErrorIs(t, err, rsguard.ErrInvalidConfig)
			assert.ErrorContains(t, err, tc.wantErr)
			assert.Nil(t, h)
		})
	}
}

// newTestAuthenticator is an Authenticator with an empty store.
func newTestAuthenticator(t *testing.T) *Authenticator {
	a, err := New(Config{Store: new(MemoryStore), Prefix: "sk_live_"})
	require.NoError(t, err)
	return a
}

// TestReportAuthorization: the report answers like every protected
// resource: 401 without a principal (the Guard's challenge), 403
// insufficient_scope naming its scope, and the report with it; API keys
// with the scope count as much as tokens.
func TestReportAuthorization(t *testing.T) {
	f := newReportFixture(t)
	resp, body := f.do("/report", "", "")
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	assert.Equal(t, `Bearer resource_metadata="`+metadataURL+`"`, resp.Header.Get("WWW-Authenticate"))
	assert.NotContains(t, body, "legacy-pos")

	resp, body = f.do("/report", "Authorization", "Bearer "+f.user)
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
	assert.Equal(t, `Bearer resource_metadata="`+metadataURL+`", scope="apikey:report", error="insufficient_scope", error_description="the access token lacks scope apikey:report"`,
		resp.Header.Get("WWW-Authenticate"))
	assert.NotContains(t, body, "legacy-pos")

	resp, _ = f.do("/report", "X-API-Key", f.keys["legacy-pos"])
	assert.Equal(t, http.StatusForbidden, resp.StatusCode, "a key without the scope")

	resp, body = f.do("/report", "Authorization", "Bearer "+f.admin)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, body, "legacy-pos")

	t.Run("without a Guard", func(t *testing.T) {
		h, err := NewReportHandler(ReportConfig{Source: f.auth, Scope: reportScope})
		require.NoError(t, err)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/report", nil))
		assert.Equal(t, http.StatusUnauthorized, rec.Code)
		assert.Equal(t, `Bearer realm="rsguard", scope="apikey:report"`, rec.Header().Get("WWW-Authenticate"))
	})

	t.Run("Authorize", func(t *testing.T) {
		for _, tc := range []struct {
			name      string
			authorize func(*http.Request) error
			scope     string
			ctx       *rsguard.Principal
			want      int
		}{
			{"allows", func(*http.Request) error { return nil }, "", nil, http.StatusOK},
			{"refuses", func(*http.Request) error { return errors.New("not on the admin network: 10.0.0.1") }, "", nil, http.StatusForbidden},
			{"refuses with a scope error", func(r *http.Request) error { return scopes.Require(r.Context(), "root") }, "", nil, http.StatusUnauthorized},
			{"allows, then the scope refuses", func(*http.Request) error { return nil }, reportScope,
				&rsguard.Principal{Subject: "user:x", Scopes: []string{"other"}}, http.StatusForbidden},
			{"allows, and the scope too", func(*http.Request) error { return nil }, reportScope,
				&rsguard.Principal{Subject: "user:x", Scopes: []string{reportScope}}, http.StatusOK},
		} {
			t.Run(tc.name, func(t *testing.T) {
				h, err := NewReportHandler(ReportConfig{Source: f.auth, Scope: tc.scope, Authorize: tc.authorize})
				require.NoError(t, err)
				req := httptest.NewRequest(http.MethodGet, "/report", nil)
				if tc.ctx != nil {
					req = req.WithContext(rsguard.NewContext(req.Context(), tc.ctx))
				}
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				assert.Equal(t, tc.want, rec.Code)
				assert.NotContains(t, rec.Body.String(), "10.0.0.1", "the caller's error text is not sent")
				assert.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
			})
		}
	})
}

// TestReportPage: the page is served with a policy that allows no script
// and only its own style sheet (by hash), renders the data, highlights the
// clients that break at the cutoff, and escapes names.
func TestReportPage(t *testing.T) {
	f := newReportFixture(t)
	f.history()
	resp, body := f.do("/report", "Authorization", "Bearer "+f.admin)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	h := resp.Header
	assert.Equal(t, "text/html; charset=utf-8", h.Get("Content-Type"))
	assert.Equal(t, "no-store", h.Get("Cache-Control"))
	assert.Equal(t, "nosniff", h.Get("X-Content-Type-Options"))
	assert.Equal(t, "no-referrer", h.Get("Referrer-Policy"))

	style := regexp.MustCompile(`(?s)<style>(.*?)</style>`).FindAllStringSubmatch(body, -1)
	require.Len(t, style, 1)
	sum := sha256.Sum256([]byte(style[0][1]))
	assert.Equal(t, "default-src 'none'; style-src 'sha256-"+base64.StdEncoding.EncodeToString(sum[:])+
		"'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'", h.Get("Content-Security-Policy"))
	lacksText(t, body, "<script")
	lacksText(t, body, " style=", "inline style attributes would need 'unsafe-inline'")
	lacksText(t, body, "<img")
	containsText(t, body, "=HYPERLINK(&#34;x&#34;)&lt;script&gt;window.pwned=1&lt;/script&gt;&#34;&gt;&lt;img src=x onerror=alert(1)&gt;")

	// The countdown is the server's, from its clock: day 9 of the history.
	containsText(t, body, `API keys stop working in 51 days</p>`)
	for client, status := range map[string]ClientStatus{
		"legacy-pos": StatusBreaksAtCutoff, "warehouse-sync": StatusBreaksAtCutoff, "order-service": StatusOnOAuth,
		"nightly-report": StatusCutOff, "never-seen": StatusIdle, "ops-console": StatusOnOAuth, // the report's own caller
	} {
		containsText(t, body, `<tr class="client `+string(status)+`" data-client="`+client+`" data-status="`+string(status)+`">`)
	}
	containsText(t, body, "in 21 days", "legacy-pos's own cutoff")

	for _, key := range f.keys {
		id, err := Parse("sk_live_", key)
		require.NoError(t, err)
		for _, format := range []string{"", "?format=json", "?format=csv"} {
			_, out := f.do("/report"+format, "Authorization", "Bearer "+f.admin)
			lacksText(t, out, key[len("sk_live_"+id+"_"):], "a key's secret")
			lacksText(t, out, HashKey(key).String(), "a key's hash")
			lacksText(t, out, f.admin, "a token")
			if format != "" {
				containsText(t, out, id, "the key's id")
			}
		}
	}
}

func TestReportMethodAndFormat(t *testing.T) {
	f := newReportFixture(t)
	for _, tc := range []struct {
		method, query string
		want          int
		contentType   string
	}{
		{http.MethodGet, "?format=html", http.StatusOK, "text/html; charset=utf-8"},
		{http.MethodHead, "", http.StatusOK, "text/html; charset=utf-8"},
		{http.MethodGet, "?format=json", http.StatusOK, "application/json"},
		{http.MethodGet, "?format=csv", http.StatusOK, "text/csv; charset=utf-8; header=present"},
		{http.MethodGet, "?format=xml", http.StatusBadRequest, "text/plain; charset=utf-8"},
		{http.MethodGet, "?format=json&format=csv", http.StatusBadRequest, "text/plain; charset=utf-8"},
		{http.MethodPost, "", http.StatusMethodNotAllowed, "text/plain; charset=utf-8"},
	} {
		req, err := http.NewRequest(tc.method, f.srv.URL+"/report"+tc.query, nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+f.admin)
		resp, err := f.srv.Client().Do(req)
		require.NoError(t, err)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		assert.Equal(t, tc.want, resp.StatusCode, "%s %s", tc.method, tc.query)
		assert.Equal(t, tc.contentType, resp.Header.Get("Content-Type"), "%s %s", tc.method, tc.query)
		assert.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"))
		if tc.method == http.MethodHead {
			assert.Empty(t, b)
		}
		if tc.want == http.StatusMethodNotAllowed {
			assert.Equal(t, "GET, HEAD", resp.Header.Get("Allow"))
		}
	}
}

// TestReportJSONAndCSV: both forms say what Usage says. The report's own
// requests are counted too (its caller's client, ops-console, on OAuth)
// before it is served, so Usage is read after each response.
func TestReportJSONAndCSV(t *testing.T) {
	f := newReportFixture(t)
	f.history()

	_, body := f.do("/report?format=json", "Authorization", "Bearer "+f.admin)
	u := f.auth.Usage()
	var got struct {
		Time, Since, Source, Cutoff string
		Days                        []DayUsage
		Totals                      ReportTotals
		Clients                     []struct {
			Client, State, Status, Cutoff string
			Keys                          []KeyUsage
			LastAPIKey                    time.Time `json:"last_api_key"`
			LastBearer                    time.Time `json:"last_bearer"`
			APIKey                        Counts    `json:"api_key"`
			Bearer                        uint64
			PolicyRefused                 uint64 `json:"policy_refused"`
			Days                          []DayUsage
		}
	}
	require.NoError(t, json.Unmarshal([]byte(body), &got), body)
	assert.Equal(t, "process", got.Source)
	assert.Equal(t, "2026-03-10T10:00:00Z", got.Time)
	assert.Equal(t, "2026-03-01T10:00:00Z", got.Since)
	assert.Equal(t, "2026-04-30T10:00:00Z", got.Cutoff)
	assert.Len(t, got.Days, 14)
	assert.Equal(t, u.Days, nonZero(got.Days), "the days of all clients")
	var keys, bearer uint64
	for _, d := range u.Days {
		keys += d.APIKey.Accepted
		bearer += d.Bearer
	}
	assert.Equal(t, keys, got.Totals.APIKey.Accepted)
	assert.Equal(t, bearer, got.Totals.Bearer)
	assert.InDelta(t, float64(keys)/float64(keys+bearer), got.Totals.APIKeyShare, 1e-9)
	assert.Equal(t, 2, got.Totals.ClientsOnOAuth)          // order-service, ops-console
	assert.Equal(t, 3, got.Totals.ClientsBreakingAtCutoff) // legacy-pos, warehouse-sync, the hostile client

	activity := func(u Snapshot) map[string]ClientActivity {
		m := map[string]ClientActivity{}
		for _, a := range u.Activity {
			m[a.Client] = a
		}
		return m
	}
	act := activity(u)
	for _, c := range got.Clients {
		a := act[c.Client]
		assert.Equal(t, a.Days, nonZero(c.Days), c.Client)
		assert.Equal(t, a.LastBearer, c.LastBearer, c.Client)
		assert.Equal(t, a.PolicyRefused, c.PolicyRefused, c.Client)
		var want []KeyUsage
		for _, k := range u.Keys {
			if k.Client == c.Client {
				want = append(want, k)
			}
		}
		assert.Equal(t, want, nonNilKeys(c.Keys), c.Client)
	}
	assert.Equal(t, uint64(10), act["nightly-report"].PolicyRefused)

	resp, body := f.do("/report?format=csv", "Authorization", "Bearer "+f.admin)
	act = activity(f.auth.Usage())
	assert.Equal(t, `attachment; filename="apikey-migration-2026-03-10.csv"`, resp.Header.Get("Content-Disposition"))
	rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	require.NoError(t, err)
	assert.Equal(t, reportCSVHeader, rows[0])
	require.Len(t, rows, len(got.Clients)+1)
	for i, c := range got.Clients {
		row := rows[i+1]
		name := c.Client
		if strings.HasPrefix(name, "=") {
			name = "'" + name
		}
		assert.Equal(t, []string{name, c.State, c.Status}, row[:3])
		var sum DayUsage // every day of the history is in the window
		for _, d := range act[c.Client].Days {
			sum.APIKey.Accepted += d.APIKey.Accepted
			sum.APIKey.Rejected += d.APIKey.Rejected
			sum.Bearer += d.Bearer
		}
		assert.Equal(t, []string{u64(sum.APIKey.Accepted), u64(sum.APIKey.Rejected), u64(sum.Bearer),
			u64(act[c.Client].PolicyRefused)}, row[4:8], c.Client)
		var ids []string
		for _, k := range c.Keys {
			ids = append(ids, k.ID)
		}
		assert.Equal(t, strings.Join(ids, " "), row[10])
	}
}

func u64(n uint64) string { return strconv.FormatUint(n, 10) }

func nonZero(days []DayUsage) []DayUsage {
	var out []DayUsage
	for _, d := range days {
		if d.APIKey != (Counts{}) || d.Bearer != 0 {
			out = append(out, d)
		}
	}
	return out
}

func nonNilKeys(k []KeyUsage) []KeyUsage {
	if len(k) == 0 {
		return nil
	}
	return k
}

func TestCSVCell(t *testing.T) {
	for in, want := range map[string]string{
		"":            "",
		"legacy-pos":  "legacy-pos",
		"=1+1":        "'=1+1",
		"+1":          "'+1",
		"-1":          "'-1",
		"@SUM(A1)":    "'@SUM(A1)",
		"\tx":         "'\tx",
		"\rx":         "'\rx",
		"a=b":         "a=b",
		"'quoted":     "'quoted",
		"2026-03-01Z": "2026-03-01Z",
	} {
		assert.Equal(t, want, csvCell(in), "%q", in)
	}
}

// FuzzReportCSV: whatever a client is called, the CSV reads back as one
// row per client whose first cell is the name, or the name after "'" when
// it starts like a formula.
func FuzzReportCSV(f *testing.F) {
	for _, s := range []string{"legacy-pos", hostileClient, "=cmd|' /C calc'!A0", "a,b\"c\nd", "-2+3", "@x", "\r\n", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		r := &Report{Clients: []ReportClient{{Client: name, State: StateAllowed, Status: StatusIdle}}}
		var buf bytes.Buffer
		require.NoError(t, r.WriteCSV(&buf))
		rows, err := csv.NewReader(&buf).ReadAll()
		require.NoError(t, err)
		require.Len(t, rows, 2)
		cell := rows[1][0]
		if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
			t.Fatalf("cell %q starts like a formula", cell)
		}
		// encoding/csv turns \r\n into \n inside quoted fields.
		want := strings.ReplaceAll(csvCell(name), "\r\n", "\n")
		if cell != want {
			t.Fatalf("cell %q, want %q", cell, want)
		}
	})
}

func TestNewReportStatuses(t *testing.T) {
	now := time.Date(2026, 3, 15, 12, 0, 0, 0, time.UTC)
	today := now.Truncate(24 * time.Hour)
	day := func(keys, bearer uint64) []DayUsage {
		return []DayUsage{{Day: today, APIKey: Counts{Accepted: keys}, Bearer: bearer}}
	}
	for _, tc := range []struct {
		name   string
		policy ClientPolicy
		cutoff time.Time
		days   []DayUsage
		want   ClientStatus
	}{
		{"keys, no cutoff", ClientPolicy{}, time.Time{}, day(1, 0), StatusOnKeys},
		{"keys, global cutoff ahead", ClientPolicy{}, now.Add(time.Hour), day(1, 5), StatusBreaksAtCutoff},
		{"keys, own cutoff ahead", ClientPolicy{Cutoff: now.Add(time.Hour)}, time.Time{}, day(1, 0), StatusBreaksAtCutoff},
		{"cutoff passed", ClientPolicy{}, now, day(1, 0), StatusCutOff},
		{"extension past the global cutoff", ClientPolicy{Cutoff: now.Add(time.Hour)}, now.Add(-time.Hour), day(1, 0), StatusBreaksAtCutoff},
		{"blocked", ClientPolicy{State: StateBlocked}, time.Time{}, day(1, 0), StatusCutOff},
		{"oauth only", ClientPolicy{}, now.Add(time.Hour), day(0, 3), StatusOnOAuth},
		{"nothing", ClientPolicy{}, now.Add(time.Hour), nil, StatusIdle},
		{"keys 7 days ago, OAuth since", ClientPolicy{}, now.Add(time.Hour), []DayUsage{
			{Day: today.AddDate(0, 0, -7), APIKey: Counts{Accepted: 9}}, {Day: today, Bearer: 1}}, StatusOnOAuth},
		{"keys 6 days ago", ClientPolicy{}, now.Add(time.Hour), []DayUsage{
			{Day: today.AddDate(0, 0, -6), APIKey: Counts{Accepted: 9}}, {Day: today, Bearer: 1}}, StatusBreaksAtCutoff},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := Snapshot{Activity: []ClientActivity{{Client: "c", Days: tc.days}}}
			r := NewReport(s, Policy{Cutoff: tc.cutoff, Clients: map[string]ClientPolicy{"c": tc.policy}}, now, 14)
			require.Len(t, r.Clients, 1)
			assert.Equal(t, tc.want, r.Clients[0].Status)
			assert.Len(t, r.Clients[0].Days, 14)
			assert.Equal(t, today, r.Clients[0].Days[13].Day)
		})
	}
}

func TestCountdown(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{30*24*time.Hour + 4*time.Hour + 10*time.Minute, "in 30 days, 4 hours"},
		{24 * time.Hour, "in 1 day"},
		{3*time.Hour + time.Minute, "in 3 hours, 1 minute"},
		{59 * time.Minute, "in 59 minutes"},
		{0, "passed 0 minutes ago"},
		{-49 * time.Hour, "passed 2 days, 1 hour ago"},
	} {
		assert.Equal(t, tc.want, countdown(now, now.Add(tc.d)), "%v", tc.d)
	}
	assert.Empty(t, countdown(now, time.Time{}))
}

// containsText and lacksText check a page without printing it all.
func containsText(t *testing.T, s, sub string, msg ...any) {
	t.Helper()
	if !strings.Contains(s, sub) {
		t.Errorf("no %q in the output %v", sub, msg)
	}
}

func lacksText(t *testing.T, s, sub string, msg ...any) {
	t.Helper()
	if strings.Contains(s, sub) {
		t.Errorf("%q in the output %v", sub, msg)
	}
}
