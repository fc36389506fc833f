package validatetest

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rsguard/rsguard/internal/conformance"
)

// TestConformanceBlackBoxSameResults runs the engine twice against servers
// of the miswired set: as the kit does (with the issuer's keys), and
// black-box, as the checker command does without credentials (no token;
// forged ones with the issuer's public key). Every check the black-box run
// makes gives the kit's results, message for message; every other is
// reported not checkable, never passed.
func TestConformanceBlackBoxSameResults(t *testing.T) {
	is := NewIssuer(t, nil)
	wrap := func(w func(http.ResponseWriter, *http.Request) http.ResponseWriter) func(http.Handler) http.Handler {
		return func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) { next.ServeHTTP(w(rw, r), r) })
		}
	}
	for _, tc := range []struct {
		name     string
		server   kitServer
		wantFail []string // black-box subtests that must fail
	}{
		{"401 without WWW-Authenticate", kitServer{challengeScopes: []string{"items:read"},
			wrap: wrap(func(w http.ResponseWriter, _ *http.Request) http.ResponseWriter {
				return dropChallenge{ResponseWriter: w}
			})},
			[]string{"challenge", "attacks/algorithm/alg none", "attacks/request/no Authorization header"}},
		{"challenge points at the root metadata", kitServer{challengeScopes: []string{"items:read"},
			resourceMetadata: "https://mcp.example.com/.well-known/oauth-protected-resource"},
			[]string{"challenge", "attacks/malformed/JWE"}},
		{"token echoed in the error body", kitServer{challengeScopes: []string{"items:read"},
			wrap: wrap(func(w http.ResponseWriter, r *http.Request) http.ResponseWriter {
				return &echoToken{ResponseWriter: w, token: r.Header.Get("Authorization")}
			})},
			[]string{"attacks/algorithm/alg none", "attacks/algorithm/foreign key under an unknown kid"}},
		{"resource_metadata from the Host header", kitServer{challengeScopes: []string{"items:read"},
			wrap: wrap(func(w http.ResponseWriter, r *http.Request) http.ResponseWriter {
				return &hostChallenge{ResponseWriter: w, host: r.Host}
			})},
			[]string{"attacks/request/spoofed Host header"}},
		{"challenge without the configured scope", kitServer{}, []string{"challenge"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The same claims in both runs, so that forged tokens are as
			// long as the kit's (an echo's message counts bytes).
			cfg := kitConfig(is, tc.server.handler(t, is))
			cfg.Claims = map[string]any{"sub": "alice", "client_id": "alice-app"}
			kit := record(cfg)

			bb := recordBlackBox(t, cfg)
			for _, name := range tc.wantFail {
				assert.True(t, bb.failed(name), "the black-box run did not fail %q; failures:\n%s", name, bb.summary())
			}
			for name, msgs := range bb.failures {
				assert.Equal(t, kit.failures[name], msgs, "%s: the black-box run's messages differ from the kit's", name)
			}
			t.Logf("%d failing subtests in the black-box run, %d in the kit's, %d skipped as not checkable", len(bb.failures), len(kit.failures), len(bb.skipped))
			for name, msgs := range kit.failures {
				if bb.ran(name) {
					assert.Equal(t, msgs, bb.failures[name], "%s: the kit's messages differ from the black-box run's", name)
				}
			}
			for _, name := range bb.skipped {
				assert.False(t, bb.failed(strings.TrimPrefix(name, "Kit/")), "%s: skipped, yet failed", name)
			}
			assert.Empty(t, bb.fatal)
		})
	}
}

// recordBlackBox runs the engine on cfg's server without tokens: the
// issuer's identifier and public key are all it knows, as the checker
// command learns them from the metadata and the JWK Set.
func recordBlackBox(t *testing.T, cfg ConformanceConfig) *recording {
	c, err := newTarget(tRunner{t}, cfg)
	require.NoError(t, err)
	kid := cfg.Issuer.Kid("")
	c.Tokens = nil
	c.Issuer = cfg.Issuer.URL
	c.IssuerKey = &conformance.PublicKey{Kid: kid, Alg: cfg.Issuer.defaultAlg, Key: cfg.Issuer.PublicKey(kid), JWK: cfg.Issuer.PublicJWK(kid)}
	return recordRun(func(r runner) { conformance.Run(r, c) })
}

// ran reports whether the subtest name ran in a black-box recording: it is
// not under a skipped one.
func (rec *recording) ran(name string) bool {
	for _, s := range rec.skipped {
		if name == s || strings.HasPrefix(name, s+"/") {
			return false
		}
	}
	return true
}
