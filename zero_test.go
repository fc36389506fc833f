package rsguard_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/apikey"
	"github.com/rsguard/rsguard/validate"
)

// TestAuthenticatorsNotBuilt: a validate.Validator or apikey.Authenticator
// that its New did not build (zero value, nil pointer) refuses with 500 and
// ErrInvalidConfig — never a panic, never a 200 — whatever the request holds.
func TestAuthenticatorsNotBuilt(t *testing.T) {
	var nilV *validate.Validator
	var nilA *apikey.Authenticator
	kinds := map[string]rsguard.Authenticator{
		"zero Validator": &validate.Validator{}, "nil Validator": nilV,
		"zero apikey.Authenticator": &apikey.Authenticator{}, "nil apikey.Authenticator": nilA,
	}
	for name, a := range kinds {
		for _, hdr := range []http.Header{
			{"Authorization": {"Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln"}},
			{"X-Api-Key": {"sk_live_abc"}},
			{},
		} {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.Header = hdr.Clone()
			p, err := a.Authenticate(r)
			assert.Nil(t, p, name)
			var e *rsguard.Error
			require.ErrorAs(t, err, &e, name)
			assert.Equal(t, http.StatusInternalServerError, e.Status, name)
			assert.ErrorIs(t, err, rsguard.ErrInvalidConfig, name)
		}
	}
}
