package scopes

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/audit"
)

func ok(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") }

// TestRouteServeMux mounts route middleware on a ServeMux with method
// patterns, behind a Guard.
func TestRouteServeMux(t *testing.T) {
	mux := http.NewServeMux()
	mux.Handle("GET /items", Middleware("inventory:read")(http.HandlerFunc(ok)))
	mux.Handle("POST /items", Middleware("inventory:read", "inventory:write")(http.HandlerFunc(ok)))
	admin, err := NewRoute(RouteConfig{Scopes: []string{"inventory:admin", "root"}, Any: true})
	require.NoError(t, err)
	mux.Handle("DELETE /items/{id}", admin.Handler(http.HandlerFunc(ok)))
	mux.Handle("GET /whoami", Middleware()(http.HandlerFunc(ok)))

	tests := []struct {
		name      string
		grant     *rsguard.Principal
		method    string
		path      string
		status    int
		challenge string
	}{
		{"read with read", &rsguard.Principal{Scopes: []string{"inventory:read"}}, "GET", "/items", 200, ""},
		{"write with read", &rsguard.Principal{Scopes: []string{"inventory:read"}}, "POST", "/items", 403,
			`Bearer resource_metadata="` + testRM + `", scope="inventory:read inventory:write", error="insufficient_scope", error_description="the access token lacks scope inventory:write"`},
		{"write with both", &rsguard.Principal{Scopes: []string{"inventory:write", "inventory:read"}}, "POST", "/items", 200, ""},
		{"delete with root", &rsguard.Principal{Scopes: []string{"root"}}, "DELETE", "/items/7", 200, ""},
		{"delete with write", &rsguard.Principal{Scopes: []string{"inventory:write"}}, "DELETE", "/items/7", 403,
			`Bearer resource_metadata="` + testRM + `", scope="inventory:admin", error="insufficient_scope", error_description="the access token needs one of the scopes inventory:admin root"`},
		{"bare grant check", &rsguard.Principal{}, "GET", "/whoami", 200, ""},
		{"no grant: fail closed", nil, "GET", "/items", 401, `Bearer realm="rsguard", scope="inventory:read"`},
		{"no grant, bare check", nil, "GET", "/whoami", 401, `Bearer realm="rsguard"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(authAs(tt.grant, mux))
			defer srv.Close()
			req, err := http.NewRequest(tt.method, srv.URL+tt.path, nil)
			require.NoError(t, err)
			got := do(t, srv, req)
			require.Equal(t, tt.status, got.status, "status (%v)", got)
			assert.Equal(t, tt.challenge, strings.Join(got.challenge, ""), "WWW-Authenticate")
			if tt.status == 200 {
				assert.Equal(t, "ok", got.body, "body")
			}
		})
	}
}

// router is a minimal chi-style router: a middleware stack applied with Use
// and a With for one route, as chi composes func(http.Handler) http.Handler.
type router struct {
	mux   *http.ServeMux
	stack []func(http.Handler) http.Handler
}

func (rt *router) Use(mw ...func(http.Handler) http.Handler) { rt.stack = append(rt.stack, mw...) }

func (rt *router) With(mw ...func(http.Handler) http.Handler) *router {
	return &router{mux: rt.mux, stack: append(append([]func(http.Handler) http.Handler{}, rt.stack...), mw...)}
}

func (rt *router) Handle(pattern string, h http.Handler) {
	for i := len(rt.stack) - 1; i >= 0; i-- {
		h = rt.stack[i](h)
	}
	rt.mux.Handle(pattern, h)
}

func TestRouteChiStyle(t *testing.T) {
	g := &rsguard.Principal{Scopes: []string{"inventory:read"}}
	r := &router{mux: http.NewServeMux()}
	r.Use(func(next http.Handler) http.Handler { return authAs(g, next) })
	r.Use(Middleware("inventory:read")) // everything under r
	r.Handle("GET /items", http.HandlerFunc(ok))
	r.With(Middleware("inventory:write")).Handle("POST /items", http.HandlerFunc(ok))

	srv := httptest.NewServer(r.mux)
	defer srv.Close()
	got := get(t, srv, "/items")
	assert.Equal(t, 200, got.status, "GET: %v", got)
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/items", nil)
	got = do(t, srv, req)
	assert.Equal(t, 403, got.status, "POST: %v", got)
}

// TestRouteMisordered puts the scope check before authentication: every
// request fails closed.
func TestRouteMisordered(t *testing.T) {
	g := &rsguard.Principal{Scopes: []string{"inventory:read"}}
	h := Middleware("inventory:read")(authAs(g, http.HandlerFunc(ok)))
	srv := httptest.NewServer(h)
	defer srv.Close()
	got := get(t, srv, "/")
	require.Equal(t, 401, got.status, "misordered chain: %v", got)
}

func TestRouteConfig(t *testing.T) {
	var handlerErrs []error // what ErrorHandler got, asserted on the test goroutine
	tests := []struct {
		name      string
		guard     rsguard.Config // of the Guard in front, when grant is set
		cfg       RouteConfig
		grant     *rsguard.Principal
		status    int
		challenge string
	}{
		{
			name:   "the Guard's resource_metadata",
			cfg:    RouteConfig{Scopes: []string{"a"}},
			grant:  &rsguard.Principal{},
			status: 403,
			challenge: `Bearer resource_metadata="` + testRM + `", scope="a", ` +
				`error="insufficient_scope", error_description="the access token lacks scope a"`,
		},
		{
			name:   "the Guard's realm, not its scope",
			guard:  rsguard.Config{Realm: "inventory", Scopes: []string{"mcp:connect"}},
			cfg:    RouteConfig{Scopes: []string{"a"}},
			grant:  &rsguard.Principal{},
			status: 403,
			challenge: `Bearer realm="inventory", resource_metadata="` + testRM + `", scope="a", ` +
				`error="insufficient_scope", error_description="the access token lacks scope a"`,
		},
		{
			name:      "no Guard: fail closed with the default realm",
			cfg:       RouteConfig{Scopes: []string{"a"}},
			status:    401,
			challenge: `Bearer realm="rsguard", scope="a"`,
		},
		{
			name:   "wildcard when configured",
			cfg:    RouteConfig{Scopes: []string{"tools:write"}, Implies: Wildcard},
			grant:  &rsguard.Principal{Scopes: []string{"tools:*"}},
			status: 200,
		},
		{
			name:   "wildcard with any",
			cfg:    RouteConfig{Scopes: []string{"a:read", "tools:write"}, Any: true, Implies: Wildcard},
			grant:  &rsguard.Principal{Scopes: []string{"tools:*"}},
			status: 200,
		},
		{
			name: "error handler",
			cfg: RouteConfig{Scopes: []string{"a"}, ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
				handlerErrs = append(handlerErrs, err)
				w.WriteHeader(http.StatusTeapot)
			}},
			grant:  &rsguard.Principal{},
			status: http.StatusTeapot,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rt, err := NewRoute(tt.cfg)
			require.NoError(t, err)
			h := rt.Handler(http.HandlerFunc(ok))
			if tt.grant != nil {
				h = guard(tt.guard, tt.grant)(h)
			}
			srv := httptest.NewServer(h)
			defer srv.Close()
			got := get(t, srv, "/")
			require.Equal(t, tt.status, got.status, "status (%v)", got)
			assert.Equal(t, tt.challenge, strings.Join(got.challenge, ""), "WWW-Authenticate")
		})
	}
	assert.Len(t, handlerErrs, 1, "ErrorHandler calls")
	for _, err := range handlerErrs {
		assert.ErrorIs(t, err, audit.ReasonInsufficientScope, "ErrorHandler")
	}
}

func TestNewRouteRefuses(t *testing.T) {
	for name, cfg := range map[string]RouteConfig{
		"space in scope": {Scopes: []string{"a b"}},
		"empty scope":    {Scopes: []string{""}},
		"any of nothing": {Any: true},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := NewRoute(cfg)
			require.Error(t, err, "no error")
		})
	}
	assert.Panics(t, func() { Middleware(`bad"scope`) }, "Middleware did not panic on an invalid scope")
}
