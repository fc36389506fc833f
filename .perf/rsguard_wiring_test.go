//go:build rsguard

package perfanchors

// rsguard's wiring for the side-by-side harness (run-rsguard.sh copies it over
// the harness's default): the full middleware for one issuer and resource —
// the Guard over a validate.Validator whose JWKS at e.jwksURL is fetched
// through e.srv.Client() — then the route scope requiredScope, with the
// verified-token cache on or off as asked.

import (
	"context"
	"net/http"
	"testing"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/rsmeta"
	"github.com/rsguard/rsguard/scopes"
	"github.com/rsguard/rsguard/validate"
)

func newRSGuard(t testing.TB, e *env, cache bool) http.Handler {
	v, err := validate.New(context.Background(), validate.Config{
		Issuer:   issuer,
		Resource: audience,
		JWKSURL:  e.jwksURL,
		Fetch:    validate.FetchOptions{HTTPClient: e.srv.Client()},
		Cache:    validate.CacheOptions{Disable: !cache},
	})
	if err != nil {
		t.Fatalf("rsguard: %v", err)
	}
	md, err := rsmeta.WellKnownURL(audience)
	if err != nil {
		t.Fatalf("rsguard: %v", err)
	}
	g, err := rsguard.New(rsguard.Config{Authenticator: v, ResourceMetadata: md})
	if err != nil {
		t.Fatalf("rsguard: %v", err)
	}
	return g.Middleware(scopes.Middleware(requiredScope)(finalHandler))
}
