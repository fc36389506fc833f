package mcpcheck_test

import (
	"strings"
	"testing"

	"github.com/rsguard/rsguard/examples/internal/devissuer"
	"github.com/rsguard/rsguard/examples/internal/runtest"
)

// exampleServer is one of the example MCP servers and what the step-up run
// calls on it: a tool whose scope is beyond the 401 challenge's.
type exampleServer struct {
	name      string
	built     func() (string, error)
	challenge string // the 401 challenge's scope
	tool      string // needs a scope beyond challenge
	toolArgs  string
	toolScope string // the scope tool needs
}

func exampleServers() []exampleServer {
	return []exampleServer{
		{name: "mcpserver", built: mcpserverBin, challenge: "inventory:read",
			tool: "adjust_stock", toolArgs: `{"sku":"NUT-M6","delta":1}`, toolScope: "inventory:write"},
		{name: "mcpgo", built: mcpgoBin, challenge: "notes:read",
			tool: "add_note", toolArgs: `{"text":"written by mcpcheck"}`, toolScope: "notes:write"},
	}
}

// endpointLine introduces the MCP endpoint in the examples' banner
// (examples/internal/mcpmain, a stable contract).
const endpointLine = "MCP endpoint (Streamable HTTP):"

// issuerLine introduces the authorization server in the banner, after the
// endpoint; with the development issuer, its identifier is followed by
// " (development issuer, in memory)".
const issuerLine = "authorization server:"

// startExample starts the example server's binary on a free loopback port
// with its development issuer (no -issuer), and returns its MCP endpoint
// and the issuer identifier of its development issuer, as its banner gives
// them.
func startExample(t *testing.T, s exampleServer) (endpoint, issuer string) {
	t.Helper()
	bin := binary(t, s.built)
	c := runtest.StartChild(t, ".", bin, "-addr", "127.0.0.1:0")
	line := c.WaitLine(t, func(l string) bool { return strings.Contains(l, endpointLine) })
	_, endpoint, _ = strings.Cut(line, endpointLine)
	endpoint = strings.TrimSpace(endpoint)
	if !strings.HasPrefix(endpoint, "http://127.0.0.1:") || !strings.HasSuffix(endpoint, "/mcp") {
		t.Fatalf("%s: endpoint %q in its banner:\n%s", s.name, endpoint, c.Stdout)
	}
	line = c.WaitLine(t, func(l string) bool { return strings.Contains(l, issuerLine) })
	_, issuer, _ = strings.Cut(line, issuerLine)
	issuer, _, _ = strings.Cut(strings.TrimSpace(issuer), " ")
	if !strings.HasPrefix(issuer, "http://127.0.0.1:") {
		t.Fatalf("%s: authorization server %q in its banner:\n%s", s.name, issuer, c.Stdout)
	}
	return endpoint, issuer
}

// TestExampleServers runs the command against examples/mcpserver and
// examples/mcpgo, each with its development issuer: without credentials
// every check a black-box run can make passes and the rest are not
// checkable; with the development client's credentials (from the
// environment) and -tool on a tool beyond the challenge's scope, the
// checks that need a token run and pass, step-up included, and the output
// holds neither the secret nor a token.
func TestExampleServers(t *testing.T) {
	for _, s := range exampleServers() {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			endpoint, issuer := startExample(t, s)
			t.Run("black-box", func(t *testing.T) {
				t.Parallel()
				r := mcpcheck(t, nil, endpoint)
				r.wantResults(t, false)
				r.wantEndpoint(t, endpoint, false)
				for _, name := range []string{"metadata", "cors", "challenge",
					"attacks/algorithm/alg none", "attacks/algorithm/HS256 keyed with the public key PEM",
					"attacks/malformed/not a JWT", "attacks/request/no Authorization header"} {
					r.want(t, name, pass)
				}
				for _, name := range []string{"accept", "session", "attacks/claims/expired",
					"attacks/request/token in the query string", "attacks/claims/aud another resource"} {
					r.want(t, name, notCheckable, notCheckableWhy)
				}
				r.noSecrets(t)
			})
			t.Run("credentials", func(t *testing.T) {
				t.Parallel()
				env := []string{"MCPCHECK_ISSUER=" + issuer, "MCPCHECK_CLIENT_ID=" + devissuer.ClientID, "MCPCHECK_CLIENT_SECRET=" + devissuer.ClientSecret}
				r := mcpcheck(t, env, "-tool", s.tool, "-tool-args", s.toolArgs, endpoint)
				r.wantResults(t, true)
				r.wantEndpoint(t, endpoint, true)
				for _, name := range []string{"metadata", "cors", "challenge", "accept",
					"attacks/request/token in the query string",
					// The development issuer grants a token for any
					// resource (RFC 8707): the server must refuse it.
					"attacks/claims/aud another resource"} {
					r.want(t, name, pass)
				}
				r.want(t, "stepup/"+s.tool, pass)
				// Still beyond a client's credentials: tokens the
				// issuer signed with chosen claims.
				for _, name := range []string{"session", "attacks/claims/expired"} {
					r.want(t, name, notCheckable, notCheckableWithoutKey)
				}
				r.noSecrets(t, devissuer.ClientSecret)

				// The table for people, every sub-check listed (-v): no
				// secret either.
				table := runCommand(t, env, "-v", "-tool", s.tool, "-tool-args", s.toolArgs, endpoint)
				if table.code != 0 || !strings.Contains(table.stdout, "stepup/"+s.tool) {
					t.Errorf("mcpcheck -v: exit %d\n--- stdout:\n%s\n--- stderr:\n%s", table.code, table.stdout, table.stderr)
				}
				table.noSecrets(t, devissuer.ClientSecret)

				// With the tool's scope named (-tool-scopes): a token
				// lacking it (one with the challenge's scope: asked for no
				// scope, the development issuer grants them all) is
				// refused with 403 insufficient_scope, and the scope the
				// 403 names, and the tool's scope alone, let it through.
				known := mcpcheck(t, env, "-tool", s.tool, "-tool-args", s.toolArgs, "-tool-scopes", s.toolScope, endpoint)
				known.wantResults(t, true)
				known.want(t, "stepup/"+s.tool, pass)
				known.noSecrets(t, devissuer.ClientSecret)
			})
		})
	}
}

// wantEndpoint checks the report's summary of what it found: the
// endpoint, the resource (the endpoint itself for the examples), its
// metadata and one authorization server on loopback.
func (r *checkRun) wantEndpoint(t *testing.T, endpoint string, credentials bool) {
	t.Helper()
	rep := r.report
	metadata := strings.TrimSuffix(endpoint, "/mcp") + "/.well-known/oauth-protected-resource/mcp"
	if rep.Endpoint != endpoint || rep.Resource != endpoint || rep.MetadataURL != metadata {
		t.Errorf("endpoint %q, resource %q, metadata_url %q; want %q, %q, %q", rep.Endpoint, rep.Resource, rep.MetadataURL, endpoint, endpoint, metadata)
	}
	if len(rep.AuthorizationServers) != 1 || !strings.HasPrefix(rep.AuthorizationServers[0], "http://127.0.0.1:") || rep.Issuer != rep.AuthorizationServers[0] {
		t.Errorf("authorization_servers %q, issuer %q: want one on loopback, the issuer", rep.AuthorizationServers, rep.Issuer)
	}
	if rep.Credentials != credentials {
		t.Errorf("credentials %v, want %v", rep.Credentials, credentials)
	}
}
