package validate_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rsguard/rsguard/audit"
	"github.com/rsguard/rsguard/validate"
	"github.com/rsguard/rsguard/validate/validatetest"
)

func TestCacheRechecksOnEveryHit(t *testing.T) {
	is := newIssuer(t, nil)
	clk := newClock(fixedNow)
	var checks atomic.Int64
	revoked := atomic.Bool{}
	refused := errors.New("refused by the application")
	v := newValidator(t, is, func(c *validate.Config) {
		c.Now = clk.Now
		c.Check = func(context.Context, *validate.Claims) error {
			checks.Add(1)
			if revoked.Load() {
				return refused
			}
			return nil
		}
	})
	tok := is.Token(map[string]any{"exp": fixedNow.Add(2 * time.Minute).Unix()})
	first, err := v.Verify(context.Background(), tok)
	require.NoError(t, err)
	second, err := v.Verify(context.Background(), tok)
	require.NoError(t, err)
	assert.NotSame(t, first, second, "each request gets claims of its own, also from the cache")
	assert.Equal(t, first, second)
	assert.Equal(t, int64(2), checks.Load(), "Check runs on every request, cached or not")

	revoked.Store(true)
	_, err = v.Verify(context.Background(), tok)
	require.ErrorIs(t, err, audit.ReasonRejected, "revocation applies to cached tokens")
	require.ErrorIs(t, err, refused)
	revoked.Store(false)

	clk.Advance(2*time.Minute + 30*time.Second)
	_, err = v.Verify(context.Background(), tok)
	require.ErrorIs(t, err, audit.ReasonExpired, "a cached token is never used past its expiry")
}

func TestCacheDropsTokensOfRemovedKeys(t *testing.T) {
	is := newIssuer(t, nil)
	clk := newClock(fixedNow)
	v := newValidator(t, is, func(c *validate.Config) { c.Now = clk.Now })
	old := is.Kid("RS256")
	tok := is.Token(nil)
	_, err := v.Verify(context.Background(), tok)
	require.NoError(t, err)

	// An unrelated refresh with the key still published keeps the entry.
	clk.Advance(10*time.Second + time.Second)
	_, err = v.Verify(context.Background(), is.TokenWith(validatetest.TokenOptions{Header: map[string]any{"kid": "refresh-1"}}, nil))
	require.Error(t, err)
	_, err = v.Verify(context.Background(), tok)
	require.NoError(t, err)

	// The key is withdrawn from the JWKS: after the next refresh its cached
	// token is refused too.
	is.Rotate("RS256")
	is.Retire(old)
	clk.Advance(10*time.Second + time.Second)
	_, err = v.Verify(context.Background(), is.TokenWith(validatetest.TokenOptions{Header: map[string]any{"kid": "refresh-2"}}, nil))
	require.Error(t, err)
	_, err = v.Verify(context.Background(), tok)
	require.ErrorIs(t, err, audit.ReasonUnknownKey)
}

func TestCacheDisabled(t *testing.T) {
	is := newIssuer(t, nil)
	v := newValidator(t, is, func(c *validate.Config) { c.Cache.Disable = true })
	tok := is.Token(nil)
	a, err := v.Verify(context.Background(), tok)
	require.NoError(t, err)
	b, err := v.Verify(context.Background(), tok)
	require.NoError(t, err)
	assert.NotSame(t, a, b)
}
