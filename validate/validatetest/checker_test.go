package validatetest

// Tests of the checker command's front end (internal/checker) against the
// kit's servers served on their own loopback URL: it passes a correctly
// wired server, black-box and with client credentials, and on the miswired
// set it gives, check for check, the results and messages of
// validatetest.Conformance's engine for every check both ran; everything it
// could not run it reports not checkable or skipped, never passed.

import (
	"context"
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
// kit's scopes.
func checkerIssuer(t *testing.T) *Issuer {
	return NewIssuer(t, &Options{Clients: []Client{{ID: checkerClientID, Secret: checkerClientSecret, Scopes: []string{"items:read", "items:write"}}}})
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
// client credentials, trusting the issuer's certificate.
func runChecker(t *testing.T, is *Issuer, endpoint string, credentials bool, tool string) *checker.Report {
	t.Helper()
	cfg := checker.Config{Endpoint: endpoint, Tool: tool, Transport: is.Client().Transport, Timeout: time.Minute}
	if credentials {
		cfg.ClientID, cfg.ClientSecret = checkerClientID, checkerClientSecret
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
		rep := runChecker(t, is, endpoint, false, "write_items")
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
			if c.Result == checker.ResultSkipped {
				assert.True(t, strings.HasPrefix(c.Messages[0], conformance.DoesNotApply), "%s skipped: %q", c.Name, c.Messages)
			}
		}
		assert.Zero(t, rep.Summary.Failed)
		assert.Positive(t, rep.Summary.Passed)
		assert.Positive(t, rep.Summary.NotCheckable)
	})

	t.Run("with credentials", func(t *testing.T) {
		start := time.Now()
		rep := runChecker(t, is, endpoint, true, "write_items")
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
		}
		t.Logf("a full run with credentials and a step-up tool: %d requests in %v (the command's default budget is %d)", rep.Requests, time.Since(start).Round(time.Millisecond), checker.DefaultMaxRequests)
		assert.Less(t, rep.Requests, checker.DefaultMaxRequests/2, "the default budget leaves a wide margin")
	})

	t.Run("tool that needs no more scopes", func(t *testing.T) {
		rep := runChecker(t, is, endpoint, true, "read_items")
		assert.True(t, rep.Passed, "failures:\n%s", failures(rep))
		c := results(rep)["stepup/read_items"]
		assert.Equal(t, checker.ResultSkipped, c.Result)
		assert.Contains(t, c.Messages[0], "the step-up was not exercised")
	})
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

// TestCheckerSameResults is the comparison the checker is built on: on the
// miswired set, each served on its own loopback URL, the engine as
// validatetest.Conformance runs it (with the issuer's keys, over the URL)
// and the checker, black-box and with client credentials, give for every
// check both ran the same result and the same messages; every check the
// checker could not run is not checkable or skipped, never passed.
func TestCheckerSameResults(t *testing.T) {
	is := checkerIssuer(t)
	mismatched := NewIssuer(t, &Options{Metadata: map[string]any{"issuer": "https://as.invalid"}})
	wrap := func(w func(http.ResponseWriter, *http.Request) http.ResponseWriter) func(http.Handler) http.Handler {
		return func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) { next.ServeHTTP(w(rw, r), r) })
		}
	}
	scoped := []string{"items:read"}
	for _, tc := range []struct {
		name     string
		server   func(resource, metadata, origin string) kitServer
		wantFail []string // checks the checker must fail (black-box, or with credentials if marked +)
	}{
		{"wired correctly", func(_, _, _ string) kitServer { return kitServer{challengeScopes: scoped} }, nil},
		// No metadata, no authorization server: credentials are of no use,
		// which the discovery reports.
		{"no metadata", func(_, _, _ string) kitServer { return kitServer{noMetadata: true, challengeScopes: scoped} },
			[]string{"metadata", "cors", "+discovery"}},
		{"metadata resource is the origin", func(_, _, origin string) kitServer {
			return kitServer{metadataResource: origin, challengeScopes: scoped}
		}, []string{"metadata"}},
		{"challenge points at the root metadata", func(_, _, origin string) kitServer {
			return kitServer{resourceMetadata: origin + "/.well-known/oauth-protected-resource", challengeScopes: scoped}
		}, []string{"challenge", "attacks/malformed/JWE"}},
		{"challenge names no scope", func(_, _, _ string) kitServer { return kitServer{} }, nil},
		{"authorization server names another issuer", func(_, _, _ string) kitServer {
			return kitServer{challengeScopes: scoped, authorizationServers: []string{mismatched.URL}}
		}, []string{"authorization servers"}},
		{"authorization server gone", func(_, _, _ string) kitServer {
			return kitServer{challengeScopes: scoped, authorizationServers: []string{is.URL + "/gone"}}
		}, []string{"authorization servers"}},
		{"401 without WWW-Authenticate", func(_, _, _ string) kitServer {
			return kitServer{challengeScopes: scoped, wrap: wrap(func(w http.ResponseWriter, _ *http.Request) http.ResponseWriter {
				return dropChallenge{ResponseWriter: w}
			})}
		}, []string{"challenge", "attacks/algorithm/alg none", "attacks/request/no Authorization header"}},
		{"the usual Go stack", func(resource, _, _ string) kitServer {
			return kitServer{challengeScopes: scoped, authenticator: usualGoStackFor(t, is, resource, true)}
		}, []string{"+attacks/request/two Authorization headers"}},
		{"no audience check", func(resource, _, _ string) kitServer {
			return kitServer{challengeScopes: scoped, authenticator: usualGoStackFor(t, is, resource, false)}
		}, []string{"+attacks/claims/aud another resource"}},
		{"no per-tool scope check", func(_, _, _ string) kitServer { return kitServer{challengeScopes: scoped, noScopeCheck: true} }, nil},
		{"origin validated", func(_, _, _ string) kitServer {
			return kitServer{challengeScopes: scoped, wrap: func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.Header.Get("Origin") != "" {
						http.Error(w, "origin not allowed", http.StatusForbidden)
						return
					}
					next.ServeHTTP(w, r)
				})
			}}
		}, nil},
		{"403 without scope", func(_, metadata, _ string) kitServer {
			return kitServer{challengeScopes: scoped, wrap: wrap(func(w http.ResponseWriter, _ *http.Request) http.ResponseWriter {
				return &rewrite403{ResponseWriter: w, challenge: `Bearer resource_metadata="` + metadata + `", error="insufficient_scope"`}
			})}
		}, []string{"+stepup/write_items"}},
		{"403 naming a scope that does not suffice", func(_, metadata, _ string) kitServer {
			return kitServer{challengeScopes: scoped, wrap: wrap(func(w http.ResponseWriter, _ *http.Request) http.ResponseWriter {
				return &rewrite403{ResponseWriter: w, challenge: `Bearer resource_metadata="` + metadata + `", scope="items:read", error="insufficient_scope"`}
			})}
		}, []string{"+stepup/write_items"}},
		{"token echoed in the error body", func(_, _, _ string) kitServer {
			return kitServer{challengeScopes: scoped, wrap: wrap(func(w http.ResponseWriter, r *http.Request) http.ResponseWriter {
				return &echoToken{ResponseWriter: w, token: r.Header.Get("Authorization")}
			})}
		}, []string{"attacks/algorithm/alg none", "+attacks/algorithm/payload tampered"}},
		{"token in the query string accepted", func(_, _, _ string) kitServer {
			return kitServer{challengeScopes: scoped, wrap: func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if tok := r.URL.Query().Get("access_token"); tok != "" {
						r.Header.Set("Authorization", "Bearer "+tok)
						r.URL.RawQuery = ""
					}
					next.ServeHTTP(w, r)
				})
			}}
		}, []string{"+attacks/request/token in the query string"}},
		{"challenge hidden from browsers", func(_, _, _ string) kitServer {
			return kitServer{challengeScopes: scoped, wrap: wrap(func(w http.ResponseWriter, _ *http.Request) http.ResponseWriter {
				return dropExpose{ResponseWriter: w}
			})}
		}, []string{"cors"}},
		{"sessions not bound to the user", func(_, _, _ string) kitServer { return kitServer{challengeScopes: scoped, unboundSessions: true} }, nil},
		{"per-tool check on POST only", func(_, _, _ string) kitServer { return kitServer{challengeScopes: scoped, postOnlyCheck: true} },
			[]string{"+attacks/method/PUT with a tool call body"}},
		{"resource_metadata from the Host header", func(_, _, origin string) kitServer {
			return kitServer{challengeScopes: scoped, wrap: wrap(func(w http.ResponseWriter, r *http.Request) http.ResponseWriter {
				return &hostChallenge{ResponseWriter: w, host: r.Host, origin: origin}
			})}
		}, []string{"attacks/request/spoofed Host header"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			endpoint := serveOnLoopback(t, is, tc.server)
			kit := recordKitOver(t, is, endpoint)
			for _, credentials := range []bool{false, true} {
				rep := runChecker(t, is, endpoint, credentials, "write_items")
				assert.Empty(t, rep.CutShort)
				got := results(rep)
				usable := got["discovery"].Result == checker.ResultPass
				assert.Equal(t, credentials && usable, rep.Credentials, "credentials")
				for _, name := range tc.wantFail {
					if with, ok := strings.CutPrefix(name, "+"); ok {
						if credentials {
							assert.Equal(t, checker.ResultFail, got[with].Result, "credentials %v: %s did not fail:\n%s", credentials, with, failures(rep))
						}
						continue
					}
					assert.Equal(t, checker.ResultFail, got[name].Result, "credentials %v: %s did not fail:\n%s", credentials, name, failures(rep))
				}
				compared := 0
				for _, c := range rep.Checks {
					if c.Name == "discovery" {
						if !slices.Contains(tc.wantFail, "+discovery") {
							assert.Equal(t, checker.ResultPass, c.Result, "discovery: %q", c.Messages)
						}
						continue
					}
					k, ok := kit[c.Name]
					switch c.Result {
					case checker.ResultNotCheckable, checker.ResultSkipped:
						continue
					}
					if !assert.True(t, ok, "credentials %v: %s ran in the checker only", credentials, c.Name) {
						continue
					}
					compared++
					if c.Result == checker.ResultFail || k.Outcome == conformance.Failed {
						assert.Equal(t, normalise(k.Errors), normalise(c.Messages), "credentials %v: %s: the messages differ", credentials, c.Name)
					}
					if k.Leaf {
						assert.Equal(t, k.Outcome == conformance.Passed, c.Result == checker.ResultPass, "credentials %v: %s: the kit %s, the checker %s", credentials, c.Name, k.Outcome, c.Result)
					}
				}
				t.Logf("credentials %v: %d checks compared, %d failing in the checker, %d leaves not checkable or skipped",
					credentials, compared, rep.Summary.Failed, rep.Summary.NotCheckable+rep.Summary.Skipped)
			}
		})
	}
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
// the server: the scopes its challenge names, no tools but a step-up on
// write_items, whose scopes the run does not know.
func recordKitOver(t *testing.T, is *Issuer, endpoint string) map[string]conformance.Result {
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
	c, err := newTarget(tRunner{t}, ConformanceConfig{Issuer: is, URL: endpoint, MCP: true, Scopes: scopes})
	require.NoError(t, err)
	c.StepUpTools = []string{"write_items"}
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
				rep := runChecker(t, is, endpoint, credentials, "write_items")
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
	rep := runChecker(t, is, endpoint, true, "write_items")
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
	rep := runChecker(t, is, endpoint, true, "write_items")
	c := results(rep)["stepup/write_items"]
	require.Equal(t, checker.ResultFail, c.Result)
	assert.True(t, slices.ContainsFunc(c.Messages, func(m string) bool { return strings.Contains(m, `error="invalid_token", want insufficient_scope`) }), "%q", c.Messages)
	assert.True(t, slices.ContainsFunc(c.Messages, func(m string) bool { return strings.Contains(m, "step-up cannot succeed") }), "%q", c.Messages)
}
