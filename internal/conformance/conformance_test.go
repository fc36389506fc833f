package conformance

// Tests of the engine on its own: the list of checks and attack cases, a
// black-box run (no tokens) against a correctly wired server, and the
// helpers. The kit's own tests (validate/validatetest) run it with an
// issuer against the miswired set, and compare the two front ends.

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/rsmeta"
	"github.com/rsguard/rsguard/validate"
)

func TestChecks(t *testing.T) {
	var names []string
	for _, ch := range Checks() {
		assert.NotEmpty(t, ch.Name)
		assert.NotContains(t, names, ch.Name, "check names are unique")
		names = append(names, ch.Name)
		assert.NotEmpty(t, ch.Spec, "%s: Spec", ch.Name)
		assert.NotNil(t, ch.Run, "%s: Run", ch.Name)
	}
	assert.Equal(t, []string{"metadata", "authorization servers", "cors", "challenge", "accept", "session", "stepup", "attacks", "dpop", "introspection"}, names, "the subtests, in order")
	needs := map[string]Needs{}
	for _, ch := range Checks() {
		needs[ch.Name] = ch.Needs
	}
	assert.Equal(t, map[string]Needs{
		"metadata": NeedsNothing, "authorization servers": NeedsNothing, "cors": NeedsNothing, "challenge": NeedsNothing, "attacks": NeedsNothing,
		"accept": NeedsToken, "stepup": NeedsToken, "session": NeedsIssuerKey, "dpop": NeedsNothing, "introspection": NeedsIssuerKey,
	}, needs)
}

func TestAttackCases(t *testing.T) {
	seen := map[string]bool{}
	count := map[Needs]int{}
	for _, a := range AttackCases() {
		key := a.Class + "/" + a.Name
		assert.False(t, seen[key], "%s listed twice", key)
		seen[key] = true
		assert.Contains(t, []string{"algorithm", "claims", "malformed", "request", "method"}, a.Class, key)
		assert.Contains(t, []Needs{NeedsNothing, NeedsToken, NeedsIssuerKey}, a.Needs, key)
		assert.NotEmpty(t, a.Spec, "%s: Spec", key)
		if a.Needs == NeedsNothing {
			assert.Empty(t, a.Why, "%s: Why of a black-box case", key)
		} else {
			assert.NotEmpty(t, a.Why, "%s: Why", key)
			assert.NotContains(t, a.Why, ".", "%s: Why is one clause", key)
			assert.NotContains(t, a.Why, ":", "%s: Why is one clause", key)
		}
		count[a.Needs]++
	}
	// The black-box cases the checker command runs without credentials.
	for _, key := range []string{"algorithm/alg none", "algorithm/HS256 keyed with the public key PEM", "algorithm/foreign key under an unknown kid",
		"malformed/not a JWT", "malformed/JWE", "request/no Authorization header", "request/spoofed Host header"} {
		a, ok := lookup(key)
		assert.True(t, ok, key)
		assert.Equal(t, NeedsNothing, a.Needs, key)
	}
	for _, key := range []string{"claims/expired", "malformed/duplicate sub", "algorithm/key published with use enc"} {
		a, _ := lookup(key)
		assert.Equal(t, NeedsIssuerKey, a.Needs, key)
	}
	// With client credentials: a token for another resource is one the
	// authorization server issues (RFC 8707), no forgery.
	for _, key := range []string{"request/token in the query string", "request/two Authorization headers", "method/PUT with a tool call body", "claims/aud another resource"} {
		a, _ := lookup(key)
		assert.Equal(t, NeedsToken, a.Needs, key)
	}
	t.Logf("attack cases: %d black-box, %d with a token, %d with the issuer's key", count[NeedsNothing], count[NeedsToken], count[NeedsIssuerKey])
}

// lookup finds the attack case "class/name".
func lookup(key string) (AttackCase, bool) {
	class, name, _ := strings.Cut(key, "/")
	return attackCase(class, name)
}

const (
	bbIssuer   = "https://as.example.com"
	bbResource = "https://mcp.example.com/mcp"
	bbMetadata = "https://mcp.example.com/.well-known/oauth-protected-resource/mcp"
)

// wiredServer is a correctly wired resource: rsguard's metadata handler and
// an rsguard.Guard over a validate.Validator with pinned keys, in front of
// a handler that answers 200 (nothing reaches it without a valid token).
func wiredServer(t *testing.T) (http.Handler, *PublicKey) {
	t.Helper()
	return wiredServerMode(t, validate.DPoPOff)
}

// wiredServerMode is wiredServer in a DPoP mode.
func wiredServerMode(t *testing.T, mode validate.DPoPMode) (http.Handler, *PublicKey) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	jwk, err := PublicJWK(key.Public())
	require.NoError(t, err)
	jwk["kid"], jwk["alg"], jwk["use"] = "as-key-1", "RS256", "sig"
	entry, err := marshalJSON(jwk)
	require.NoError(t, err)
	keys, err := validate.NewStaticKeySet([]byte(`{"keys":[` + string(entry) + `]}`))
	require.NoError(t, err)
	v, err := validate.New(context.Background(), validate.Config{Issuer: bbIssuer, Resource: bbResource, Keys: keys, DPoP: validate.DPoPConfig{Mode: mode}})
	require.NoError(t, err)
	guard, err := rsguard.New(rsguard.Config{Authenticator: v, ResourceMetadata: bbMetadata, Scopes: []string{"items:read"}})
	require.NoError(t, err)
	mux := http.NewServeMux()
	meta, err := rsmeta.NewHandler(rsmeta.Metadata{Resource: bbResource, AuthorizationServers: []string{bbIssuer}, ScopesSupported: []string{"items:read"}})
	require.NoError(t, err)
	mux.Handle("/.well-known/oauth-protected-resource/mcp", meta)
	mux.Handle("/mcp", allowAnyOrigin(guard.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"jsonrpc":"2.0","id":1,"result":{}}`)
	}))))
	return mux, &PublicKey{Kid: "as-key-1", Alg: "RS256", Key: key.Public(), JWK: entry}
}

// allowAnyOrigin lets browser-based clients of any origin read next's
// answers (Access-Control-Allow-Origin: *), as the cors check requires of
// a server that does not refuse their origin with 403.
func allowAnyOrigin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Origin") != "" {
			w.Header().Set("Access-Control-Allow-Origin", "*")
		}
		next.ServeHTTP(w, r)
	})
}

// blackBox is a Target without tokens for h, served on 127.0.0.1.
func blackBox(t *testing.T, h http.Handler, key *PublicKey, mcp bool) *Target {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	client := srv.Client()
	client.CheckRedirect = NoRedirects
	return &Target{
		Caller: "test", Endpoint: srv.URL + "/mcp", Host: "mcp.example.com", Resource: bbResource,
		MetadataURL: bbMetadata, MetadataGet: srv.URL + "/.well-known/oauth-protected-resource/mcp", Client: client,
		ASClient: asClient(t, bbIssuer, nil),
		MCP:      mcp, Tools: map[string][]string{"read_items": {"items:read"}}, Scopes: []string{"items:read"},
		Issuer: bbIssuer, IssuerKey: key,
	}
}

// asClient is a client whose every request, whatever its URL, is answered
// on 127.0.0.1 by a stand-in for the authorization server issuer: its RFC
// 8414 metadata (extra merged over it, nil removing a member) at the
// path-inserted well-known URL, 404 elsewhere. No name is looked up.
func asClient(t *testing.T, issuer string, extra map[string]any) *http.Client {
	t.Helper()
	u, err := url.Parse(issuer)
	require.NoError(t, err)
	doc := map[string]any{"issuer": issuer, "token_endpoint": issuer + "/token", "jwks_uri": issuer + "/jwks"}
	merge(doc, extra)
	body, err := marshalJSON(doc)
	require.NoError(t, err)
	as := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Host != u.Host || r.URL.Path != "/.well-known/oauth-authorization-server"+u.Path {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	t.Cleanup(as.Close)
	return &http.Client{CheckRedirect: NoRedirects, Transport: roundTripFunc(func(req *http.Request) (*http.Response, error) {
		req = req.Clone(req.Context())
		req.Host = req.URL.Host
		req.URL.Scheme, req.URL.Host = "http", as.Listener.Addr().String()
		return http.DefaultTransport.RoundTrip(req)
	})}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestBlackBox runs the checks without tokens against a correctly wired
// server: the black-box checks run and pass, every other check is reported
// not checkable, never passed.
func TestBlackBox(t *testing.T) {
	h, key := wiredServer(t)
	for _, mcp := range []bool{false, true} {
		t.Run(fmt.Sprintf("MCP %v", mcp), func(t *testing.T) {
			rec := record(blackBox(t, h, key, mcp))
			assert.Empty(t, rec.failures, "failures of a correctly wired server:\n%s", rec.summary())
			assert.Empty(t, rec.fatal)

			// What must be skipped: each check and attack case that
			// applies and needs more than nothing.
			want := map[string]bool{"Kit/accept": true}
			if mcp {
				want["Kit/session"], want["Kit/stepup"] = true, true
			}
			for _, a := range AttackCases() {
				if a.Needs == NeedsNothing || a.Class == "method" && !mcp ||
					a.Name == "PS256 signature by the RS256 key" && key.Alg != "RS256" {
					continue
				}
				want["Kit/attacks/"+a.Class+"/"+strings.ReplaceAll(a.Name, " ", "_")] = true
			}
			// The DPoP cases that apply with DPoP off: the challenges run,
			// the others need tokens.
			for _, a := range DPoPCases() {
				if a.Needs != NeedsNothing && a.Class == "downgrade" && !strings.Contains(a.Name, "opaque") &&
					!strings.Contains(a.Name, "once accepted") && !strings.Contains(a.Name, "with a valid proof") && a.Name != "bearer token where DPoP is required" {
					want["Kit/dpop/"+a.Class+"/"+strings.ReplaceAll(a.Name, " ", "_")] = true
				}
			}
			for name, msg := range rec.skipped {
				if strings.HasPrefix(msg, DoesNotApply+": ") {
					assert.True(t, strings.HasPrefix(name, "Kit/dpop/"), "%s does not apply: %s", name, msg)
					assert.NotContains(t, strings.TrimPrefix(msg, DoesNotApply+": "), ".", "%s: one clause", name)
					continue
				}
				assert.True(t, want[name], "%s skipped: %s", name, msg)
				rest, ok := strings.CutPrefix(msg, NotCheckable+" without credentials: ")
				assert.True(t, ok, "%s skipped with %q", name, msg)
				assert.NotContains(t, rest, ".", "%s: one clause", name)
				assert.NotContains(t, rest, ":", "%s: one clause", name)
			}
			for name := range want {
				assert.Contains(t, rec.skipped, name, "not reported not checkable")
			}
			// The black-box checks ran: their subtests exist and passed.
			for _, name := range []string{"Kit/metadata", "Kit/authorization_servers", "Kit/cors", "Kit/challenge", "Kit/attacks/algorithm/alg_none",
				"Kit/attacks/algorithm/HS256_keyed_with_the_public_key_PEM", "Kit/attacks/algorithm/foreign_key_under_the_issuer's_kid",
				"Kit/attacks/malformed/JWE", "Kit/attacks/request/spoofed_Host_header", "Kit/dpop/downgrade/challenges_name_the_accepted_schemes"} {
				assert.Contains(t, rec.passed, name)
			}
		})
	}
}

// TestBlackBoxDPoPRequired: without tokens, against a server that accepts
// only DPoP, the black-box attacks are forged tokens bound to the kit's
// DPoP key sent with valid proofs, and pass; the checks and cases that need
// a token need, DPoP required, the issuer's key (a token source's tokens
// are not bound to the kit's key), and are reported not checkable.
func TestBlackBoxDPoPRequired(t *testing.T) {
	h, key := wiredServerMode(t, validate.DPoPRequired)
	c := blackBox(t, h, key, true)
	c.DPoP = DPoPRequired
	c.Skip = []string{"dpop"}
	rec := record(c)
	assert.Empty(t, rec.failures, "failures of a correctly wired server:\n%s", rec.summary())
	assert.Empty(t, rec.fatal)
	for _, name := range []string{"Kit/accept", "Kit/stepup", "Kit/attacks/request/token_in_the_query_string", "Kit/attacks/method/PUT_with_a_tool_call_body"} {
		assert.Equal(t, NotCheckable+" without credentials: "+whyBoundToken, rec.skipped[name], name)
	}
	assert.True(t, strings.HasPrefix(rec.skipped["Kit/session"], NotCheckable+" without credentials: "), rec.skipped["Kit/session"])
	for _, name := range []string{"Kit/attacks/claims/cnf_jkt_(DPoP-bound)_as_Bearer", "Kit/attacks/claims/cnf_x5t#S256_(mTLS-bound)_as_Bearer"} {
		assert.True(t, strings.HasPrefix(rec.skipped[name], DoesNotApply+": "), "%s: %s", name, rec.skipped[name])
	}
	for _, name := range []string{"Kit/attacks/algorithm/alg_none", "Kit/attacks/algorithm/foreign_key_under_the_issuer's_kid",
		"Kit/attacks/algorithm/HS256_keyed_with_the_public_key_PEM", "Kit/attacks/malformed/not_a_JWT", "Kit/attacks/malformed/JWE",
		"Kit/attacks/request/no_Authorization_header", "Kit/attacks/request/empty_Bearer", "Kit/attacks/request/spoofed_Host_header"} {
		assert.Contains(t, rec.passed, name)
	}
}

// TestBlackBoxWithoutIssuerKey: without the issuer's public key, the cases
// that name or use it are skipped, never passed.
func TestBlackBoxWithoutIssuerKey(t *testing.T) {
	h, _ := wiredServer(t)
	c := blackBox(t, h, nil, false)
	rec := record(c)
	assert.Empty(t, rec.failures, rec.summary())
	for _, name := range []string{"HS256_keyed_with_the_public_key_PEM", "HS256_keyed_with_the_JWK", "foreign_key_under_the_issuer's_kid"} {
		msg, ok := rec.skipped["Kit/attacks/algorithm/"+name]
		assert.True(t, ok, "%s not skipped", name)
		assert.True(t, strings.HasPrefix(msg, NotCheckable+" without the authorization server's public key: "), "%s: %q", name, msg)
	}
	assert.Contains(t, rec.passed, "Kit/attacks/algorithm/alg_none")
}

// TestForeignHostRefused: a server that refuses a Host it does not serve
// before authentication (DNS-rebinding protection) passes the spoofed Host
// case, with 403 or 421 and no challenge; a 403 whose challenge points
// elsewhere still fails, and so does a 404.
func TestForeignHostRefused(t *testing.T) {
	h, key := wiredServer(t)
	for _, tc := range []struct {
		name      string
		status    int
		challenge string // WWW-Authenticate of the refusal, "" for none
		fail      string // "": passes
	}{
		{"403 without a challenge", http.StatusForbidden, "", ""},
		{"421 without a challenge", http.StatusMisdirectedRequest, "", ""},
		{"403 with this resource's challenge", http.StatusForbidden, `Bearer resource_metadata="` + bbMetadata + `"`, ""},
		{"403 with a challenge from the Host", http.StatusForbidden, `Bearer resource_metadata="https://attacker.invalid/.well-known/oauth-protected-resource/mcp"`, "resource_metadata"},
		{"404", http.StatusNotFound, "", "status 404"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			guarded := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Host != "mcp.example.com" {
					if tc.challenge != "" {
						w.Header().Set("WWW-Authenticate", tc.challenge)
					}
					w.WriteHeader(tc.status)
					return
				}
				h.ServeHTTP(w, r)
			})
			rec := record(blackBox(t, guarded, key, false))
			const name = "Kit/attacks/request/spoofed_Host_header"
			if tc.fail == "" {
				assert.Contains(t, rec.passed, name, rec.summary())
				assert.Empty(t, rec.failures, rec.summary())
				return
			}
			require.NotEmpty(t, rec.failures[name], rec.summary())
			assert.Contains(t, strings.Join(rec.failures[name], "\n"), tc.fail)
		})
	}
}

// TestBlackBoxFailsMiswired: the black-box checks fail a server that
// answers 401 without a challenge.
func TestBlackBoxFailsMiswired(t *testing.T) {
	h, key := wiredServer(t)
	broken := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(dropChallenge{w}, r)
	})
	rec := record(blackBox(t, broken, key, false))
	for _, name := range []string{"Kit/challenge", "Kit/attacks/algorithm/alg_none", "Kit/attacks/request/no_Authorization_header"} {
		assert.NotEmpty(t, rec.failures[name], "%s did not fail:\n%s", name, rec.summary())
	}
	assert.Empty(t, rec.failures["Kit/metadata"])
	assert.Contains(t, rec.failures["Kit/challenge"][0], "without WWW-Authenticate")
}

type dropChallenge struct{ http.ResponseWriter }

func (d dropChallenge) WriteHeader(code int) {
	d.Header().Del("WWW-Authenticate")
	d.ResponseWriter.WriteHeader(code)
}

type recording struct {
	failures map[string][]string // subtest -> messages
	skipped  map[string]string   // subtest -> message
	passed   []string            // subtests that ran to the end without failing
	fatal    []string
}

// record runs c under a Recorder and keeps what the tests look at, by
// subtest name as package testing writes it ("Kit/attacks/algorithm/alg_none").
func record(c *Target) *recording {
	r := NewRecorder("Kit")
	r.Run(func(r Reporter) { Run(r, c) })
	return fromResults(r.Results())
}

func fromResults(results []Result) *recording {
	rec := &recording{failures: map[string][]string{}, skipped: map[string]string{}}
	for _, res := range results {
		name := "Kit"
		if res.Name != "" {
			name += "/" + strings.ReplaceAll(res.Name, " ", "_")
		}
		if len(res.Errors) > 0 {
			rec.failures[name] = res.Errors
		}
		if res.Fatal {
			rec.fatal = append(rec.fatal, name)
		}
		switch res.Outcome {
		case Skipped:
			rec.skipped[name] = res.Skip
		case Passed:
			rec.passed = append(rec.passed, name)
		}
	}
	return rec
}

func (rec *recording) summary() string {
	var names []string
	for name, msgs := range rec.failures {
		names = append(names, name+": "+msgs[0])
	}
	slices.Sort(names)
	return strings.Join(names, "\n")
}

// TestForgerClaims: forged tokens claim the issuer and carry the claims of
// a valid token, so that only their signature is wrong.
func TestForgerClaims(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	f := &forger{issuer: bbIssuer, now: func() time.Time { return now }}
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	tok := f.Mint(TokenOptions{Signer: k}, map[string]any{"aud": bbResource, "sub": nil})
	h, p, s := splitToken(tok)
	assert.NotEmpty(t, s)
	var header, claims map[string]any
	require.NoError(t, json.Unmarshal(mustDecode(t, h), &header))
	require.NoError(t, json.Unmarshal(mustDecode(t, p), &claims))
	assert.Equal(t, map[string]any{"alg": "RS256", "typ": "at+jwt"}, header)
	assert.Equal(t, bbIssuer, claims["iss"])
	assert.Equal(t, bbResource, claims["aud"])
	assert.InDelta(t, now.Add(5*time.Minute).Unix(), claims["exp"], 0)
	assert.NotContains(t, claims, "sub")
	assert.Empty(t, f.Mint(TokenOptions{}, nil), "the issuer's own key")
	assert.Empty(t, f.Mint(TokenOptions{Alg: "HS256"}, nil), "HMAC without a secret")
	assert.True(t, strings.HasSuffix(f.Mint(TokenOptions{Alg: "none"}, nil), "."))
}

func mustDecode(t *testing.T, seg string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(seg)
	require.NoError(t, err)
	return b
}

func TestMadeUpSession(t *testing.T) {
	for _, tc := range []struct {
		name, issued string
		fallback     bool // too little to vary: a random id instead
	}{
		{"UUID", "3f2b8c1e-9a4d-4e6f-b0c2-7d8e9f0a1b2c", false},
		{"upper-case hex", "3F2B8C1E9A4D4E6FB0C27D8E9F0A1B2C", false},
		{"base64url", "Zq8_xY-3kLmN0pQrStUvWx", false},
		{"short", "session-1", true},
		{"no letters or digits", "--------------------", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := madeUpSession(tc.issued)
			assert.NotEqual(t, tc.issued, got)
			if tc.fallback {
				assert.True(t, strings.HasPrefix(got, "rsguard-conformance-unknown-"), "got %q", got)
				return
			}
			require.Len(t, got, len(tc.issued))
			for i := range len(got) {
				a, b := tc.issued[i], got[i]
				assert.Equal(t, classOf(a), classOf(b), "character %d: %q for %q", i, b, a)
			}
		})
	}
}

// classOf is the kind of character madeUpSession keeps.
func classOf(ch byte) string {
	switch {
	case '0' <= ch && ch <= '9':
		return "digit"
	case 'a' <= ch && ch <= 'f':
		return "lower hex"
	case 'A' <= ch && ch <= 'F':
		return "upper hex"
	case 'a' <= ch && ch <= 'z':
		return "lower"
	case 'A' <= ch && ch <= 'Z':
		return "upper"
	}
	return string(ch)
}

func TestRedact(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`Bearer error="invalid_token", token eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln received`, `Bearer error="invalid_token", token [token] received`},
		{"header eyJhbGciOiJSUzI1NiJ9 alone", "header [token] alone"},
		{"two eyJhbGciOi.x and eyJzdWIiOiJ4In0", "two [token] and [token]"},
		{"eyJ is short", "eyJ is short"},
		{"no token here", "no token here"},
	} {
		assert.Equal(t, tc.want, Redact(tc.in), "Redact(%q)", tc.in)
	}
}

// TestStreamHeld checks that a GET whose answer never comes is given up,
// not waited for.
func TestStreamHeld(t *testing.T) {
	held := make(chan struct{})
	t.Cleanup(func() { close(held) })
	c := blackBox(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select { // no headers, ever
		case <-r.Context().Done():
		case <-held:
		}
	}), nil, true)
	c.StreamWait = 50 * time.Millisecond
	start := time.Now()
	_, err := c.inSession(http.MethodGet, "session-1", "not-a-token")
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(start), 5*time.Second)
}

// TestAuthorizationServers: the authorization servers check fails an
// authorization server whose metadata cannot be read, names another issuer
// or no token endpoint, and notes (never fails) what only some clients need.
func TestAuthorizationServers(t *testing.T) {
	h, key := wiredServer(t)
	for _, tc := range []struct {
		name     string
		extra    map[string]any
		issuer   string // the stand-in's, if not bbIssuer
		wantFail string // a part of the message; "" for a pass
		wantLog  string
	}{
		{name: "correct", wantLog: "no authorization_endpoint"},
		{name: "issuer mismatch", extra: map[string]any{"issuer": bbIssuer + "/"}, wantFail: `gives "issuer" "https://as.example.com/"`},
		{name: "no metadata", issuer: "https://elsewhere.example.com", wantFail: "serves no metadata a client can read"},
		{name: "no token endpoint", extra: map[string]any{"token_endpoint": nil}, wantFail: `has no "token_endpoint"`},
		{name: "token endpoint over http", extra: map[string]any{"token_endpoint": "http://as.example.com/token"}, wantFail: "is not an https URL"},
		{name: "no PKCE", extra: map[string]any{"authorization_endpoint": bbIssuer + "/authorize"}, wantLog: "lacks S256"},
		{name: "PKCE", extra: map[string]any{"authorization_endpoint": bbIssuer + "/authorize", "code_challenge_methods_supported": []string{"S256"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := blackBox(t, h, key, false)
			issuer := bbIssuer
			if tc.issuer != "" {
				issuer = tc.issuer
			}
			c.ASClient = asClient(t, issuer, tc.extra)
			c.Skip = []string{"cors", "challenge", "accept", "attacks", "dpop"}
			got := runFor(t, c, "authorization servers")
			if tc.wantFail == "" {
				assert.Equal(t, Passed, got.Outcome, "%q", got.Errors)
			} else {
				require.Equal(t, Failed, got.Outcome)
				require.Len(t, got.Errors, 1)
				assert.Contains(t, got.Errors[0], tc.wantFail)
				assert.True(t, strings.HasSuffix(got.Errors[0], "."), got.Errors[0])
			}
			if tc.wantLog != "" {
				assert.True(t, slices.ContainsFunc(got.Logs, func(l string) bool { return strings.Contains(l, tc.wantLog) }), "%q", got.Logs)
			}
		})
	}
}

// TestASMetadataURLs: the order MCP authorization (2025-11-25) gives — RFC
// 8414 path-inserted, OpenID Connect Discovery path-inserted, then, with a
// path, appended — built from the parsed issuer; identifiers RFC 8414 §2
// does not allow are refused, never appended to.
func TestASMetadataURLs(t *testing.T) {
	got, err := asMetadataURLs("https://as.example.com")
	require.NoError(t, err)
	assert.Equal(t, []string{"https://as.example.com/.well-known/oauth-authorization-server", "https://as.example.com/.well-known/openid-configuration"}, got)
	got, err = asMetadataURLs("https://as.example.com/tenants/a/")
	require.NoError(t, err)
	assert.Equal(t, []string{"https://as.example.com/.well-known/oauth-authorization-server/tenants/a",
		"https://as.example.com/.well-known/openid-configuration/tenants/a", "https://as.example.com/tenants/a/.well-known/openid-configuration"}, got)
	for _, bad := range []string{"/relative", "https://as.example.com/t?x=1", "https://as.example.com/t?", "https://as.example.com/#f", "https://u:p@as.example.com",
		"http://as.example.com", "ftp://as.example.com", "http://127.0.0.1:1/admin?x=", "mailto:a@b"} {
		_, err := asMetadataURLs(bad)
		assert.Error(t, err, bad)
	}
	got, err = asMetadataURLs("http://127.0.0.1:9/as")
	require.NoError(t, err)
	assert.Equal(t, "http://127.0.0.1:9/.well-known/oauth-authorization-server/as", got[0])
}

// TestMetadataNamesIssuerIdentifiers: an authorization server named with a
// query, a fragment or userinfo fails the metadata check and is not
// fetched by the authorization servers check.
func TestMetadataNamesIssuerIdentifiers(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	bad := []string{"https://as.example.com/?x=1", "https://as.example.com/#f", "https://user@as.example.com"}
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/oauth-protected-resource/mcp", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"resource": bbResource, "authorization_servers": append([]string{bbIssuer}, bad...)})
	})
	var fetched atomic.Int32
	c := blackBox(t, mux, &PublicKey{Kid: "k", Alg: "RS256", Key: key.Public()}, false)
	base := c.ASClient.Transport
	c.ASClient.Transport = roundTripFunc(func(req *http.Request) (*http.Response, error) {
		if req.URL.Host != "as.example.com" || req.URL.Path != "/.well-known/oauth-authorization-server" {
			fetched.Add(1)
		}
		return base.RoundTrip(req)
	})
	c.Skip = []string{"cors", "challenge", "accept", "attacks", "dpop"}
	rec := record(c)
	msgs := strings.Join(rec.failures["Kit/metadata"], "\n")
	for _, as := range bad {
		assert.Contains(t, msgs, fmt.Sprintf("names %q, which is not an issuer identifier", as))
	}
	assert.Contains(t, msgs, "RFC 8414 §2")
	assert.Empty(t, rec.failures["Kit/authorization_servers"], rec.summary())
	assert.Zero(t, fetched.Load(), "an authorization server that is not an issuer identifier was fetched")
}

// TestChallengeElsewhere: a challenge whose resource_metadata is not the
// metadata URL is judged by the document it names, as the metadata check
// judges the well-known one: this resource's metadata there passes, another
// resource's or none fails, saying why; the document on the resource's
// origin is fetched (once), another origin's never is, and fails.
func TestChallengeElsewhere(t *testing.T) {
	valid := `{"resource":"` + bbResource + `","authorization_servers":["` + bbIssuer + `"],"scopes_supported":["items:read"]}`
	for _, tc := range []struct {
		name, rm string
		want     []string // "": passes
		serve    string   // the document served at /.well-known/oauth-protected-resource
		wantGets int
	}{
		{"root, another resource", "https://mcp.example.com/.well-known/oauth-protected-resource",
			[]string{`the metadata at https://mcp.example.com/.well-known/oauth-protected-resource, the Bearer challenge's resource_metadata: "resource" is "https://mcp.example.com", want "https://mcp.example.com/mcp"`, "RFC 9728 §3.3"},
			`{"resource":"https://mcp.example.com","authorization_servers":["` + bbIssuer + `"]}`, 1},
		{"root, this resource", "https://mcp.example.com/.well-known/oauth-protected-resource", nil, valid, 1},
		{"root, this resource without authorization servers", "https://mcp.example.com/.well-known/oauth-protected-resource",
			[]string{`"authorization_servers" missing`}, `{"resource":"` + bbResource + `"}`, 1},
		{"root, nothing", "https://mcp.example.com/.well-known/oauth-protected-resource", []string{"status 404, want 200 with the metadata"}, "", 1},
		{"another origin", "https://attacker.example/.well-known/oauth-protected-resource/mcp", []string{"is not on the resource's origin", "sends nothing elsewhere"}, valid, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key, err := rsa.GenerateKey(rand.Reader, 2048)
			require.NoError(t, err)
			var gets atomic.Int32
			mux := http.NewServeMux()
			mux.HandleFunc("/.well-known/oauth-protected-resource", func(w http.ResponseWriter, r *http.Request) {
				gets.Add(1)
				if tc.serve == "" {
					http.NotFound(w, r)
					return
				}
				w.Header().Set("Content-Type", "application/json")
				_, _ = io.WriteString(w, tc.serve)
			})
			mux.HandleFunc("/mcp", func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("WWW-Authenticate", `Bearer resource_metadata="`+tc.rm+`", scope="items:read"`)
				w.WriteHeader(http.StatusUnauthorized)
			})
			c := blackBox(t, mux, &PublicKey{Kid: "k", Alg: "RS256", Key: key.Public()}, false)
			c.Skip = []string{"metadata", "authorization servers", "cors", "accept", "dpop", "attacks/algorithm", "attacks/claims", "attacks/request"}
			rec := record(c)
			msgs := strings.Join(rec.failures["Kit/challenge"], "\n")
			if tc.want == nil {
				assert.Empty(t, msgs)
				assert.NotContains(t, rec.summary(), "resource_metadata", "the attacks' challenges pass too")
			} else {
				for _, w := range tc.want {
					assert.Contains(t, msgs, w)
				}
				assert.NotEmpty(t, rec.failures["Kit/attacks/malformed/JWE"], "the attacks fail too")
			}
			assert.Equal(t, tc.wantGets, int(gets.Load()), "fetches of the other document")
		})
	}
}

// TestRecorder: the shared Reporter records outcomes, messages and logs by
// path, ends a check at Skipf and Fatalf, runs cleanups last first, turns a
// panic into a failure, and once halted starts no sub-check.
func TestRecorder(t *testing.T) {
	r := NewRecorder("root")
	var order []string
	r.Run(func(root Reporter) {
		assert.Equal(t, "root", root.Name())
		root.Run("a", func(r Reporter) {
			assert.Equal(t, "root/a", r.Name())
			r.Cleanup(func() { order = append(order, "first") })
			r.Cleanup(func() { order = append(order, "second") })
			r.Logf("note %d", 1)
			r.Run("b c", func(r Reporter) { r.Errorf("bad %s", "thing"); r.Errorf("worse") })
			assert.True(t, r.Failed())
		})
		root.Run("skipped", func(r Reporter) {
			r.Skipf("why")
			t.Error("Skipf returned")
		})
		root.Run("fatal", func(r Reporter) {
			r.Fatalf("stop")
			t.Error("Fatalf returned")
		})
		root.Run("panics", func(Reporter) { panic("boom") })
		r.Halt("cut short")
		r.Halt("later reason")
		ran := false
		assert.True(t, root.Run("after", func(Reporter) { ran = true }))
		assert.False(t, ran)
	})
	assert.Equal(t, []string{"second", "first"}, order)
	assert.Equal(t, "cut short", r.Halted())
	type row struct {
		name    string
		outcome Outcome
		errors  int
		skip    string
		leaf    bool
	}
	var got []row
	for _, res := range r.Results() {
		got = append(got, row{res.Name, res.Outcome, len(res.Errors), res.Skip, res.Leaf})
	}
	assert.Equal(t, []row{
		{"", Failed, 0, "", false}, {"a", Failed, 0, "", false}, {"a/b c", Failed, 2, "", true},
		{"skipped", Skipped, 0, "why", true}, {"fatal", Failed, 1, "", true}, {"panics", Failed, 1, "", true},
		{"after", Skipped, 0, "cut short", true},
	}, got)
	assert.Equal(t, []string{"note 1"}, r.Results()[1].Logs)
	assert.True(t, r.Results()[4].Fatal)
	assert.Contains(t, r.Results()[5].Errors[0], "panicked: boom")
}

// resourceTokens is a ResourceTokenSource of a test: Token gives the
// forged stand-in of a valid token, TokenFor what other says.
type resourceTokens struct {
	other func(resource string) (string, error)
}

func (resourceTokens) Token([]string) (string, error) { return "not-a-valid-token", nil }

func (s resourceTokens) TokenFor(resource string, _ []string) (string, error) {
	return s.other(resource)
}

// TestOtherResourceToken: without a Minter, "claims/aud another resource"
// sends a token the authorization server issued for OtherResource; if it
// refuses, or ignores the resource and issues one for this resource too,
// the case is skipped as notIssued, saying why, never passed.
func TestOtherResourceToken(t *testing.T) {
	h, key := wiredServer(t)
	jwt := func(aud any) string {
		return rawURL64([]byte(`{"alg":"RS256"}`)) + "." + rawURL64(mustJSON(map[string]any{"aud": aud})) + ".c2ln"
	}
	for _, tc := range []struct {
		name     string
		other    func(resource string) (string, error)
		wantSkip string
		wantLog  bool
	}{
		{"refused", func(string) (string, error) { return "", errors.New("error invalid_target") }, "it refused: error invalid_target", false},
		{"resource ignored", func(string) (string, error) { return jwt([]string{"https://x.example", bbResource}), nil }, "names this resource too", true},
		{"issued", func(resource string) (string, error) {
			assert.Equal(t, "https://elsewhere.example/mcp", resource)
			return jwt(resource), nil
		}, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := blackBox(t, h, key, false)
			c.Tokens = resourceTokens{other: tc.other}
			c.OtherResource = "https://elsewhere.example/mcp"
			c.Skip = []string{"metadata", "authorization servers", "cors", "challenge", "accept", "dpop", "attacks/algorithm", "attacks/malformed", "attacks/request"}
			got := runFor(t, c, "attacks/claims/aud another resource")
			if tc.wantSkip == "" {
				assert.Equal(t, Passed, got.Outcome, "%q %q", got.Errors, got.Skip)
				return
			}
			assert.Equal(t, Skipped, got.Outcome)
			assert.True(t, strings.HasPrefix(got.Skip, notIssued+": "), got.Skip)
			assert.Contains(t, got.Skip, tc.wantSkip)
			assert.Equal(t, tc.wantLog, len(got.Logs) > 0, "%q", got.Logs)
		})
	}
}

// TestChallengeScopeUnknown (MEDIUM 6): when the run does not know the
// scopes the challenge must name (Scopes nil, the checker command without
// -scopes), a challenge without scope fails if ChallengeScopeRequired, and
// a scope it names must be in the metadata's scopes_supported. Before the
// fix the command set Scopes from the very challenge it compared them
// with, so neither could fail.
func TestChallengeScopeUnknown(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	for _, tc := range []struct {
		name, scope string // the challenge's scope auth-param ("": none)
		required    bool
		want        string // a part of the failure; "" for a pass
	}{
		{"no scope, required", "", true, "the 401 challenge names no scope: MCP clients ask for the scopes it names (MCP authorization 2025-11-25, scope selection strategy"},
		{"no scope, not required", "", false, ""},
		{"a scope the metadata lists", "items:read", true, ""},
		{"a scope the metadata does not list", "items:read admin", true, `the 401 challenge names the scope "admin", which the metadata's "scopes_supported" ["items:read"] lacks`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mux := http.NewServeMux()
			mux.HandleFunc("/.well-known/oauth-protected-resource/mcp", func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				_, _ = io.WriteString(w, `{"resource":"`+bbResource+`","authorization_servers":["`+bbIssuer+`"],"scopes_supported":["items:read"]}`)
			})
			mux.HandleFunc("/mcp", func(w http.ResponseWriter, r *http.Request) {
				ch := `Bearer resource_metadata="` + bbMetadata + `"`
				if tc.scope != "" {
					ch += `, scope="` + tc.scope + `"`
				}
				w.Header().Set("WWW-Authenticate", ch)
				w.WriteHeader(http.StatusUnauthorized)
			})
			c := blackBox(t, mux, &PublicKey{Kid: "k", Alg: "RS256", Key: key.Public()}, false)
			c.Scopes, c.ChallengeScopeRequired = nil, tc.required
			c.Skip = []string{"authorization servers", "cors", "accept", "attacks", "dpop"}
			rec := record(c)
			if tc.want == "" {
				assert.Empty(t, rec.failures, rec.summary())
				return
			}
			require.Len(t, rec.failures["Kit/challenge"], 1, rec.summary())
			assert.Contains(t, rec.failures["Kit/challenge"][0], tc.want)
		})
	}
}

// TestNotCheckableWording (LOW): "not checkable without credentials" is
// said in a run without a token only; a run with a token source lacks the
// authorization server's signing key, and says so. Both begin with
// NotCheckable, the prefix front ends classify by.
func TestNotCheckableWording(t *testing.T) {
	h, key := wiredServer(t)
	c := blackBox(t, h, key, true)
	c.Tokens = resourceTokens{other: func(string) (string, error) { return "", errors.New("refused") }}
	c.Skip = []string{"metadata", "authorization servers", "cors", "challenge", "accept", "stepup", "dpop"}
	rec := record(c)
	for _, name := range []string{"Kit/session", "Kit/attacks/claims/expired", "Kit/attacks/malformed/duplicate_sub"} {
		msg := rec.skipped[name]
		assert.True(t, strings.HasPrefix(msg, NotCheckable+" without the authorization server's signing key: "), "%s: %q", name, msg)
		assert.NotContains(t, msg, "without credentials", name)
	}
}

// grantingTokens is a TokenSource whose tokens are JWT-shaped and carry the
// scopes asked for, or, asked for none (or always, if greedy), all of all.
type grantingTokens struct {
	all    []string
	greedy bool
}

func (g grantingTokens) Token(scopes []string) (string, error) {
	if len(scopes) == 0 || g.greedy {
		scopes = g.all
	}
	return rawURL64([]byte(`{"alg":"RS256"}`)) + "." + rawURL64(mustJSON(map[string]any{"scope": strings.Join(scopes, " ")})) + ".c2ln", nil
}

// TestStepUpTokenSourceScopes: with a token source, the token "lacking a
// scope" of a known tool's step-up is asked for with the run's scopes but
// that one — asked for none, an authorization server grants its default
// scopes —, and a token that grants the scope anyway skips the subtest
// (the authorization server decides), never fails the server. Before the
// fix, a scope-less request got every scope, and a server with a correct
// per-tool check failed.
func TestStepUpTokenSourceScopes(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/mcp", func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer resource_metadata="`+bbMetadata+`"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var msg struct {
			ID     json.RawMessage `json:"id"`
			Method string          `json:"method"`
		}
		_ = json.NewDecoder(r.Body).Decode(&msg)
		if msg.ID == nil {
			w.WriteHeader(http.StatusAccepted)
			return
		}
		if granted, _ := scopesOf(tok); msg.Method == "tools/call" && !slices.Contains(granted, "w") {
			w.Header().Set("WWW-Authenticate", `Bearer resource_metadata="`+bbMetadata+`", error="insufficient_scope", scope="r w"`)
			w.WriteHeader(http.StatusForbidden)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = fmt.Fprintf(w, `{"jsonrpc":"2.0","id":%s,"result":{}}`, msg.ID)
	})
	for _, tc := range []struct {
		name        string
		tokenScopes []string
		greedy      bool
		want        Outcome
		skip        string
	}{
		{"the run's scopes but the tool's", []string{"r"}, false, Passed, ""},
		{"no scope to ask for", nil, false, Skipped, `a token lacking "w" cannot be asked for`},
		{"the scope granted anyway", []string{"r"}, true, Skipped, `asked for a token with the scopes ["r"], it issued one granting "w" too`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := blackBox(t, mux, nil, true)
			c.Tools = map[string][]string{"t": {"w"}}
			c.Scopes, c.TokenScopes = nil, tc.tokenScopes
			c.Tokens = grantingTokens{all: []string{"r", "w"}, greedy: tc.greedy}
			c.Skip = []string{"metadata", "authorization servers", "cors", "challenge", "accept", "attacks", "dpop"}
			got := runFor(t, c, "stepup/t")
			assert.Equal(t, tc.want, got.Outcome, "%q %q", got.Errors, got.Skip)
			if tc.skip != "" {
				assert.Contains(t, got.Skip, tc.skip)
			}
		})
	}
}

// runFor runs the checks against c and returns the result of the check
// or sub-check name, failing the test if it did not run.
func runFor(t *testing.T, c *Target, name string) Result {
	t.Helper()
	r := NewRecorder("Kit")
	r.Run(func(r Reporter) { Run(r, c) })
	for _, res := range r.Results() {
		if res.Name == name {
			return res
		}
	}
	t.Fatalf("%s did not run", name)
	return Result{}
}
