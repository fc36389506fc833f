package validatetest

import (
	"net/http"
	"testing"
)

// miswiredCase is one server of the miswired set: the wiring a user
// writes, broken in one way real servers are. Both the kit's test
// (TestConformanceFailsMiswired, over a Handler) and the checker's
// comparison (TestCheckerSameResults, on the server's own loopback URL)
// run it: one table, so that a case added to one is added to both.
type miswiredCase struct {
	name string
	// server builds the server for its resource identifier, the URL of
	// its metadata and its origin.
	server func(resource, metadata, origin string) kitServer
	// cfg, if set, changes the kit's configuration: such a case is the
	// kit's only (the checker has no ConformanceConfig).
	cfg func(*ConformanceConfig)

	// What the kit must report, configured with kitConfig.
	wantFail    []string          // subtests that must fail
	wantPass    []string          // subtests that must not
	wantMessage map[string]string // subtest -> a part of one of its failure messages
	wantSkipped []string          // subtests that must be skipped (besides those of cfg's Skip)

	// checkerFail are checks the checker must fail against this server:
	// black-box and with credentials, or, marked "+", with credentials
	// only.
	checkerFail []string
}

// miswiredCases is the miswired set, for the issuer is: besides is, the
// metadata may name an authorization server whose metadata gives another
// issuer, and one that has gone (on is's origin, the only one the kit
// fetches from).
func miswiredCases(t testing.TB, is *Issuer) []miswiredCase {
	mismatched := NewIssuer(t, &Options{Metadata: map[string]any{"issuer": "https://as.invalid"}})
	gone := is.URL + "/gone"
	scoped := []string{"items:read"}
	wrap := func(w func(http.ResponseWriter, *http.Request) http.ResponseWriter) func(http.Handler) http.Handler {
		return func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) { next.ServeHTTP(w(rw, r), r) })
		}
	}
	return []miswiredCase{
		{
			name:     "wired correctly",
			server:   func(_, _, _ string) kitServer { return kitServer{challengeScopes: scoped} },
			wantPass: []string{"metadata", "authorization servers", "cors", "challenge", "accept", "session", "stepup", "attacks", "dpop"},
		},
		{
			// No metadata, no authorization server: credentials are of no
			// use, which the checker's discovery reports.
			name:        "no metadata",
			server:      func(_, _, _ string) kitServer { return kitServer{noMetadata: true, challengeScopes: scoped} },
			wantFail:    []string{"metadata", "cors"},
			wantPass:    []string{"challenge", "accept", "stepup", "attacks"},
			wantSkipped: []string{"authorization servers"}, // nothing to check
			checkerFail: []string{"metadata", "cors", "+discovery"},
		},
		{
			name: "authorization server's metadata names another issuer",
			server: func(_, _, _ string) kitServer {
				return kitServer{challengeScopes: scoped, authorizationServers: []string{mismatched.URL}}
			},
			wantFail:    []string{"authorization servers"},
			wantPass:    []string{"metadata", "challenge", "accept", "stepup", "attacks"},
			wantMessage: map[string]string{"authorization servers": `gives "issuer" "https://as.invalid"`},
			checkerFail: []string{"authorization servers"},
		},
		{
			name: "authorization server unreachable",
			server: func(_, _, _ string) kitServer {
				return kitServer{challengeScopes: scoped, authorizationServers: []string{gone}}
			},
			wantFail:    []string{"authorization servers"},
			wantPass:    []string{"metadata", "challenge", "accept"},
			wantMessage: map[string]string{"authorization servers": "serves no metadata a client can read"},
			checkerFail: []string{"authorization servers"},
		},
		{
			// A client must not use the document (RFC 9728 §3.3): the
			// checker's discovery discards it, so credentials are of no
			// use.
			name: "metadata resource is the origin",
			server: func(_, _, origin string) kitServer {
				return kitServer{metadataResource: origin, challengeScopes: scoped}
			},
			wantFail:    []string{"metadata"},
			wantPass:    []string{"challenge", "accept", "attacks"},
			checkerFail: []string{"metadata", "+discovery"},
		},
		{
			name: "challenge points at the root metadata",
			server: func(_, _, origin string) kitServer {
				return kitServer{resourceMetadata: origin + "/.well-known/oauth-protected-resource", challengeScopes: scoped}
			},
			wantFail:    []string{"challenge", "attacks/claims/expired", "attacks/request/no Authorization header"},
			wantPass:    []string{"metadata", "accept"},
			checkerFail: []string{"challenge", "attacks/malformed/JWE", "attacks/request/no Authorization header"},
		},
		{
			// The kit is told the scopes the challenge must name; the
			// checker, told none, requires some (MCP: SHOULD).
			name:        "challenge without the configured scope",
			server:      func(_, _, _ string) kitServer { return kitServer{} },
			wantFail:    []string{"challenge"},
			wantPass:    []string{"metadata", "accept", "attacks", "stepup"},
			checkerFail: []string{"challenge"},
		},
		{
			name: "401 without WWW-Authenticate",
			server: func(_, _, _ string) kitServer {
				return kitServer{challengeScopes: scoped, wrap: wrap(func(w http.ResponseWriter, _ *http.Request) http.ResponseWriter {
					return dropChallenge{ResponseWriter: w}
				})}
			},
			wantFail:    []string{"challenge", "attacks/algorithm/alg none", "attacks/claims/expired"},
			wantPass:    []string{"metadata", "accept"},
			checkerFail: []string{"challenge", "attacks/algorithm/alg none", "attacks/request/no Authorization header"},
		},
		{
			name: "the usual Go stack",
			server: func(resource, _, _ string) kitServer {
				return kitServer{challengeScopes: scoped, authenticator: usualGoStackFor(t, is, resource, true)}
			},
			wantFail: []string{"attacks/algorithm/crit header", "attacks/claims/typ dpop+jwt", "attacks/malformed/oversized token", "attacks/request/two Authorization headers",
				// golang-jwt reads JSON with encoding/json (last member
				// wins, lone surrogates become U+FFFD) and knows neither
				// cnf nor auth_time.
				"attacks/claims/cnf jkt (DPoP-bound) as Bearer", "attacks/claims/cnf x5t#S256 (mTLS-bound) as Bearer", "attacks/claims/auth_time a year ahead",
				"attacks/malformed/duplicate sub", "attacks/malformed/duplicate sub spelled with an escape", "attacks/malformed/duplicate custom claim",
				"attacks/malformed/duplicate member in a nested object", "attacks/malformed/lone surrogate in sub"},
			wantPass: []string{"metadata", "challenge", "accept", "stepup", "attacks/claims/expired", "attacks/algorithm/alg none", "attacks/claims/aud another resource",
				// encoding/json refuses 1e400 into a float64; rsguard's
				// per-tool check still answers 405 to other methods.
				"attacks/malformed/number out of float64 range", "attacks/method"},
			checkerFail: []string{"+attacks/request/two Authorization headers"},
		},
		{
			name: "no audience check",
			server: func(resource, _, _ string) kitServer {
				return kitServer{challengeScopes: scoped, authenticator: usualGoStackFor(t, is, resource, false)}
			},
			wantFail:    []string{"attacks/claims/aud another resource", "attacks/claims/aud the origin only", "attacks/claims/no aud", "attacks/claims/aud the issuer"},
			wantPass:    []string{"metadata", "accept", "attacks/claims/expired"},
			checkerFail: []string{"+attacks/claims/aud another resource"},
		},
		{
			// The checker, told the tool's scopes (-tool-scopes), fails
			// it too.
			name:        "no per-tool scope check",
			server:      func(_, _, _ string) kitServer { return kitServer{challengeScopes: scoped, noScopeCheck: true} },
			wantFail:    []string{"stepup/read_items", "stepup/write_items"},
			wantPass:    []string{"stepup/ping", "metadata", "challenge", "accept", "attacks"},
			checkerFail: []string{"+stepup/write_items"},
		},
		{
			// MCP transport: a present, invalid Origin gets 403. The kit's
			// origin is not this server's: its CORS check passes on the 403.
			name: "origin validated",
			server: func(_, _, _ string) kitServer {
				return kitServer{challengeScopes: scoped, wrap: func(next http.Handler) http.Handler {
					return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
						if r.Header.Get("Origin") != "" {
							http.Error(w, "origin not allowed", http.StatusForbidden)
							return
						}
						next.ServeHTTP(w, r)
					})
				}}
			},
			wantPass: []string{"cors", "metadata", "challenge", "accept", "session", "stepup"},
		},
		{
			name: "403 without scope",
			server: func(_, metadata, _ string) kitServer {
				return kitServer{challengeScopes: scoped, wrap: wrap(func(w http.ResponseWriter, _ *http.Request) http.ResponseWriter {
					return &rewrite403{ResponseWriter: w, challenge: `Bearer resource_metadata="` + metadata + `", error="insufficient_scope"`}
				})}
			},
			wantFail:    []string{"stepup/read_items", "stepup/write_items"},
			wantPass:    []string{"stepup/ping", "accept", "attacks"},
			checkerFail: []string{"+stepup/write_items"},
		},
		{
			name: "403 naming a scope that does not suffice",
			server: func(_, metadata, _ string) kitServer {
				return kitServer{challengeScopes: scoped, wrap: wrap(func(w http.ResponseWriter, _ *http.Request) http.ResponseWriter {
					return &rewrite403{ResponseWriter: w, challenge: `Bearer resource_metadata="` + metadata + `", scope="items:list", error="insufficient_scope"`}
				})}
			},
			wantFail:    []string{"stepup/read_items", "stepup/write_items"},
			wantPass:    []string{"accept"},
			checkerFail: []string{"+stepup/write_items"},
		},
		{
			name: "token echoed in the error body",
			server: func(_, _, _ string) kitServer {
				return kitServer{challengeScopes: scoped, wrap: wrap(func(w http.ResponseWriter, r *http.Request) http.ResponseWriter {
					return &echoToken{ResponseWriter: w, token: r.Header.Get("Authorization")}
				})}
			},
			wantFail:    []string{"attacks/claims/expired", "attacks/algorithm/alg none"},
			wantPass:    []string{"metadata", "challenge", "accept"},
			checkerFail: []string{"attacks/algorithm/alg none", "+attacks/algorithm/payload tampered"},
		},
		{
			name: "token in the query string accepted",
			server: func(_, _, _ string) kitServer {
				return kitServer{challengeScopes: scoped, wrap: func(next http.Handler) http.Handler {
					return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
						if tok := r.URL.Query().Get("access_token"); tok != "" {
							r.Header.Set("Authorization", "Bearer "+tok)
							r.URL.RawQuery = ""
						}
						next.ServeHTTP(w, r)
					})
				}}
			},
			wantFail:    []string{"attacks/request/token in the query string"},
			wantPass:    []string{"accept", "attacks/claims"},
			checkerFail: []string{"+attacks/request/token in the query string"},
		},
		{
			name: "challenge hidden from browsers",
			server: func(_, _, _ string) kitServer {
				return kitServer{challengeScopes: scoped, wrap: wrap(func(w http.ResponseWriter, _ *http.Request) http.ResponseWriter {
					return dropExpose{ResponseWriter: w}
				})}
			},
			wantFail:    []string{"cors"},
			wantPass:    []string{"metadata", "challenge", "accept", "stepup"},
			checkerFail: []string{"cors"},
		},
		{
			name:   "sessions not bound to the user",
			server: func(_, _, _ string) kitServer { return kitServer{challengeScopes: scoped, unboundSessions: true} },
			wantFail: []string{"session/another user/POST", "session/another user/GET stream", "session/another user/DELETE",
				"session/another user/same answer as an unknown session", "session/client named after the user", "session/client named after the user (sub = client_id)"},
			wantPass: []string{"session/unknown session", "session/renewed token", "session/owner ends the session", "metadata", "challenge", "accept", "stepup", "attacks"},
			wantMessage: map[string]string{
				"session/another user/POST":       "was served in a session it did not open",
				"session/another user/GET stream": "was served in a session it did not open",
				"session/another user/DELETE":     "an intruder can end other principals' sessions",
			},
		},
		{
			name:     "sessions bound to the name, users and clients alike",
			server:   func(_, _, _ string) kitServer { return kitServer{challengeScopes: scoped, sessionsByName: true} },
			wantFail: []string{"session/client named after the user", "session/client named after the user (sub = client_id)"},
			wantPass: []string{"session/another user", "session/unknown session", "session/renewed token", "session/owner ends the session", "metadata", "challenge", "accept", "stepup", "attacks"},
		},
		{
			name:   "sessions refused to intruders with 403",
			server: func(_, _, _ string) kitServer { return kitServer{challengeScopes: scoped, sessions403: true} },
			wantFail: []string{"session/another user/POST", "session/another user/GET stream", "session/another user/DELETE", "session/another user/same answer as an unknown session",
				"session/client named after the user/POST", "session/client named after the user (sub = client_id)/POST"},
			wantPass: []string{"session/unknown session", "session/renewed token", "session/owner ends the session", "metadata", "challenge", "accept", "stepup", "attacks"},
			wantMessage: map[string]string{
				"session/another user/POST":                              "a 403 tells a prober the session exists. Answer 404, as for an unknown session.",
				"session/another user/same answer as an unknown session": "POST tools/list 403, but 404 for a made-up id",
			},
		},
		{
			name:     "sessions bound to the token",
			server:   func(_, _, _ string) kitServer { return kitServer{challengeScopes: scoped, sessionsByToken: true} },
			wantFail: []string{"session/renewed token"},
			// Every request of the kit but the session's own carries a new
			// token: stepup and the method attacks fail too.
			wantPass:    []string{"session/unknown session", "session/another user", "session/client named after the user", "session/owner ends the session", "metadata", "challenge", "accept"},
			wantMessage: map[string]string{"session/renewed token": "never to the token, its jti or its expiry"},
			checkerFail: []string{"+stepup/write_items"},
		},
		{
			name:        "DELETE answered 2xx that ends nothing",
			server:      func(_, _, _ string) kitServer { return kitServer{challengeScopes: scoped, deleteIgnored: true} },
			wantFail:    []string{"session/owner ends the session"},
			wantPass:    []string{"session/unknown session", "session/another user", "session/renewed token", "accept", "stepup", "attacks"},
			wantMessage: map[string]string{"session/owner ends the session": "still served"},
		},
		{
			name:        "sessions clients may not end",
			server:      func(_, _, _ string) kitServer { return kitServer{challengeScopes: scoped, noSessionDelete: true} },
			wantPass:    []string{"session", "metadata", "challenge", "accept", "stepup", "attacks"},
			wantSkipped: []string{"session/owner ends the session"},
		},
		{
			name:        "per-tool check on POST only",
			server:      func(_, _, _ string) kitServer { return kitServer{challengeScopes: scoped, postOnlyCheck: true} },
			wantFail:    []string{"attacks/method/PUT with a tool call body", "attacks/method/PATCH with a tool call body", "attacks/method/lowercase post with a tool call body"},
			wantPass:    []string{"metadata", "challenge", "accept", "session", "stepup", "attacks/claims", "attacks/malformed"},
			checkerFail: []string{"+attacks/method/PUT with a tool call body"},
		},
		{
			name: "other methods refused without Allow",
			server: func(_, _, _ string) kitServer {
				return kitServer{challengeScopes: scoped, wrap: wrap(func(w http.ResponseWriter, _ *http.Request) http.ResponseWriter {
					return dropAllow{ResponseWriter: w}
				})}
			},
			wantFail:    []string{"attacks/method/PUT with a tool call body", "attacks/method/lowercase post with a tool call body"},
			wantPass:    []string{"accept", "session", "stepup", "attacks/claims"},
			checkerFail: []string{"+attacks/method/PUT with a tool call body", "+attacks/method/lowercase post with a tool call body"},
		},
		{
			name: "resource_metadata from the Host header",
			server: func(_, _, origin string) kitServer {
				return kitServer{challengeScopes: scoped, wrap: wrap(func(w http.ResponseWriter, r *http.Request) http.ResponseWriter {
					return &hostChallenge{ResponseWriter: w, host: r.Host, origin: origin}
				})}
			},
			wantFail:    []string{"attacks/request/spoofed Host header"},
			wantPass:    []string{"metadata", "challenge", "accept", "attacks/claims", "attacks/request/no Authorization header"},
			checkerFail: []string{"attacks/request/spoofed Host header"},
		},
		{
			name:        "skipped deviation",
			server:      func(_, _, _ string) kitServer { return kitServer{noMetadata: true, challengeScopes: scoped} },
			cfg:         func(c *ConformanceConfig) { c.Skip = []string{"metadata", "cors"} },
			wantPass:    []string{"metadata", "cors", "challenge", "accept"},
			wantSkipped: []string{"authorization servers"},
		},
	}
}
