package validate_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/audit"
	"github.com/rsguard/rsguard/validate"
)

// mapKeys is an application's key set of many keys (one per tenant, say).
type mapKeys map[string]crypto.PublicKey

func (m mapKeys) Key(_ context.Context, kid, _ string) (crypto.PublicKey, error) {
	if k, ok := m[kid]; ok {
		return k, nil
	}
	return nil, fmt.Errorf("%w: %s", audit.ReasonUnknownKey, kid)
}

func signES256(t *testing.T, priv *ecdsa.PrivateKey, kid, iss string, now time.Time) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{"iss": iss, "aud": resource, "sub": "u", "exp": now.Add(time.Hour).Unix()})
	tok.Header["kid"] = kid
	s, err := tok.SignedString(priv)
	require.NoError(t, err)
	return s
}

// TestKeySetManyKidsSurviveAFlood: a set with a hundred live kids keeps
// every one of them verifying after a forged kid has started the unknown-kid
// limit (the Validator remembers the kids a set answered for; with too small
// a memory, forgotten real kids were refused for the whole interval).
func TestKeySetManyKidsSurviveAFlood(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	set, privs := mapKeys{}, map[string]*ecdsa.PrivateKey{}
	for i := range 100 {
		p, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		require.NoError(t, err)
		kid := fmt.Sprintf("tenant-%d", i)
		set[kid], privs[kid] = &p.PublicKey, p
	}
	const iss = "https://as.example.com"
	v, err := validate.New(context.Background(), validate.Config{Issuer: iss, Resource: resource, Keys: set,
		Now: func() time.Time { return now }, Cache: validate.CacheOptions{Disable: true}})
	require.NoError(t, err)
	ctx := context.Background()
	for kid, p := range privs {
		_, err := v.Verify(ctx, signES256(t, p, kid, iss, now))
		require.NoError(t, err, "first sight of %s", kid)
	}
	forger, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	_, err = v.Verify(ctx, signES256(t, forger, "forged", iss, now))
	require.ErrorIs(t, err, audit.ReasonUnknownKey)
	for kid, p := range privs {
		_, err := v.Verify(ctx, signES256(t, p, kid, iss, now))
		assert.NoError(t, err, "%s after the forged kid", kid)
	}
}

// TestKeySetSharedByTwoIssuersRefused: one key set given to two issuers
// would let a token of either verify with the other's keys.
func TestKeySetSharedByTwoIssuersRefused(t *testing.T) {
	p, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	b64 := base64.RawURLEncoding.EncodeToString
	jwks := fmt.Sprintf(`{"keys":[{"kty":"EC","crv":"P-256","kid":"b1","x":%q,"y":%q}]}`,
		b64(p.PublicKey.X.FillBytes(make([]byte, 32))), b64(p.PublicKey.Y.FillBytes(make([]byte, 32))))
	ks, err := validate.NewStaticKeySet([]byte(jwks))
	require.NoError(t, err)
	_, err = validate.New(context.Background(), validate.Config{Resource: resource,
		Issuers: []validate.IssuerConfig{{Issuer: "https://a.example.com", Keys: ks}, {Issuer: "https://b.example.com", Keys: ks}}})
	require.ErrorIs(t, err, rsguard.ErrInvalidConfig)

	other, err := validate.NewStaticKeySet([]byte(jwks))
	require.NoError(t, err)
	_, err = validate.New(context.Background(), validate.Config{Resource: resource,
		Issuers: []validate.IssuerConfig{{Issuer: "https://a.example.com", Keys: ks}, {Issuer: "https://b.example.com", Keys: other}}})
	require.NoError(t, err, "positive control: two sets, even of the same keys, are two sets")
}
