package peerbench

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rsguard/rsguard/validate/validatetest"
)

// accepted marks a request that reached the protected handler.
const accepted = http.StatusNoContent

// reached is the protected handler of the tests: it answers 204, which no
// middleware sends, so a 2xx from a middleware that wrote nothing cannot
// pass for an acceptance.
var reached = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(accepted) })

// serve sends one request with tok through h and returns the status.
func serve(h http.Handler, tok string) int {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, newRequest(tok))
	return rec.Code
}

// TestVerdicts proves that the benchmarks compare equal work: every
// implementation accepts the valid RS256 and ES256 tokens, and answers 401 to
// every bad token of the benchmarks and to a few more that all of them must
// refuse too.
func TestVerdicts(t *testing.T) {
	h := newHarness(t)
	is := h.is
	mustRefuse := append(slices.Clone(h.bad),
		namedToken{"wrong_issuer", is.Token(map[string]any{"iss": "https://evil.example", "scope": tokenScope})},
		namedToken{"issuer_trailing_slash", is.Token(map[string]any{"iss": is.URL + "/", "scope": tokenScope})},
		namedToken{"not_yet_valid", is.Token(map[string]any{"nbf": time.Now().Add(time.Hour).Unix(), "scope": tokenScope})},
		// RFC 8725 §2.1: HMAC keyed with the published RSA public key.
		namedToken{"hs256_public_key", is.TokenWith(validatetest.TokenOptions{
			Alg: "HS256", Key: is.Kid("RS256"), Secret: publicKeyPEM(t, is.PublicKey(is.Kid("RS256"))),
		}, map[string]any{"scope": tokenScope})},
		namedToken{"stripped_signature", is.TokenWith(validatetest.TokenOptions{NoSignature: true}, map[string]any{"scope": tokenScope})},
	)
	for _, im := range allImpls() {
		t.Run(im.name, func(t *testing.T) {
			for _, alg := range algs {
				mw := im.build(t, is, alg, reached)
				if got := serve(mw, h.valid[alg]); got != accepted {
					t.Errorf("valid %s token: status %d, want %d", alg, got, accepted)
				}
				if alg != "RS256" {
					continue // the bad tokens are RS256 ones (or claim to be)
				}
				for _, bad := range mustRefuse {
					if got := serve(mw, bad.tok); got != http.StatusUnauthorized {
						t.Errorf("%s: status %d, want 401", bad.name, got)
					}
				}
			}
		})
	}
}

// TestEdgeVerdicts pins where the implementations disagree, each configured
// as in the benchmarks (README.md, "Where they disagree", says what each
// case means). A change here means a peer changed, or rsguard did: update
// the README with the table.
func TestEdgeVerdicts(t *testing.T) {
	h := newHarness(t)
	is := h.is
	now := time.Now()
	peersBut := func(except ...string) []string {
		var names []string
		for _, im := range allImpls() {
			if !slices.Contains(except, im.name) {
				names = append(names, im.name)
			}
		}
		return names
	}
	rsguard := []string{"rsguard", "rsguard-cached"}
	for _, tc := range []struct {
		name     string
		tok      string
		accepted []string // the implementations that let it through; every other answers 401
	}{{
		// RFC 9068 §2.2: "exp" is REQUIRED in an access token.
		name:     "no_exp",
		tok:      is.Token(map[string]any{"exp": nil, "scope": tokenScope}),
		accepted: []string{"auth0", "jwx"},
	}, {
		// RFC 7519 §4.1.6 leaves "iat" advisory; rsguard refuses one in the future.
		name:     "issued_in_the_future",
		tok:      is.Token(map[string]any{"iat": now.Add(time.Hour).Unix(), "scope": tokenScope}),
		accepted: []string{"go-oidc"},
	}, {
		// RFC 8725 §3.11, RFC 9068 §4: another token type (a DPoP proof
		// header here) must not pass for an access token.
		name:     "typ_dpop",
		tok:      is.TokenWith(validatetest.TokenOptions{Header: map[string]any{"typ": "dpop+jwt"}}, map[string]any{"scope": tokenScope}),
		accepted: peersBut(rsguard...),
	}, {
		// RFC 7515 §4.1.11: a recipient MUST reject a JWS whose "crit"
		// names an extension it does not understand.
		name: "crit_unknown",
		tok: is.TokenWith(validatetest.TokenOptions{
			Header: map[string]any{"crit": []string{"x-policy"}, "x-policy": "strict"},
		}, map[string]any{"scope": tokenScope}),
		accepted: []string{"mcp-sdk", "golang-jwt", "jwx"},
	}, {
		// RFC 7519 §2: a NumericDate is a JSON number, not a string.
		name:     "exp_as_string",
		tok:      is.Token(map[string]any{"exp": fmt.Sprint(now.Add(time.Hour).Unix()), "scope": tokenScope}),
		accepted: []string{"mcp-sdk", "golang-jwt", "go-oidc", "jwx"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			for _, im := range allImpls() {
				want := http.StatusUnauthorized
				if slices.Contains(tc.accepted, im.name) {
					want = accepted
				}
				if got := serve(im.build(t, is, "RS256", reached), tc.tok); got != want {
					t.Errorf("%s: status %d, want %d", im.name, got, want)
				}
			}
		})
	}
}

// TestJWKSFetches pins how many times each implementation fetches the JWK
// Set while refusing five tokens in a row (a few milliseconds apart) that
// name an unknown kid, and five whose signature is forged under a published
// kid. Each instance has just fetched its keys and verified a valid token.
func TestJWKSFetches(t *testing.T) {
	h := newHarness(t)
	type fetches struct{ min, max int }
	want := map[string][2]fetches{ // implementation -> {unknown_kid, forged_signature}
		// At most one refetch per 10 s for an unknown kid, and the keys were
		// just fetched; a known kid never causes a fetch.
		"rsguard":        {{0, 0}, {0, 0}},
		"rsguard-cached": {{0, 0}, {0, 0}},
		// Keys refetched only when the 5-minute cache TTL runs out.
		"auth0": {{0, 0}, {0, 0}},
		// keyfunc: one refetch for an unknown kid per 5 minutes.
		"mcp-sdk":    {{1, 1}, {0, 0}},
		"golang-jwt": {{1, 1}, {0, 0}},
		// A refetch whenever no cached key verifies the signature. (Its
		// in-flight deduplication hands a request the result of a fetch
		// that has finished but whose goroutine has not yet cleared it;
		// each request waits for that goroutine, so the count is exact.)
		"go-oidc": {{5, 5}, {5, 5}},
		// Keys refetched only on the cache's refresh schedule.
		"jwx": {{0, 0}, {0, 0}},
	}
	for _, im := range allImpls() {
		t.Run(im.name, func(t *testing.T) {
			mw := im.build(t, h.is, "RS256", reached)
			if got := serve(mw, h.valid["RS256"]); got != accepted {
				t.Fatalf("valid token: status %d", got)
			}
			for i, name := range []string{"unknown_kid", "forged_signature"} {
				before := h.is.Requests(h.is.JWKSURL)
				for range 5 {
					waitNoGoroutineIn(t, goOIDCFetch)
					if got := serve(mw, h.token(t, name)); got != http.StatusUnauthorized {
						t.Fatalf("%s: status %d", name, got)
					}
				}
				got, w := h.is.Requests(h.is.JWKSURL)-before, want[im.name][i]
				if got < w.min || got > w.max {
					t.Errorf("%s: %d JWKS fetches for 5 requests, want %d to %d", name, got, w.min, w.max)
				}
			}
		})
	}
}

// goOIDCFetch is the code of go-oidc's key fetches: the one peer whose fetch
// runs on a goroutine of its own that outlives the request that started it.
// Every other peer fetches on the request's goroutine (jwx and auth0 refresh
// in the background on a schedule, which these tests never reach).
const goOIDCFetch = "github.com/coreos/go-oidc/"

// waitNoGoroutineIn returns once no goroutine runs code whose name starts
// with pkg (as the goroutine dump shows it), polling every millisecond; it
// fails the test after 10 s. Call it from the test goroutine, outside pkg.
func waitNoGoroutineIn(t *testing.T, pkg string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for {
		n := goroutinesIn(pkg)
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines still run %s code after 10s", n, pkg)
		}
		<-tick.C
	}
}

// goroutinesIn counts the goroutines with a frame of pkg on their stack.
func goroutinesIn(pkg string) int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	count := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		for _, line := range strings.Split(g, "\n") {
			if strings.HasPrefix(line, pkg) { // a frame; "created by" lines do not start with it
				count++
				break
			}
		}
	}
	return count
}

// publicKeyPEM is the PEM form of a public key, the secret of the HS256
// key-confusion attack.
func publicKeyPEM(t *testing.T, pub any) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}
