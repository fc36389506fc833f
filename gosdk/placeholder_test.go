package gosdk

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/audit"
)

// The placeholder Authorization is never a credential: rsguard's one reader
// of bearer tokens refuses it as a malformed request.
func TestPlaceholderIsNoBearerToken(t *testing.T) {
	r := httptest.NewRequest(http.MethodPost, "/mcp", nil)
	r.Header.Set("Authorization", placeholderAuthorization)
	tok, err := rsguard.BearerToken(r)
	assert.Empty(t, tok)
	assert.True(t, errors.Is(err, audit.ReasonInvalidRequest), "err = %v", err)
}
