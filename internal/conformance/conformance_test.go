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
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"sync"
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
	assert.Equal(t, []string{"metadata", "cors", "challenge", "accept", "session", "stepup", "attacks", "dpop", "introspection"}, names, "the subtests, in order")
	needs := map[string]Needs{}
	for _, ch := range Checks() {
		needs[ch.Name] = ch.Needs
	}
	assert.Equal(t, map[string]Needs{
		"metadata": NeedsNothing, "cors": NeedsNothing, "challenge": NeedsNothing, "attacks": NeedsNothing,
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
	for _, key := range []string{"claims/expired", "claims/aud another resource", "malformed/duplicate sub", "algorithm/key published with use enc"} {
		a, _ := lookup(key)
		assert.Equal(t, NeedsIssuerKey, a.Needs, key)
	}
	for _, key := range []string{"request/token in the query string", "request/two Authorization headers", "method/PUT with a tool call body"} {
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
	mux.Handle("/mcp", guard.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"jsonrpc":"2.0","id":1,"result":{}}`)
	})))
	return mux, &PublicKey{Kid: "as-key-1", Alg: "RS256", Key: key.Public(), JWK: entry}
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
		MCP: mcp, Tools: map[string][]string{"read_items": {"items:read"}}, Scopes: []string{"items:read"},
		Issuer: bbIssuer, IssuerKey: key,
	}
}

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
				rest, ok := strings.CutPrefix(msg, NotCheckable+": ")
				assert.True(t, ok, "%s skipped with %q", name, msg)
				assert.NotContains(t, rest, ".", "%s: one clause", name)
				assert.NotContains(t, rest, ":", "%s: one clause", name)
			}
			for name := range want {
				assert.Contains(t, rec.skipped, name, "not reported not checkable")
			}
			// The black-box checks ran: their subtests exist and passed.
			for _, name := range []string{"Kit/metadata", "Kit/cors", "Kit/challenge", "Kit/attacks/algorithm/alg_none",
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
		assert.Equal(t, NotCheckable+": "+whyBoundToken, rec.skipped[name], name)
	}
	assert.True(t, strings.HasPrefix(rec.skipped["Kit/session"], NotCheckable+": "), rec.skipped["Kit/session"])
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
		assert.Contains(t, msg, "public key", name)
	}
	assert.Contains(t, rec.passed, "Kit/attacks/algorithm/alg_none")
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

// recorder is a Reporter that records what a run reports.
type recorder struct {
	name     string
	rec      *recording
	parent   *recorder
	failed   bool
	cleanups []func()
}

type recording struct {
	mu       sync.Mutex
	failures map[string][]string // subtest -> messages
	skipped  map[string]string   // subtest -> message
	passed   []string            // subtests that ran to the end without failing
	fatal    []string
}

func record(c *Target) *recording {
	rec := &recording{failures: map[string][]string{}, skipped: map[string]string{}}
	root := &recorder{name: "Kit", rec: rec}
	root.run(func(r Reporter) { Run(r, c) })
	return rec
}

// run runs f on its own goroutine, as testing does, so that Fatalf and
// Skipf can stop it with runtime.Goexit.
func (r *recorder) run(f func(Reporter)) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() {
			for i := len(r.cleanups) - 1; i >= 0; i-- {
				r.cleanups[i]()
			}
		}()
		f(r)
		if !r.failed {
			r.rec.mu.Lock()
			r.rec.passed = append(r.rec.passed, r.name)
			r.rec.mu.Unlock()
		}
	}()
	<-done
}

func (r *recorder) Helper()             {}
func (r *recorder) Logf(string, ...any) {}
func (r *recorder) Name() string        { return r.name }
func (r *recorder) Failed() bool        { return r.failed }
func (r *recorder) Cleanup(f func())    { r.cleanups = append(r.cleanups, f) }
func (r *recorder) Skipf(format string, args ...any) {
	r.rec.mu.Lock()
	r.rec.skipped[r.name] = fmt.Sprintf(format, args...)
	r.rec.mu.Unlock()
	runtime.Goexit()
}

func (r *recorder) Errorf(format string, args ...any) {
	r.rec.mu.Lock()
	r.rec.failures[r.name] = append(r.rec.failures[r.name], fmt.Sprintf(format, args...))
	r.rec.mu.Unlock()
	for p := r; p != nil; p = p.parent {
		p.failed = true
	}
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	r.rec.mu.Lock()
	r.rec.fatal = append(r.rec.fatal, r.name)
	r.rec.mu.Unlock()
	runtime.Goexit()
}

func (r *recorder) Run(name string, f func(Reporter)) bool {
	child := &recorder{name: r.name + "/" + strings.ReplaceAll(name, " ", "_"), rec: r.rec, parent: r}
	child.run(f)
	return !child.failed
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
		assert.Equal(t, tc.want, redact(tc.in), "redact(%q)", tc.in)
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
