package validate_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

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
	if err != nil {
		t.Fatal(err)
	}
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
				switch {
				case place.static && err != nil:
					t.Errorf("%s refused: %v", origin, err)
				case !place.static && (err == nil || errors.Is(err, rsguard.ErrInvalidConfig)):
					t.Errorf("%s: %v, want a fetch error (the URL passes the check, the fetch fails offline)", origin, err)
				}
			}
			for _, h := range loopbacktest.Hostile() {
				o := &offline{}
				err := newOffline(t, place.cfg("http://"+h.Host), o)
				if !errors.Is(err, rsguard.ErrInvalidConfig) {
					t.Errorf("http://%s: %v, want ErrConfig (%s)", h.Host, err, h.Why)
				}
				if sent := o.requests(); len(sent) > 0 {
					t.Errorf("http://%s: sent %q", h.Host, sent)
				}
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
	if err != nil {
		t.Fatal(err)
	}
	static := staticKeySet(t, []byte(`{"keys":[{"kty":"OKP","crv":"Ed25519","use":"sig","kid":"k","x":"`+base64.RawURLEncoding.EncodeToString(pub)+`"}]}`))
	v, err := validate.New(context.Background(), validate.Config{Issuer: "https://as.example", Keys: static, Resource: "https://mcp.example.com/mcp"})
	if err != nil {
		t.Fatal(err)
	}
	guard := func(origin string) error {
		_, err := rsguard.New(rsguard.Config{Authenticator: v, ResourceMetadata: origin + "/.well-known/oauth-protected-resource/mcp"})
		return err
	}
	for _, h := range loopbacktest.Hostile() {
		if err := guard("http://" + h.Host); !errors.Is(err, rsguard.ErrInvalidConfig) {
			t.Errorf("http://%s: %v, want ErrInvalidConfig (%s)", h.Host, err, h.Why)
		}
		if err := guard("https://" + h.Host); err != nil {
			t.Errorf("https://%s refused: %v", h.Host, err)
		}
	}
	for _, h := range loopbacktest.Genuine() {
		if err := guard("http://" + h.Host); err != nil {
			t.Errorf("http://%s refused: %v", h.Host, err)
		}
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
		if err == nil || !strings.Contains(err.Error(), "offline") {
			t.Errorf("jwks_uri %s: %v, want it fetched (offline)", jwksURI, err)
		}
	}
	for _, h := range loopbacktest.Hostile() {
		jwksURI := "http://" + h.Host + "/jwks"
		issuer, o := metadataServer(t, jwksURI)
		err := newOffline(t, validate.Config{Issuer: issuer, Resource: resource}, o)
		if err == nil || !strings.Contains(err.Error(), "jwks_uri") || !strings.Contains(err.Error(), "http only on loopback hosts") {
			t.Errorf("jwks_uri %s: %v, want it refused (%s)", jwksURI, err, h.Why)
		}
		if sent := o.requests(); len(sent) > 0 {
			t.Errorf("jwks_uri %s: sent %q", jwksURI, sent)
		}
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
				if sent, err := try(t, target); len(sent) == 0 || !strings.HasPrefix(sent[0], target) {
					t.Errorf("redirect to %s not followed: %v", target, err)
				}
			}
			for _, h := range loopbacktest.Hostile() {
				target := "http://" + h.Host
				sent, err := try(t, target)
				if err == nil || !strings.Contains(err.Error(), "redirect refused") {
					t.Errorf("redirect to %s: %v, want it refused (%s)", target, err, h.Why)
				}
				if len(sent) > 0 {
					t.Errorf("redirect to %s: sent %q", target, sent)
				}
				followed(t, "https://"+h.Host)
			}
			for _, h := range loopbacktest.Genuine() {
				followed(t, "http://"+h.Host)
			}
		})
	}
}
