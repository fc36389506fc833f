package validate_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/audit"
	"github.com/rsguard/rsguard/validate"
	"github.com/rsguard/rsguard/validate/validatetest"
)

const resource = "https://mcp.example.com/mcp"

// fixedNow is the clock of the table tests; the issuer mints with it too.
var fixedNow = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

func newIssuer(t testing.TB, opts *validatetest.Options) *validatetest.Issuer {
	t.Helper()
	if opts == nil {
		opts = &validatetest.Options{}
	}
	if opts.Now == nil {
		opts.Now = func() time.Time { return fixedNow }
	}
	if opts.Audience == nil {
		opts.Audience = []string{resource}
	}
	return validatetest.NewIssuer(t, opts)
}

func newValidator(t testing.TB, is *validatetest.Issuer, mod func(*validate.Config)) *validate.Validator {
	t.Helper()
	cfg := validate.Config{
		Issuer:   is.URL,
		Resource: resource,
		Fetch:    validate.FetchOptions{HTTPClient: is.Client()},
		Now:      func() time.Time { return fixedNow },
	}
	if mod != nil {
		mod(&cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	v, err := validate.New(ctx, cfg)
	require.NoError(t, err)
	return v
}

// assertNoTokenIn checks that no segment of tok (longer than a few bytes)
// appears in any of texts.
func assertNoTokenIn(t *testing.T, tok string, texts ...string) {
	t.Helper()
	for _, seg := range strings.Split(tok, ".") {
		if len(seg) < 8 {
			continue
		}
		for _, s := range texts {
			assert.NotContains(t, s, seg, "the token must not be echoed")
		}
	}
}

func TestVerifyAccepts(t *testing.T) {
	is := newIssuer(t, nil)
	v := newValidator(t, is, nil)
	for _, tc := range []struct {
		name   string
		opts   validatetest.TokenOptions
		claims map[string]any
		check  func(t *testing.T, c *validate.Claims)
	}{
		{name: "RS256", opts: validatetest.TokenOptions{Alg: "RS256"}},
		{name: "PS256", opts: validatetest.TokenOptions{Alg: "PS256"}},
		{name: "ES256", opts: validatetest.TokenOptions{Alg: "ES256"}},
		{name: "EdDSA", opts: validatetest.TokenOptions{Alg: "EdDSA"}},
		{name: "typ application/at+jwt", opts: validatetest.TokenOptions{Header: map[string]any{"typ": "application/AT+JWT"}}},
		{name: "typ JWT (lenient default)", opts: validatetest.TokenOptions{Header: map[string]any{"typ": "JWT"}}},
		{name: "no typ (lenient default)", opts: validatetest.TokenOptions{Header: map[string]any{"typ": nil}}},
		{name: "jku header ignored", opts: validatetest.TokenOptions{Header: map[string]any{"jku": "https://evil.example/jwks"}}},
		{name: "aud array containing us", claims: map[string]any{"aud": []string{"https://other.example", resource}}},
		{name: "aud with upper-case host and default port", claims: map[string]any{"aud": "https://MCP.example.com:443/mcp"}},
		{name: "aud with trailing slash", claims: map[string]any{"aud": resource + "/"}},
		{name: "expired within leeway", claims: map[string]any{"exp": fixedNow.Add(-20 * time.Second).Unix()}},
		{name: "nbf within leeway", claims: map[string]any{"nbf": fixedNow.Add(20 * time.Second).Unix()}},
		{name: "fractional exp", claims: map[string]any{"exp": float64(fixedNow.Unix()) + 60.5}},
		{
			name:   "claims decoded",
			claims: map[string]any{"scope": "tools:read tools:write tools:read", "sub": "alice", "client_id": "cli", "acr": "mfa", "org_id": "acme", "sid": "s1"},
			check: func(t *testing.T, c *validate.Claims) {
				assert.Equal(t, []string{"tools:read", "tools:write"}, c.Scopes)
				assert.Equal(t, "alice", c.Subject)
				assert.Equal(t, "cli", c.ClientID)
				assert.Equal(t, "mfa", c.ACR)
				assert.Equal(t, "s1", c.SessionID)
				assert.Equal(t, "user:"+c.Issuer+"#alice", c.Principal())
				org, ok := c.Get("org_id")
				assert.True(t, ok)
				assert.Equal(t, "acme", org)
				_, ok = c.Get("nope")
				assert.False(t, ok)
				assert.True(t, c.ExpiresAt.After(fixedNow))
			},
		},
		{
			name:   "scp array (Entra/Okta)",
			claims: map[string]any{"scp": []string{"a", "b"}},
			check:  func(t *testing.T, c *validate.Claims) { assert.Equal(t, []string{"a", "b"}, c.Scopes) },
		},
		{
			name:   "scp string",
			claims: map[string]any{"scp": "a b"},
			check:  func(t *testing.T, c *validate.Claims) { assert.Equal(t, []string{"a", "b"}, c.Scopes) },
		},
		{
			name:   "azp stands in for client_id",
			claims: map[string]any{"client_id": nil, "azp": "spa"},
			check:  func(t *testing.T, c *validate.Claims) { assert.Equal(t, "spa", c.ClientID) },
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok := is.TokenWith(tc.opts, tc.claims)
			c, err := v.Verify(context.Background(), tok)
			require.NoError(t, err)
			assert.Equal(t, is.URL, c.Issuer)
			if tc.check != nil {
				tc.check(t, c)
			}
		})
	}
}

func TestVerifyRejects(t *testing.T) {
	is := newIssuer(t, nil)
	v := newValidator(t, is, nil)
	strict := newValidator(t, is, func(c *validate.Config) { c.RequireAccessTokenType = true })
	attacker, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	attackerEC, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	rsKid := is.Kid("RS256")

	for _, tc := range []struct {
		name   string
		v      *validate.Validator
		raw    string // sent as is when set (or when the name is "empty")
		opts   validatetest.TokenOptions
		claims map[string]any
		want   error
	}{
		{name: "empty", want: audit.ReasonMalformed},
		{name: "one segment", raw: "abc", want: audit.ReasonMalformed},
		{name: "two segments", raw: "abc.def", want: audit.ReasonMalformed},
		{name: "four segments", raw: "a.b.c.d", want: audit.ReasonMalformed},
		{name: "JWE", raw: "eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ.a.b.c.d", want: audit.ReasonMalformed},
		{name: "header not base64url", raw: "e+J.e30.c2ln", want: audit.ReasonMalformed},
		{name: "padded header", raw: "eyJhbGciOiJSUzI1NiJ9==.e30.c2ln", want: audit.ReasonMalformed},
		{name: "header with a newline", raw: "eyJhbGci\nOiJSUzI1NiJ9.e30.c2ln", want: audit.ReasonMalformed},
		{name: "header not JSON", raw: "bm90IGpzb24.e30.c2ln", want: audit.ReasonMalformed},
		{name: "header JSON array", raw: "WzFd.e30.c2ln", want: audit.ReasonMalformed},
		{name: "alg none", opts: validatetest.TokenOptions{Alg: "none"}, want: audit.ReasonBadAlgorithm},
		{name: "alg NoNe", opts: validatetest.TokenOptions{Alg: "NoNe"}, want: audit.ReasonBadAlgorithm},
		{name: "HS256 keyed with the RSA public key PEM", opts: validatetest.TokenOptions{Alg: "HS256", Secret: publicKeyPEM(t, is, rsKid), Key: rsKid}, want: audit.ReasonBadAlgorithm},
		{name: "HS256 keyed with the DER key", opts: validatetest.TokenOptions{Alg: "HS256", Secret: publicKeyDER(t, is, rsKid), Key: rsKid}, want: audit.ReasonBadAlgorithm},
		{name: "HS256 keyed with the JWK", opts: validatetest.TokenOptions{Alg: "HS256", Secret: is.PublicJWK(rsKid), Key: rsKid}, want: audit.ReasonBadAlgorithm},
		{name: "alg not on the allow-list (RS512)", opts: validatetest.TokenOptions{Alg: "RS512", Signer: attacker}, want: audit.ReasonBadAlgorithm},
		{name: "header alg PS256 on the RS256 key", opts: validatetest.TokenOptions{Key: rsKid, Header: map[string]any{"alg": "PS256"}}, want: audit.ReasonBadAlgorithm},
		{name: "header alg ES256 on an RSA key", opts: validatetest.TokenOptions{Key: rsKid, Header: map[string]any{"alg": "ES256"}}, want: audit.ReasonBadAlgorithm},
		{name: "crit", opts: validatetest.TokenOptions{Header: map[string]any{"crit": []string{"exp"}, "exp": 1}}, want: audit.ReasonCriticalHeader},
		{name: "typ dpop+jwt", opts: validatetest.TokenOptions{Header: map[string]any{"typ": "dpop+jwt"}}, want: audit.ReasonBadTokenType},
		{name: "typ id_token", opts: validatetest.TokenOptions{Header: map[string]any{"typ": "id_token+jwt"}}, want: audit.ReasonBadTokenType},
		{name: "typ JWT in strict mode", v: strict, opts: validatetest.TokenOptions{Header: map[string]any{"typ": "JWT"}}, want: audit.ReasonBadTokenType},
		{name: "no typ in strict mode", v: strict, opts: validatetest.TokenOptions{Header: map[string]any{"typ": nil}}, want: audit.ReasonBadTokenType},
		{name: "strict mode without jti", v: strict, claims: map[string]any{"jti": nil}, want: audit.ReasonBadClaims},
		{name: "attacker key, known kid", opts: validatetest.TokenOptions{Signer: attacker, Key: rsKid}, want: audit.ReasonBadSignature},
		{name: "attacker EC key, known kid", opts: validatetest.TokenOptions{Alg: "ES256", Signer: attackerEC, Key: is.Kid("ES256")}, want: audit.ReasonBadSignature},
		{name: "attacker key, unknown kid", opts: validatetest.TokenOptions{Signer: attacker, Header: map[string]any{"kid": "attacker"}}, want: audit.ReasonUnknownKey},
		{name: "hostile kid", opts: validatetest.TokenOptions{Header: map[string]any{"kid": "../../etc/passwd\x00' OR 1=1"}}, want: audit.ReasonUnknownKey},
		{name: "kid not a string", opts: validatetest.TokenOptions{Header: map[string]any{"kid": 7}}, want: audit.ReasonMalformed},
		{name: "no kid, attacker key", opts: validatetest.TokenOptions{Alg: "RS256", Header: map[string]any{"kid": nil}, Signer: attacker}, want: audit.ReasonBadSignature},
		{name: "stripped signature", opts: validatetest.TokenOptions{NoSignature: true}, want: audit.ReasonBadSignature},
		{name: "jku with attacker key", opts: validatetest.TokenOptions{Signer: attacker, Key: rsKid, Header: map[string]any{"jku": "https://evil.example/jwks"}}, want: audit.ReasonBadSignature},
		{name: "expired", claims: map[string]any{"exp": fixedNow.Add(-time.Minute).Unix()}, want: audit.ReasonExpired},
		{name: "exp at the leeway boundary", claims: map[string]any{"exp": fixedNow.Add(-30 * time.Second).Unix()}, want: audit.ReasonExpired},
		{name: "not yet valid", claims: map[string]any{"nbf": fixedNow.Add(time.Minute).Unix()}, want: audit.ReasonNotYetValid},
		{name: "issued in the future", claims: map[string]any{"iat": fixedNow.Add(time.Hour).Unix()}, want: audit.ReasonNotYetValid},
		{name: "missing exp", claims: map[string]any{"exp": nil}, want: audit.ReasonBadClaims},
		{name: "exp as string", claims: map[string]any{"exp": "9999999999"}, want: audit.ReasonBadClaims},
		{name: "exp huge", claims: map[string]any{"exp": 1e300}, want: audit.ReasonBadClaims},
		{name: "exp boolean", claims: map[string]any{"exp": true}, want: audit.ReasonBadClaims},
		{name: "aud as number", claims: map[string]any{"aud": 42}, want: audit.ReasonBadClaims},
		{name: "aud array of numbers", claims: map[string]any{"aud": []int{1}}, want: audit.ReasonBadClaims},
		{name: "iss as object", claims: map[string]any{"iss": map[string]any{"a": 1}}, want: audit.ReasonBadClaims},
		{name: "scope as array", claims: map[string]any{"scope": []string{"a"}}, want: audit.ReasonBadClaims},
		{name: "missing iss", claims: map[string]any{"iss": nil}, want: audit.ReasonBadClaims},
		{name: "missing aud", claims: map[string]any{"aud": nil}, want: audit.ReasonBadClaims},
		{name: "issuer with trailing slash", claims: map[string]any{"iss": "ISSUER/"}, want: audit.ReasonBadIssuer},
		{name: "issuer upper-cased", claims: map[string]any{"iss": "UPPER"}, want: audit.ReasonBadIssuer},
		{name: "audience: origin only", claims: map[string]any{"aud": "https://mcp.example.com"}, want: audit.ReasonBadAudience},
		{name: "audience: sibling path", claims: map[string]any{"aud": "https://mcp.example.com/other"}, want: audit.ReasonBadAudience},
		{name: "audience: prefix", claims: map[string]any{"aud": "https://mcp.example.com/mc"}, want: audit.ReasonBadAudience},
		{name: "audience: extension", claims: map[string]any{"aud": "https://mcp.example.com/mcp2"}, want: audit.ReasonBadAudience},
		{name: "audience: sub-path", claims: map[string]any{"aud": "https://mcp.example.com/mcp/x"}, want: audit.ReasonBadAudience},
		{name: "audience: http scheme", claims: map[string]any{"aud": "http://mcp.example.com/mcp"}, want: audit.ReasonBadAudience},
		{name: "audience: path case", claims: map[string]any{"aud": "https://mcp.example.com/MCP"}, want: audit.ReasonBadAudience},
		{name: "audience: other host", claims: map[string]any{"aud": "https://mcp.example.co/mcp"}, want: audit.ReasonBadAudience},
		{name: "audience: array without us", claims: map[string]any{"aud": []string{"https://a.example", "https://b.example/mcp"}}, want: audit.ReasonBadAudience},
		{name: "audience: empty array", claims: map[string]any{"aud": []string{}}, want: audit.ReasonBadClaims},
		{name: "payload JSON array", opts: validatetest.TokenOptions{Payload: []byte(`[1,2]`)}, want: audit.ReasonMalformed},
		{name: "payload not JSON", opts: validatetest.TokenOptions{Payload: []byte(`hello`)}, want: audit.ReasonMalformed},
		{name: "payload null", opts: validatetest.TokenOptions{Payload: []byte(`null`)}, want: audit.ReasonMalformed},
		{name: "deeply nested payload", opts: validatetest.TokenOptions{Payload: []byte(`{"x":` + strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + `}`)}, want: audit.ReasonBadClaims},
		{name: "oversized", raw: strings.Repeat("a", 20000) + ".b.c", want: audit.ReasonMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vv := v
			if tc.v != nil {
				vv = tc.v
			}
			if iss, ok := tc.claims["iss"].(string); ok {
				// Issuer look-alikes are derived from the test issuer's URL.
				switch iss {
				case "ISSUER/":
					tc.claims["iss"] = is.URL + "/"
				case "UPPER":
					tc.claims["iss"] = strings.ToUpper(is.URL)
				}
			}
			tok := tc.raw
			if tc.raw == "" && tc.name != "empty" {
				tok = is.TokenWith(tc.opts, tc.claims)
				require.NotEmpty(t, tok)
			}
			c, err := vv.Verify(context.Background(), tok)
			require.Error(t, err)
			assert.Nil(t, c)
			assert.ErrorIs(t, err, tc.want)
			var e *rsguard.Error
			require.True(t, errors.As(err, &e))
			assert.Equal(t, 401, e.Status)
			assert.Equal(t, "invalid_token", e.Code)
			assertNoTokenIn(t, tok, e.Error(), e.Description)
		})
	}
}
