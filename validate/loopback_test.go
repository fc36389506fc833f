package validate_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/internal/loopback/loopbacktest"
	"github.com/rsguard/rsguard/validate"
)

// offline is the transport of the loopback-rule tests. It passes requests
// for the test's own server (local, a host:port) to pass, and answers every
// other one with an error, recording its URL, without resolving or
// connecting: the tests never leave the machine, and can tell a URL the rule
// refused (never sent) from one it allowed (sent, then failed here).
type offline struct {
	local string
	pass  http.RoundTripper
	mu    sync.Mutex
	sent  []string
}

func (o *offline) RoundTrip(r *http.Request) (*http.Response, error) {
	if o.local != "" && r.URL.Host == o.local {
		return o.pass.RoundTrip(r)
	}
	o.mu.Lock()
	o.sent = append(o.sent, r.URL.String())
	o.mu.Unlock()
	return nil, fmt.Errorf("offline: %s not sent", r.URL)
}

func (o *offline) requests() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.sent...)
}

// newOffline runs validate.New with the offline client; keys load eagerly,
// so New returns only once it has tried every fetch.
func newOffline(t *testing.T, cfg validate.Config, o *offline) error {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	cfg.Fetch.HTTPClient = &http.Client{Transport: o}
	_, err := validate.New(ctx, cfg)
	return err
}

// TestLoopbackRuleConfig checks every configured URL against the shared
// tables: plain http to a hostile host is a configuration error, found
// before anything is sent; the same host over https, or plain http to a
// genuine loopback host, passes the check (and then fails offline).
func TestLoopbackRuleConfig(t *testing.T) {
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	static := staticKeySet(t, []byte(`{"keys":[{"kty":"OKP","crv":"Ed25519","use":"sig","kid":"k","x":"`+base64.RawURLEncoding.EncodeToString(pub)+`"}]}`))
	for _, place := range []struct {
		name string
		cfg  func(origin string) validate.Config
		// static: nothing is fetched, so an accepted URL means New succeeds.
		static bool
		// noZone: the place refuses a percent-encoded zone whatever the
		// scheme, so a zone is no https control there.
		noZone bool
	}{
		{name: "Issuer", cfg: func(o string) validate.Config {
			return validate.Config{Issuer: o, Resource: resource}
		}},
		{name: "JWKSURL", cfg: func(o string) validate.Config {
			return validate.Config{Issuer: "https://as.example", JWKSURL: o + "/jwks", Resource: resource}
		}},
		{name: "Issuers issuer", cfg: func(o string) validate.Config {
			return validate.Config{Issuer: "https://as.example", Keys: static, Resource: resource,
				Issuers: []validate.IssuerConfig{{Issuer: o}}}
		}},
		{name: "Issuers JWKSURL", cfg: func(o string) validate.Config {
			return validate.Config{Resource: resource,
				Issuers: []validate.IssuerConfig{{Issuer: "https://as.example", JWKSURL: o + "/jwks"}}}
		}},
		{name: "Resource", static: true, noZone: true, cfg: func(o string) validate.Config {
			return validate.Config{Issuer: "https://as.example", Keys: static, Resource: o + "/mcp"}
		}},
	} {
		t.Run(place.name, func(t *testing.T) {
			accepted := func(t *testing.T, origin string) {
				t.Helper()
				err := newOffline(t, place.cfg(origin), &offline{})
				if place.static {
					assert.NoError(t, err, "%s refused", origin)
					return
				}
				const why = "%s: want a fetch error (the URL passes the check, the fetch fails offline)"
				assert.Error(t, err, why, origin)
				assert.NotErrorIs(t, err, rsguard.ErrInvalidConfig, why, origin)
			}
			for _, h := range loopbacktest.Hostile() {
				o := &offline{}
				err := newOffline(t, place.cfg("http://"+h.Host), o)
				assert.ErrorIs(t, err, rsguard.ErrInvalidConfig, "http://%s (%s)", h.Host, h.Why)
				assert.Empty(t, o.requests(), "http://%s: sent", h.Host)
				if !place.noZone || !strings.Contains(h.Host, "%") {
					accepted(t, "https://"+h.Host)
				}
			}
			for _, h := range loopbacktest.Genuine() {
				accepted(t, "http://"+h.Host)
			}
		})
	}
}

// TestLoopbackRuleGuardMetadata: the resource_metadata URL, configured on the
// Guard over a Validator now, follows the same rule: plain http to a hostile
// host is refused by rsguard.New, https to it or plain http to a genuine
// loopback host is accepted.
func TestLoopbackRuleGuardMetadata(t *testing.T) {
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	static := staticKeySet(t, []byte(`{"keys":[{"kty":"OKP","crv":"Ed25519","use":"sig","kid":"k","x":"`+base64.RawURLEncoding.EncodeToString(pub)+`"}]}`))
	v, err := validate.New(context.Background(), validate.Config{Issuer: "https://as.example", Keys: static, Resource: "https://mcp.example.com/mcp"})
	require.NoError(t, err)
	guard := func(origin string) error {
		_, err := rsguard.New(rsguard.Config{Authenticator: v, ResourceMetadata: origin + "/.well-known/oauth-protected-resource/mcp"})
		return err
	}
	for _, h := range loopbacktest.Hostile() {
		assert.ErrorIs(t, guard("http://"+h.Host), rsguard.ErrInvalidConfig, "http://%s (%s)", h.Host, h.Why)
		assert.NoError(t, guard("https://"+h.Host), "https://%s refused", h.Host)
	}
	for _, h := range loopbacktest.Genuine() {
		assert.NoError(t, guard("http://"+h.Host), "http://%s refused", h.Host)
	}
}

// metadataServer serves, on 127.0.0.1 over plain http (loopback, so
// allowed), RFC 8414 metadata naming jwksURI, and returns the
// client transport that reaches it and nothing else.
func metadataServer(t *testing.T, jwksURI string) (issuer string, o *offline) {
	t.Helper()
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	mux.HandleFunc("/.well-known/oauth-authorization-server", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": srv.URL, "jwks_uri": jwksURI})
	})
	return srv.URL, &offline{local: srv.Listener.Addr().String(), pass: srv.Client().Transport}
}

// TestLoopbackRuleDiscoveredJWKSURI: a jwks_uri found by discovery obeys the
// same rule, checked before it is fetched.
func TestLoopbackRuleDiscoveredJWKSURI(t *testing.T) {
	fetched := func(t *testing.T, jwksURI string) {
		t.Helper()
		issuer, o := metadataServer(t, jwksURI)
		err := newOffline(t, validate.Config{Issuer: issuer, Resource: resource}, o)
		assert.ErrorContains(t, err, "offline", "jwks_uri %s: want it fetched (offline)", jwksURI)
	}
	for _, h := range loopbacktest.Hostile() {
		jwksURI := "http://" + h.Host + "/jwks"
		issuer, o := metadataServer(t, jwksURI)
		err := newOffline(t, validate.Config{Issuer: issuer, Resource: resource}, o)
		assert.ErrorContains(t, err, "jwks_uri", "jwks_uri %s: want it refused (%s)", jwksURI, h.Why)
		assert.ErrorContains(t, err, "http only on loopback hosts", "jwks_uri %s: want it refused (%s)", jwksURI, h.Why)
		assert.Empty(t, o.requests(), "jwks_uri %s: sent", jwksURI)
		fetched(t, "https://"+h.Host+"/jwks")
	}
	for _, h := range loopbacktest.Genuine() {
		fetched(t, "http://"+h.Host+"/jwks")
	}
}

// TestLoopbackRuleRedirect: a redirect during discovery or a JWKS fetch
// obeys the same rule, and is refused before any connection is made.
func TestLoopbackRuleRedirect(t *testing.T) {
	for _, place := range []struct {
		name string
		cfg  func(server string) validate.Config
	}{
		{"discovery", func(s string) validate.Config { return validate.Config{Issuer: s, Resource: resource} }},
		{"JWKS fetch", func(s string) validate.Config {
			return validate.Config{Issuer: "https://as.example", JWKSURL: s + "/jwks", Resource: resource}
		}},
	} {
		t.Run(place.name, func(t *testing.T) {
			// try starts a server on 127.0.0.1 that redirects every request
			// to the same path on target, and loads keys through it.
			try := func(t *testing.T, target string) ([]string, error) {
				t.Helper()
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					http.Redirect(w, r, target+r.URL.Path, http.StatusFound)
				}))
				t.Cleanup(srv.Close)
				o := &offline{local: srv.Listener.Addr().String(), pass: srv.Client().Transport}
				err := newOffline(t, place.cfg(srv.URL), o)
				return o.requests(), err
			}
			followed := func(t *testing.T, target string) {
				t.Helper()
				sent, err := try(t, target)
				if assert.NotEmpty(t, sent, "redirect to %s not followed: %v", target, err) {
					assert.True(t, strings.HasPrefix(sent[0], target), "redirect to %s not followed: sent %q, %v", target, sent, err)
				}
			}
			for _, h := range loopbacktest.Hostile() {
				target := "http://" + h.Host
				sent, err := try(t, target)
				assert.ErrorContains(t, err, "redirect refused", "redirect to %s: want it refused (%s)", target, h.Why)
				assert.Empty(t, sent, "redirect to %s: sent", target)
				followed(t, "https://"+h.Host)
			}
			for _, h := range loopbacktest.Genuine() {
				followed(t, "http://"+h.Host)
			}
		})
	}
}
