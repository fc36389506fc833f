package validatetest

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"slices"
	"sync"
	"testing"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRotateRetire(t *testing.T) {
	t.Parallel()
	const aud = "https://api.example"
	is := NewIssuer(t, &Options{Algorithms: []string{"ES256", "EdDSA"}, Audience: []string{aud}})
	old := is.Kid("ES256")
	oldToken := is.Token(nil)

	kid := is.Rotate("ES256")
	require.NotEmpty(t, kid)
	assert.NotEqual(t, old, kid)
	assert.Equal(t, kid, is.Kid("ES256"))
	assert.Equal(t, []string{old, is.Kid("EdDSA"), kid}, publishedKids(is))

	newToken := is.Token(nil)
	h, _, _ := parts(t, newToken)
	assert.Equal(t, kid, h["kid"])
	for _, tok := range []string{oldToken, newToken} {
		_, err := verify(t, is, tok, "ES256", aud)
		assert.NoError(t, err, "both keys are published")
	}

	is.Retire(old)
	assert.Equal(t, []string{is.Kid("EdDSA"), kid}, publishedKids(is))
	assert.Len(t, fetchJWKS(t, is), 2)
	_, err := verify(t, is, oldToken, "ES256", aud)
	assert.ErrorContains(t, err, "no published key")

	// A retired key still signs on request, and is still known.
	retired := is.TokenWith(TokenOptions{Key: old}, nil)
	h, _, _ = parts(t, retired)
	assert.Equal(t, old, h["kid"])
	assert.NotNil(t, is.PublicKey(old))
	assert.NotNil(t, is.PublicJWK(old))

	// Rotating in an algorithm that had no key.
	ps := is.Rotate("PS384")
	_, err = verify(t, is, is.TokenWith(TokenOptions{Alg: "PS384"}, nil), "PS384", aud)
	assert.NoError(t, err)
	assert.Equal(t, ps, is.Kid("PS384"))

	// Retiring the current key keeps it signing by default.
	is.Retire(kid)
	h, _, _ = parts(t, is.Token(nil))
	assert.Equal(t, kid, h["kid"])
	assert.Equal(t, []string{is.Kid("EdDSA"), ps}, publishedKids(is))
}

func TestRotateRetireMisuse(t *testing.T) {
	t.Parallel()
	rec := &recordTB{TB: t}
	is := NewIssuer(rec, &Options{Algorithms: []string{"ES256"}})
	assert.Empty(t, is.Rotate("HS256"))
	is.Retire("nope")
	assert.Equal(t, []string{
		`validatetest: Rotate: cannot generate a key for algorithm "HS256"`,
		`validatetest: Retire: unknown kid "nope"`,
	}, rec.messages())
	assert.False(t, rec.fatal)
	assert.Empty(t, is.Kid("HS256"))
	assert.Nil(t, is.PublicKey("nope"))
	assert.Nil(t, publicKeyPEM(is, "nope"))
	assert.Nil(t, publicKeyDER(is, "nope"))
	assert.Nil(t, is.PublicJWK("nope"))
}

func TestAddKey(t *testing.T) {
	t.Parallel()
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	require.NoError(t, err)
	ec384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	require.NoError(t, err)

	tests := []struct {
		name    string
		key     Key
		wantKid string         // if set
		want    map[string]any // members the published entry must have
		absent  []string       // members it must not have
		signAlg string         // if set, TokenOptions{Key: kid} signs with this alg
	}{
		{
			name:    "RSA 1024",
			key:     Key{Signer: small},
			want:    map[string]any{"kty": "RSA", "alg": "RS256", "use": "sig"},
			signAlg: "RS256",
		},
		{
			name:    "encryption key",
			key:     Key{Signer: small, Alg: "PS256", JWK: map[string]any{"use": "enc"}},
			want:    map[string]any{"kty": "RSA", "alg": "PS256", "use": "enc"},
			signAlg: "PS256",
		},
		{
			name:    "JWK alg disagrees",
			key:     Key{Signer: ec384, JWK: map[string]any{"alg": "ES256"}},
			want:    map[string]any{"kty": "EC", "crv": "P-384", "alg": "ES256", "use": "sig"},
			signAlg: "ES384",
		},
		{
			name:    "chosen kid, no use, no alg",
			key:     Key{Signer: ec384, JWK: map[string]any{"kid": "mine", "use": nil, "alg": nil}},
			wantKid: "mine",
			want:    map[string]any{"kid": "mine", "kty": "EC"},
			absent:  []string{"use", "alg"},
			signAlg: "ES384",
		},
		{
			name:    "no kid published",
			key:     Key{Signer: ec384, JWK: map[string]any{"kid": nil}},
			absent:  []string{"kid"},
			signAlg: "ES384",
		},
		{
			name:    "non-string kid",
			key:     Key{Signer: ec384, JWK: map[string]any{"kid": 42}},
			want:    map[string]any{"kid": float64(42)},
			signAlg: "ES384",
		},
		{
			name:    "bare oct JWK",
			key:     Key{JWK: map[string]any{"kty": "oct", "kid": "hmac", "k": "c2VjcmV0", "alg": "HS256"}},
			wantKid: "hmac",
			want:    map[string]any{"kty": "oct", "kid": "hmac", "k": "c2VjcmV0", "alg": "HS256"},
			absent:  []string{"use"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			is := NewIssuer(t, &Options{Algorithms: []string{"EdDSA"}})
			kid := is.AddKey(tt.key)
			require.NotEmpty(t, kid)
			if tt.wantKid != "" {
				assert.Equal(t, tt.wantKid, kid)
			}
			assert.Equal(t, []string{is.Kid("EdDSA"), kid}, publishedKids(is))
			assert.Equal(t, is.Kid("EdDSA"), is.Kid(""), "AddKey does not change the signer")

			jwks := fetchJWKS(t, is)
			require.Len(t, jwks, 2)
			entry := jwks[1]
			for k, v := range tt.want {
				assert.Equal(t, v, entry[k], k)
			}
			for _, k := range tt.absent {
				assert.NotContains(t, entry, k)
			}
			var served map[string]any
			require.NoError(t, json.Unmarshal(is.PublicJWK(kid), &served))
			assert.Equal(t, entry, served)

			if tt.key.Signer == nil {
				assert.Nil(t, is.PublicKey(kid), "a bare JWK has no key to give")
				assert.Nil(t, publicKeyPEM(is, kid))
			}
			if tt.signAlg != "" {
				tok := is.TokenWith(TokenOptions{Key: kid}, nil)
				h, _, _ := parts(t, tok)
				assert.Equal(t, tt.signAlg, h["alg"])
				assert.Equal(t, kid, h["kid"])
				pub := is.PublicKey(kid)
				require.NotNil(t, pub)
				_, err := jwt.Parse(tok, func(*jwt.Token) (any, error) { return pub, nil }, jwt.WithValidMethods([]string{tt.signAlg}))
				assert.NoError(t, err)
			}
		})
	}
}

func TestAddKeyDuplicateKid(t *testing.T) {
	t.Parallel()
	is := NewIssuer(t, &Options{Algorithms: []string{"ES256"}})
	kid := is.Kid("ES256")
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	assert.Equal(t, kid, is.AddKey(Key{Signer: ec, JWK: map[string]any{"kid": kid}}))

	jwks := fetchJWKS(t, is)
	require.Len(t, jwks, 2)
	assert.Equal(t, jwks[0]["kid"], jwks[1]["kid"])
	assert.True(t, ec.PublicKey.Equal(is.PublicKey(kid)), "lookups find the newest")
	h, _, _ := parts(t, is.Token(nil))
	assert.Equal(t, kid, h["kid"])

	is.Retire(kid)
	assert.Empty(t, publishedKids(is), "Retire removes every key with the kid")
	assert.Empty(t, fetchJWKS(t, is))
}

func TestAddKeyMisuse(t *testing.T) {
	t.Parallel()
	rec := &recordTB{TB: t}
	is := NewIssuer(rec, &Options{Algorithms: []string{"ES256"}})
	ec, err := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	require.NoError(t, err)
	assert.Empty(t, is.AddKey(Key{}))
	assert.Empty(t, is.AddKey(Key{Signer: ec}))
	msgs := rec.messages()
	require.Len(t, msgs, 2)
	assert.Contains(t, msgs[0], "neither Signer nor JWK")
	assert.Contains(t, msgs[1], "AddKey: encode EC key")
	assert.Len(t, publishedKids(is), 1)
}

func TestPublicKeyEncodings(t *testing.T) {
	t.Parallel()
	is := NewIssuer(t, nil)
	status, _, body := get(t, is, is.JWKSURL)
	require.Equal(t, http.StatusOK, status)
	for _, kid := range publishedKids(is) {
		pub := is.PublicKey(kid).(interface{ Equal(x crypto.PublicKey) bool })

		der := publicKeyDER(is, kid)
		parsed, err := x509.ParsePKIXPublicKey(der)
		require.NoError(t, err)
		assert.True(t, pub.Equal(parsed), kid)

		block, rest := pem.Decode(publicKeyPEM(is, kid))
		require.NotNil(t, block)
		assert.Empty(t, rest)
		assert.Equal(t, "PUBLIC KEY", block.Type)
		assert.Equal(t, der, block.Bytes)

		// The JWK bytes are exactly those in the served JWK Set.
		assert.True(t, bytes.Contains(body, is.PublicJWK(kid)), kid)
	}
}

func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	is := NewIssuer(t, &Options{
		Algorithms: []string{"ES256", "EdDSA"},
		Audience:   []string{"https://api.example"},
		Clients:    []Client{{ID: "c", Secret: "s", Scopes: []string{"a"}}},
	})
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 10 {
				switch (i + j) % 6 {
				case 0:
					is.Token(map[string]any{"n": j})
				case 1:
					kid := is.Rotate("EdDSA")
					is.Retire(kid)
				case 2:
					is.SetDown(j%2 == 0)
					is.Handle(is.JWKSURL, nil)
				case 3:
					resp, err := is.Client().Get(is.JWKSURL)
					if err != nil {
						errs <- err
						continue
					}
					resp.Body.Close()
				case 4:
					_ = publishedKids(is)
					_ = is.PublicJWK(is.Kid("ES256"))
					_ = is.TokenWith(TokenOptions{Alg: "none"}, nil)
				case 5:
					resp, err := is.Client().PostForm(is.TokenURL, map[string][]string{
						"grant_type": {"client_credentials"}, "client_id": {"c"}, "client_secret": {"s"},
					})
					if err != nil {
						errs <- err
						continue
					}
					resp.Body.Close()
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		assert.NoError(t, err)
	}
	is.SetDown(false)
	kids := publishedKids(is)
	assert.Len(t, kids, 2, "every rotated key was retired")
	assert.True(t, slices.Contains(kids, is.Kid("ES256")))
	assert.Positive(t, is.Requests(is.JWKSURL))
	assert.Positive(t, is.Requests(is.TokenURL))
}
