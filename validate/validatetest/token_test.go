package validatetest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var allAlgorithms = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

func TestTokenVerifiesWithPublishedKeys(t *testing.T) {
	t.Parallel()
	const aud = "https://api.example/mcp"
	is := NewIssuer(t, &Options{Path: "/tenants/a", Algorithms: allAlgorithms})
	for _, alg := range allAlgorithms {
		t.Run(alg, func(t *testing.T) {
			raw := is.TokenWith(TokenOptions{Alg: alg}, map[string]any{"aud": aud, "scope": "a b"})
			claims, err := verify(t, is, raw, alg, aud)
			require.NoError(t, err)
			assert.Equal(t, "a b", claims["scope"])

			h, _, _ := parts(t, raw)
			assert.Equal(t, map[string]any{"alg": alg, "kid": is.Kid(alg), "typ": "at+jwt"}, h)

			// Signed by its own key only: verification with another
			// algorithm's key of the same type fails.
			_, err = verify(t, is, raw, "RS256", aud)
			if alg != "RS256" {
				assert.Error(t, err)
			}
		})
	}
}

func TestTokenClaims(t *testing.T) {
	t.Parallel()
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	clock := func() time.Time { return now }
	tests := []struct {
		name   string
		opts   Options
		claims map[string]any
		want   map[string]any // compared exactly, except "jti"
	}{
		{
			name: "defaults",
			want: map[string]any{
				"iat": float64(now.Unix()), "exp": float64(now.Add(5 * time.Minute).Unix()),
				"sub": "test-subject", "client_id": "test-client",
			},
		},
		{
			name: "lifetime and audience",
			opts: Options{Lifetime: time.Hour, Audience: []string{"https://api.example"}},
			want: map[string]any{
				"iat": float64(now.Unix()), "exp": float64(now.Add(time.Hour).Unix()),
				"sub": "test-subject", "client_id": "test-client", "aud": "https://api.example",
			},
		},
		{
			name: "several audiences",
			opts: Options{Audience: []string{"https://a.example", "https://b.example"}},
			want: map[string]any{
				"iat": float64(now.Unix()), "exp": float64(now.Add(5 * time.Minute).Unix()),
				"sub": "test-subject", "client_id": "test-client", "aud": []any{"https://a.example", "https://b.example"},
			},
		},
		{
			name:   "overrides and removals",
			opts:   Options{Audience: []string{"https://api.example"}},
			claims: map[string]any{"sub": "alice", "client_id": nil, "aud": []string{"x", "y"}, "exp": "123", "scope": "read", "nbf": now.Unix()},
			want: map[string]any{
				"iat": float64(now.Unix()), "exp": "123", "nbf": float64(now.Unix()),
				"sub": "alice", "aud": []any{"x", "y"}, "scope": "read",
			},
		},
		{
			name:   "everything removed",
			claims: map[string]any{"iss": nil, "iat": nil, "exp": nil, "jti": nil, "sub": nil, "client_id": nil},
			want:   map[string]any{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			opts := tt.opts
			opts.Algorithms = []string{"ES256"}
			opts.Now = clock
			is := NewIssuer(t, &opts)
			c := claimsOf(t, is.Token(tt.claims))
			if _, removed := tt.claims["iss"]; !removed {
				assert.Equal(t, is.URL, c["iss"])
				delete(c, "iss")
			}
			if _, removed := tt.claims["jti"]; !removed {
				assert.Len(t, c["jti"], 32)
				delete(c, "jti")
			}
			assert.Equal(t, tt.want, c)
		})
	}
}

func TestTokenJTIUnique(t *testing.T) {
	t.Parallel()
	is := NewIssuer(t, &Options{Algorithms: []string{"EdDSA"}})
	seen := map[any]bool{}
	for range 100 {
		jti := claimsOf(t, is.Token(nil))["jti"]
		require.False(t, seen[jti])
		seen[jti] = true
	}
}

func TestTokenWith(t *testing.T) {
	t.Parallel()
	is := NewIssuer(t, nil)
	attacker, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	attackerEC, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	attackerP521, err := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	require.NoError(t, err)
	rsKid, psKid, esKid := is.Kid("RS256"), is.Kid("PS256"), is.Kid("ES256")

	// hmacOK checks the token is HMAC-SHA256 keyed with secret.
	hmacOK := func(secret []byte) func(t *testing.T, raw string) {
		return func(t *testing.T, raw string) {
			i := strings.LastIndexByte(raw, '.')
			mac := hmac.New(sha256.New, secret)
			mac.Write([]byte(raw[:i]))
			assert.Equal(t, base64.RawURLEncoding.EncodeToString(mac.Sum(nil)), raw[i+1:])
		}
	}
	// verifiesWith checks the signature only, with pub under alg.
	verifiesWith := func(alg string, pub crypto.PublicKey) func(t *testing.T, raw string) {
		return func(t *testing.T, raw string) {
			i := strings.LastIndexByte(raw, '.')
			_, _, sig := parts(t, raw)
			assert.NoError(t, jwt.GetSigningMethod(alg).Verify(raw[:i], sig, pub))
		}
	}
	unsigned := func(t *testing.T, raw string) {
		assert.True(t, strings.HasSuffix(raw, "."), raw)
		_, _, sig := parts(t, raw)
		assert.Empty(t, sig)
	}

	tests := []struct {
		name       string
		opts       TokenOptions
		claims     map[string]any
		wantHeader map[string]any
		wantBody   string // if set, the exact payload
		check      func(t *testing.T, raw string)
	}{
		{
			name:       "zero options is Token",
			wantHeader: map[string]any{"alg": "RS256", "kid": rsKid, "typ": "at+jwt"},
			check:      verifiesWith("RS256", is.PublicKey(rsKid)),
		},
		{
			name:       "alg none",
			opts:       TokenOptions{Alg: "none"},
			wantHeader: map[string]any{"alg": "none", "kid": rsKid, "typ": "at+jwt"},
			check:      unsigned,
		},
		{
			name:       "alg NONE",
			opts:       TokenOptions{Alg: "NONE"},
			wantHeader: map[string]any{"alg": "NONE", "kid": rsKid, "typ": "at+jwt"},
			check:      unsigned,
		},
		{
			name:       "alg nOnE without kid",
			opts:       TokenOptions{Alg: "nOnE", Header: map[string]any{"kid": nil}},
			wantHeader: map[string]any{"alg": "nOnE", "typ": "at+jwt"},
			check:      unsigned,
		},
		{
			name:       "HS256 keyed with the RSA public key PEM",
			opts:       TokenOptions{Alg: "HS256", Secret: publicKeyPEM(is, rsKid)},
			wantHeader: map[string]any{"alg": "HS256", "kid": rsKid, "typ": "at+jwt"},
			check:      hmacOK(publicKeyPEM(is, rsKid)),
		},
		{
			name:       "HS256 by default with Secret, keyed with DER",
			opts:       TokenOptions{Secret: publicKeyDER(is, rsKid)},
			wantHeader: map[string]any{"alg": "HS256", "kid": rsKid, "typ": "at+jwt"},
			check:      hmacOK(publicKeyDER(is, rsKid)),
		},
		{
			name:       "HS256 keyed with the PS256 JWK, its kid",
			opts:       TokenOptions{Alg: "HS256", Key: psKid, Secret: is.PublicJWK(psKid)},
			wantHeader: map[string]any{"alg": "HS256", "kid": psKid, "typ": "at+jwt"},
			check:      hmacOK(is.PublicJWK(psKid)),
		},
		{
			name:       "attacker key with the published kid",
			opts:       TokenOptions{Signer: attacker},
			wantHeader: map[string]any{"alg": "RS256", "kid": rsKid, "typ": "at+jwt"},
			check: func(t *testing.T, raw string) {
				verifiesWith("RS256", attacker.Public())(t, raw)
				_, err := verify(t, is, raw, "RS256", "")
				assert.ErrorIs(t, err, jwt.ErrTokenSignatureInvalid)
			},
		},
		{
			name:       "attacker EC key infers ES256",
			opts:       TokenOptions{Signer: attackerEC},
			wantHeader: map[string]any{"alg": "ES256", "kid": esKid, "typ": "at+jwt"},
			check:      verifiesWith("ES256", attackerEC.Public()),
		},
		{
			name:       "attacker P-521 key infers ES512, default kid",
			opts:       TokenOptions{Signer: attackerP521},
			wantHeader: map[string]any{"alg": "ES512", "kid": rsKid, "typ": "at+jwt"},
			check:      verifiesWith("ES512", attackerP521.Public()),
		},
		{
			name:       "key by kid",
			opts:       TokenOptions{Key: psKid},
			wantHeader: map[string]any{"alg": "PS256", "kid": psKid, "typ": "at+jwt"},
			check:      verifiesWith("PS256", is.PublicKey(psKid)),
		},
		{
			name:       "RS256 key signing RS512",
			opts:       TokenOptions{Key: rsKid, Alg: "RS512"},
			wantHeader: map[string]any{"alg": "RS512", "kid": rsKid, "typ": "at+jwt"},
			check:      verifiesWith("RS512", is.PublicKey(rsKid)),
		},
		{
			name:       "RS256 key signing PS256",
			opts:       TokenOptions{Key: rsKid, Alg: "PS256"},
			wantHeader: map[string]any{"alg": "PS256", "kid": rsKid, "typ": "at+jwt"},
			check:      verifiesWith("PS256", is.PublicKey(rsKid)),
		},
		{
			name: "hostile header members",
			opts: TokenOptions{Header: map[string]any{
				"typ":  "JWT",
				"crit": []string{"exp"},
				"jku":  "https://evil.example/jwks",
				"x5u":  "https://evil.example/cert",
				"jwk":  map[string]any{"kty": "oct", "k": "c2VjcmV0"},
				"kid":  "no-such-key",
			}},
			wantHeader: map[string]any{
				"alg": "RS256", "typ": "JWT", "crit": []any{"exp"}, "kid": "no-such-key",
				"jku": "https://evil.example/jwks", "x5u": "https://evil.example/cert",
				"jwk": map[string]any{"kty": "oct", "k": "c2VjcmV0"},
			},
			check: verifiesWith("RS256", is.PublicKey(rsKid)),
		},
		{
			name:       "no typ, header alg differs from the signing one",
			opts:       TokenOptions{Header: map[string]any{"typ": nil, "alg": "ES256"}},
			wantHeader: map[string]any{"alg": "ES256", "kid": rsKid},
		},
		{
			name:       "stripped signature",
			opts:       TokenOptions{NoSignature: true},
			wantHeader: map[string]any{"alg": "RS256", "kid": rsKid, "typ": "at+jwt"},
			check:      unsigned,
		},
		{
			name:       "stripped signature needs no key",
			opts:       TokenOptions{Alg: "RS384", NoSignature: true},
			wantHeader: map[string]any{"alg": "RS384", "kid": rsKid, "typ": "at+jwt"},
			check:      unsigned,
		},
		{
			name:       "raw payload with a string exp",
			opts:       TokenOptions{Payload: []byte(`{"exp":"123","iss":1}`)},
			claims:     map[string]any{"ignored": true},
			wantHeader: map[string]any{"alg": "RS256", "kid": rsKid, "typ": "at+jwt"},
			wantBody:   `{"exp":"123","iss":1}`,
			check:      verifiesWith("RS256", is.PublicKey(rsKid)),
		},
		{
			name:       "raw payload not an object",
			opts:       TokenOptions{Payload: []byte(`["a"]`), Alg: "EdDSA"},
			wantHeader: map[string]any{"alg": "EdDSA", "kid": is.Kid("EdDSA"), "typ": "at+jwt"},
			wantBody:   `["a"]`,
		},
		{
			name:       "empty raw payload",
			opts:       TokenOptions{Payload: []byte{}},
			wantHeader: map[string]any{"alg": "RS256", "kid": rsKid, "typ": "at+jwt"},
			wantBody:   ``,
		},
		{
			name:       "claims are not HTML-escaped",
			claims:     map[string]any{"scope": "a<b>&c"},
			wantHeader: map[string]any{"alg": "RS256", "kid": rsKid, "typ": "at+jwt"},
			check: func(t *testing.T, raw string) {
				_, payload, _ := parts(t, raw)
				assert.Contains(t, string(payload), `"scope":"a<b>&c"`)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok := is.TokenWith(tt.opts, tt.claims) // misuse would fail the parent test
			require.NotEmpty(t, tok)
			h, payload, _ := parts(t, tok)
			assert.Equal(t, tt.wantHeader, h)
			if tt.wantBody != "" || tt.opts.Payload != nil {
				assert.Equal(t, tt.wantBody, string(payload))
			}
			if tt.check != nil {
				tt.check(t, tok)
			}
		})
	}
}

func TestTokenWithMisuse(t *testing.T) {
	t.Parallel()
	rec := &recordTB{TB: t}
	is := NewIssuer(rec, &Options{Algorithms: []string{"ES256", "EdDSA"}})
	require.Empty(t, rec.messages())
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	bare := is.AddKey(Key{JWK: map[string]any{"kty": "oct", "kid": "oct-1", "k": "c2VjcmV0"}})

	tests := []struct {
		name    string
		opts    TokenOptions
		claims  map[string]any
		wantErr string
	}{
		{"unknown key", TokenOptions{Key: "nope"}, nil, `unknown Key "nope"`},
		{"no key for the algorithm", TokenOptions{Alg: "RS256"}, nil, `no key for "RS256"`},
		{"HMAC without secret", TokenOptions{Alg: "HS256"}, nil, `no key for "HS256"`},
		{"secret with an asymmetric algorithm", TokenOptions{Alg: "ES256", Secret: []byte("k")}, nil, "HS* algorithms sign with Secret"},
		{"signer with HMAC", TokenOptions{Alg: "HS256", Signer: edKey}, nil, "HS* algorithms sign with Secret"},
		{"signer and secret", TokenOptions{Signer: edKey, Secret: []byte("k")}, nil, "both Signer and Secret"},
		{"signer of the wrong type", TokenOptions{Alg: "RS256", Signer: edKey}, nil, "sign with RS256"},
		{"unknown algorithm", TokenOptions{Alg: "XY256", Signer: edKey}, nil, `unknown algorithm "XY256"`},
		{"bare JWK cannot sign", TokenOptions{Key: bare}, nil, "no private key"},
		{"claims not JSON", TokenOptions{}, map[string]any{"bad": make(chan int)}, "encode claims"},
		{"header not JSON", TokenOptions{Header: map[string]any{"bad": func() {}}}, nil, "encode header"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(rec.messages())
			assert.Empty(t, is.TokenWith(tt.opts, tt.claims))
			msgs := rec.messages()
			require.Len(t, msgs, before+1)
			assert.Contains(t, msgs[before], tt.wantErr)
			assert.True(t, strings.HasPrefix(msgs[before], "validatetest: TokenWith: "), msgs[before])
		})
	}
	assert.False(t, rec.fatal, "misuse never calls Fatal")

	// The bare oct key does sign HS256 with its secret.
	tok := is.TokenWith(TokenOptions{Key: bare, Secret: []byte("secret")}, nil)
	h, _, _ := parts(t, tok)
	assert.Equal(t, map[string]any{"alg": "HS256", "kid": "oct-1", "typ": "at+jwt"}, h)
}

func TestTokenWithMisuseWithoutTB(t *testing.T) {
	t.Parallel()
	is := NewIssuer(nil, &Options{Algorithms: []string{"ES256"}})
	defer is.Close()
	assert.PanicsWithValue(t, `validatetest: TokenWith: unknown Key "nope"`, func() {
		is.TokenWith(TokenOptions{Key: "nope"}, nil)
	})
}

func BenchmarkToken(b *testing.B) {
	for _, alg := range []string{"RS256", "ES256", "EdDSA"} {
		b.Run(alg, func(b *testing.B) {
			is := NewIssuer(b, &Options{Algorithms: []string{alg}})
			claims := map[string]any{"aud": "https://api.example", "scope": "a b"}
			b.ReportAllocs()
			for range b.N {
				// b.Fatal, not testify, in the timed loop: an assertion
				// calls b.Helper (a lock and a stack walk) even when it
				// passes, and would be timed with Token.
				if is.Token(claims) == "" {
					b.Fatal("no token")
				}
			}
		})
	}
}
