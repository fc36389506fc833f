// Package devissuer is the embedded development authorization server of the
// examples: what an example server starts when it is given no -issuer, so
// that it runs with nothing else running. It is for trying the examples,
// never for production.
package devissuer

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/rsguard/rsguard/validate/validatetest"
)

// The development client registered at the issuer.
const (
	ClientID     = "demo-client"
	ClientSecret = "demo-secret"
)

// Issuer is the embedded development authorization server: rsguard's
// validatetest issuer over plain HTTP on 127.0.0.1 (a random port), with RFC
// 8414 metadata, a JWKS and a client_credentials token endpoint that honours
// resource indicators (RFC 8707). Its keys live in memory: tokens die with
// the process. Close it when done.
type Issuer struct {
	*validatetest.Issuer
}

// Start starts the development issuer for resource, with one client
// (ClientID, ClientSecret) that may get the given scopes. A token request
// that names no resource gets resource as its audience, so clients that do
// not send RFC 8707 resource indicators (such as the Go SDK's
// extauth.ClientCredentialsHandler) still get a usable token.
func Start(resource string, scopes []string) (_ *Issuer, err error) {
	// NewIssuer panics instead of failing a test when it has none.
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("development issuer: %v", p)
		}
	}()
	iss := validatetest.NewIssuer(nil, &validatetest.Options{
		PlainHTTP: true,
		// One ES256 key: generated in microseconds, where RSA keys would
		// delay the start by a second or more.
		Algorithms: []string{"ES256"},
		Lifetime:   time.Hour,
		Audience:   []string{resource},
		// The Go SDK's extauth.ClientCredentialsHandler (v1.8.0) refuses
		// authorization server metadata without
		// code_challenge_methods_supported, even for client_credentials;
		// validatetest advertises only what it serves (no authorization
		// endpoint, so no PKCE), so the method is added for that client.
		Metadata: map[string]any{"code_challenge_methods_supported": []string{"S256"}},
		Clients: []validatetest.Client{{
			ID:     ClientID,
			Secret: ClientSecret,
			Scopes: slices.Clone(scopes),
		}},
	})
	return &Issuer{iss}, nil
}

// DemoScript returns ready-to-paste shell commands: a client_credentials
// token for resource, the MCP endpoint, with the given scope, then a
// Streamable HTTP session with curl: initialize (the answer's Mcp-Session-Id
// header is kept), notifications/initialized, and a tools/call of tool with
// no arguments in that session. It uses only curl, sed and tr (no jq). The
// token stays in a shell variable; nothing prints it.
func (is *Issuer) DemoScript(resource, scope, tool string) string {
	const proto = "2025-11-25"
	lines := []string{
		"MCP=" + shellQuote(resource),
		"TOKEN=$(curl -fsS -u " + ClientID + ":" + ClientSecret + " -d grant_type=client_credentials -d scope=" + scope + ` --data-urlencode "resource=$MCP" ` + shellQuote(is.TokenURL) + ` | sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p')`,
		`SID=$(curl -fsS -o /dev/null -D - "$MCP" -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' -d '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"` + proto + `","capabilities":{},"clientInfo":{"name":"curl","version":"1"}}}' | tr -d '\r' | sed -n 's/^[Mm][Cc][Pp]-[Ss][Ee][Ss][Ss][Ii][Oo][Nn]-[Ii][Dd]: *//p')`,
		`curl -fsS "$MCP" -H "Authorization: Bearer $TOKEN" -H "Mcp-Session-Id: $SID" -H 'Mcp-Protocol-Version: ` + proto + `' -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' -d '{"jsonrpc":"2.0","method":"notifications/initialized"}'`,
		`curl -fsS "$MCP" -H "Authorization: Bearer $TOKEN" -H "Mcp-Session-Id: $SID" -H 'Mcp-Protocol-Version: ` + proto + `' -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' -d '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"` + tool + `","arguments":{}}}'; echo`,
	}
	return strings.Join(lines, "\n") + "\n"
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
