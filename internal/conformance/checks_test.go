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

// corsServer is a resource whose CORS answers are set by the test:
// metaACAO the metadata's Access-Control-Allow-Origin (GET and preflight),
// acah the preflight's Access-Control-Allow-Headers, expose and acao401 the
// 401's Access-Control-Expose-Headers and Access-Control-Allow-Origin.
func corsServer(metaACAO, acah, expose, acao401 string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/oauth-protected-resource/mcp", func(w http.ResponseWriter, r *http.Request) {
		if metaACAO != "" {
			w.Header().Set("Access-Control-Allow-Origin", metaACAO)
		}
		if r.Method == http.MethodOptions {
			w.Header().Set("Access-Control-Allow-Methods", "GET")
			if acah != "" {
				w.Header().Set("Access-Control-Allow-Headers", acah)
			}
			w.WriteHeader(http.StatusNoContent)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"resource":"`+bbResource+`","authorization_servers":["`+bbIssuer+`"],"scopes_supported":["items:read"]}`)
	})
	mux.HandleFunc("/mcp", func(w http.ResponseWriter, r *http.Request) {
		if acao401 != "" {
			w.Header().Set("Access-Control-Allow-Origin", acao401)
		}
		if expose != "" {
			w.Header().Set("Access-Control-Expose-Headers", expose)
		}
		w.Header().Set("WWW-Authenticate", `Bearer resource_metadata="`+bbMetadata+`", scope="items:read"`)
		w.WriteHeader(http.StatusUnauthorized)
	})
	return mux
}

// TestCORS: the cors check (issue 18: "CORS on the document and
// WWW-Authenticate exposed"), judged as a browser (Fetch Standard, CORS
// protocol) would judge the answers to a request from
// https://client.example without credentials.
func TestCORS(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	for _, tc := range []struct {
		name                            string
		metaACAO, acah, expose, acao401 string
		want                            Outcome
	}{
		// A browser reads nothing when Access-Control-Allow-Origin is
		// neither * nor the request's origin.
		{"metadata allows another origin only", "https://other.example", "mcp-protocol-version", "WWW-Authenticate", "*", Failed},
		// A preflight that does not allow the MCP-Protocol-Version header
		// the kit asks for fails in a browser.
		{"preflight without Access-Control-Allow-Headers", "*", "", "WWW-Authenticate", "*", Failed},
		// Without Access-Control-Allow-Origin on the 401, a browser cannot
		// read the response at all, exposed headers or not.
		{"401 without Access-Control-Allow-Origin", "*", "mcp-protocol-version", "WWW-Authenticate", "", Failed},
		// "*" exposes every header to a request without credentials.
		{"401 exposing * (conforming)", "*", "mcp-protocol-version", "*", "*", Passed},
		// The origin itself, and header names in any case, will do.
		{"the request's origin, MCP-Protocol-Version", "https://client.example", "Authorization, MCP-Protocol-Version", "WWW-Authenticate", "https://client.example", Passed},
		{"preflight allowing * headers", "*", "*", "WWW-Authenticate", "*", Passed},
		{"401 allows another origin only", "*", "mcp-protocol-version", "WWW-Authenticate", "https://other.example", Failed},
		{"401 neither allowing nor exposing", "*", "mcp-protocol-version", "", "", Failed},
		{"401 allowing but not exposing", "*", "mcp-protocol-version", "Content-Type", "*", Failed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := blackBox(t, corsServer(tc.metaACAO, tc.acah, tc.expose, tc.acao401), &PublicKey{Kid: "k", Alg: "RS256", Key: key.Public()}, false)
			c.Skip = []string{"metadata", "authorization servers", "challenge", "accept", "attacks", "dpop"}
			got := runFor(t, c, "cors")
			assert.Equal(t, tc.want, got.Outcome, "errors %q", got.Errors)
		})
	}
}
