package scopes

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/audit"
	"github.com/rsguard/rsguard/internal/reqctx"
	"github.com/rsguard/rsguard/rsmeta"
)

const testRM = "https://mcp.example.com/.well-known/oauth-protected-resource/mcp"

// authFunc is a fake rsguard.Authenticator, standing in for validate or
// apikey.
type authFunc func(r *http.Request) (*rsguard.Principal, error)

func (f authFunc) Authenticate(r *http.Request) (*rsguard.Principal, error) { return f(r) }

// guard returns the middleware of a real rsguard.Guard configured with cfg
// (ResourceMetadata testRM when empty) over an authenticator that proves p
// for every request.
func guard(cfg rsguard.Config, p *rsguard.Principal) func(http.Handler) http.Handler {
	cfg.Authenticator = authFunc(func(*http.Request) (*rsguard.Principal, error) {
		if p != nil && p.Subject == "" { // the Guard refuses principals without one
			q := *p
			q.Subject = "user:https://as.example#test"
			return &q, nil
		}
		return p, nil
	})
	if cfg.ResourceMetadata == "" {
		cfg.ResourceMetadata = testRM
	}
	g, err := rsguard.New(cfg)
	if err != nil {
		panic(err)
	}
	return g.Middleware
}

// authAs authenticates every request as p through a Guard whose resource
// metadata is testRM; when p is nil it does nothing, so that the scope
// check runs without a Guard in front, as in a misordered chain.
func authAs(p *rsguard.Principal, next http.Handler) http.Handler {
	if p == nil {
		return next
	}
	return guard(rsguard.Config{}, p)(next)
}

// withPrincipal puts p in the request context with rsguard.NewContext, as a
// middleware other than the Guard would: no realm or resource metadata is
// known.
func withPrincipal(p *rsguard.Principal, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(rsguard.NewContext(r.Context(), p)))
	})
}

// response is what a test client saw.
type response struct {
	status    int
	challenge []string
	expose    string
	cache     string
	ctype     string
	body      string
}

func (r response) String() string {
	return fmt.Sprintf("%d %q %s", r.status, r.challenge, r.body)
}

func do(t *testing.T, srv *httptest.Server, req *http.Request) response {
	t.Helper()
	res, err := srv.Client().Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return response{
		status:    res.StatusCode,
		challenge: res.Header.Values("WWW-Authenticate"),
		expose:    res.Header.Get("Access-Control-Expose-Headers"),
		cache:     res.Header.Get("Cache-Control"),
		ctype:     res.Header.Get("Content-Type"),
		body:      string(body),
	}
}

func get(t *testing.T, srv *httptest.Server, path string) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, srv.URL+path, nil)
	require.NoError(t, err)
	return do(t, srv, req)
}

func TestWriteError(t *testing.T) {
	grant := &rsguard.Principal{Scopes: []string{"tools:read", "offline_access"}}
	tests := []struct {
		name      string
		grant     *rsguard.Principal
		bare      bool // stored by rsguard.NewContext, not by a Guard
		check     func(ctx context.Context) error
		status    int
		challenge string
		body      string
	}{
		{
			name:   "all of: names every needed scope, granted ones too",
			grant:  grant,
			check:  func(ctx context.Context) error { return Require(ctx, "tools:read", "tools:write") },
			status: 403,
			challenge: `Bearer resource_metadata="` + testRM + `", scope="tools:read tools:write", error="insufficient_scope", ` +
				`error_description="the access token lacks scope tools:write"`,
			body: `{"error":"insufficient_scope","error_description":"the access token lacks scope tools:write"}`,
		},
		{
			name:   "several missing",
			grant:  grant,
			check:  func(ctx context.Context) error { return Require(ctx, "a:write", "b:write") },
			status: 403,
			challenge: `Bearer resource_metadata="` + testRM + `", scope="a:write b:write", error="insufficient_scope", ` +
				`error_description="the access token lacks scopes a:write b:write"`,
		},
		{
			name:   "offline_access is never in the challenge",
			grant:  &rsguard.Principal{},
			check:  func(ctx context.Context) error { return Require(ctx, "offline_access", "tools:write") },
			status: 403,
			challenge: `Bearer resource_metadata="` + testRM + `", scope="tools:write", error="insufficient_scope", ` +
				`error_description="the access token lacks scope tools:write"`,
		},
		{
			name:   "only offline_access missing",
			grant:  &rsguard.Principal{},
			check:  func(ctx context.Context) error { return Require(ctx, "offline_access") },
			status: 403,
			challenge: `Bearer resource_metadata="` + testRM + `", error="insufficient_scope", ` +
				`error_description="the access token lacks a required scope"`,
		},
		{
			name:   "any of: first alternative",
			grant:  grant,
			check:  func(ctx context.Context) error { return RequireAny(ctx, "inventory:read", "inventory:admin") },
			status: 403,
			challenge: `Bearer resource_metadata="` + testRM + `", scope="inventory:read", error="insufficient_scope", ` +
				`error_description="the access token needs one of the scopes inventory:read inventory:admin"`,
		},
		{
			name:   "principal stored without a Guard: no resource metadata",
			grant:  &rsguard.Principal{},
			bare:   true,
			check:  func(ctx context.Context) error { return Require(ctx, "x") },
			status: 403,
			challenge: `Bearer scope="x", error="insufficient_scope", ` +
				`error_description="the access token lacks scope x"`,
		},
		{
			name:      "no grant: 401, realm, scope, no error code",
			check:     func(ctx context.Context) error { return Require(ctx, "tools:write") },
			status:    401,
			challenge: `Bearer realm="rsguard", scope="tools:write"`,
			body:      `{"error":"unauthorized","error_description":"authentication required"}`,
		},
		{
			name:      "no grant, nothing required",
			check:     func(ctx context.Context) error { return Require(ctx) },
			status:    401,
			challenge: `Bearer realm="rsguard"`,
		},
		{
			name:   "invalid scope is a server error",
			grant:  grant,
			check:  func(ctx context.Context) error { return Require(ctx, "two words") },
			status: 500,
			body:   `{"error":"server_error"}` + "\n",
		},
		{
			name:   "foreign error is a server error without detail",
			grant:  grant,
			check:  func(context.Context) error { return errors.New("secret detail") },
			status: 500,
			body:   `{"error":"server_error"}` + "\n",
		},
		{
			name:   "not permitted",
			grant:  grant,
			check:  func(context.Context) error { return &Error{Err: audit.ReasonUnknownTool} },
			status: 403,
			body:   `{"jsonrpc":"2.0","id":null,"error":{"code":-32000,"message":"not permitted"}}` + "\n",
		},
		{
			name:   "malformed",
			grant:  grant,
			check:  func(context.Context) error { return fmt.Errorf("%w: x", audit.ReasonInvalidRequest) },
			status: 400,
			body:   `{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"invalid request"}}` + "\n",
		},
		{
			name:   "too large",
			grant:  grant,
			check:  func(context.Context) error { return audit.ReasonBodyTooLarge },
			status: 413,
			body:   `{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"request body too large"}}` + "\n",
		},
		{
			name:   "not JSON",
			grant:  grant,
			check:  func(context.Context) error { return fmt.Errorf("%w: %w", audit.ReasonInvalidRequest, errNotJSON) },
			status: 400,
			body:   `{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"parse error"}}` + "\n",
		},
		{
			name:   "method not allowed",
			grant:  grant,
			check:  func(context.Context) error { return fmt.Errorf("%w: x", audit.ReasonMethodNotAllowed) },
			status: 405,
			body:   `{"jsonrpc":"2.0","id":null,"error":{"code":-32000,"message":"method not allowed"}}` + "\n",
		},
		{
			name:   "no_principal without its *Error is a server error",
			grant:  grant,
			check:  func(context.Context) error { return audit.ReasonNoPrincipal },
			status: 500,
			body:   `{"error":"server_error"}` + "\n",
		},
		{
			name:   "insufficient_scope without its *Error is a server error",
			grant:  grant,
			check:  func(context.Context) error { return fmt.Errorf("%w: x", audit.ReasonInsufficientScope) },
			status: 500,
			body:   `{"error":"server_error"}` + "\n",
		},
		{
			name:   "unknown_tool without its *Error is a server error",
			grant:  grant,
			check:  func(context.Context) error { return audit.ReasonUnknownTool },
			status: 500,
			body:   `{"error":"server_error"}` + "\n",
		},
		{
			name:   "step-up without its requirement is a server error",
			grant:  grant,
			check:  func(context.Context) error { return &Error{Err: audit.ReasonInsufficientUserAuthentication} },
			status: 500,
			body:   `{"error":"server_error"}` + "\n",
		},
		{
			name:   "a class this package does not answer is a server error",
			grant:  grant,
			check:  func(context.Context) error { return &Error{Err: audit.ReasonExpired} },
			status: 500,
			body:   `{"error":"server_error"}` + "\n",
		},
		{
			name:   "nil error writes nothing",
			grant:  grant,
			check:  func(context.Context) error { return nil },
			status: 200,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				WriteError(w, r, tt.check(r.Context()))
			})
			auth := authAs
			if tt.bare {
				auth = withPrincipal
			}
			srv := httptest.NewServer(auth(tt.grant, h))
			defer srv.Close()
			got := get(t, srv, "/")
			require.Equal(t, tt.status, got.status, "status (%v)", got)
			var want []string
			if tt.challenge != "" {
				want = []string{tt.challenge}
			}
			assert.Equal(t, strings.Join(want, "\n"), strings.Join(got.challenge, "\n"), "WWW-Authenticate")
			if tt.body != "" {
				assert.Equal(t, tt.body, got.body, "body")
			}
			if tt.status != 200 {
				assert.Equal(t, "no-store", got.cache, "Cache-Control")
				assert.Equal(t, "application/json", got.ctype, "Content-Type")
				var body map[string]any
				if assert.NoError(t, json.Unmarshal([]byte(got.body), &body), "body %q", got.body) {
					assert.NotEmpty(t, body["error"], "every refusal body says what went wrong: %s", got.body)
				}
			}
			if tt.challenge != "" {
				assert.Contains(t, got.expose, "WWW-Authenticate", "Access-Control-Expose-Headers")
			}
		})
	}
}

// TestWriteErrorGuardChallenge: the challenges of a scope check carry the
// realm and resource_metadata of the Guard that authenticated the request,
// never the Guard's own scope auth-param, which a scope check replaces with
// its own.
func TestWriteErrorGuardChallenge(t *testing.T) {
	const otherRM = "https://api.example.com/.well-known/oauth-protected-resource"
	cfg := rsguard.Config{Realm: "inventory", ResourceMetadata: otherRM, Scopes: []string{"mcp:connect"}}
	p := &rsguard.Principal{Scopes: []string{"a"}, ACR: "pwd"}
	tests := []struct {
		name      string
		check     func(ctx context.Context) error
		status    int
		challenge string
	}{
		{"insufficient scope", func(ctx context.Context) error { return Require(ctx, "a", "b") }, 403,
			`Bearer realm="inventory", resource_metadata="` + otherRM + `", scope="a b", error="insufficient_scope", error_description="the access token lacks scope b"`},
		{"step-up", func(ctx context.Context) error {
			return RequireAuthentication(ctx, AuthRequirement{ACRValues: []string{"mfa"}}, time.Now())
		}, 401,
			`Bearer realm="inventory", resource_metadata="` + otherRM + `", error="insufficient_user_authentication", ` +
				`error_description="a stronger or more recent authentication is required", acr_values="mfa"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := guard(cfg, p)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				WriteError(w, r, tt.check(r.Context()))
			}))
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
			require.Equal(t, tt.status, rec.Code, "status")
			assert.Equal(t, []string{tt.challenge}, rec.Header().Values("WWW-Authenticate"), "WWW-Authenticate")
		})
	}

	// A context that knows the Guard's challenge but holds no principal
	// (nothing in rsguard builds one; the path must still be right): the
	// fail-closed 401 carries resource_metadata, and then needs no default
	// realm.
	ctx := reqctx.With(context.Background(), reqctx.State{Challenge: &rsmeta.Challenge{ResourceMetadata: otherRM, Scope: []string{"mcp:connect"}}})
	r := httptest.NewRequest(http.MethodGet, "/", nil).WithContext(ctx)
	rec := httptest.NewRecorder()
	WriteError(rec, r, Require(r.Context(), "a"))
	assert.Equal(t, 401, rec.Code, "no principal: status")
	assert.Equal(t, `Bearer resource_metadata="`+otherRM+`", scope="a"`, rec.Header().Get("WWW-Authenticate"), "no principal: WWW-Authenticate")
}
