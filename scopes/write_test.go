package scopes

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

const testRM = "https://mcp.example.com/.well-known/oauth-protected-resource/mcp"

// authAs is a stand-in for the authenticating middleware: it puts g in the
// request context, or nothing when g is nil.
func authAs(g *Grant, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if g != nil {
			r = r.WithContext(NewContext(r.Context(), g))
		}
		next.ServeHTTP(w, r)
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
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
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
	if err != nil {
		t.Fatal(err)
	}
	return do(t, srv, req)
}

func TestWriteError(t *testing.T) {
	grant := &Grant{Scopes: []string{"tools:read", "offline_access"}, ResourceMetadata: testRM}
	tests := []struct {
		name      string
		grant     *Grant
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
			grant:  &Grant{ResourceMetadata: testRM},
			check:  func(ctx context.Context) error { return Require(ctx, "offline_access", "tools:write") },
			status: 403,
			challenge: `Bearer resource_metadata="` + testRM + `", scope="tools:write", error="insufficient_scope", ` +
				`error_description="the access token lacks scope tools:write"`,
		},
		{
			name:   "only offline_access missing",
			grant:  &Grant{ResourceMetadata: testRM},
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
			name:   "grant without resource metadata",
			grant:  &Grant{},
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
			body:      `{}`,
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
			check:  func(context.Context) error { return &Error{Err: ErrNotPermitted} },
			status: 403,
			body:   `{"jsonrpc":"2.0","id":null,"error":{"code":-32000,"message":"not permitted"}}` + "\n",
		},
		{
			name:   "malformed",
			grant:  grant,
			check:  func(context.Context) error { return fmt.Errorf("%w: x", ErrMalformed) },
			status: 400,
			body:   `{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"invalid request"}}` + "\n",
		},
		{
			name:   "too large",
			grant:  grant,
			check:  func(context.Context) error { return ErrBodyTooLarge },
			status: 413,
			body:   `{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"request body too large"}}` + "\n",
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
			srv := httptest.NewServer(authAs(tt.grant, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				WriteError(w, r, tt.check(r.Context()))
			})))
			defer srv.Close()
			got := get(t, srv, "/")
			if got.status != tt.status {
				t.Fatalf("status = %d, want %d (%v)", got.status, tt.status, got)
			}
			var want []string
			if tt.challenge != "" {
				want = []string{tt.challenge}
			}
			if strings.Join(got.challenge, "\n") != strings.Join(want, "\n") {
				t.Errorf("WWW-Authenticate =\n%q\nwant\n%q", got.challenge, want)
			}
			if tt.body != "" && got.body != tt.body {
				t.Errorf("body = %q, want %q", got.body, tt.body)
			}
			if tt.status != 200 {
				if got.cache != "no-store" {
					t.Errorf("Cache-Control = %q", got.cache)
				}
				if got.ctype != "application/json" {
					t.Errorf("Content-Type = %q", got.ctype)
				}
			}
			if tt.challenge != "" && !strings.Contains(got.expose, "WWW-Authenticate") {
				t.Errorf("Access-Control-Expose-Headers = %q", got.expose)
			}
		})
	}
}
