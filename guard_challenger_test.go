package rsguard_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/audit"
	"github.com/rsguard/rsguard/rsmeta"
	"github.com/rsguard/rsguard/scopes"
)

// challenger is an Authenticator with challenges of its own.
type challenger struct {
	authFunc
	cs []rsmeta.Challenge
}

func (c challenger) Challenges() []rsmeta.Challenge { return c.cs }

var bearerAndDPoP = []rsmeta.Challenge{{Scheme: "Bearer"}, {Scheme: "DPoP", Params: []rsmeta.Param{{Name: "algs", Value: "ES256 EdDSA"}}}}

// TestGuardChallenger: every challenge of a Challenger, in order, with the
// Guard's realm, resource_metadata and scope; the error on the challenge of
// Error.Scheme; recorded answers kept apart by scheme.
func TestGuardChallenger(t *testing.T) {
	var refuse *rsguard.Error
	a := challenger{authFunc: func(*http.Request) (*rsguard.Principal, error) {
		if refuse == nil {
			return nil, &rsguard.Error{Status: http.StatusUnauthorized, Reason: audit.ReasonNoCredential}
		}
		cp := *refuse
		return nil, &cp
	}, cs: bearerAndDPoP}
	g := newGuard(t, rsguard.Config{Authenticator: a, ResourceMetadata: testMetadata, Realm: "r", Scopes: []string{"tools:read"}})
	const tail = `realm="r", resource_metadata="` + testMetadata + `", scope="tools:read"`

	rec, _ := serve(g, "")
	assert.Equal(t, http.StatusUnauthorized, rec.Code)
	assert.Equal(t, []string{`Bearer ` + tail, `DPoP ` + tail + `, algs="ES256 EdDSA"`}, rec.Header().Values("WWW-Authenticate"))

	for range 2 { // written, then replayed from the recorded answers
		for _, tc := range []struct {
			scheme string
			want   []string
		}{
			{"DPoP", []string{`Bearer ` + tail, `DPoP ` + tail + `, error="invalid_dpop_proof", error_description="bad proof", algs="ES256 EdDSA"`}},
			{"dpop", []string{`Bearer ` + tail, `DPoP ` + tail + `, error="invalid_dpop_proof", error_description="bad proof", algs="ES256 EdDSA"`}},
			{"", []string{`Bearer ` + tail + `, error="invalid_dpop_proof", error_description="bad proof"`, `DPoP ` + tail + `, algs="ES256 EdDSA"`}},
			{"Basic", []string{`Bearer ` + tail + `, error="invalid_dpop_proof", error_description="bad proof"`, `DPoP ` + tail + `, algs="ES256 EdDSA"`}},
		} {
			refuse = &rsguard.Error{Status: http.StatusUnauthorized, Code: rsmeta.ErrorInvalidDPoPProof, Description: "bad proof", Reason: audit.ReasonBadDPoPProof, Scheme: tc.scheme}
			rec, _ := serve(g, "DPoP x")
			assert.Equal(t, tc.want, rec.Header().Values("WWW-Authenticate"), "scheme %q", tc.scheme)
			assert.Equal(t, `{"error":"invalid_dpop_proof","error_description":"bad proof"}`, rec.Body.String())
		}
	}

	// Headers of the refusal (a DPoP-Nonce) are sent, never recorded.
	refuse = &rsguard.Error{Status: http.StatusUnauthorized, Code: rsmeta.ErrorUseDPoPNonce, Description: "nonce", Reason: audit.ReasonUseDPoPNonce,
		Scheme: "DPoP", Header: http.Header{"Dpop-Nonce": {"n-1"}}}
	rec, _ = serve(g, "DPoP x")
	assert.Equal(t, "n-1", rec.Header().Get("DPoP-Nonce"))
	assert.Len(t, rec.Header().Values("WWW-Authenticate"), 2)
	refuse.Header = http.Header{"Dpop-Nonce": {"n-2"}}
	rec, _ = serve(g, "DPoP x")
	assert.Equal(t, "n-2", rec.Header().Get("DPoP-Nonce"))
}

// TestGuardChallengerOne: a Challenger with one DPoP challenge sends it
// alone; an empty list is the Bearer challenge.
func TestGuardChallengerOne(t *testing.T) {
	none := &rsguard.Error{Status: http.StatusUnauthorized, Reason: audit.ReasonNoCredential}
	refuse := func(*http.Request) (*rsguard.Principal, error) { return nil, none }
	g := newGuard(t, rsguard.Config{Authenticator: challenger{refuse, bearerAndDPoP[1:]}, ResourceMetadata: testMetadata})
	rec, _ := serve(g, "Bearer x")
	assert.Equal(t, []string{`DPoP resource_metadata="` + testMetadata + `", algs="ES256 EdDSA"`}, rec.Header().Values("WWW-Authenticate"))

	g = newGuard(t, rsguard.Config{Authenticator: challenger{refuse, nil}, ResourceMetadata: testMetadata})
	rec, _ = serve(g, "")
	assert.Equal(t, []string{`Bearer resource_metadata="` + testMetadata + `"`}, rec.Header().Values("WWW-Authenticate"))
}

// TestGuardChallengerConfig: New refuses challenges it cannot send.
func TestGuardChallengerConfig(t *testing.T) {
	refuse := func(*http.Request) (*rsguard.Principal, error) { return nil, nil }
	for name, cs := range map[string][]rsmeta.Challenge{
		"scheme twice":      {{Scheme: "DPoP"}, {Scheme: "dpop"}},
		"bearer twice":      {{}, {Scheme: "Bearer"}},
		"realm set":         {{Scheme: "DPoP", Realm: "x"}},
		"error set":         {{Scheme: "DPoP", Error: "invalid_token"}},
		"invalid scheme":    {{Scheme: "D P"}},
		"registered param":  {{Scheme: "DPoP", Params: []rsmeta.Param{{Name: "scope", Value: "x"}}}},
		"control character": {{Scheme: "DPoP", Params: []rsmeta.Param{{Name: "algs", Value: "a\nb"}}}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := rsguard.New(rsguard.Config{Authenticator: challenger{refuse, cs}, ResourceMetadata: testMetadata})
			assert.ErrorIs(t, err, rsguard.ErrInvalidConfig)
		})
	}
}

// TestGuardChallengerScopes: after authentication, a scope check's 403 uses
// the challenge of the request's scheme (DPoP for a DPoP request), else the
// first.
func TestGuardChallengerScopes(t *testing.T) {
	a := challenger{authFunc: func(*http.Request) (*rsguard.Principal, error) {
		return &rsguard.Principal{Subject: "user:x", Scopes: []string{"tools:read"}}, nil
	}, cs: bearerAndDPoP}
	g := newGuard(t, rsguard.Config{Authenticator: a, ResourceMetadata: testMetadata})
	need, err := scopes.NewRoute(scopes.RouteConfig{Scopes: []string{"tools:write"}})
	require.NoError(t, err)
	h := g.Middleware(need.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})))
	for auth, want := range map[string]string{
		"DPoP tok":   `DPoP resource_metadata="` + testMetadata + `", scope="tools:write", error="insufficient_scope", error_description="the access token lacks scope tools:write", algs="ES256 EdDSA"`,
		"dpop tok":   `DPoP resource_metadata="` + testMetadata + `", scope="tools:write", error="insufficient_scope", error_description="the access token lacks scope tools:write", algs="ES256 EdDSA"`,
		"Bearer tok": `Bearer resource_metadata="` + testMetadata + `", scope="tools:write", error="insufficient_scope", error_description="the access token lacks scope tools:write"`,
		"Other tok":  `Bearer resource_metadata="` + testMetadata + `", scope="tools:write", error="insufficient_scope", error_description="the access token lacks scope tools:write"`,
	} {
		req := httptest.NewRequest(http.MethodGet, "/mcp", nil)
		req.Header.Set("Authorization", auth)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		assert.Equal(t, http.StatusForbidden, rec.Code)
		assert.Equal(t, []string{want}, rec.Header().Values("WWW-Authenticate"), auth)
	}
}
