package apikey_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/apikey"
	"github.com/rsguard/rsguard/audit"
)

// The migration report on an admin mux, as net/http/pprof is mounted: behind
// the same Guard as the API, for callers with the admin:read scope. Here
// its CSV form; the page itself is the default (format=html), JSON with
// format=json.
func ExampleNewReportHandler() {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	const key = "sk_live_0123456789AB_CDEFGHIJKLMNOPQRSTUVWXYZabcdefgh0XmZgl"
	store, err := apikey.NewMemoryStore(apikey.Record{
		ID: "0123456789AB", Hash: apikey.HashKey(key), ClientID: "legacy-cli", Scopes: []string{"tools:read"},
	})
	if err != nil {
		panic(err)
	}
	tokens := oauthTokens{
		"eyJ.mobile-app": {Subject: "client:mobile-app", Credential: audit.CredentialJWT, ClientID: "mobile-app", Scopes: []string{"tools:read"}},
		"eyJ.ops":        {Subject: "user:ops", Credential: audit.CredentialJWT, ClientID: "ops-console", Scopes: []string{"admin:read"}},
	}
	auth, err := apikey.New(apikey.Config{
		Store: store, Prefix: "sk_live_", Bearer: tokens, Now: func() time.Time { return now },
		Policy: apikey.Policy{
			Cutoff:  time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC),
			Clients: map[string]apikey.ClientPolicy{"legacy-cli": {State: apikey.StateDeprecated}},
		},
	})
	if err != nil {
		panic(err)
	}
	guard, err := rsguard.New(rsguard.Config{Authenticator: auth, ResourceMetadata: "https://api.example.com/.well-known/oauth-protected-resource/api"})
	if err != nil {
		panic(err)
	}
	report, err := apikey.NewReportHandler(apikey.ReportConfig{Source: auth, Scope: "admin:read"})
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/api/", guard.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})))
	mux.Handle("GET /debug/apikeys", guard.Middleware(report))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	get := func(path, header, value string) *http.Response {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		req.Header.Set(header, value)
		resp, err := srv.Client().Do(req)
		if err != nil {
			panic(err)
		}
		return resp
	}
	for range 3 {
		get("/api/items", "X-API-Key", key).Body.Close()
	}
	get("/api/items", "Authorization", "Bearer eyJ.mobile-app").Body.Close()

	resp := get("/debug/apikeys", "Authorization", "Bearer eyJ.mobile-app")
	resp.Body.Close()
	fmt.Println(resp.StatusCode, resp.Header.Get("WWW-Authenticate"))

	resp = get("/debug/apikeys?format=csv", "Authorization", "Bearer eyJ.ops")
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.StatusCode, resp.Header.Get("Content-Type"))
	fmt.Print(string(body))
	// Output:
	// 403 Bearer resource_metadata="https://api.example.com/.well-known/oauth-protected-resource/api", scope="admin:read", error="insufficient_scope", error_description="the access token lacks scope admin:read"
	// 200 text/csv; charset=utf-8; header=present
	// client,state,status,cutoff,api_key_accepted,api_key_rejected,bearer,policy_refused,last_api_key,last_bearer,key_ids
	// legacy-cli,deprecated,breaks_at_cutoff,2026-09-01T00:00:00Z,3,0,0,0,2026-06-01T12:00:00Z,,0123456789AB
	// mobile-app,allowed,on_oauth,2026-09-01T00:00:00Z,0,0,2,0,,2026-06-01T12:00:00Z,
	// ops-console,allowed,on_oauth,2026-09-01T00:00:00Z,0,0,1,0,,2026-06-01T12:00:00Z,
}

// NewReport builds the report from any Snapshot and Policy: from an
// Authenticator's Usage, or from counts summed over replicas.
func ExampleNewReport() {
	now := time.Date(2026, 6, 10, 9, 0, 0, 0, time.UTC)
	day := func(d int) time.Time { return time.Date(2026, 6, d, 0, 0, 0, 0, time.UTC) }
	s := apikey.Snapshot{Source: "example: summed over replicas", Activity: []apikey.ClientActivity{
		{Client: "legacy-cli", Days: []apikey.DayUsage{
			{Day: day(9), APIKey: apikey.Counts{Accepted: 40}},
			{Day: day(10), APIKey: apikey.Counts{Accepted: 10}, Bearer: 30},
		}},
		{Client: "mobile-app", Days: []apikey.DayUsage{{Day: day(10), Bearer: 50}}},
	}}
	s.Days = []apikey.DayUsage{
		{Day: day(9), APIKey: apikey.Counts{Accepted: 40}},
		{Day: day(10), APIKey: apikey.Counts{Accepted: 10}, Bearer: 80},
	}
	r := apikey.NewReport(s, apikey.Policy{Cutoff: day(30)}, now, 7)
	fmt.Printf("keys: %.0f%% of accepted requests over %d days\n", r.Totals.APIKeyShare*100, len(r.Days))
	for _, c := range r.Clients {
		fmt.Println(c.Client, c.Status, c.APIKey.Accepted, c.Bearer)
	}
	// Output:
	// keys: 38% of accepted requests over 7 days
	// legacy-cli breaks_at_cutoff 50 30
	// mobile-app on_oauth 0 50
}
