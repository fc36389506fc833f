package validate_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rsguard/rsguard/audit"
	"github.com/rsguard/rsguard/validate"
	"github.com/rsguard/rsguard/validate/validatetest"
)

// TestJWKSMalformedECKeyDoesNotCrash: one malformed EC key in the issuer's
// key set (here a P-521 key labelled P-256, so x and y are 66 bytes long)
// must be skipped like any other unusable key. jwkset v0.11.0 panics on it
// ("math/big: buffer too small to fit value", marshal.go:506) inside
// keyfunc.NewJWKJSON, so the panic escapes from New at start-up, or kills
// the process from the refresh goroutine after start.
func TestJWKSMalformedECKeyDoesNotCrash(t *testing.T) {
	clk := newHardClock(hardNow)
	is := hardIssuer(t, clk.Now, "ES256")
	k521, err := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	require.NoError(t, err)
	jwk := map[string]any{"kty": "EC", "crv": "P-256", "kid": "mislabelled",
		"x": b64url(k521.X.FillBytes(make([]byte, 66))), "y": b64url(k521.Y.FillBytes(make([]byte, 66)))}

	// After start: the next refresh must skip the key and keep serving.
	v := hardValidator(t, is, nil, func(c *validate.Config) { c.Now = clk.Now })
	is.AddKey(validatetest.Key{JWK: jwk})
	clk.Advance(10*time.Second + time.Second)
	_, err = v.Verify(context.Background(), is.TokenWith(validatetest.TokenOptions{Header: map[string]any{"kid": "unknown"}}, nil))
	require.ErrorIs(t, err, audit.ReasonUnknownKey)
	_, err = v.Verify(context.Background(), is.Token(nil))
	assert.NoError(t, err)

	// At start: New skips the key.
	_ = hardValidator(t, is, nil, func(c *validate.Config) { c.Now = clk.Now })
}
