package validate_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rsguard/rsguard/validate"
	"github.com/rsguard/rsguard/validate/validatetest"
)

func TestManyIssuers(t *testing.T) {
	a := newIssuer(t, &validatetest.Options{Algorithms: []string{"RS256", "ES256"}})
	b := newIssuer(t, &validatetest.Options{Path: "/tenant-b", Algorithms: []string{"ES256"}, DefaultAlgorithm: "ES256", Audience: []string{"api://rsguard"}})
	v := newValidator(t, a, func(c *validate.Config) {
		c.Issuer = ""
		c.Issuers = []validate.IssuerConfig{
			{Issuer: a.URL()},
			{Issuer: b.URL(), Audiences: []string{"api://rsguard"}, Algorithms: []string{"ES256"}},
		}
		c.TenantClaim = "tid"
		c.AllowTenant = func(issuer, tenant string) bool { return issuer != a.URL() || tenant != "blocked" }
	})
	assert.Equal(t, []string{a.URL(), b.URL()}, v.Issuers())

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
		map[string]any{"iss": b.URL(), "aud": "api://rsguard"}), validate.ErrUnknownKey)
	refused("A's key, claiming B, B's kid", a.TokenWith(validatetest.TokenOptions{Alg: "ES256", Key: a.Kid("ES256"), Header: map[string]any{"kid": b.Kid("ES256")}},
		map[string]any{"iss": b.URL(), "aud": "api://rsguard"}), validate.ErrSignature)
	// And the reverse.
	refused("B's key, claiming A, A's kid", b.TokenWith(validatetest.TokenOptions{Header: map[string]any{"kid": a.Kid("ES256")}},
		map[string]any{"iss": a.URL(), "aud": resource}), validate.ErrSignature)

	// Each issuer's own audiences and algorithms.
	refused("A token for B's audience", a.Token(map[string]any{"aud": "api://rsguard"}), validate.ErrAudience)
	refused("B token for A's audience", b.Token(map[string]any{"aud": resource}), validate.ErrAudience)
	refused("RS256 is allowed for A, not for B", b.TokenWith(validatetest.TokenOptions{Alg: "RS256", Signer: mustRSA(t)}, nil), validate.ErrAlgorithm)

	refused("untrusted issuer", a.Token(map[string]any{"iss": "https://evil.example"}), validate.ErrIssuer)
	refused("tenant not served by its issuer", a.Token(map[string]any{"tid": "blocked"}), validate.ErrIssuer)
	ok("tenant allowed", a.Token(map[string]any{"tid": "acme"}))
}

func TestManyIssuersConfig(t *testing.T) {
	a := newIssuer(t, nil)
	_, err := validate.New(context.Background(), validate.Config{
		Resource: resource, HTTPClient: a.Client(),
		Issuers: []validate.IssuerConfig{{Issuer: a.URL()}, {Issuer: a.URL()}},
	})
	require.ErrorIs(t, err, validate.ErrConfig)
	_, err = validate.New(context.Background(), validate.Config{Resource: resource, AllowTenant: func(string, string) bool { return true }, Issuer: a.URL()})
	require.ErrorIs(t, err, validate.ErrConfig)
}

func mustRSA(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	return k
}

func TestGrantCarriesAuthenticationContext(t *testing.T) {
	is := newIssuer(t, nil)
	v := newValidator(t, is, nil)
	authTime := fixedNow.Add(-time.Minute).Truncate(time.Second)
	c, err := v.Verify(context.Background(), is.Token(map[string]any{"acr": "urn:mfa", "auth_time": authTime.Unix(), "scope": "a", "jti": "tok-1"}))
	require.NoError(t, err)
	g := v.Grant(c)
	assert.Equal(t, is.URL(), g.Issuer)
	assert.Equal(t, "tok-1", g.TokenID)
	assert.Equal(t, "urn:mfa", g.ACR)
	assert.True(t, g.AuthTime.Equal(authTime))
	assert.Equal(t, []string{"a"}, g.Scopes)
	again := v.Grant(c)
	assert.NotSame(t, g, again, "every call builds a grant of its own")
	assert.Equal(t, g, again)
}

// TestAllowTenantOnCacheHits: the tenant policy is asked on every request,
// so a tenant removed from it is refused even with a cached token.
func TestAllowTenantOnCacheHits(t *testing.T) {
	is := newIssuer(t, nil)
	var blocked atomic.Bool
	v := newValidator(t, is, func(c *validate.Config) {
		c.TenantClaim = "tid"
		c.AllowTenant = func(_, tenant string) bool { return !(blocked.Load() && tenant == "acme") }
	})
	tok := is.Token(map[string]any{"tid": "acme"})
	_, err := v.Verify(context.Background(), tok)
	require.NoError(t, err)
	_, err = v.Verify(context.Background(), tok) // served from the cache
	require.NoError(t, err)
	blocked.Store(true)
	_, err = v.Verify(context.Background(), tok)
	require.ErrorIs(t, err, validate.ErrIssuer)
}
