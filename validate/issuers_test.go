package validate_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rsguard/rsguard"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rsguard/rsguard/audit"
	"github.com/rsguard/rsguard/validate"
	"github.com/rsguard/rsguard/validate/validatetest"
)

func TestManyIssuers(t *testing.T) {
	a := newIssuer(t, &validatetest.Options{Algorithms: []string{"RS256", "ES256"}})
	b := newIssuer(t, &validatetest.Options{Path: "/tenant-b", Algorithms: []string{"ES256"}, DefaultAlgorithm: "ES256", Audience: []string{"api://rsguard"}})
	v := newValidator(t, a, func(c *validate.Config) {
		c.Issuer = ""
		c.Issuers = []validate.IssuerConfig{
			{Issuer: a.URL},
			{Issuer: b.URL, Audiences: []string{"api://rsguard"}, Algorithms: []string{"ES256"}},
		}
		c.TenantClaim = "tid"
		c.Check = func(_ context.Context, c *validate.Claims) error {
			if c.Issuer == a.URL && c.Tenant() == "blocked" {
				return fmt.Errorf("tenant %q of %s: %w", c.Tenant(), c.Issuer, audit.ReasonBadIssuer)
			}
			return nil
		}
	})
	assert.Equal(t, []string{a.URL, b.URL}, v.Issuers())

	ok := func(name, tok string) {
		t.Helper()
		c, err := v.Verify(context.Background(), tok)
		require.NoError(t, err, name)
		assert.NotEmpty(t, c.Issuer)
	}
	refused := func(name, tok string, want error) {
		t.Helper()
		_, err := v.Verify(context.Background(), tok)
		require.ErrorIs(t, err, want, name)
	}

	ok("issuer A", a.Token(nil))
	ok("issuer B, its own audience", b.Token(nil))

	// Issuer A's key signs a token claiming issuer B: B's key set is the
	// only one consulted, under A's kid or under one of B's kids.
	refused("A's key, claiming B, A's kid", a.TokenWith(validatetest.TokenOptions{Alg: "ES256", Key: a.Kid("ES256")},
		map[string]any{"iss": b.URL, "aud": "api://rsguard"}), audit.ReasonUnknownKey)
	refused("A's key, claiming B, B's kid", a.TokenWith(validatetest.TokenOptions{Alg: "ES256", Key: a.Kid("ES256"), Header: map[string]any{"kid": b.Kid("ES256")}},
		map[string]any{"iss": b.URL, "aud": "api://rsguard"}), audit.ReasonBadSignature)
	// And the reverse.
	refused("B's key, claiming A, A's kid", b.TokenWith(validatetest.TokenOptions{Header: map[string]any{"kid": a.Kid("ES256")}},
		map[string]any{"iss": a.URL, "aud": resource}), audit.ReasonBadSignature)

	// Each issuer's own audiences and algorithms.
	refused("A token for B's audience", a.Token(map[string]any{"aud": "api://rsguard"}), audit.ReasonBadAudience)
	refused("B token for A's audience", b.Token(map[string]any{"aud": resource}), audit.ReasonBadAudience)
	refused("RS256 is allowed for A, not for B", b.TokenWith(validatetest.TokenOptions{Alg: "RS256", Signer: mustRSA(t)}, nil), audit.ReasonBadAlgorithm)

	refused("untrusted issuer", a.Token(map[string]any{"iss": "https://evil.example"}), audit.ReasonBadIssuer)
	refused("tenant not served by its issuer", a.Token(map[string]any{"tid": "blocked"}), audit.ReasonBadIssuer)
	ok("tenant allowed", a.Token(map[string]any{"tid": "acme"}))
}

func TestManyIssuersConfig(t *testing.T) {
	a := newIssuer(t, nil)
	_, err := validate.New(context.Background(), validate.Config{
		Resource: resource, Fetch: validate.FetchOptions{HTTPClient: a.Client()},
		Issuers: []validate.IssuerConfig{{Issuer: a.URL}, {Issuer: a.URL}},
	})
	require.ErrorIs(t, err, rsguard.ErrInvalidConfig)
}

func mustRSA(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	return k
}

func TestPrincipalCarriesAuthenticationContext(t *testing.T) {
	is := newIssuer(t, nil)
	v := newValidator(t, is, nil)
	authTime := fixedNow.Add(-time.Minute).Truncate(time.Second)
	tok := is.Token(map[string]any{"acr": "urn:mfa", "auth_time": authTime.Unix(), "scope": "a", "jti": "tok-1"})
	p, err := authenticate(v, tok)
	require.NoError(t, err)
	assert.Equal(t, is.URL, p.Issuer)
	assert.Equal(t, "tok-1", p.TokenID)
	assert.Equal(t, "urn:mfa", p.ACR)
	assert.True(t, p.AuthTime.Equal(authTime))
	assert.Equal(t, []string{"a"}, p.Scopes)
	again, err := authenticate(v, tok)
	require.NoError(t, err)
	assert.NotSame(t, p, again, "every request gets a principal of its own")
	assert.NotSame(t, p.Details, again.Details, "and claims of its own")
	assert.Equal(t, p, again)
}

// TestTenantCheckOnCacheHits: the tenant policy (Check) is asked on every
// request, so a tenant removed from it is refused even with a cached token.
func TestTenantCheckOnCacheHits(t *testing.T) {
	is := newIssuer(t, nil)
	var blocked atomic.Bool
	v := newValidator(t, is, func(c *validate.Config) {
		c.TenantClaim = "tid"
		c.Check = func(_ context.Context, c *validate.Claims) error {
			if blocked.Load() && c.Tenant() == "acme" {
				return audit.ReasonBadIssuer
			}
			return nil
		}
	})
	tok := is.Token(map[string]any{"tid": "acme"})
	_, err := v.Verify(context.Background(), tok)
	require.NoError(t, err)
	_, err = v.Verify(context.Background(), tok) // served from the cache
	require.NoError(t, err)
	blocked.Store(true)
	_, err = v.Verify(context.Background(), tok)
	require.ErrorIs(t, err, audit.ReasonBadIssuer)
}
