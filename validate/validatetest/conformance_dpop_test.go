package validatetest

// Tests of the kit's dpop and introspection subtests: they pass a server
// wired correctly (an rsguard.Guard over a validate.Validator that
// introspects opaque tokens at the issuer, in each DPoP mode), and fail,
// with the right messages, servers wired wrongly.

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/internal/conformance"
	"github.com/rsguard/rsguard/validate"
)

// The resource server's client at the issuer, which introspects.
const (
	rsClientID     = "mcp-resource-server"
	rsClientSecret = "mcp-resource-server-secret"
)

// Bounds of the introspecting validators of these tests: short, so that the
// slow cases take little time.
const (
	kitIntroTimeout = 300 * time.Millisecond
	kitIntroRate    = 100
)

// introIssuer is an issuer with the resource server registered as a client.
func introIssuer(t *testing.T) *Issuer {
	return NewIssuer(t, &Options{Clients: []Client{{ID: rsClientID, Secret: rsClientSecret}}})
}

// introValidator is a Validator for kitResource that introspects opaque
// tokens at is (its endpoint discovered from its metadata), in DPoP mode.
func introValidator(t *testing.T, is *Issuer, mode validate.DPoPMode, change func(*validate.Config)) *validate.Validator {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	cfg := validate.Config{
		Issuer: is.URL, Resource: kitResource, Fetch: validate.FetchOptions{HTTPClient: is.Client()},
		DPoP: validate.DPoPConfig{Mode: mode},
		Introspection: &validate.Introspection{ClientID: rsClientID, ClientSecret: rsClientSecret,
			Timeout: kitIntroTimeout, RateLimit: kitIntroRate},
	}
	if change != nil {
		change(&cfg)
	}
	v, err := validate.New(ctx, cfg)
	require.NoError(t, err)
	return v
}

// introKitConfig is kitConfig with DPoP and introspection on.
func introKitConfig(is *Issuer, h http.Handler, mode validate.DPoPMode) ConformanceConfig {
	cfg := kitConfig(is, h)
	cfg.DPoP = mode
	cfg.Introspection = true
	cfg.IntrospectionTimeout = kitIntroTimeout
	cfg.IntrospectionRateLimit = kitIntroRate
	return cfg
}

var dpopModes = []validate.DPoPMode{validate.DPoPOff, validate.DPoPAllowed, validate.DPoPRequired}

// TestConformanceDPoPAndIntrospectionWiredCorrectly runs the kit in each
// DPoP mode (as a test would with DPoP allowed, recorded in the others) and
// checks what it reports: no failure, and every case of both tables run or
// skipped as not applying.
func TestConformanceDPoPAndIntrospectionWiredCorrectly(t *testing.T) {
	// Each run has an issuer of its own: the introspection subtests replace
	// its endpoint's answers while they run.
	t.Run("Conformance", func(t *testing.T) {
		t.Parallel()
		is := introIssuer(t)
		v := introValidator(t, is, validate.DPoPAllowed, nil)
		Conformance(t, introKitConfig(is, kitServer{challengeScopes: []string{"items:read"}, authenticator: v}.handler(t, is), validate.DPoPAllowed))
	})
	for _, mode := range dpopModes {
		t.Run("DPoP "+mode.String(), func(t *testing.T) {
			t.Parallel()
			is := introIssuer(t)
			v := introValidator(t, is, mode, nil)
			rec := record(introKitConfig(is, kitServer{challengeScopes: []string{"items:read"}, authenticator: v}.handler(t, is), mode))
			assert.Empty(t, rec.failures, rec.summary())
			assert.Empty(t, rec.skipped)
			var applied int
			for _, a := range conformance.DPoPCases() {
				if !slices.Contains(rec.notApplicable, "Kit/dpop/"+a.Class+"/"+strings.ReplaceAll(a.Name, " ", "_")) {
					applied++
				}
			}
			switch mode {
			case validate.DPoPOff:
				assert.Equal(t, 6, applied, "with DPoP off: the challenges, the bound tokens (JWT and opaque) as Bearer, the DPoP scheme")
				assert.Contains(t, rec.notApplicable, "Kit/dpop/accepted")
			case validate.DPoPAllowed:
				assert.Equal(t, len(conformance.DPoPCases())-3, applied, "all but the cases of DPoP off and of DPoP required")
			case validate.DPoPRequired:
				assert.Equal(t, len(conformance.DPoPCases())-2, applied, "all but the cases of DPoP off")
				// accept, session, stepup and attacks run, with bound
				// tokens and proofs: of them, only the two attacks that
				// present a bound token as Bearer do not apply.
				for _, name := range []string{"Kit/accept", "Kit/session", "Kit/stepup", "Kit/attacks"} {
					assert.NotContains(t, rec.notApplicable, name)
				}
				var outside []string
				for _, name := range rec.notApplicable {
					if !strings.HasPrefix(name, "Kit/dpop/") {
						outside = append(outside, name)
					}
				}
				assert.ElementsMatch(t, []string{"Kit/attacks/claims/cnf_jkt_(DPoP-bound)_as_Bearer", "Kit/attacks/claims/cnf_x5t#S256_(mTLS-bound)_as_Bearer"}, outside)
			}
			for _, a := range conformance.IntrospectionCases() {
				name := "Kit/introspection/" + a.Class + "/" + strings.ReplaceAll(a.Name, " ", "_")
				assert.NotContains(t, rec.notApplicable, name)
			}
		})
	}
	t.Run("DPoP required with nonces", func(t *testing.T) {
		t.Parallel()
		is := introIssuer(t)
		v := introValidator(t, is, validate.DPoPRequired, func(c *validate.Config) { c.DPoP.Nonce = true })
		cfg := introKitConfig(is, kitServer{challengeScopes: []string{"items:read"}, authenticator: v}.handler(t, is), validate.DPoPRequired)
		cfg.Skip = []string{"introspection/slow", "introspection/huge", "introspection/malformed", "introspection/flood"}
		rec := record(cfg)
		assert.Empty(t, rec.failures, rec.summary())
	})
}

// TestConformanceNewSectionsOff: a configuration without DPoP or
// introspection gets no introspection subtest, and no failure from the dpop
// ones.
func TestConformanceNewSectionsOff(t *testing.T) {
	is := NewIssuer(t, nil)
	rec := record(kitConfig(is, kitServer{challengeScopes: []string{"items:read"}}.handler(t, is)))
	assert.Empty(t, rec.failures, rec.summary())
	for _, name := range rec.skipped {
		assert.False(t, strings.HasPrefix(name, "Kit/introspection"), name)
	}
}

func TestConformanceDPoPFailsMiswired(t *testing.T) {
	for _, tc := range []struct {
		name        string
		skip        []string
		mode        validate.DPoPMode
		auth        func(t *testing.T, is *Issuer) rsguard.Authenticator
		wantFail    []string
		wantPass    []string
		wantMessage map[string]string
	}{
		{
			name: "bound token accepted as Bearer",
			mode: validate.DPoPAllowed,
			auth: func(t *testing.T, is *Issuer) rsguard.Authenticator {
				return bearerIgnoresCnf(t, is, introValidator(t, is, validate.DPoPAllowed, nil))
			},
			wantFail:    []string{"dpop/downgrade/bound token as Bearer", "dpop/downgrade/bound token as Bearer with its proof", "dpop/downgrade/bound token as Bearer once accepted with DPoP"},
			wantPass:    []string{"dpop/accepted", "dpop/proof", "dpop/replay", "dpop/mismatch", "introspection/iss"},
			wantMessage: map[string]string{"dpop/downgrade/bound token as Bearer": "accepted: status 200, want a refusal (RFC 9449 §7.1, §7.2; RFC 7800 §3.1). Refuse a token bound to a key (cnf) presented as Bearer"},
		},
		{
			name: "htu ignored",
			mode: validate.DPoPAllowed,
			auth: func(t *testing.T, is *Issuer) rsguard.Authenticator {
				return proofRewriter(t, is, validate.DPoPAllowed, rewriteHTU)
			},
			wantFail: []string{"dpop/mismatch/htu another path", "dpop/mismatch/htu another host", "dpop/mismatch/htu from a spoofed Host header"},
			wantPass: []string{"dpop/accepted", "dpop/mismatch/htm another method", "dpop/mismatch/ath of another token", "dpop/replay",
				"dpop/proof/alg none", "dpop/proof/signed by another key than its jwk", "dpop/proof/typ JWT"},
			wantMessage: map[string]string{"dpop/mismatch/htu another host": "Require htu to equal the configured origin of your resource"},
		},
		{
			name: "jti not recorded",
			mode: validate.DPoPRequired,
			auth: func(t *testing.T, is *Issuer) rsguard.Authenticator {
				return proofRewriter(t, is, validate.DPoPRequired, rewriteJTI)
			},
			wantFail:    []string{"dpop/replay/same proof twice", "dpop/replay/same jti in a new proof", "dpop/replay/same proof twice at once"},
			wantPass:    []string{"dpop/accepted", "dpop/mismatch", "dpop/clock", "dpop/downgrade"},
			wantMessage: map[string]string{"dpop/replay/same proof twice": "Remember each proof's jti"},
		},
		{
			name: "introspection answer without token_type accepted",
			mode: validate.DPoPOff,
			auth: func(t *testing.T, is *Issuer) rsguard.Authenticator {
				return answerRewriter(t, is, validate.DPoPOff, func(m map[string]any) {
					if _, ok := m["token_type"]; !ok {
						m["token_type"] = "Bearer"
					}
				})
			},
			wantFail:    []string{"introspection/token_type/token_type absent"},
			wantPass:    []string{"introspection/accepted", "introspection/iss", "introspection/aud", "introspection/active", "introspection/slow", "introspection/flood"},
			wantMessage: map[string]string{"introspection/token_type/token_type absent": "refuse an absent token_type"},
		},
		{
			name: "inactive answers accepted",
			mode: validate.DPoPOff,
			auth: func(t *testing.T, is *Issuer) rsguard.Authenticator {
				return answerRewriter(t, is, validate.DPoPOff, func(m map[string]any) {
					if m["active"] == false && len(m) > 1 {
						m["active"] = true
					}
				})
			},
			wantFail: []string{"introspection/active/active false with every other claim"},
			wantPass: []string{"introspection/active/active false", "introspection/accepted", "introspection/iss", "introspection/token_type"},
		},
		{
			name: "no introspection bounds",
			skip: []string{"introspection/slow/half an answer then nothing", "introspection/slow/answer once the request is given up",
				"introspection/slow/no answer to requests at once", "introspection/slow/no answer for one token twice"},
			mode: validate.DPoPOff,
			auth: func(t *testing.T, is *Issuer) rsguard.Authenticator {
				return introValidator(t, is, validate.DPoPOff, func(c *validate.Config) {
					c.Introspection.Timeout = 10 * time.Second
					c.Introspection.RateLimit = 1000
					c.Introspection.MaxBytes = 64 << 20
				})
			},
			wantFail: []string{"introspection/slow/no answer", "introspection/slow/headers then nothing", "introspection/flood/distinct made-up tokens",
				"introspection/huge/4 MiB answer"},
			wantPass: []string{"introspection/accepted", "introspection/iss", "introspection/malformed/duplicate aud"},
			wantMessage: map[string]string{
				"introspection/slow/no answer":                "no answer within",
				"introspection/flood/distinct made-up tokens": "more than a rate limit of 100 a second allows",
			},
		},
		{
			name: "a lax Go introspector",
			mode: validate.DPoPOff,
			auth: func(t *testing.T, is *Issuer) rsguard.Authenticator { return laxIntrospector(t, is) },
			wantFail: []string{"introspection/malformed/duplicate aud", "introspection/malformed/duplicate active", "introspection/malformed/trailing data",
				"introspection/token_type/token_type absent", "introspection/malformed/content type text/html", "introspection/aud/aud absent"},
			wantPass: []string{"introspection/accepted", "introspection/active/active false"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			is := introIssuer(t)
			h := kitServer{challengeScopes: []string{"items:read"}, authenticator: tc.auth(t, is)}.handler(t, is)
			cfg := introKitConfig(is, h, tc.mode)
			// Only the section concerned runs.
			cfg.Skip = []string{"metadata", "cors", "session", "stepup", "attacks"}
			cfg.Skip = append(cfg.Skip, tc.skip...)
			if strings.HasPrefix(tc.wantFail[0], "dpop/") {
				cfg.Skip = append(cfg.Skip, "introspection")
			} else {
				cfg.Skip = append(cfg.Skip, "dpop")
			}
			rec := record(cfg)
			for _, name := range tc.wantFail {
				assert.True(t, rec.failed(name), "the kit did not fail %q; failures:\n%s", name, rec.summary())
			}
			for _, name := range tc.wantPass {
				assert.False(t, rec.failed(name), "the kit failed %q, which is wired correctly:\n%s", name, rec.summary())
			}
			for name, part := range tc.wantMessage {
				msgs := rec.failures["Kit/"+strings.ReplaceAll(name, " ", "_")]
				assert.True(t, slices.ContainsFunc(msgs, func(m string) bool { return strings.Contains(m, part) }),
					"no failure of %q says %q: %q", name, part, msgs)
			}
			assert.Empty(t, rec.fatal, "fatal in subtests")
			for name, msgs := range rec.failures {
				for _, msg := range msgs {
					assert.True(t, strings.HasSuffix(msg, "."), "%s: the message does not end with a sentence: %s", name, msg)
					assert.NotContains(t, msg, "eyJ", "%s: the message carries a token", name)
				}
			}
		})
	}
}

// TestConformanceDPoPRequiredFailsMiswired: against a server that accepts
// only DPoP, the accept, session, stepup and attacks subtests send
// DPoP-bound tokens with proofs, and so fail what is wrong behind the
// proof check: a token read but not verified, and a session binding and a
// per-tool scope check written for bearer tokens only (which pass the kit
// with bearer tokens: the control).
func TestConformanceDPoPRequiredFailsMiswired(t *testing.T) {
	for _, tc := range []struct {
		name        string
		mode        validate.DPoPMode
		server      func(t *testing.T, is *Issuer) kitServer
		skip        []string
		wantFail    []string
		wantPass    []string
		wantMessage map[string]string
	}{
		{
			name: "token signature not verified under a valid proof",
			mode: validate.DPoPRequired,
			server: func(t *testing.T, is *Issuer) kitServer {
				return kitServer{challengeScopes: []string{"items:read"}, authenticator: proofRewriter(t, is, validate.DPoPRequired, rewriteTokenSignature)}
			},
			// laxDPoP makes every principal a user: the session subtests
			// are TestConformanceFailsMiswired's.
			skip: []string{"session"},
			wantFail: []string{"attacks/algorithm/alg none", "attacks/algorithm/foreign key under the issuer's kid", "attacks/algorithm/stripped signature",
				"attacks/algorithm/payload tampered", "attacks/algorithm/signature of another token", "attacks/algorithm/HS256 keyed with the public key PEM"},
			wantPass: []string{"accept", "stepup", "attacks/claims/expired", "attacks/claims/other issuer", "attacks/claims/aud another resource",
				"attacks/malformed/not a JWT", "attacks/request", "attacks/method"},
			wantMessage: map[string]string{"attacks/algorithm/alg none": "accepted: status 200, want a refusal (RFC 8725 §3.1; RFC 7519 §6). Verify signatures only with the issuer's published signing keys"},
		},
		{
			name: "session binding and scope check read Bearer only",
			mode: validate.DPoPRequired,
			server: func(t *testing.T, is *Issuer) kitServer {
				return kitServer{challengeScopes: []string{"items:read"}, authenticator: introValidator(t, is, validate.DPoPRequired, nil), bearerOnlyChecks: true}
			},
			wantFail: []string{"session/another user/POST", "session/another user/GET stream", "session/another user/DELETE",
				"session/client named after the user/POST", "stepup/read_items", "stepup/write_items"},
			wantPass: []string{"accept", "session/unknown session", "session/renewed token", "stepup/ping", "attacks"},
			wantMessage: map[string]string{
				"session/another user/POST": "was served in a session it did not open",
				"stepup/read_items":         `want 403 insufficient_scope (MCP authorization, scope challenge handling). Answer a tools/call lacking a scope the tool needs with 403 and a DPoP challenge error="insufficient_scope"`,
			},
		},
		{
			name: "session binding and scope check read Bearer only, with bearer tokens",
			mode: validate.DPoPOff,
			server: func(t *testing.T, is *Issuer) kitServer {
				return kitServer{challengeScopes: []string{"items:read"}, bearerOnlyChecks: true}
			},
			wantPass: []string{"accept", "session", "stepup", "attacks"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			is := introIssuer(t)
			cfg := kitConfig(is, tc.server(t, is).handler(t, is))
			cfg.DPoP = tc.mode
			cfg.Skip = append([]string{"metadata", "cors", "dpop"}, tc.skip...)
			rec := record(cfg)
			for _, name := range tc.wantFail {
				assert.True(t, rec.failed(name), "the kit did not fail %q; failures:\n%s", name, rec.summary())
			}
			for _, name := range tc.wantPass {
				assert.False(t, rec.failed(name), "the kit failed %q, which is wired correctly:\n%s", name, rec.summary())
			}
			for name, part := range tc.wantMessage {
				msgs := rec.failures["Kit/"+strings.ReplaceAll(name, " ", "_")]
				assert.True(t, slices.ContainsFunc(msgs, func(m string) bool { return strings.Contains(m, part) }),
					"no failure of %q says %q: %q", name, part, msgs)
			}
			if len(tc.wantFail) == 0 {
				assert.Empty(t, rec.failures, rec.summary())
			}
			assert.Empty(t, rec.fatal, "fatal in subtests")
			for _, name := range rec.skipped {
				assert.True(t, slices.ContainsFunc(cfg.Skip, func(s string) bool { return name == "Kit/"+s }), "%s skipped as not checkable", name)
			}
			for name, msgs := range rec.failures {
				for _, msg := range msgs {
					assert.True(t, strings.HasSuffix(msg, "."), "%s: the message does not end with a sentence: %s", name, msg)
					assert.NotContains(t, msg, "eyJ", "%s: the message carries a token", name)
				}
			}
		})
	}
}
