package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rsguard/rsguard/apikey"
	"github.com/rsguard/rsguard/examples/inventory/api"
	"github.com/rsguard/rsguard/validate/validatetest"
)

const (
	testClientID     = "order-service"
	testClientSecret = "order-secret"
)

// testEnv is the inventory API with an issuer that requires resource
// indicators (no default audience: a token request without resource fails),
// and a deprecated legacy key.
type testEnv struct {
	iss *validatetest.Issuer
	api *api.API
	key string // a deprecated legacy key
}

func newTestEnv(t *testing.T, lifetime time.Duration) *testEnv {
	t.Helper()
	iss := validatetest.NewIssuer(t, &validatetest.Options{
		PlainHTTP:  true,
		Algorithms: []string{"ES256"},
		Lifetime:   lifetime,
		Clients:    []validatetest.Client{{ID: testClientID, Secret: testClientSecret, Scopes: []string{api.ScopeRead, api.ScopeWrite}}},
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	key, rec, err := apikey.Generate(api.KeyPrefix, apikey.Record{ClientID: "legacy-pos", Scopes: []string{api.ScopeRead, api.ScopeWrite}, State: apikey.StateDeprecated})
	if err != nil {
		t.Fatal(err)
	}
	store, err := apikey.NewMemoryStore(rec)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	a, err := api.New(ctx, api.Config{
		Issuer:   iss.URL,
		Resource: "http://" + ln.Addr().String() + "/api",
		Keys:     store,
		Policy:   apikey.Policy{Deprecated: time.Now().Add(-time.Hour), Cutoff: time.Now().Add(24 * time.Hour), Link: "http://" + ln.Addr().String() + "/docs/oauth"},
	})
	if err != nil {
		t.Fatal(err)
	}
	ts := &httptest.Server{Listener: ln, Config: &http.Server{Handler: a.Handler}}
	ts.Start()
	t.Cleanup(ts.Close)
	return &testEnv{iss: iss, api: a, key: key}
}

// TestTokenCaching proves that the order service asks the token endpoint
// once for many calls, and again only when the token is about to expire.
func TestTokenCaching(t *testing.T) {
	tests := []struct {
		name       string
		lifetime   time.Duration
		calls      int
		wantTokens int64
	}{
		// An hour-long token serves every call.
		{name: "long-lived token", lifetime: time.Hour, calls: 20, wantTokens: 1},
		// A token that lives no longer than earlyExpiry is never reused.
		{name: "token within earlyExpiry", lifetime: earlyExpiry, calls: 3, wantTokens: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newTestEnv(t, tt.lifetime)
			c, counter := newOAuthClient(context.Background(), oauthConfig{
				ClientID: testClientID, ClientSecret: testClientSecret,
				TokenURL: e.iss.TokenURL, Resource: e.api.Resource,
				Scopes: []string{api.ScopeRead, api.ScopeWrite},
			}, e.api.Resource, nil)

			// Concurrent calls share the cached token too.
			var wg sync.WaitGroup
			errs := make(chan error, tt.calls)
			for i := range tt.calls {
				wg.Add(1)
				call := func() {
					defer wg.Done()
					if _, err := c.reserve(context.Background(), fmt.Sprint("o-", i), "BOLT-M6", 1); err != nil {
						errs <- err
					}
				}
				if tt.wantTokens == 1 {
					go call()
				} else {
					call() // one fetch per call only holds when calls do not overlap
				}
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			if got := e.iss.Requests(e.iss.TokenURL); int64(got) != tt.wantTokens || counter.fetches.Load() != tt.wantTokens {
				t.Errorf("%d calls: %d token-endpoint requests (%d fetches), want %d", tt.calls, got, counter.fetches.Load(), tt.wantTokens)
			}
			if it, _ := e.api.Stock.Get("BOLT-M6"); it.Reserved != tt.calls {
				t.Errorf("reserved %d, want %d", it.Reserved, tt.calls)
			}
		})
	}
}

// TestResourceIndicator checks that the token request names the API
// (RFC 8707): the issuer here refuses requests without it, and the API
// refuses tokens for another audience.
func TestResourceIndicator(t *testing.T) {
	e := newTestEnv(t, time.Hour)
	for _, tt := range []struct {
		name, resource string
		wantErr        string
	}{
		{"the API", e.api.Resource, ""},
		{"no resource", "", "invalid_target"},
		{"another resource", "https://other.example/api", "invalid_token"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := oauthConfig{ClientID: testClientID, ClientSecret: testClientSecret, TokenURL: e.iss.TokenURL, Resource: tt.resource, Scopes: []string{api.ScopeRead}}
			c, _ := newOAuthClient(context.Background(), cfg, e.api.Resource, nil)
			_, err := c.item(context.Background(), "NUT-M6")
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("err = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

// TestRun runs the command against the API: discovery of the token endpoint
// from the API's metadata, orders placed, one token request.
func TestRun(t *testing.T) {
	e := newTestEnv(t, time.Hour)
	var out, warn bytes.Buffer
	err := run(context.Background(), []string{"-api", e.api.Resource, "-client-secret", testClientSecret, "-orders", "5"}, &out, &warn)
	if err != nil {
		t.Fatalf("run: %v\n%s%s", err, out.String(), warn.String())
	}
	for _, want := range []string{
		"token endpoint " + e.iss.TokenURL + " (discovered",
		"reserved 1 × BOLT-M6 (as client:" + e.iss.URL + "#" + testClientID + ", via jwt)",
		"BOLT-M6: 1195 available, 5 reserved",
		"6 API calls, 1 token request(s)",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if warn.Len() > 0 || e.iss.Requests(e.iss.TokenURL) != 1 {
		t.Errorf("warnings %q, %d token requests", warn.String(), e.iss.Requests(e.iss.TokenURL))
	}
}

// TestRunLegacyKey runs the command with a deprecated API key: it works,
// and the command warns once, with the API's Sunset date and Link.
func TestRunLegacyKey(t *testing.T) {
	e := newTestEnv(t, time.Hour)
	var out, warn bytes.Buffer
	if err := run(context.Background(), []string{"-api", e.api.Resource, "-api-key", e.key, "-orders", "2"}, &out, &warn); err != nil {
		t.Fatalf("run: %v", err)
	}
	if !strings.Contains(out.String(), "via apikey") {
		t.Errorf("output:\n%s", out.String())
	}
	w := warn.String()
	if strings.Count(w, "WARNING") != 1 || !strings.Contains(w, "Deprecation: @") || !strings.Contains(w, "stops working at") || !strings.Contains(w, `rel="deprecation"`) {
		t.Errorf("warning:\n%s", w)
	}
	if strings.Contains(w, e.key) || strings.Contains(out.String(), e.key) {
		t.Error("the key was printed")
	}
	if e.iss.Requests(e.iss.TokenURL) != 0 {
		t.Error("the key path asked for a token")
	}
}

func TestRunErrors(t *testing.T) {
	e := newTestEnv(t, time.Hour)
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"no credential", []string{"-api", e.api.Resource}, "-client-secret"},
		{"wrong secret", []string{"-api", e.api.Resource, "-client-secret", "nope"}, "invalid_client"},
		{"read scope only", []string{"-api", e.api.Resource, "-client-secret", testClientSecret, "-scope", api.ScopeRead}, "insufficient_scope"},
		{"no metadata there", []string{"-api", e.iss.URL + "/api", "-client-secret", testClientSecret}, "HTTP 404"},
		{"negative orders", []string{"-client-secret", "x", "-orders", "-1"}, "negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(envClientSecret, "")
			t.Setenv(envAPIKey, "")
			var out, warn bytes.Buffer
			err := run(context.Background(), tt.args, &out, &warn)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("run(%q) = %v, want an error containing %q", tt.args, err, tt.wantErr)
			}
			var ae *apiError
			if tt.wantErr == "insufficient_scope" && (!errors.As(err, &ae) || ae.Status != http.StatusForbidden) {
				t.Errorf("err = %#v, want an *apiError with status 403", err)
			}
		})
	}
}
