package scopes

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func ok(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") }

// TestRouteServeMux mounts route middleware on a ServeMux with method
// patterns, behind a stand-in authenticating middleware.
func TestRouteServeMux(t *testing.T) {
	mux := http.NewServeMux()
	mux.Handle("GET /items", Middleware("inventory:read")(http.HandlerFunc(ok)))
	mux.Handle("POST /items", Middleware("inventory:read", "inventory:write")(http.HandlerFunc(ok)))
	mux.Handle("DELETE /items/{id}", MiddlewareAny("inventory:admin", "root")(http.HandlerFunc(ok)))
	mux.Handle("GET /whoami", Middleware()(http.HandlerFunc(ok)))

	tests := []struct {
		name      string
		grant     *Grant
		method    string
		path      string
		status    int
		challenge string
	}{
		{"read with read", &Grant{Scopes: []string{"inventory:read"}, ResourceMetadata: testRM}, "GET", "/items", 200, ""},
		{"write with read", &Grant{Scopes: []string{"inventory:read"}, ResourceMetadata: testRM}, "POST", "/items", 403,
			`Bearer resource_metadata="` + testRM + `", scope="inventory:read inventory:write", error="insufficient_scope", error_description="the access token lacks scope inventory:write"`},
		{"write with both", &Grant{Scopes: []string{"inventory:write", "inventory:read"}}, "POST", "/items", 200, ""},
		{"delete with root", &Grant{Scopes: []string{"root"}}, "DELETE", "/items/7", 200, ""},
		{"delete with write", &Grant{Scopes: []string{"inventory:write"}, ResourceMetadata: testRM}, "DELETE", "/items/7", 403,
			`Bearer resource_metadata="` + testRM + `", scope="inventory:admin", error="insufficient_scope", error_description="the access token needs one of the scopes inventory:admin root"`},
		{"bare grant check", &Grant{}, "GET", "/whoami", 200, ""},
		{"no grant: fail closed", nil, "GET", "/items", 401, `Bearer realm="rsguard", scope="inventory:read"`},
		{"no grant, bare check", nil, "GET", "/whoami", 401, `Bearer realm="rsguard"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(authAs(tt.grant, mux))
			defer srv.Close()
			req, err := http.NewRequest(tt.method, srv.URL+tt.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			got := do(t, srv, req)
			if got.status != tt.status {
				t.Fatalf("status = %d, want %d (%v)", got.status, tt.status, got)
			}
			if strings.Join(got.challenge, "") != tt.challenge {
				t.Errorf("WWW-Authenticate = %q, want %q", got.challenge, tt.challenge)
			}
			if tt.status == 200 && got.body != "ok" {
				t.Errorf("body = %q", got.body)
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
	g := &Grant{Scopes: []string{"inventory:read"}}
	r := &router{mux: http.NewServeMux()}
	r.Use(func(next http.Handler) http.Handler { return authAs(g, next) })
	r.Use(Middleware("inventory:read")) // everything under r
	r.Handle("GET /items", http.HandlerFunc(ok))
	r.With(Middleware("inventory:write")).Handle("POST /items", http.HandlerFunc(ok))

	srv := httptest.NewServer(r.mux)
	defer srv.Close()
	if got := get(t, srv, "/items"); got.status != 200 {
		t.Errorf("GET: %v", got)
	}
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/items", nil)
	if got := do(t, srv, req); got.status != 403 {
		t.Errorf("POST: %v", got)
	}
}

// TestRouteMisordered puts the scope check before authentication: every
// request fails closed.
func TestRouteMisordered(t *testing.T) {
	g := &Grant{Scopes: []string{"inventory:read"}}
	h := Middleware("inventory:read")(authAs(g, http.HandlerFunc(ok)))
	srv := httptest.NewServer(h)
	defer srv.Close()
	if got := get(t, srv, "/"); got.status != 401 {
		t.Fatalf("misordered chain: %v", got)
	}
}

func TestRouteConfig(t *testing.T) {
	called := 0
	tests := []struct {
		name      string
		cfg       RouteConfig
		grant     *Grant
		status    int
		challenge string
	}{
		{
			name:      "override resource_metadata also on 401",
			cfg:       RouteConfig{Scopes: []string{"a"}, ResourceMetadata: "https://api.example.com/.well-known/oauth-protected-resource"},
			status:    401,
			challenge: `Bearer resource_metadata="https://api.example.com/.well-known/oauth-protected-resource", scope="a"`,
		},
		{
			name:   "override beats the grant's",
			cfg:    RouteConfig{Scopes: []string{"a"}, ResourceMetadata: "https://api.example.com/.well-known/oauth-protected-resource"},
			grant:  &Grant{ResourceMetadata: testRM},
			status: 403,
			challenge: `Bearer resource_metadata="https://api.example.com/.well-known/oauth-protected-resource", scope="a", ` +
				`error="insufficient_scope", error_description="the access token lacks scope a"`,
		},
		{
			name:      "realm",
			cfg:       RouteConfig{Scopes: []string{"a"}, Realm: "inventory"},
			grant:     &Grant{},
			status:    403,
			challenge: `Bearer realm="inventory", scope="a", error="insufficient_scope", error_description="the access token lacks scope a"`,
		},
		{
			name:   "wildcard when configured",
			cfg:    RouteConfig{Scopes: []string{"tools:write"}, Implies: Wildcard},
			grant:  &Grant{Scopes: []string{"tools:*"}},
			status: 200,
		},
		{
			name:   "wildcard with any",
			cfg:    RouteConfig{Scopes: []string{"a:read", "tools:write"}, Any: true, Implies: Wildcard},
			grant:  &Grant{Scopes: []string{"tools:*"}},
			status: 200,
		},
		{
			name: "error handler",
			cfg: RouteConfig{Scopes: []string{"a"}, ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
				called++
				if !errors.Is(err, ErrInsufficientScope) {
					t.Errorf("ErrorHandler got %v", err)
				}
				w.WriteHeader(http.StatusTeapot)
			}},
			grant:  &Grant{},
			status: http.StatusTeapot,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rt, err := NewRoute(tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(authAs(tt.grant, rt.Handler(http.HandlerFunc(ok))))
			defer srv.Close()
			got := get(t, srv, "/")
			if got.status != tt.status {
				t.Fatalf("status = %d, want %d (%v)", got.status, tt.status, got)
			}
			if strings.Join(got.challenge, "") != tt.challenge {
				t.Errorf("WWW-Authenticate = %q, want %q", got.challenge, tt.challenge)
			}
		})
	}
	if called != 1 {
		t.Errorf("ErrorHandler called %d times", called)
	}
}

func TestNewRouteRefuses(t *testing.T) {
	for name, cfg := range map[string]RouteConfig{
		"space in scope": {Scopes: []string{"a b"}},
		"empty scope":    {Scopes: []string{""}},
		"any of nothing": {Any: true},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := NewRoute(cfg); err == nil {
				t.Fatal("no error")
			}
		})
	}
	defer func() {
		if recover() == nil {
			t.Error("Middleware did not panic on an invalid scope")
		}
	}()
	Middleware(`bad"scope`)
}
