package api

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rsguard/rsguard/apikey"
	"github.com/rsguard/rsguard/rsmeta"
	"github.com/rsguard/rsguard/validate/validatetest"
)

// testEnv is the API on 127.0.0.1:0 with a validatetest issuer and one key
// per migration state.
type testEnv struct {
	iss  *validatetest.Issuer
	api  *API
	url  string            // the resource, = api.Resource
	keys map[string]string // client → plaintext key
}

var cutoff = time.Now().Add(30 * 24 * time.Hour).UTC().Truncate(time.Second)

func newTestEnv(t *testing.T) *testEnv {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	resource := "http://" + ln.Addr().String() + "/api"
	iss := validatetest.NewIssuer(t, &validatetest.Options{PlainHTTP: true, Algorithms: []string{"ES256"}, Audience: []string{resource}})

	store := new(apikey.MemoryStore)
	keys := map[string]string{}
	for client, sc := range map[string][]string{
		"allowed-app": {ScopeRead},
		"legacy-pos":  {ScopeRead, ScopeWrite},
		"blocked-app": {ScopeRead},
		"retired-app": {ScopeRead},
	} {
		key, rec, err := apikey.Generate(KeyPrefix, apikey.Record{ClientID: client, Scopes: sc})
		if err != nil {
			t.Fatal(err)
		}
		if err := store.Put(rec); err != nil {
			t.Fatal(err)
		}
		keys[client] = key
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	a, err := New(ctx, Config{
		Issuer:   iss.URL,
		Resource: resource,
		Keys:     store,
		Policy: apikey.Policy{
			Link: "http://" + ln.Addr().String() + "/docs/oauth",
			Clients: map[string]apikey.ClientPolicy{
				"legacy-pos":  {State: apikey.StateDeprecated, Deprecated: cutoff.AddDate(0, -2, 0), Cutoff: cutoff},
				"blocked-app": {State: apikey.StateBlocked},
				"retired-app": {Cutoff: time.Now().Add(-time.Hour)},
			},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ts := &httptest.Server{Listener: ln, Config: &http.Server{Handler: a.Handler}}
	ts.Start()
	t.Cleanup(ts.Close)
	return &testEnv{iss: iss, api: a, url: resource, keys: keys}
}

// TestCredentials runs every kind of credential against the routes: keys and
// tokens in parallel, one scope check for both, deprecation headers on the
// key path only, 401 challenges that point to OAuth.
func TestCredentials(t *testing.T) {
	e := newTestEnv(t)
	bearer := func(scope string) map[string]string {
		return map[string]string{"Authorization": "Bearer " + e.iss.Token(map[string]any{"scope": scope, "sub": "svc"})}
	}
	key := func(client string) map[string]string { return map[string]string{"X-API-Key": e.keys[client]} }
	reserve := `{"order_id":"o-1","sku":"NUT-M6","quantity":2}`

	tests := []struct {
		name       string
		method     string
		path       string
		body       string
		header     map[string]string
		wantStatus int
		wantError  string // the Bearer challenge's error; "-" for no challenge expected
		wantScope  string // a scope the challenge must name
		deprecated bool   // Deprecation, Sunset and Link expected
		wantVia    string // the credential the API saw, for reservations
		keyHint    bool   // the APIKey challenge follows the Bearer one
	}{
		{name: "no credential", method: "GET", path: "/items", wantStatus: 401, wantScope: ScopeRead, keyHint: true},
		{name: "allowed key", method: "GET", path: "/items", header: key("allowed-app"), wantStatus: 200, wantError: "-"},
		{name: "deprecated key", method: "GET", path: "/items/BOLT-M6", header: key("legacy-pos"), wantStatus: 200, wantError: "-", deprecated: true},
		{name: "deprecated key, write", method: "POST", path: "/reservations", body: reserve, header: key("legacy-pos"), wantStatus: 201, wantError: "-", deprecated: true, wantVia: "apikey"},
		{name: "read key, write route", method: "POST", path: "/reservations", body: reserve, header: key("allowed-app"), wantStatus: 403, wantError: "insufficient_scope", wantScope: ScopeWrite},
		{name: "blocked key", method: "GET", path: "/items", header: key("blocked-app"), wantStatus: 401, wantError: "invalid_token"},
		{name: "key past its cutoff", method: "GET", path: "/items", header: key("retired-app"), wantStatus: 401, wantError: "invalid_token"},
		{name: "unknown key", method: "GET", path: "/items", header: map[string]string{"X-API-Key": KeyPrefix + "garbage"}, wantStatus: 401, wantError: "invalid_token", keyHint: true},
		{name: "read token", method: "GET", path: "/items", header: bearer(ScopeRead), wantStatus: 200, wantError: "-"},
		{name: "read token, write route", method: "POST", path: "/reservations", body: reserve, header: bearer(ScopeRead), wantStatus: 403, wantError: "insufficient_scope", wantScope: ScopeWrite},
		{name: "write token", method: "POST", path: "/reservations", body: reserve, header: bearer(ScopeWrite), wantStatus: 201, wantError: "-", wantVia: "jwt"},
		{name: "write token, admin route", method: "DELETE", path: "/items/WASHER-6", header: bearer(ScopeRead + " " + ScopeWrite), wantStatus: 403, wantError: "insufficient_scope", wantScope: ScopeAdmin},
		{name: "admin token", method: "DELETE", path: "/items/WASHER-6", header: bearer(ScopeAdmin), wantStatus: 204, wantError: "-"},
		{name: "token for another resource", method: "GET", path: "/items", header: map[string]string{"Authorization": "Bearer " + e.iss.Token(map[string]any{"scope": ScopeRead, "aud": "https://other.example/api"})}, wantStatus: 401, wantError: "invalid_token", keyHint: true},
		{name: "key and token together", method: "GET", path: "/items", header: map[string]string{"X-API-Key": e.keys["allowed-app"], "Authorization": bearer(ScopeRead)["Authorization"]}, wantStatus: 400, wantError: "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, e.url+tt.path, strings.NewReader(tt.body))
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("%s %s: %d %s, want %d", tt.method, tt.path, resp.StatusCode, body, tt.wantStatus)
			}

			authn := resp.Header.Values("WWW-Authenticate")
			if tt.wantError == "-" {
				if len(authn) > 0 {
					t.Errorf("unexpected challenge %q", authn)
				}
			} else {
				cs, err := rsmeta.ParseChallenges(strings.Join(authn, ", "))
				if err != nil || len(cs) == 0 || !strings.EqualFold(cs[0].Scheme, "Bearer") {
					t.Fatalf("challenges %q: %v", authn, err)
				}
				c := cs[0]
				if c.Error != tt.wantError || c.ResourceMetadata != e.api.MetadataURL || tt.wantScope != "" && !slices.Contains(c.Scope, tt.wantScope) {
					t.Errorf("challenge %q: want error %q, scope ∋ %q, resource_metadata %s", authn, tt.wantError, tt.wantScope, e.api.MetadataURL)
				}
				hint := len(cs) == 2 && cs[1].Scheme == "APIKey"
				if hint != tt.keyHint || len(cs) > 2 || len(cs) == 2 && !hint {
					t.Errorf("challenges %q: want the APIKey challenge after the Bearer one: %v", authn, tt.keyHint)
				}
			}

			dep, sunset, links := resp.Header.Get("Deprecation"), resp.Header.Get("Sunset"), resp.Header.Values("Link")
			if tt.deprecated {
				if !strings.HasPrefix(dep, "@") || sunset != cutoff.Format(http.TimeFormat) || len(links) != 2 {
					t.Errorf("deprecated key: Deprecation %q, Sunset %q (want %q), Link %q", dep, sunset, cutoff.Format(http.TimeFormat), links)
				}
			} else if dep != "" || sunset != "" {
				t.Errorf("Deprecation %q, Sunset %q on a response to %s", dep, sunset, tt.name)
			}

			if tt.wantVia != "" {
				var r Reservation
				if err := json.Unmarshal(body, &r); err != nil || r.Via != tt.wantVia || r.By == "" {
					t.Errorf("reservation %s: %+v %v, want via %s", body, r, err, tt.wantVia)
				}
			}
		})
	}

	// Usage tells who still uses keys.
	u := e.api.Auth.Usage()
	var legacy apikey.ClientUsage
	for _, c := range u.Clients {
		if c.Client == "legacy-pos" {
			legacy = c
		}
	}
	if legacy.Accepted != 2 || u.Bearer.Accepted == 0 {
		t.Errorf("usage: legacy-pos %+v, Bearer %+v", legacy, u.Bearer)
	}
}

// TestMetadata checks the RFC 9728 document of the API.
func TestMetadata(t *testing.T) {
	e := newTestEnv(t)
	resp, err := http.Get(e.api.MetadataURL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m rsmeta.Metadata
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(e.api.MetadataURL, "/.well-known/oauth-protected-resource/api") || m.Resource != e.url ||
		!slices.Equal(m.AuthorizationServers, []string{e.iss.URL}) || !slices.Equal(m.ScopesSupported, SupportedScopes) ||
		!slices.Equal(m.BearerMethodsSupported, []string{"header"}) {
		t.Errorf("metadata at %s: %+v", e.api.MetadataURL, m)
	}
}
