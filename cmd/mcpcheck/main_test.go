package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/rsmeta"
	"github.com/rsguard/rsguard/validate"
	"github.com/rsguard/rsguard/validate/validatetest"
)

const (
	clientID     = "mcpcheck-test"
	clientSecret = "mcpcheck-test-secret-9f27c4"
)

// server is an MCP endpoint on its own loopback URL wired with rsguard (its
// metadata, a Guard over a Validator of a plain-http test issuer at which
// clientID is a client), in front of a stand-in MCP server that answers
// every JSON-RPC POST with an empty result and other methods with 405. It
// returns the endpoint and the issuer.
func server(t *testing.T) (string, *validatetest.Issuer) {
	t.Helper()
	is := validatetest.NewIssuer(t, &validatetest.Options{PlainHTTP: true, Clients: []validatetest.Client{{ID: clientID, Secret: clientSecret, Scopes: []string{"items:read", "items:write"}}}})
	srv := httptest.NewUnstartedServer(nil)
	resource := "http://" + srv.Listener.Addr().String() + "/mcp"
	mux := http.NewServeMux()
	meta, err := rsmeta.Register(mux, rsmeta.Metadata{Resource: resource, AuthorizationServers: []string{is.URL}, ScopesSupported: []string{"items:read"}})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	v, err := validate.New(ctx, validate.Config{Issuer: is.URL, Resource: resource, Fetch: validate.FetchOptions{HTTPClient: is.Client()}})
	require.NoError(t, err)
	guard, err := rsguard.New(rsguard.Config{Authenticator: v, ResourceMetadata: meta.URL(), Scopes: []string{"items:read"}})
	require.NoError(t, err)
	mux.Handle("/mcp", guard.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", "POST")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		var msg struct {
			ID json.RawMessage `json:"id"`
		}
		_ = json.NewDecoder(r.Body).Decode(&msg)
		if msg.ID == nil {
			w.WriteHeader(http.StatusAccepted)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"jsonrpc": "2.0", "id": msg.ID, "result": map[string]any{}})
	})))
	// Browser-based clients of any origin may read its answers, as the
	// cors check requires of a server that does not refuse their origin.
	srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Origin") != "" {
			w.Header().Set("Access-Control-Allow-Origin", "*")
		}
		mux.ServeHTTP(w, r)
	})
	srv.Start()
	t.Cleanup(srv.Close)
	return resource, is
}

// mcpcheck runs the command in-process.
func mcpcheck(env map[string]string, args ...string) (status int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	status = run(args, func(k string) string { return env[k] }, &out, &errOut)
	return status, out.String(), errOut.String()
}

func TestUsage(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	require.NoError(t, os.WriteFile(empty, []byte("\n"), 0o600))
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"no URL", nil, nil, "want one URL"},
		{"two URLs", []string{"https://a/mcp", "https://b/mcp"}, nil, "want one URL"},
		{"unknown flag", []string{"-nope", "https://a/mcp"}, nil, "flag provided but not defined"},
		{"not absolute", []string{"mcp.example.com/mcp"}, nil, "not an absolute URL"},
		{"another scheme", []string{"ftp://mcp.example.com/mcp"}, nil, "https"},
		{"a fragment", []string{"https://mcp.example.com/mcp#x"}, nil, "fragment"},
		{"tool arguments without a tool", []string{"-tool-args", "{}", "https://a/mcp"}, nil, "-tool-args without -tool"},
		{"tool arguments not an object", []string{"-tool", "t", "-tool-args", "[1]", "https://a/mcp"}, nil, "JSON object"},
		{"two secrets", []string{"-client-id", "x", "-client-secret", "s", "-client-secret-file", empty, "https://a/mcp"}, nil, "not both"},
		{"secret file missing", []string{"-client-id", "x", "-client-secret-file", filepath.Join(dir, "none"), "https://a/mcp"}, nil, "cannot read"},
		{"secret file empty", []string{"-client-id", "x", "-client-secret-file", empty, "https://a/mcp"}, nil, "is empty"},
		{"id without secret", []string{"https://a/mcp"}, map[string]string{"MCPCHECK_CLIENT_ID": "x"}, "both the client id and the client secret"},
		{"credentials without issuer", []string{"https://a/mcp"}, map[string]string{"MCPCHECK_CLIENT_ID": "x", "MCPCHECK_CLIENT_SECRET": "a-secret-value"}, "need the issuer identifier"},
		{"issuer with a query", []string{"-issuer", "https://as.example.com/?t=1", "https://a/mcp"}, nil, "not an issuer identifier"},
		{"tool scopes without a tool", []string{"-tool-scopes", "a", "https://a/mcp"}, nil, "-tool-scopes without -tool"},
		{"bad tool scope", []string{"-tool", "t", "-tool-scopes", `a "b`, "https://a/mcp"}, nil, "scope token"},
		{"zero timeout", []string{"-timeout", "0s", "https://a/mcp"}, nil, "must be positive"},
		{"bad scope", []string{"-scopes", `a "b`, "https://a/mcp"}, nil, "scope token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, stdout, stderr := mcpcheck(tc.env, tc.args...)
			assert.Equal(t, 2, status, stderr)
			assert.Empty(t, stdout)
			assert.Contains(t, stderr, tc.want)
		})
	}
	status, _, stderr := mcpcheck(nil, "-h")
	assert.Equal(t, 0, status)
	assert.Contains(t, stderr, "usage: mcpcheck [flags] URL")
}

// TestBlackBox: a correctly wired server passes without credentials (exit
// 0), the table naming what is not checkable.
func TestBlackBox(t *testing.T) {
	endpoint, is := server(t)
	status, stdout, stderr := mcpcheck(nil, endpoint)
	assert.Equal(t, 0, status, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	assert.Empty(t, stderr)
	assert.Contains(t, stdout, "mcpcheck "+endpoint)
	assert.Contains(t, stdout, "  issuer         "+is.URL)
	assert.Contains(t, stdout, "PASS           challenge\n")
	assert.Contains(t, stdout, "NOT CHECKABLE  accept\n")
	assert.Contains(t, stdout, "not checkable without credentials: it needs a valid access token for the resource")
	assert.Regexp(t, `\d+ passed, 0 failed, \d+ not checkable, \d+ skipped \(checks without sub-checks\); \d+ requests in`, stdout)
	assert.True(t, strings.HasSuffix(stdout, "PASS\n"))
	assert.NotContains(t, stdout, "attacks/algorithm/alg none", "leaves are listed with -v only")

	_, verbose, _ := mcpcheck(nil, "-v", endpoint)
	assert.Regexp(t, `PASS +    attacks/algorithm/alg none\n`, verbose)
}

// report is the JSON report as a consumer reads it.
type report struct {
	Endpoint             string   `json:"endpoint"`
	Resource             string   `json:"resource"`
	MetadataURL          string   `json:"metadata_url"`
	AuthorizationServers []string `json:"authorization_servers"`
	Issuer               string   `json:"issuer"`
	Credentials          bool     `json:"credentials"`
	Passed               bool     `json:"passed"`
	Summary              struct {
		Passed, Failed, NotCheckable, Skipped int
	} `json:"summary"`
	Requests   int   `json:"requests"`
	DurationMS int64 `json:"duration_ms"`
	Checks     []struct {
		Name     string   `json:"name"`
		Result   string   `json:"result"`
		Spec     string   `json:"spec"`
		Messages []string `json:"messages"`
	} `json:"checks"`
}

func parse(t *testing.T, stdout string) (report, map[string]string) {
	t.Helper()
	var rep report
	require.NoError(t, json.Unmarshal([]byte(stdout), &rep), stdout)
	results := map[string]string{}
	for _, c := range rep.Checks {
		results[c.Name] = c.Result
		assert.NotNil(t, c.Messages, "%s: messages is an array", c.Name)
	}
	return rep, results
}

// TestJSON: -json writes the report's stable fields; with credentials from
// the environment the checks that need a token run.
func TestJSON(t *testing.T) {
	endpoint, is := server(t)
	status, stdout, stderr := mcpcheck(nil, "-json", endpoint)
	assert.Equal(t, 0, status, stderr)
	rep, results := parse(t, stdout)
	assert.Equal(t, endpoint, rep.Endpoint)
	assert.Equal(t, endpoint, rep.Resource)
	assert.Equal(t, strings.Replace(endpoint, "/mcp", "/.well-known/oauth-protected-resource/mcp", 1), rep.MetadataURL)
	assert.Equal(t, []string{is.URL}, rep.AuthorizationServers)
	assert.Equal(t, is.URL, rep.Issuer)
	assert.False(t, rep.Credentials)
	assert.True(t, rep.Passed)
	assert.Positive(t, rep.Requests)
	assert.Equal(t, "pass", results["attacks/algorithm/alg none"])
	assert.Equal(t, "not_checkable", results["attacks/request/token in the query string"])
	assert.Equal(t, "skipped", results["dpop/proof/alg none"], "a DPoP case with DPoP off")
	for _, c := range rep.Checks {
		if c.Name == "attacks/algorithm/alg none" {
			assert.Equal(t, "RFC 8725 §3.1; RFC 7519 §6", c.Spec)
		}
	}

	env := map[string]string{"MCPCHECK_CLIENT_ID": clientID, "MCPCHECK_CLIENT_SECRET": clientSecret, "MCPCHECK_ISSUER": is.URL}
	status, stdout, stderr = mcpcheck(env, "-json", endpoint)
	rep, results = parse(t, stdout)
	assert.True(t, rep.Credentials, stderr)
	assert.Equal(t, "pass", results["accept"])
	assert.Equal(t, "pass", results["attacks/request/token in the query string"])
	assert.Equal(t, "pass", results["attacks/claims/aud another resource"])
	assert.Equal(t, 0, status, "failures: %+v", rep.Checks)
	assert.NotContains(t, stdout+stderr, clientSecret)
}

// TestCredentials: the flags take precedence over the environment, the
// secret can come from a file, and a refused secret fails the run without
// being printed.
func TestCredentials(t *testing.T) {
	endpoint, is := server(t)
	env := map[string]string{"MCPCHECK_CLIENT_ID": clientID, "MCPCHECK_CLIENT_SECRET": "wrong-secret-from-env", "MCPCHECK_ISSUER": is.URL}

	status, stdout, stderr := mcpcheck(env, "-json", endpoint)
	assert.Equal(t, 1, status)
	rep, results := parse(t, stdout)
	assert.False(t, rep.Credentials)
	assert.Equal(t, "fail", results["discovery"])
	assert.Equal(t, "not_checkable", results["accept"])
	assert.Contains(t, stdout, "error invalid_client")
	assert.NotContains(t, stdout+stderr, "wrong-secret-from-env")

	status, stdout, _ = mcpcheck(env, "-json", "-client-secret", clientSecret, endpoint)
	rep, _ = parse(t, stdout)
	assert.True(t, rep.Credentials, "-client-secret over the environment")
	assert.Equal(t, 0, status)
	assert.NotContains(t, stdout, clientSecret)

	file := filepath.Join(t.TempDir(), "secret")
	require.NoError(t, os.WriteFile(file, []byte(clientSecret+"\n"), 0o600))
	status, stdout, _ = mcpcheck(env, "-json", "-client-secret-file", file, endpoint)
	rep, _ = parse(t, stdout)
	assert.True(t, rep.Credentials, "-client-secret-file over the environment")
	assert.Equal(t, 0, status)

	status, stdout, _ = mcpcheck(map[string]string{"MCPCHECK_CLIENT_SECRET": clientSecret}, "-json", "-client-id", clientID, "-issuer", is.URL, "-v", endpoint)
	rep, _ = parse(t, stdout)
	assert.True(t, rep.Credentials, "-client-id with the secret from the environment")
	assert.Equal(t, 0, status)
	assert.NotContains(t, stdout, clientSecret)
}

// TestFailures: an unreachable endpoint and plain http to a host that is
// not loopback fail (exit 1), saying why.
func TestFailures(t *testing.T) {
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	status, stdout, _ := mcpcheck(nil, closed.URL+"/mcp")
	assert.Equal(t, 1, status)
	assert.Contains(t, stdout, "FAIL           discovery")
	assert.Contains(t, stdout, "the endpoint cannot be reached")
	assert.True(t, strings.HasSuffix(stdout, "FAIL\n"))

	status, stdout, _ = mcpcheck(nil, "-json", "http://mcp.example.com/mcp")
	assert.Equal(t, 1, status)
	rep, results := parse(t, stdout)
	assert.Equal(t, "fail", results["discovery"])
	assert.Zero(t, rep.Requests)
	assert.Contains(t, rep.Checks[0].Messages[0], "plain http on a host that is not loopback")
}

// TestCutShort: -max-requests cuts the run short, which fails it.
func TestCutShort(t *testing.T) {
	endpoint, _ := server(t)
	status, stdout, _ := mcpcheck(nil, "-max-requests", "10", endpoint)
	assert.Equal(t, 1, status)
	assert.Contains(t, stdout, "CUT SHORT: the run was cut short: it had sent its 10 requests (-max-requests)")
}

// TestToolScopes: with -tool-scopes, a server that checks no per-tool scope
// fails the step-up (a token lacking a scope gets through); without it,
// the clean result skips the step-up, which was not exercised, advising
// -tool-scopes.
func TestToolScopes(t *testing.T) {
	endpoint, is := server(t)
	env := map[string]string{"MCPCHECK_CLIENT_ID": clientID, "MCPCHECK_CLIENT_SECRET": clientSecret, "MCPCHECK_ISSUER": is.URL}
	status, stdout, _ := mcpcheck(env, "-json", "-tool", "write_items", "-tool-scopes", "items:read items:write", endpoint)
	assert.Equal(t, 1, status)
	rep, results := parse(t, stdout)
	assert.True(t, rep.Credentials)
	assert.Equal(t, "fail", results["stepup/write_items"])
	assert.Equal(t, "fail", results["stepup"])
	assert.Contains(t, stdout, `(lacking \"items:write\"): status 200, want 403 insufficient_scope`)

	status, stdout, _ = mcpcheck(env, "-json", "-tool", "write_items", endpoint)
	assert.Equal(t, 0, status, stdout)
	_, results = parse(t, stdout)
	assert.Equal(t, "skipped", results["stepup/write_items"])
	assert.Equal(t, "skipped", results["stepup"], "a parent none of whose leaves passed is not passed")
	assert.Contains(t, stdout, "the step-up was not exercised (name the scopes the tool needs, mcpcheck -tool-scopes")
}
