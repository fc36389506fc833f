package conformance

import (
	"crypto/rand"
	"crypto/rsa"
	"io"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestChallengeNamesOtherMetadataURL: RFC 9728 §5.1 lets
// resource_metadata be any URL of the resource's metadata, and MCP
// authorization 2025-11-25 makes the header the mechanism clients use
// first ("use the resource metadata URL from the parsed WWW-Authenticate
// headers when present"). A server that serves the same correct document
// (resource identical to the endpoint) at the path-inserted URL and at
// another URL on its origin, and names the latter in its challenge,
// conforms; the kit fails its challenge check.
func TestChallengeNamesOtherMetadataURL(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	doc := `{"resource":"` + bbResource + `","authorization_servers":["` + bbIssuer + `"],"scopes_supported":["items:read"]}`
	serve := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Access-Control-Allow-Origin", "*")
		_, _ = io.WriteString(w, doc)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/oauth-protected-resource/mcp", serve)
	mux.HandleFunc("/mcp/resource-metadata.json", serve)
	mux.HandleFunc("/mcp", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("WWW-Authenticate", `Bearer resource_metadata="https://mcp.example.com/mcp/resource-metadata.json", scope="items:read"`)
		w.WriteHeader(http.StatusUnauthorized)
	})
	c := blackBox(t, mux, &PublicKey{Kid: "k", Alg: "RS256", Key: key.Public()}, false)
	c.Skip = []string{"metadata", "authorization servers", "cors", "accept", "attacks", "dpop"}
	got := runFor(t, c, "challenge")
	assert.Equal(t, Passed, got.Outcome, "errors %q", got.Errors)
}
