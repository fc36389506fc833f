package validate_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rsguard/rsguard/validate"
)

// TestBearerTokenQueryEncodedName: url.ParseQuery decodes "access%5Ftoken"
// to "access_token"; a token sent that way must be refused like one under
// the plain name (RFC 6750 §2.3 is not supported, MCP forbids it).
func TestBearerTokenQueryEncodedName(t *testing.T) {
	for _, q := range []string{"access%5Ftoken=abc", "access%5ftoken=abc", "%61ccess_token=abc"} {
		r := httptest.NewRequest(http.MethodGet, "/mcp?"+q, nil)
		r.Header.Set("Authorization", "Bearer abc")
		_, err := validate.BearerToken(r)
		require.ErrorIs(t, err, validate.ErrInvalidRequest, q)
	}
}
