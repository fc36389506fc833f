package apikey

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/audit"
)

// TestDPoPSchemeIsABearerToken: a token sent as `Authorization: DPoP …`
// follows the rules of a bearer token: a key sent so is refused and never
// reaches Bearer (nor an introspection endpoint behind it), AcceptBearerKeys
// or not, and with the key header the request is refused as carrying two
// credentials.
func TestDPoPSchemeIsABearerToken(t *testing.T) {
	authenticate := func(t *testing.T, a *Authenticator, h http.Header) (*rsguard.Principal, error) {
		t.Helper()
		r := httptest.NewRequest(http.MethodPost, "/mcp", nil)
		r.Header = h
		return a.Authenticate(r)
	}
	for _, acceptBearer := range []bool{false, true} {
		f := newFixture(t)
		cfg := f.config()
		cfg.AcceptBearerKeys = acceptBearer
		a := mustNew(t, cfg)
		for _, scheme := range []string{"DPoP", "dpop"} {
			_, err := authenticate(t, a, http.Header{"Authorization": {scheme + " " + f.keys["valid"]}, "Dpop": {"proof"}})
			var e *rsguard.Error
			require.ErrorAs(t, err, &e, "AcceptBearerKeys %v, %s", acceptBearer, scheme)
			assert.ErrorIs(t, err, audit.ReasonAPIKeyAsBearer)
			assert.Equal(t, audit.CredentialAPIKey, e.Credential)
			assert.Equal(t, http.StatusUnauthorized, e.Status)
			assert.NotContains(t, e.Error(), f.keys["valid"])
		}
		_, err := authenticate(t, a, http.Header{"X-Api-Key": {f.keys["valid"]}, "Authorization": {"DPoP " + f.jwt("tools:read")}})
		var e *rsguard.Error
		require.ErrorAs(t, err, &e)
		assert.ErrorIs(t, err, refusedBoth.Err, "two credentials")
		assert.Equal(t, http.StatusBadRequest, e.Status)
		assert.Zero(t, f.bearer.calls.Load(), "Bearer never asked")

		// A DPoP token that is not a key still goes to Bearer.
		_, _ = authenticate(t, a, http.Header{"Authorization": {"DPoP " + f.jwt("tools:read")}, "Dpop": {"proof"}})
		assert.Equal(t, int64(1), f.bearer.calls.Load())
	}
}
