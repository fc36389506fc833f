package validate_test

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/audit"
	"github.com/rsguard/rsguard/validate"
	"github.com/rsguard/rsguard/validate/validatetest"
)

// replicaKeys is a KeySet of the application's own: the issuer's keys as
// a store shared between replicas holds them (a map here; a KMS, Redis or
// SQL in production, served from memory and refreshed in the background).
type replicaKeys struct {
	mu   sync.RWMutex
	keys map[string]crypto.PublicKey
}

func (s *replicaKeys) Key(_ context.Context, kid, _ string) (crypto.PublicKey, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	k, ok := s.keys[kid]
	if !ok {
		return nil, fmt.Errorf("kid %q: %w", kid, audit.ReasonUnknownKey)
	}
	return k, nil
}

// Keys from elsewhere than the issuer's JWK Set: the Validator asks the
// KeySet for the key of each token's kid, checks the key it gets, and asks
// about unknown kids at most once per Fetch.MinRefreshInterval.
func ExampleKeySet() {
	is := validatetest.NewIssuer(nil, &validatetest.Options{Audience: []string{"https://api.example.com"}})
	defer is.Close()
	kid := is.Kid("RS256")
	keys := &replicaKeys{keys: map[string]crypto.PublicKey{kid: is.PublicKey(kid)}}

	v, err := validate.New(context.Background(), validate.Config{
		Issuer: is.URL, Resource: "https://api.example.com", Keys: keys,
	})
	if err != nil {
		panic(err)
	}
	claims, err := v.Verify(context.Background(), is.Token(map[string]any{"sub": "alice"}))
	fmt.Println(claims.Subject, err)
	_, err = v.Verify(context.Background(), is.TokenWith(validatetest.TokenOptions{Header: map[string]any{"kid": "forged"}}, nil))
	fmt.Println(errors.Is(err, audit.ReasonUnknownKey))
	// Output:
	// alice <nil>
	// true
}

// Pinned keys: a JWK Set document in the configuration, no fetching.
func ExampleNewStaticKeySet() {
	is := validatetest.NewIssuer(nil, &validatetest.Options{Audience: []string{"https://api.example.com"}})
	defer is.Close()
	jwks := []byte(`{"keys":[` + string(is.PublicJWK(is.Kid("RS256"))) + `]}`)

	keys, err := validate.NewStaticKeySet(jwks)
	if err != nil {
		panic(err)
	}
	v, err := validate.New(context.Background(), validate.Config{
		Issuer: is.URL, Resource: "https://api.example.com", Keys: keys,
	})
	if err != nil {
		panic(err)
	}
	_, err = v.Verify(context.Background(), is.Token(nil))
	fmt.Println(err)
	// Output:
	// <nil>
}

// The tenants an issuer may serve, as a Check: a refusal that wraps
// audit.ReasonBadIssuer is answered and audited as one of an untrusted
// issuer. Tuning sits in Fetch and Cache, whose zero values are the
// defaults.
func ExampleConfig() {
	is := validatetest.NewIssuer(nil, &validatetest.Options{Audience: []string{"https://api.example.com"}})
	defer is.Close()
	customers := map[string]bool{"acme": true}

	v, err := validate.New(context.Background(), validate.Config{
		Issuer:      is.URL,
		Resource:    "https://api.example.com",
		TenantClaim: "tid",
		Check: func(_ context.Context, c *validate.Claims) error {
			if !customers[c.Tenant()] {
				return fmt.Errorf("tenant %q: %w", c.Tenant(), audit.ReasonBadIssuer)
			}
			return nil
		},
		Fetch: validate.FetchOptions{HTTPClient: is.Client(), Timeout: 2 * time.Second},
		Cache: validate.CacheOptions{MaxEntries: 1000},
	})
	if err != nil {
		panic(err)
	}
	c, err := v.Verify(context.Background(), is.Token(map[string]any{"tid": "acme"}))
	fmt.Println(c.Tenant(), err)
	_, err = v.Verify(context.Background(), is.Token(map[string]any{"tid": "globex"}))
	var e *rsguard.Error
	fmt.Println(errors.As(err, &e), e.Status, e.Code, e.Reason)
	// Output:
	// acme <nil>
	// true 401 invalid_token bad_issuer
}
