package validatetest

// Tests of the checker command's front end (internal/checker) against the
// kit's servers served on their own loopback URL: it passes a correctly
// wired server, black-box and with client credentials, and on the miswired
// set it gives, check for check, the results and messages of
// validatetest.Conformance's engine for every check both ran; everything it
// could not run it reports not checkable or skipped, never passed.

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rsguard/rsguard/internal/checker"
	"github.com/rsguard/rsguard/internal/conformance"
	"github.com/rsguard/rsguard/rsmeta"
	"github.com/rsguard/rsguard/validate"
)

// The checker's client at the kit's issuer.
const (
	checkerClientID     = "mcpcheck-client"
	checkerClientSecret = "mcpcheck-secret-5b0c1f7d9e"
)

// checkerIssuer is an issuer at which the checker is a client allowed the
// kit's scopes (and items:list, which a miswired server's 403 names).
func checkerIssuer(t *testing.T) *Issuer {
	return NewIssuer(t, &Options{Clients: []Client{{ID: checkerClientID, Secret: checkerClientSecret, Scopes: []string{"items:read", "items:write", "items:list"}}}})
}

// rootsOf is the pool of the issuer's certificate, for the checker's
// https.
func rootsOf(is *Issuer) *x509.CertPool {
	return is.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
}

// serveOnLoopback serves the kit server built by build on 127.0.0.1, its
// resource being its own URL (http://127.0.0.1:port/mcp), and returns that
// URL.
func serveOnLoopback(t *testing.T, is *Issuer, build func(resource, metadata, origin string) kitServer) string {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	origin := "http://" + srv.Listener.Addr().String()
	resource := origin + "/mcp"
	metadata, err := rsmeta.WellKnownURL(resource)
	require.NoError(t, err)
	k := build(resource, metadata, origin)
	k.resource = resource
	srv.Config.Handler = k.handler(t, is)
	srv.Start()
	t.Cleanup(srv.Close)
	return resource
}

// runChecker runs the checker on endpoint, black-box or with the kit's
// client credentials at is (-issuer), trusting the issuer's certificate,
// with a step-up on tool, whose scopes are toolScopes (nil: not known).
func runChecker(t *testing.T, is *Issuer, endpoint string, credentials bool, tool string, toolScopes []string) *checker.Report {
	t.Helper()
	cfg := checker.Config{Endpoint: endpoint, Tool: tool, ToolScopes: toolScopes, RootCAs: rootsOf(is), Timeout: time.Minute}
	if credentials {
		cfg.ClientID, cfg.ClientSecret, cfg.Issuer = checkerClientID, checkerClientSecret, is.URL
	}
	rep, err := checker.Run(context.Background(), cfg)
	require.NoError(t, err)
	return rep
}

// results indexes a report's checks by name.
func results(rep *checker.Report) map[string]checker.CheckResult {
	m := map[string]checker.CheckResult{}
	for _, c := range rep.Checks {
		m[c.Name] = c
	}
	return m
}

// TestCheckerWiredCorrectly: against a correctly wired server the checker
// passes, black-box (every check that needs nothing runs and passes, every
// other is not checkable) and with credentials (accept, the step-up on a
// tool, a token in the query string and a token for another resource run
// and pass).
func TestCheckerWiredCorrectly(t *testing.T) {
	is := checkerIssuer(t)
	endpoint := serveOnLoopback(t, is, func(string, string, string) kitServer {
		return kitServer{challengeScopes: []string{"items:read"}}
	})

	t.Run("black-box", func(t *testing.T) {
		rep := runChecker(t, is, endpoint, false, "write_items", nil)
		assert.True(t, rep.Passed, "failures:\n%s", failures(rep))
		assert.False(t, rep.Credentials)
		assert.Equal(t, is.URL, rep.Issuer)
		assert.Equal(t, []string{is.URL}, rep.AuthorizationServers)
		assert.Equal(t, "off", rep.DPoP)
		got := results(rep)
		for _, name := range []string{"discovery", "metadata", "authorization servers", "cors", "challenge", "attacks/algorithm/alg none",
			"attacks/algorithm/HS256 keyed with the public key PEM", "attacks/algorithm/foreign key under the issuer's kid", "attacks/malformed/JWE",
			"attacks/request/no Authorization header", "attacks/request/spoofed Host header", "dpop/downgrade/challenges name the accepted schemes"} {
			assert.Equal(t, checker.ResultPass, got[name].Result, "%s: %q", name, got[name].Messages)
		}
		for _, name := range []string{"accept", "session", "stepup", "attacks/claims/expired", "attacks/claims/aud another resource",
			"attacks/request/token in the query string", "attacks/method/PUT with a tool call body"} {
			assert.Equal(t, checker.ResultNotCheckable, got[name].Result, "%s: %q", name, got[name].Messages)
		}
		// Every check that needs nothing ran: each leaf is passed, not
		// checkable, or does not apply (a DPoP case with DPoP off).
		for _, c := range rep.Checks {
			if c.Result == checker.ResultSkipped && isLeaf(rep, c.Name) {
				assert.True(t, strings.HasPrefix(c.Messages[0], conformance.DoesNotApply), "%s skipped: %q", c.Name, c.Messages)
			}
		}
		assert.Zero(t, rep.Summary.Failed)
		assert.Positive(t, rep.Summary.Passed)
		assert.Positive(t, rep.Summary.NotCheckable)
	})

	t.Run("with credentials", func(t *testing.T) {
		start := time.Now()
		rep := runChecker(t, is, endpoint, true, "write_items", kitTools["write_items"])
		assert.True(t, rep.Passed, "failures:\n%s", failures(rep))
		assert.True(t, rep.Credentials)
		got := results(rep)
		for _, name := range []string{"accept", "stepup", "stepup/write_items", "attacks/request/token in the query string",
			"attacks/claims/aud another resource", "attacks/algorithm/payload tampered", "attacks/method/PUT with a tool call body",
			"dpop/downgrade/DPoP scheme while DPoP is off"} {
			assert.Equal(t, checker.ResultPass, got[name].Result, "%s: %q", name, got[name].Messages)
		}
		for _, name := range []string{"session", "attacks/claims/expired", "attacks/malformed/duplicate sub"} {
			assert.Equal(t, checker.ResultNotCheckable, got[name].Result, "%s", name)
			// With credentials, what is missing is the signing key.
			assert.True(t, strings.HasPrefix(got[name].Messages[0], "not checkable without the authorization server's signing key: "), "%s: %q", name, got[name].Messages)
		}
		t.Logf("a full run with credentials and a step-up tool: %d requests in %v (the command's default budget is %d)", rep.Requests, time.Since(start).Round(time.Millisecond), checker.DefaultMaxRequests)
		assert.Less(t, rep.Requests, checker.DefaultMaxRequests/2, "the default budget leaves a wide margin")
	})

	t.Run("tool that needs no more scopes", func(t *testing.T) {
		rep := runChecker(t, is, endpoint, true, "read_items", nil)
		assert.True(t, rep.Passed, "failures:\n%s", failures(rep))
		c := results(rep)["stepup/read_items"]
		assert.Equal(t, checker.ResultSkipped, c.Result)
		assert.Contains(t, c.Messages[0], "the step-up was not exercised (name the scopes the tool needs, mcpcheck -tool-scopes")
		// A check none of whose leaves passed is not passed.
		assert.Equal(t, checker.ResultSkipped, results(rep)["stepup"].Result)
	})

	t.Run("tool whose scopes are unknown", func(t *testing.T) {
		rep := runChecker(t, is, endpoint, true, "write_items", nil)
		assert.True(t, rep.Passed, "failures:\n%s", failures(rep))
		assert.Equal(t, checker.ResultPass, results(rep)["stepup/write_items"].Result, "%q", results(rep)["stepup/write_items"].Messages)
	})
}

// isLeaf reports whether the report's check name has no sub-checks.
func isLeaf(rep *checker.Report, name string) bool {
	for _, c := range rep.Checks {
		if strings.HasPrefix(c.Name, name+"/") {
			return false
		}
	}
	return true
}

// failures lists a report's failing checks with their messages.
func failures(rep *checker.Report) string {
	var b strings.Builder
	for _, c := range rep.Checks {
		if c.Result == checker.ResultFail && len(c.Messages) > 0 {
			b.WriteString(c.Name + ": " + strings.Join(c.Messages, " | ") + "\n")
		}
	}
	if rep.CutShort != "" {
		b.WriteString("cut short: " + rep.CutShort + "\n")
	}
	return b.String()
}

// echoBytes is the byte count an echo's message gives: the one part of a
// message that depends on each run's tokens (the kit mints its own, the
// checker forges or is issued others, of other lengths).
var echoBytes = regexp.MustCompile(`\(\d+ bytes\)`)

// needsOf is what the engine declares a check (a report line) needs: the
// Needs of its attack, DPoP or introspection case, else of its top-level
// check (a sub-check such as "stepup/<tool>" needs what its check needs).
func needsOf(t *testing.T, name string) conformance.Needs {
	t.Helper()
	top, rest, _ := strings.Cut(name, "/")
	tables := map[string]func() []conformance.AttackCase{
		"attacks": conformance.AttackCases, "dpop": conformance.DPoPCases, "introspection": conformance.IntrospectionCases,
	}
	if cases, ok := tables[top]; ok {
		for _, a := range cases() {
			if rest == a.Class+"/"+a.Name {
				return a.Needs
			}
		}
	}
	for _, ch := range conformance.Checks() {
		if ch.Name == top {
			return ch.Needs
		}
	}
	t.Fatalf("check %q is none of the engine's", name)
	return 0
}

// resultOf is a kit result as the checker reports it.
func resultOf(r conformance.Result) (result string, messages []string) {
	switch r.Outcome {
	case conformance.Failed:
		return checker.ResultFail, r.Errors
	case conformance.Skipped:
		if strings.HasPrefix(r.Skip, conformance.NotCheckable) {
			return checker.ResultNotCheckable, []string{r.Skip}
		}
		return checker.ResultSkipped, []string{r.Skip}
	}
	return checker.ResultPass, []string{}
}

// TestCheckerSameResults is the comparison the checker is built on: on the
// miswired set (miswiredCases, the kit's own), each served on its own
// loopback URL, the engine as validatetest.Conformance runs it (with the
// issuer's keys, over the URL, configured as the checker learns the
// server) and the checker, black-box and with client credentials (and the
// step-up tool's scopes, -tool-scopes), agree: every leaf of the kit's run
// that needs no more than the checker's run has — nothing black-box, a
// token with credentials that got one — the checker ran, with the same
// result and the same messages; every check the checker ran, the kit ran;
// everything else the checker reports not checkable (or, without the
// issuer's key, skipped as such), never passed.
func TestCheckerSameResults(t *testing.T) {
	is := checkerIssuer(t)
	const tool = "write_items"
	total := 0
	for _, tc := range miswiredCases(t, is) {
		if tc.cfg != nil {
			continue // a configuration of the kit's, which the checker has not
		}
		t.Run(tc.name, func(t *testing.T) {
			endpoint := serveOnLoopback(t, is, tc.server)
			kit := recordKitOver(t, is, endpoint, tool)
			for _, credentials := range []bool{false, true} {
				rep := runChecker(t, is, endpoint, credentials, tool, kitTools[tool])
				assert.Empty(t, rep.CutShort)
				got := results(rep)
				for _, name := range tc.checkerFail {
					with, plus := strings.CutPrefix(name, "+")
					if plus && !credentials {
						continue
					}
					assert.Equal(t, checker.ResultFail, got[with].Result, "credentials %v: %s did not fail:\n%s", credentials, with, failures(rep))
				}
				if d := got["discovery"]; !slices.Contains(tc.checkerFail, "discovery") && !(credentials && slices.Contains(tc.checkerFail, "+discovery")) {
					assert.Equal(t, checker.ResultPass, d.Result, "discovery: %q", d.Messages)
				}
				have := conformance.NeedsNothing
				if rep.Credentials {
					have = conformance.NeedsToken
				}
				assert.Equal(t, credentials && got["discovery"].Result == checker.ResultPass, rep.Credentials, "credentials")
				// The kit's leaves the checker's run can make: each ran in
				// the checker, with the same result and messages.
				compared := 0
				for name, k := range kit {
					if !k.Leaf || name == "" || needsOf(t, name) > have {
						continue
					}
					c, ok := got[name]
					if !assert.True(t, ok, "credentials %v: the checker did not run %s", credentials, name) {
						continue
					}
					if rep.Issuer == "" && c.Result == checker.ResultNotCheckable && strings.Contains(c.Messages[0], "the authorization server's public key") {
						continue // forged with a key the checker did not find
					}
					wantResult, wantMessages := resultOf(k)
					assert.Equal(t, wantResult, c.Result, "credentials %v: %s: the kit %s, the checker %s: %q", credentials, name, wantResult, c.Result, c.Messages)
					assert.Equal(t, normalise(wantMessages), normalise(c.Messages), "credentials %v: %s: the messages differ", credentials, name)
					compared++
				}
				// Every check the checker ran, the kit ran; what it did not
				// run is not checkable or skipped, never passed.
				for _, c := range rep.Checks {
					if c.Name == "discovery" || c.Result == checker.ResultNotCheckable || c.Result == checker.ResultSkipped {
						continue
					}
					_, ok := kit[c.Name]
					assert.True(t, ok, "credentials %v: %s ran in the checker only", credentials, c.Name)
				}
				assert.Positive(t, compared, "credentials %v: nothing compared", credentials)
				total += compared
				t.Logf("credentials %v: %d leaves compared, %d failing in the checker, %d not checkable or skipped",
					credentials, compared, rep.Summary.Failed, rep.Summary.NotCheckable+rep.Summary.Skipped)
			}
		})
	}
	assert.Greater(t, total, 1000, "leaves compared in all")
	t.Logf("%d leaves compared in all", total)
}

func normalise(msgs []string) []string {
	out := []string{}
	for _, m := range msgs {
		out = append(out, echoBytes.ReplaceAllString(m, "(N bytes)"))
	}
	return out
}

// recordKitOver runs the engine as validatetest.Conformance does over the
// URL endpoint, with the issuer's keys, configured as the checker learns
// the server: no scopes the challenge must name, but that it names some;
// a token with the scopes it names; a step-up on tool, with its kitTools
// scopes (the checker's -tool-scopes).
func recordKitOver(t *testing.T, is *Issuer, endpoint, tool string) map[string]conformance.Result {
	t.Helper()
	status, values := challengeOf(t, endpoint)
	var scopes []string
	if status == http.StatusUnauthorized {
		for _, v := range values {
			if cs, err := rsmeta.ParseChallenges(v); err == nil && len(cs) > 0 && cs[0].Scope != nil {
				scopes = cs[0].Scope
			}
		}
	}
	c, err := newTarget(tRunner{t}, ConformanceConfig{Issuer: is, URL: endpoint, MCP: true, Tools: map[string][]string{tool: kitTools[tool]}})
	require.NoError(t, err)
	c.ChallengeScopeRequired, c.TokenScopes = true, scopes
	rec := recordRun(func(r runner) { conformance.Run(r, c) })
	out := map[string]conformance.Result{}
	for _, res := range rec.results {
		out[res.Name] = res
	}
	return out
}

// challengeOf sends an MCP initialize without a token to endpoint.
func challengeOf(t *testing.T, endpoint string) (int, []string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, endpoint, strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	return resp.StatusCode, resp.Header.Values("WWW-Authenticate")
}

// TestCheckerDPoP: against a server that takes DPoP, the checker learns
// the mode from the challenges and reports honestly: nothing fails, and
// what needs tokens bound to a key of its own is not checkable.
func TestCheckerDPoP(t *testing.T) {
	is := checkerIssuer(t)
	for _, mode := range []validate.DPoPMode{validate.DPoPAllowed, validate.DPoPRequired} {
		t.Run(map[validate.DPoPMode]string{validate.DPoPAllowed: "allowed", validate.DPoPRequired: "required"}[mode], func(t *testing.T) {
			endpoint := serveOnLoopback(t, is, func(resource, _, _ string) kitServer {
				ctx, cancel := context.WithCancel(context.Background())
				t.Cleanup(cancel)
				v, err := validate.New(ctx, validate.Config{Issuer: is.URL, Resource: resource, Fetch: validate.FetchOptions{HTTPClient: is.Client()},
					DPoP: validate.DPoPConfig{Mode: mode}})
				require.NoError(t, err)
				return kitServer{challengeScopes: []string{"items:read"}, authenticator: v}
			})
			for _, credentials := range []bool{false, true} {
				rep := runChecker(t, is, endpoint, credentials, "write_items", nil)
				assert.True(t, rep.Passed, "credentials %v, failures:\n%s", credentials, failures(rep))
				t.Logf("credentials %v: %d requests in %d ms", credentials, rep.Requests, rep.DurationMS)
				want := map[validate.DPoPMode]string{validate.DPoPAllowed: "allowed", validate.DPoPRequired: "required"}[mode]
				assert.Equal(t, want, rep.DPoP)
				got := results(rep)
				assert.Equal(t, checker.ResultPass, got["dpop/downgrade/challenges name the accepted schemes"].Result)
				assert.Equal(t, checker.ResultNotCheckable, got["dpop/accepted"].Result)
				if mode == validate.DPoPRequired {
					// A token from the token endpoint is not bound to the
					// checker's key.
					assert.Equal(t, checker.ResultNotCheckable, got["accept"].Result, "%q", got["accept"].Messages)
					assert.Equal(t, checker.ResultPass, got["attacks/algorithm/alg none"].Result)
				} else if credentials {
					assert.Equal(t, checker.ResultPass, got["accept"].Result, "%q", got["accept"].Messages)
				}
			}
		})
	}
}

// TestCheckerSecrets: with credentials, against a server that echoes
// tokens, neither the table, nor the JSON, nor any message carries the
// client secret or a token the issuer issued.
func TestCheckerSecrets(t *testing.T) {
	is := checkerIssuer(t)
	tokens := &issuedTokens{}
	is.Handle(is.TokenURL, tokens.recorder(is))
	endpoint := serveOnLoopback(t, is, func(_, _, _ string) kitServer {
		return kitServer{challengeScopes: []string{"items:read"}, wrap: func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				next.ServeHTTP(&echoToken{ResponseWriter: w, token: r.Header.Get("Authorization")}, r)
			})
		}}
	})
	rep := runChecker(t, is, endpoint, true, "write_items", nil)
	assert.False(t, rep.Passed)
	issued := tokens.all()
	require.NotEmpty(t, issued, "tokens were issued")
	var table, js strings.Builder
	require.NoError(t, rep.WriteTable(&table, true))
	require.NoError(t, rep.WriteJSON(&js))
	for name, out := range map[string]string{"table": table.String(), "JSON": js.String()} {
		assert.NotContains(t, out, checkerClientSecret, "%s carries the client secret", name)
		for _, tok := range issued {
			assert.NotContains(t, out, tok, "%s carries an issued token", name)
			h, p, s := splitToken(tok)
			for _, part := range []string{h, p, s} {
				assert.NotContains(t, out, part, "%s carries part of an issued token", name)
			}
		}
		assert.NotContains(t, out, "eyJ", "%s carries something like a token", name)
	}
	assert.Contains(t, table.String(), "echo", "the echo is reported")
}

// issuedTokens records the access tokens the issuer's token endpoint
// issues.
type issuedTokens struct {
	mu     sync.Mutex
	tokens []string
}

func (it *issuedTokens) all() []string {
	it.mu.Lock()
	defer it.mu.Unlock()
	return slices.Clone(it.tokens)
}

// recorder answers the token endpoint as the issuer does, recording every
// access token it issues.
func (it *issuedTokens) recorder(is *Issuer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		is.serveToken(rec, r)
		var body struct {
			AccessToken string `json:"access_token"`
		}
		if json.Unmarshal(rec.Body.Bytes(), &body) == nil && body.AccessToken != "" {
			it.mu.Lock()
			it.tokens = append(it.tokens, body.AccessToken)
			it.mu.Unlock()
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	})
}

// TestCheckerStepUpFailures: the step-up on a tool the run's scopes do not
// cover is judged as for a known tool: a 403 without insufficient_scope, or
// whose scopes do not let the call through, fails.
func TestCheckerStepUpFailures(t *testing.T) {
	is := checkerIssuer(t)
	endpoint := serveOnLoopback(t, is, func(_, metadata, _ string) kitServer {
		return kitServer{challengeScopes: []string{"items:read"}, wrap: func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				next.ServeHTTP(&rewrite403{ResponseWriter: w, challenge: `Bearer resource_metadata="` + metadata + `", error="invalid_token", scope="items:read"`}, r)
			})
		}}
	})
	rep := runChecker(t, is, endpoint, true, "write_items", nil)
	c := results(rep)["stepup/write_items"]
	require.Equal(t, checker.ResultFail, c.Result)
	assert.True(t, slices.ContainsFunc(c.Messages, func(m string) bool { return strings.Contains(m, `error="invalid_token", want insufficient_scope`) }), "%q", c.Messages)
	assert.True(t, slices.ContainsFunc(c.Messages, func(m string) bool { return strings.Contains(m, "step-up cannot succeed") }), "%q", c.Messages)
}

// TestStepUpToolAnswers (MEDIUM 5): a 2xx whose JSON-RPC answer is an
// error, or a result with isError, is not a call that got through: read as
// a scope refusal it fails (a scope refusal must be a 403
// insufficient_scope), otherwise the step-up is skipped saying what the
// tool answered; only a clean result is "not exercised". The kit (Tools,
// or StepUpTools) and the checker (-tool-scopes, or not) say the same.
// Before the fix, a 2xx was taken as "needs no scope" whatever it carried.
func TestStepUpToolAnswers(t *testing.T) {
	is := checkerIssuer(t)
	inTool := serveOnLoopback(t, is, func(string, string, string) kitServer {
		return kitServer{challengeScopes: []string{"items:read"}, scopesInTool: true}
	})
	// No per-tool check (which refuses a tool it does not know): the MCP
	// server answers an unknown tool with a JSON-RPC error.
	unchecked := serveOnLoopback(t, is, func(string, string, string) kitServer {
		return kitServer{challengeScopes: []string{"items:read"}, noScopeCheck: true}
	})
	for _, tc := range []struct {
		name, endpoint, tool string
		scopes               []string // the tool's, if known
		result, message      string
	}{
		{"scope refusal in the tool, scopes known", inTool, "write_items", kitTools["write_items"], checker.ResultFail,
			`tools/call write_items with scopes ["items:read"] (lacking "items:write"): status 200, want 403 insufficient_scope`},
		{"scope refusal in the tool, scopes unknown", inTool, "write_items", nil, checker.ResultFail,
			`status 200 with a tool error (isError) "Permission denied: this call needs the scope items:write", which reads as a scope refusal`},
		{"JSON-RPC error, scopes known", unchecked, "no_such_tool", []string{}, checker.ResultSkipped,
			`the tool answered a JSON-RPC error -32602 "unknown tool": check the tool's arguments`},
		{"JSON-RPC error, scopes unknown", unchecked, "no_such_tool", nil, checker.ResultSkipped,
			`the tool answered a JSON-RPC error -32602 "unknown tool": check the tool's arguments`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := "stepup/" + tc.tool
			rep := runChecker(t, is, tc.endpoint, true, tc.tool, tc.scopes)
			c := results(rep)[name]
			assert.Equal(t, tc.result, c.Result, "%q", c.Messages)
			assert.Contains(t, strings.Join(c.Messages, "\n"), tc.message)

			// The kit, configured alike, says the same.
			status, values := challengeOf(t, tc.endpoint)
			require.Equal(t, http.StatusUnauthorized, status)
			cs, err := rsmeta.ParseChallenges(values[0])
			require.NoError(t, err)
			cfg := ConformanceConfig{Issuer: is, URL: tc.endpoint, MCP: true, Skip: []string{"attacks", "dpop", "session"}}
			if tc.scopes != nil {
				cfg.Tools = map[string][]string{tc.tool: tc.scopes}
			}
			target, err := newTarget(tRunner{t}, cfg)
			require.NoError(t, err)
			target.ChallengeScopeRequired, target.TokenScopes = true, cs[0].Scope
			if tc.scopes == nil {
				target.StepUpTools = []string{tc.tool}
			}
			rec := recordRun(func(r runner) { conformance.Run(r, target) })
			var kit conformance.Result
			for _, res := range rec.results {
				if res.Name == name {
					kit = res
				}
			}
			wantResult, wantMessages := resultOf(kit)
			assert.Equal(t, wantResult, c.Result)
			assert.Equal(t, wantMessages, c.Messages)
		})
	}
}
