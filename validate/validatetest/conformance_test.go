package validatetest

// Tests of the conformance kit: it passes a correctly wired server (rsguard's
// metadata handler, an rsguard.Guard over a validate.Validator and MCP
// per-tool scopes in front of a small MCP server), over a Handler and over a URL, speaking JSON or SSE; and
// it fails, in the subtests concerned and only there, servers wired wrongly
// in the ways real servers are.

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/audit"
	"github.com/rsguard/rsguard/internal/conformance"
	"github.com/rsguard/rsguard/rsmeta"
	"github.com/rsguard/rsguard/scopes"
	"github.com/rsguard/rsguard/validate"
)

const (
	kitResource = "https://mcp.example.com/mcp"
	kitMetadata = "https://mcp.example.com/.well-known/oauth-protected-resource/mcp"
)

// kitTools are the tools of the fake MCP server and the scopes they need.
var kitTools = map[string][]string{
	"ping":        {},
	"read_items":  {"items:read"},
	"write_items": {"items:read", "items:write"},
}

// fakeMCP is a minimal MCP server over Streamable HTTP: sessions (which it
// does not bind to principals: see sessionBinder), JSON-RPC requests and
// notifications, tools/list and tools/call of kitTools, answers as JSON or
// as an SSE stream, an event stream on GET and the end of a session on
// DELETE.
type fakeMCP struct {
	sse           bool
	anyMethod     bool     // every method but GET and DELETE is read as a POST
	noDelete      bool     // DELETE gets 405: clients may not end sessions
	deleteIgnored bool     // DELETE gets 204 but the session lives on
	sessions      sync.Map // session id -> struct{}
	n             int64
	mu            sync.Mutex
}

func (m *fakeMCP) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet, http.MethodDelete:
		m.serveSession(w, r)
		return
	case http.MethodPost:
	default:
		if !m.anyMethod {
			w.Header().Set("Allow", "GET, POST, DELETE")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
	}
	if !strings.Contains(r.Header.Get("Accept"), "application/json") || !strings.Contains(r.Header.Get("Accept"), "text/event-stream") {
		http.Error(w, "not acceptable", http.StatusNotAcceptable)
		return
	}
	var msg struct {
		ID     json.RawMessage `json:"id"`
		Method string          `json:"method"`
		Params struct {
			Name            string `json:"name"`
			ProtocolVersion string `json:"protocolVersion"`
		} `json:"params"`
	}
	if err := json.NewDecoder(r.Body).Decode(&msg); err != nil {
		http.Error(w, "parse error", http.StatusBadRequest)
		return
	}
	if msg.Method != "initialize" && !m.knownSession(w, r) {
		return
	}
	if msg.ID == nil {
		w.WriteHeader(http.StatusAccepted)
		return
	}
	var result any
	var rpcErr any
	switch msg.Method {
	case "initialize":
		m.mu.Lock()
		m.n++
		id := fmt.Sprintf("session-%d", m.n)
		m.mu.Unlock()
		m.sessions.Store(id, struct{}{})
		w.Header().Set("Mcp-Session-Id", id)
		result = map[string]any{"protocolVersion": msg.Params.ProtocolVersion, "capabilities": map[string]any{"tools": map[string]any{}},
			"serverInfo": map[string]any{"name": "fake", "version": "1"}}
	case "tools/list":
		var tools []map[string]any
		for name := range kitTools {
			tools = append(tools, map[string]any{"name": name, "inputSchema": map[string]any{"type": "object"}})
		}
		result = map[string]any{"tools": tools}
	case "tools/call":
		if _, ok := kitTools[msg.Params.Name]; !ok {
			rpcErr = map[string]any{"code": -32602, "message": "unknown tool"}
		} else {
			result = map[string]any{"content": []map[string]any{{"type": "text", "text": "ok"}}}
		}
	default:
		rpcErr = map[string]any{"code": -32601, "message": "method not found"}
	}
	out := map[string]any{"jsonrpc": "2.0", "id": msg.ID}
	if rpcErr != nil {
		out["error"] = rpcErr
	} else {
		out["result"] = result
	}
	body, _ := json.Marshal(out)
	if m.sse {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprintf(w, "event: message\ndata: %s\n\n", body)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(body)
}

// knownSession answers 400 to a request without Mcp-Session-Id and 404 to
// one whose session the server does not know, and reports whether it may
// go on.
func (m *fakeMCP) knownSession(w http.ResponseWriter, r *http.Request) bool {
	id := r.Header.Get("Mcp-Session-Id")
	if id == "" {
		http.Error(w, "missing session", http.StatusBadRequest)
		return false
	}
	if _, ok := m.sessions.Load(id); !ok {
		http.Error(w, "unknown session", http.StatusNotFound)
		return false
	}
	return true
}

// serveSession serves GET, an event stream that stays open until the
// client leaves, and DELETE, which ends the session.
func (m *fakeMCP) serveSession(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodDelete && m.noDelete {
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "sessions end on their own", http.StatusMethodNotAllowed)
		return
	}
	if !m.knownSession(w, r) {
		return
	}
	if r.Method == http.MethodDelete {
		if !m.deleteIgnored {
			m.sessions.Delete(r.Header.Get("Mcp-Session-Id"))
		}
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if !strings.Contains(r.Header.Get("Accept"), "text/event-stream") {
		http.Error(w, "not acceptable", http.StatusNotAcceptable)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	_ = http.NewResponseController(w).Flush()
	<-r.Context().Done()
}

// sessionBinder stands in, in these tests, for package mcpguard: it binds
// each Mcp-Session-Id the server issues to the principal that opened the
// session, answers 404 to a session id it does not know and to one
// presented by another principal, and forgets a session when its owner's
// DELETE is answered 2xx. Its knobs break it as real servers are broken.
type sessionBinder struct {
	next         http.Handler
	principal    func(*http.Request) string // whom a request is bound to; nil: rsguard's Principal.Subject
	mismatch     int                        // the status for another principal; 0: 404
	keepOnDelete bool                       // the binding outlives a DELETE answered 2xx

	mu     sync.Mutex
	owners map[string]string // session id -> principal
}

func (b *sessionBinder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	who := ""
	if b.principal != nil {
		who = b.principal(r)
	} else if p, ok := rsguard.FromContext(r.Context()); ok {
		who = p.Subject
	}
	id := r.Header.Get("Mcp-Session-Id")
	if id == "" {
		b.next.ServeHTTP(&bindingWriter{ResponseWriter: w, issued: func(id string) {
			b.mu.Lock()
			defer b.mu.Unlock()
			if b.owners == nil {
				b.owners = map[string]string{}
			}
			b.owners[id] = who
		}}, r)
		return
	}
	b.mu.Lock()
	owner, ok := b.owners[id]
	b.mu.Unlock()
	switch {
	case !ok:
		http.Error(w, "session not found", http.StatusNotFound)
		return
	case owner != who && b.mismatch != 0:
		http.Error(w, "session belongs to another user", b.mismatch)
		return
	case owner != who:
		http.Error(w, "session not found", http.StatusNotFound)
		return
	}
	if r.Method != http.MethodDelete || b.keepOnDelete {
		b.next.ServeHTTP(w, r)
		return
	}
	bw := &bindingWriter{ResponseWriter: w}
	b.next.ServeHTTP(bw, r)
	if bw.status/100 == 2 {
		b.mu.Lock()
		delete(b.owners, id)
		b.mu.Unlock()
	}
}

// bindingWriter records the status of an answer and passes the session id
// a 2xx answer issues to issued, if set.
type bindingWriter struct {
	http.ResponseWriter
	issued func(id string)
	status int
}

func (w *bindingWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
		if id := w.Header().Get("Mcp-Session-Id"); code/100 == 2 && id != "" && w.issued != nil {
			w.issued(id)
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *bindingWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

func (w *bindingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// kitServer is the wiring a user writes, with knobs to break it.
type kitServer struct {
	resource             string // the resource identifier, if not kitResource (its metadata URL path-inserted)
	noMetadata           bool
	metadataResource     string   // the metadata's "resource", if not the resource
	resourceMetadata     string   // rsguard.Config.ResourceMetadata, if not the resource's metadata URL
	authorizationServers []string // the metadata's "authorization_servers" after the issuer
	challengeScopes      []string // rsguard.Config.Scopes
	noScopeCheck         bool
	sse                  bool
	unboundSessions      bool                            // no sessionBinder
	sessionsByName       bool                            // sessions bound to the principal's name, users and clients alike
	sessionsByToken      bool                            // sessions bound to the token, not its principal
	sessions403          bool                            // another principal gets 403 in a session, not 404
	noSessionDelete      bool                            // DELETE gets 405: clients may not end sessions
	deleteIgnored        bool                            // DELETE gets 204 but the session and its binding live on
	postOnlyCheck        bool                            // the per-tool check sees only POST; the MCP server serves any method
	scopesInTool         bool                            // no per-tool check: the tool answers a call lacking its scopes 200 with a tool error (isError)
	bearerOnlyChecks     bool                            // the per-tool check and the session binding read Authorization: Bearer only
	authenticator        rsguard.Authenticator           // replaces the validate.Validator
	wrap                 func(http.Handler) http.Handler // around the whole endpoint
}

func (k kitServer) handler(t testing.TB, is *Issuer) http.Handler {
	t.Helper()
	mux := http.NewServeMux()
	resource := kitResource
	if k.resource != "" {
		resource = k.resource
	}
	rm, err := rsmeta.WellKnownURL(resource)
	require.NoError(t, err)
	if !k.noMetadata {
		res := resource
		if k.metadataResource != "" {
			res = k.metadataResource
		}
		h, err := rsmeta.NewHandler(rsmeta.Metadata{Resource: res, AuthorizationServers: append([]string{is.URL}, k.authorizationServers...),
			ScopesSupported: []string{"items:read", "items:write"}})
		require.NoError(t, err)
		mux.Handle("/.well-known/oauth-protected-resource/mcp", h)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	var authn rsguard.Authenticator = k.authenticator
	if authn == nil {
		v, err := validate.New(ctx, validate.Config{Issuer: is.URL, Resource: resource, Fetch: validate.FetchOptions{HTTPClient: is.Client()}})
		require.NoError(t, err)
		authn = v
	}
	if k.resourceMetadata != "" {
		rm = k.resourceMetadata
	}
	guard, err := rsguard.New(rsguard.Config{Authenticator: authn, ResourceMetadata: rm, Scopes: k.challengeScopes})
	require.NoError(t, err)
	mcp := &fakeMCP{sse: k.sse, anyMethod: k.postOnlyCheck, noDelete: k.noSessionDelete, deleteIgnored: k.deleteIgnored}
	var next http.Handler = mcp
	if k.scopesInTool {
		next = toolScopeError{next: mcp}
	} else if !k.noScopeCheck {
		perTool, err := scopes.NewMCP(scopes.MCPConfig{Tools: kitTools})
		require.NoError(t, err)
		next = perTool.Handler(next)
	}
	if k.bearerOnlyChecks {
		// Written for bearer tokens: a request without one is let
		// through unchecked (the Guard has authenticated it anyway).
		checked := next
		next = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") {
				checked.ServeHTTP(w, r)
				return
			}
			mcp.ServeHTTP(w, r)
		})
	}
	if k.postOnlyCheck {
		checked := next
		next = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPost {
				checked.ServeHTTP(w, r)
				return
			}
			mcp.ServeHTTP(w, r)
		})
	}
	if !k.unboundSessions {
		b := &sessionBinder{next: next, keepOnDelete: k.deleteIgnored}
		switch {
		case k.sessionsByName:
			// "sub, else client_id": user:…#alice and client:…#alice
			// become one.
			b.principal = func(r *http.Request) string {
				p, _ := rsguard.FromContext(r.Context())
				_, name, _ := strings.Cut(p.Subject, ":")
				return name
			}
		case k.sessionsByToken:
			b.principal = func(r *http.Request) string { return r.Header.Get("Authorization") }
		case k.bearerOnlyChecks:
			// The principal is read from the bearer token (which the
			// Guard has verified), users and clients apart; a request
			// without one is nobody.
			b.principal = func(r *http.Request) string {
				tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
				claims := jwt.MapClaims{}
				_, _, _ = jwt.NewParser().ParseUnverified(tok, claims)
				sub, _ := claims["sub"].(string)
				client, _ := claims["client_id"].(string)
				if sub == "" || sub == client {
					return "client:" + client
				}
				return "user:" + sub
			}
		}
		if k.sessions403 {
			b.mismatch = http.StatusForbidden
		}
		next = b
	}
	endpoint := guard.Middleware(next)
	if k.wrap != nil {
		endpoint = k.wrap(endpoint)
	}
	mux.Handle("/mcp", allowAnyOrigin(endpoint))
	return mux
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

func kitConfig(is *Issuer, h http.Handler) ConformanceConfig {
	return ConformanceConfig{Issuer: is, Handler: h, Resource: kitResource, MCP: true, Tools: kitTools, Scopes: []string{"items:read"}}
}

func TestConformanceWiredCorrectly(t *testing.T) {
	is := NewIssuer(t, nil)
	t.Run("MCP over a Handler", func(t *testing.T) {
		Conformance(t, kitConfig(is, kitServer{challengeScopes: []string{"items:read"}}.handler(t, is)))
	})
	t.Run("MCP with SSE answers", func(t *testing.T) {
		Conformance(t, kitConfig(is, kitServer{challengeScopes: []string{"items:read"}, sse: true}.handler(t, is)))
	})
	t.Run("MCP over a URL", func(t *testing.T) {
		// A running server whose resource is its own loopback URL.
		mux := http.NewServeMux()
		srv := httptest.NewServer(mux)
		t.Cleanup(srv.Close)
		resource := srv.URL + "/mcp"
		meta, err := rsmeta.Register(mux, rsmeta.Metadata{Resource: resource, AuthorizationServers: []string{is.URL}})
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		v, err := validate.New(ctx, validate.Config{Issuer: is.URL, Resource: resource, Fetch: validate.FetchOptions{HTTPClient: is.Client()}})
		require.NoError(t, err)
		guard, err := rsguard.New(rsguard.Config{Authenticator: v, ResourceMetadata: meta.URL()})
		require.NoError(t, err)
		perTool, err := scopes.NewMCP(scopes.MCPConfig{Tools: kitTools})
		require.NoError(t, err)
		mux.Handle("/mcp", allowAnyOrigin(guard.Middleware(&sessionBinder{next: perTool.Handler(&fakeMCP{})})))
		Conformance(t, ConformanceConfig{Issuer: is, URL: resource, MCP: true, Tools: kitTools})
	})
	t.Run("REST route", func(t *testing.T) {
		mux := http.NewServeMux()
		meta, err := rsmeta.Register(mux, rsmeta.Metadata{Resource: "https://api.example.com/v1/items", AuthorizationServers: []string{is.URL}})
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		v, err := validate.New(ctx, validate.Config{Issuer: is.URL, Resource: "https://api.example.com/v1/items", Fetch: validate.FetchOptions{HTTPClient: is.Client()}})
		require.NoError(t, err)
		guard, err := rsguard.New(rsguard.Config{Authenticator: v, ResourceMetadata: meta.URL(), Scopes: []string{"items:read"}})
		require.NoError(t, err)
		mux.Handle("/v1/items", allowAnyOrigin(guard.Middleware(scopes.Middleware("items:read")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, "[]")
		})))))
		Conformance(t, ConformanceConfig{Issuer: is, Handler: mux, Resource: "https://api.example.com/v1/items", Scopes: []string{"items:read"},
			Request: func(ctx context.Context, endpoint string) (*http.Request, error) {
				return http.NewRequestWithContext(ctx, http.MethodGet, endpoint, nil)
			}})
	})
}

// recording is what a run of the kit reported, as the tests look at it: by
// subtest name as package testing writes it ("Kit/attacks/algorithm/alg_none").
type recording struct {
	failures map[string][]string // subtest name -> messages
	skipped  []string
	fatal    []string
	// notApplicable are the subtests skipped as not applying to the
	// configuration (conformance.DoesNotApply).
	notApplicable []string
	// results is everything, names as the engine gives them.
	results []conformance.Result
}

// record runs the kit on cfg under the engine's Recorder, which records
// failures instead of failing the test, to run it against broken servers.
func record(cfg ConformanceConfig) *recording {
	return recordRun(func(r runner) { runConformance(r, cfg) })
}

// recordRun runs f under a conformance.Recorder whose root is "Kit".
func recordRun(f func(runner)) *recording {
	r := conformance.NewRecorder("Kit")
	r.Run(f)
	return fromResults(r.Results())
}

func fromResults(results []conformance.Result) *recording {
	rec := &recording{failures: map[string][]string{}, results: results}
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
		switch {
		case res.Skip == "" || res.Outcome != conformance.Skipped:
		case strings.HasPrefix(res.Skip, conformance.DoesNotApply):
			rec.notApplicable = append(rec.notApplicable, name) // a DPoP case when DPoP is off…
		default:
			rec.skipped = append(rec.skipped, name)
		}
	}
	return rec
}

// failed reports whether the subtest path (below the kit's root, spaces
// allowed) or one under it failed.
func (rec *recording) failed(path string) bool {
	full := "Kit/" + strings.ReplaceAll(path, " ", "_")
	for name := range rec.failures {
		if name == full || strings.HasPrefix(name, full+"/") {
			return true
		}
	}
	return false
}

func (rec *recording) summary() string {
	var names []string
	for name, msgs := range rec.failures {
		names = append(names, name+": "+msgs[0])
	}
	slices.Sort(names)
	return strings.Join(names, "\n")
}

// usualGoStack is the verifier most Go servers write, plugged into the Guard
// as an rsguard.Authenticator of its own: golang-jwt with a keyfunc key set
// and the validation options everyone remembers. What it misses is what the
// kit must catch.
func usualGoStack(t testing.TB, is *Issuer, audience bool) rsguard.Authenticator {
	return usualGoStackFor(t, is, kitResource, audience)
}

// usualGoStackFor is usualGoStack for the resource.
func usualGoStackFor(t testing.TB, is *Issuer, resource string, audience bool) rsguard.Authenticator {
	resp, err := is.Client().Get(is.JWKSURL)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	kf, err := keyfunc.NewJWKSetJSON(raw)
	require.NoError(t, err)
	opts := []jwt.ParserOption{
		jwt.WithValidMethods([]string{"RS256", "PS256", "ES256", "EdDSA"}),
		jwt.WithIssuer(is.URL), jwt.WithExpirationRequired(), jwt.WithLeeway(30 * time.Second), jwt.WithIssuedAt(),
	}
	if audience {
		opts = append(opts, jwt.WithAudience(resource))
	}
	return authFunc(func(r *http.Request) (*rsguard.Principal, error) {
		h := r.Header.Get("Authorization")
		tok, ok := strings.CutPrefix(h, "Bearer ")
		if !ok {
			return nil, &rsguard.Error{Status: http.StatusUnauthorized, Err: audit.ReasonNoCredential}
		}
		claims := jwt.MapClaims{}
		if _, err := jwt.ParseWithClaims(tok, claims, kf.Keyfunc, opts...); err != nil {
			return nil, &rsguard.Error{Status: http.StatusUnauthorized, Code: rsmeta.ErrorInvalidToken, Description: "invalid token", Err: err}
		}
		sub, _ := claims["sub"].(string)
		scope, _ := claims["scope"].(string)
		granted, _ := rsguard.ParseScopes(scope)
		return &rsguard.Principal{Subject: "user:" + is.URL + "#" + sub, Credential: audit.CredentialJWT, Scopes: granted}, nil
	})
}

// authFunc is an rsguard.Authenticator made of a function.
type authFunc func(*http.Request) (*rsguard.Principal, error)

func (f authFunc) Authenticate(r *http.Request) (*rsguard.Principal, error) { return f(r) }

// TestConformanceFailsMiswired runs the kit against the miswired set
// (miswiredCases, which the checker's comparison shares), each served over
// a Handler as https://mcp.example.com/mcp: each fails in the subtests
// concerned and only there.
func TestConformanceFailsMiswired(t *testing.T) {
	is := NewIssuer(t, nil)
	for _, tc := range miswiredCases(t, is) {
		t.Run(tc.name, func(t *testing.T) {
			cfg := kitConfig(is, tc.server(kitResource, kitMetadata, "https://mcp.example.com").handler(t, is))
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			rec := record(cfg)
			for _, name := range tc.wantFail {
				assert.True(t, rec.failed(name), "the kit did not fail %q; failures:\n%s", name, rec.summary())
			}
			for _, name := range tc.wantPass {
				assert.False(t, rec.failed(name), "the kit failed %q, which is wired correctly:\n%s", name, rec.summary())
			}
			for name, part := range tc.wantMessage {
				msgs := rec.failures["Kit/"+strings.ReplaceAll(name, " ", "_")]
				assert.True(t, slices.ContainsFunc(msgs, func(m string) bool { return strings.Contains(m, part) }),
					"no failure of %q says %q: %q", name, part, msgs)
			}
			assert.Empty(t, rec.fatal, "fatal in subtests")
			var skipped []string
			for _, name := range tc.wantSkipped {
				skipped = append(skipped, "Kit/"+strings.ReplaceAll(name, " ", "_"))
			}
			if tc.cfg != nil {
				skipped = append(skipped, "Kit/metadata", "Kit/cors")
			}
			assert.ElementsMatch(t, skipped, rec.skipped, "skipped subtests")
			// Every message names what to change in the server, and no
			// message carries a token (each starts "eyJ": base64url of
			// `{"`).
			for name, msgs := range rec.failures {
				for _, msg := range msgs {
					assert.True(t, strings.HasSuffix(msg, "."), "%s: the message does not end with a sentence: %s", name, msg)
					assert.NotContains(t, msg, "eyJ", "%s: the message carries a token", name)
				}
			}
		})
	}
}

// TestConformanceJSONTraps checks the payloads of the JSON traps: each is
// the valid token's claims set, the configured claims included, plus its one
// trap, with the value a last-wins reader keeps last.
func TestConformanceJSONTraps(t *testing.T) {
	is := NewIssuer(t, nil)
	c, err := newTarget(tRunner{t}, ConformanceConfig{Issuer: is, Handler: http.NotFoundHandler(), Resource: kitResource,
		Scopes: []string{"items:read"}, Claims: map[string]any{"sub": "bob", "tenant": "tenant-7"}})
	require.NoError(t, err)
	payloads := map[string]string{}
	for _, a := range c.Attacks(tRunner{t}) {
		_, p, _ := splitToken(a.Token)
		b, err := base64.RawURLEncoding.DecodeString(p)
		require.NoError(t, err, a.Name)
		payloads[a.Class+"/"+a.Name] = string(b)
	}
	for _, tc := range []struct{ name, trap string }{
		{"duplicate sub", `"sub":"rsguard-conformance-other","sub":"bob"}`},
		{"duplicate sub spelled with an escape", `"sub":"rsguard-conformance-other","\u0073ub":"bob"}`},
		{"duplicate custom claim", `"tenant":"rsguard-conformance-other","tenant":"tenant-7"}`},
		{"duplicate member in a nested object", `"rsguard_conformance":{"role":"admin","role":"reader"}}`},
		{"lone surrogate in sub", `"sub":"bob\ud800"}`},
		{"number out of float64 range", `"rsguard_conformance":1e400}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := payloads["malformed/"+tc.name]
			require.True(t, strings.HasSuffix(p, ","+tc.trap), "payload %s does not end with ,%s", p, tc.trap)
			// Without its trap, the payload is a valid token's claims.
			var claims map[string]any
			require.NoError(t, json.Unmarshal([]byte(strings.TrimSuffix(p, ","+tc.trap)+"}"), &claims), "payload %s without its trap", p)
			for _, k := range []string{"iss", "aud", "exp", "iat", "jti", "client_id", "scope"} {
				assert.NotNil(t, claims[k], "payload %s lacks %q", p, k)
			}
			if !strings.HasPrefix(tc.name, "duplicate custom") {
				assert.Equal(t, "tenant-7", claims["tenant"], "payload %s: tenant", p)
			}
		})
	}
}

// TestConformanceMethodAttacks checks what the method attacks send: a
// tools/call of a tool the token lacks a scope for, by a token that holds
// every other scope, or tools/list with the valid token when no tool needs
// more than Scopes.
func TestConformanceMethodAttacks(t *testing.T) {
	is := NewIssuer(t, nil)
	for _, tc := range []struct {
		name      string
		scopes    []string
		tools     map[string][]string
		wantTool  string // "" for tools/list
		wantScope string
	}{
		{"a tool beyond the challenge scopes", []string{"items:read"}, kitTools, "write_items", "items:read"},
		{"scopes on every tool", nil, map[string][]string{"a": {"x"}, "b": {"y", "z"}}, "a", "y z"},
		{"no tool beyond the challenge scopes", []string{"x"}, map[string][]string{"a": {"x"}, "b": {}}, "a", "x"},
		{"no tools", []string{"x"}, nil, "", "x"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := newTarget(tRunner{t}, ConformanceConfig{Issuer: is, Handler: http.NotFoundHandler(), Resource: kitResource, MCP: true, Scopes: tc.scopes, Tools: tc.tools})
			require.NoError(t, err)
			as := methodAttacks(t, c)
			var methods []string
			for _, a := range as {
				methods = append(methods, a.Method)
				name, _ := a.Call["name"].(string)
				assert.Equal(t, tc.wantTool, name, "%s calls %v", a.Method, a.Call)
				if tc.wantTool == "" {
					assert.Nil(t, a.Call, "%s calls %v, want tools/list", a.Method, a.Call)
				} else {
					assert.NotNil(t, a.Call, "%s calls nothing, want tool %q", a.Method, tc.wantTool)
				}
				_, p, _ := splitToken(a.Token)
				b, _ := base64.RawURLEncoding.DecodeString(p)
				var claims struct{ Scope string }
				assert.NoError(t, json.Unmarshal(b, &claims), "%s token payload %s", a.Method, b)
				assert.ElementsMatch(t, strings.Fields(claims.Scope), strings.Fields(tc.wantScope),
					"%s token scope %q, want %q", a.Method, claims.Scope, tc.wantScope)
			}
			assert.Equal(t, []string{"PUT", "PATCH", "post"}, methods, "methods")
		})
	}
}

func TestConformanceConfigRefused(t *testing.T) {
	is := NewIssuer(t, &Options{Algorithms: []string{"ES256"}})
	for _, tc := range []struct {
		name string
		cfg  ConformanceConfig
	}{
		{"no issuer", ConformanceConfig{URL: "http://127.0.0.1:1/mcp"}},
		{"neither handler nor URL", ConformanceConfig{Issuer: is}},
		{"both handler and URL", ConformanceConfig{Issuer: is, URL: "http://127.0.0.1:1/mcp", Handler: http.NotFoundHandler()}},
		{"handler without resource", ConformanceConfig{Issuer: is, Handler: http.NotFoundHandler()}},
		{"relative resource", ConformanceConfig{Issuer: is, Handler: http.NotFoundHandler(), Resource: "/mcp"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := record(tc.cfg)
			assert.Len(t, rec.fatal, 1, "want one fatal configuration error:\n%s", rec.summary())
			assert.Contains(t, rec.summary(), "validatetest.Conformance", "want one fatal configuration error")
		})
	}
}

// toolScopeError answers a tools/call of a kitTools tool whose scopes the
// principal lacks with 200 and a tool error (isError) saying so, as a
// server that checks scopes inside its tools does; everything else goes to
// next.
type toolScopeError struct{ next http.Handler }

func (h toolScopeError) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(strings.NewReader(string(body)))
	var msg struct {
		ID     json.RawMessage `json:"id"`
		Method string          `json:"method"`
		Params struct {
			Name string `json:"name"`
		} `json:"params"`
	}
	_ = json.Unmarshal(body, &msg)
	p, _ := rsguard.FromContext(r.Context())
	if need, ok := kitTools[msg.Params.Name]; ok && msg.Method == "tools/call" && p != nil {
		for _, s := range need {
			if !slices.Contains(p.Scopes, s) {
				w.Header().Set("Content-Type", "application/json")
				_ = json.NewEncoder(w).Encode(map[string]any{"jsonrpc": "2.0", "id": msg.ID, "result": map[string]any{
					"isError": true, "content": []map[string]any{{"type": "text", "text": "Permission denied: this call needs the scope " + s}}}})
				return
			}
		}
	}
	h.next.ServeHTTP(w, r)
}

// dropChallenge removes WWW-Authenticate from every answer.
type dropChallenge struct{ http.ResponseWriter }

func (d dropChallenge) WriteHeader(code int) {
	d.Header().Del("WWW-Authenticate")
	d.ResponseWriter.WriteHeader(code)
}

// dropAllow removes Allow from every answer.
type dropAllow struct{ http.ResponseWriter }

func (d dropAllow) WriteHeader(code int) {
	d.Header().Del("Allow")
	d.ResponseWriter.WriteHeader(code)
}

// dropExpose removes Access-Control-Expose-Headers from every answer.
type dropExpose struct{ http.ResponseWriter }

func (d dropExpose) WriteHeader(code int) {
	d.Header().Del("Access-Control-Expose-Headers")
	d.ResponseWriter.WriteHeader(code)
}

// hostChallenge rebuilds resource_metadata from the request's Host, as a
// server that derives its URLs from the request would.
type hostChallenge struct {
	http.ResponseWriter
	host   string
	origin string // the resource's; "" for https://mcp.example.com
}

func (w *hostChallenge) WriteHeader(code int) {
	if v := w.Header().Get("WWW-Authenticate"); v != "" {
		origin := w.origin
		if origin == "" {
			origin = "https://mcp.example.com"
		}
		scheme, _, _ := strings.Cut(origin, "://")
		w.Header().Set("WWW-Authenticate", strings.ReplaceAll(v, origin+"/", scheme+"://"+w.host+"/"))
	}
	w.ResponseWriter.WriteHeader(code)
}

// rewrite403 replaces the challenge of every 403.
type rewrite403 struct {
	http.ResponseWriter
	challenge string
}

func (w *rewrite403) WriteHeader(code int) {
	if code == http.StatusForbidden {
		w.Header().Set("WWW-Authenticate", w.challenge)
	}
	w.ResponseWriter.WriteHeader(code)
}

// echoToken appends the request's Authorization header to the body of
// every refusal, as a "helpful" error page might.
type echoToken struct {
	http.ResponseWriter
	token  string
	status int
}

func (w *echoToken) WriteHeader(code int) {
	w.status = code
	if code >= 400 {
		w.Header().Del("Content-Length")
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *echoToken) Write(b []byte) (int, error) {
	n, err := w.ResponseWriter.Write(b)
	if w.status >= 400 && err == nil && w.token != "" {
		_, err = io.WriteString(w.ResponseWriter, " (received "+w.token+")")
		w.token = ""
	}
	return n, err
}

// TestConformanceAttackFixes checks that every attack but the method ones
// (which have messages of their own) says, when accepted, what to change.
func TestConformanceAttackFixes(t *testing.T) {
	is := NewIssuer(t, nil)
	c, err := newTarget(tRunner{t}, kitConfig(is, http.NotFoundHandler()))
	require.NoError(t, err)
	for _, a := range c.Attacks(tRunner{t}) {
		if a.Method == "" {
			assert.True(t, strings.HasSuffix(a.Fix, "."), "%s/%s: fix %q", a.Class, a.Name, a.Fix)
		}
	}
}

// methodAttacks returns the method cases of c's attack corpus.
func methodAttacks(t *testing.T, c *conformance.Target) []conformance.Attack {
	var out []conformance.Attack
	for _, a := range c.Attacks(tRunner{t}) {
		if a.Class == "method" {
			out = append(out, a)
		}
	}
	return out
}

// splitToken splits a compact JWS into its three segments.
func splitToken(tok string) (h, p, s string) {
	parts := strings.SplitN(tok, ".", 3)
	for len(parts) < 3 {
		parts = append(parts, "")
	}
	return parts[0], parts[1], parts[2]
}
