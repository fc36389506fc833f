package mcpcheck_test

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rsguard/rsguard/examples/internal/runtest"
	"github.com/rsguard/rsguard/validate/validatetest"
)

// The TypeScript server's client at the test's issuer, and its scopes: the
// first is the one its 401 challenge names, add_note needs both.
const (
	tsClientID     = "ts-client"
	tsClientSecret = "ts-client-secret-4f1c"
	tsReadScope    = "notes:read"
	tsWriteScope   = "notes:write"
)

// tsServerInfo is the JSON line ts-server.mjs prints once listening.
type tsServerInfo struct {
	URL              string `json:"url"`
	ResourceMetadata string `json:"resource_metadata"`
	Issuer           string `json:"issuer"`
}

// startTSServer installs the pinned Node packages (examples/interop's
// install.sh) and starts examples/interop/ts-server.mjs with node, trusting
// iss.
func startTSServer(t *testing.T, node string, iss *validatetest.Issuer) tsServerInfo {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", "interop"))
	if err != nil {
		t.Fatal(err)
	}
	if out, err := runtest.RunTool(dir, runtest.BuildTimeout, filepath.Join(dir, "install.sh")); err != nil {
		t.Fatalf("examples/interop/install.sh: %v\n%s", err, out)
	}
	c := runtest.StartChild(t, dir, node, "ts-server.mjs", "--issuer", iss.URL, "--scopes", tsReadScope+" "+tsWriteScope)
	line := c.WaitLine(t, func(string) bool { return true })
	var info tsServerInfo
	if err := json.Unmarshal([]byte(line), &info); err != nil {
		t.Fatalf("ts-server.mjs printed %q: %v\n--- stderr:\n%s", line, err, c.Stderr)
	}
	if !strings.HasPrefix(info.URL, "http://127.0.0.1:") || info.Issuer != iss.URL {
		t.Fatalf("ts-server.mjs: %+v", info)
	}
	return info
}

// TestTypeScriptSDK runs the command against an MCP server on the official
// TypeScript SDK (@modelcontextprotocol/sdk, examples/interop/ts-server.mjs)
// protected by that SDK's requireBearerAuth, its metadata published by the
// SDK's mcpAuthMetadataRouter, tokens from a validatetest issuer: what the
// SDK does and does not do, check by check.
func TestTypeScriptSDK(t *testing.T) {
	t.Parallel()
	node := runtest.RequireNode(t, "TYPESCRIPT SDK TEST",
		"It runs the checker against an MCP server on the official TypeScript SDK.")
	iss := validatetest.NewIssuer(t, &validatetest.Options{
		PlainHTTP:  true,
		Algorithms: []string{"ES256"},
		Clients:    []validatetest.Client{{ID: tsClientID, Secret: tsClientSecret, Scopes: []string{tsReadScope, tsWriteScope}}},
	})
	ts := startTSServer(t, node, iss)

	// What it does not do, without credentials: it sends error="invalid_token"
	// to a request without a token and does not expose WWW-Authenticate to
	// browser clients.
	blackBoxFailures := []string{"cors", "challenge"}
	t.Run("black-box", func(t *testing.T) {
		t.Parallel()
		r := mcpcheck(t, nil, ts.URL)
		r.wantResults(t, false, blackBoxFailures...)
		r.wantTSFailures(t)
		r.wantEndpoint(t, ts.URL, false)
		if r.report.Issuer != iss.URL {
			t.Errorf("issuer %q, want %q", r.report.Issuer, iss.URL)
		}
		// What it does: the metadata (mcpAuthMetadataRouter), a challenge
		// with resource_metadata and scope, every forged token refused
		// with 401 invalid_token.
		for _, name := range []string{"metadata", "authorization servers",
			"attacks/algorithm/alg none", "attacks/algorithm/HS256 keyed with the public key PEM",
			"attacks/algorithm/foreign key under the issuer's kid", "attacks/malformed/not a JWT",
			"attacks/request/no Authorization header", "attacks/request/spoofed X-Forwarded headers",
			// A Host that is not loopback gets 403 before authentication
			// (the DNS-rebinding protection of the SDK's
			// createMcpExpressApp): nothing is derived from it.
			"attacks/request/spoofed Host header"} {
			r.want(t, name, pass)
		}
		for _, name := range []string{"accept", "session", "attacks/claims/expired", "attacks/request/token in the query string"} {
			r.want(t, name, notCheckable, notCheckableWhy)
		}
		r.noSecrets(t)
	})
	t.Run("credentials", func(t *testing.T) {
		t.Parallel()
		env := []string{"MCPCHECK_ISSUER=" + iss.URL, "MCPCHECK_CLIENT_ID=" + tsClientID, "MCPCHECK_CLIENT_SECRET=" + tsClientSecret}
		r := mcpcheck(t, env, "-tool", "add_note", "-tool-args", `{"text":"written by mcpcheck"}`, ts.URL)
		// And with a token: Node's HTTP parser keeps the first of two
		// Authorization headers and drops the second, so such a request is
		// served; methods other than POST, GET and DELETE get Express's 404
		// (PUT, PATCH) or Node's 400 (a lower-case method), not 405.
		r.wantResults(t, true, "cors", "challenge",
			"attacks/request/two Authorization headers",
			"attacks/method/PUT with a tool call body", "attacks/method/PATCH with a tool call body",
			"attacks/method/lowercase post with a tool call body")
		r.wantTSFailures(t)
		r.wantEndpoint(t, ts.URL, true)
		r.want(t, "attacks/request/two Authorization headers", fail, "accepted: status 200")
		r.want(t, "attacks/method/PUT with a tool call body", fail, "status 404", "want 405")
		r.want(t, "attacks/method/PATCH with a tool call body", fail, "status 404", "want 405")
		r.want(t, "attacks/method/lowercase post with a tool call body", fail, "status 400", "want 405")
		// What it does with a token: initialize and tools/list; 403
		// insufficient_scope naming the scopes add_note needs (the second
		// requireBearerAuth), then the call with them; a token in the query
		// string refused; a token for another resource refused
		// (expectedResource).
		for _, name := range []string{"accept", "stepup/add_note", "attacks/request/token in the query string",
			"attacks/request/token in the form body", "attacks/claims/aud another resource"} {
			r.want(t, name, pass)
		}
		r.want(t, "session", notCheckable, notCheckableWithoutKey)
		r.noSecrets(t, tsClientSecret)

		// With add_note's scopes named (-tool-scopes): a token lacking
		// notes:write gets 403 insufficient_scope, and both scopes get the
		// call through.
		known := mcpcheck(t, env, "-tool", "add_note", "-tool-args", `{"text":"written by mcpcheck"}`, "-tool-scopes", tsReadScope+" "+tsWriteScope, ts.URL)
		known.want(t, "stepup/add_note", pass)
		known.noSecrets(t, tsClientSecret)
	})
}

// wantTSFailures checks the messages of the TypeScript server's failures
// that do not depend on credentials.
func (r *checkRun) wantTSFailures(t *testing.T) {
	t.Helper()
	r.want(t, "cors", fail, "Access-Control-Expose-Headers: WWW-Authenticate")
	r.want(t, "challenge", fail, `error="invalid_token"`, "RFC 6750 §3.1")
}
