package scopes_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/audit"
	"github.com/rsguard/rsguard/scopes"
)

const rm = "https://mcp.example.com/.well-known/oauth-protected-resource/mcp"

var now = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

func withPrincipal(r *http.Request, p *rsguard.Principal) *http.Request {
	return r.WithContext(rsguard.NewContext(r.Context(), p))
}

var ok200 = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(200) })

func TestHierarchy(t *testing.T) {
	h, err := scopes.NewHierarchy(map[string][]string{
		"inventory:admin": {"inventory:write"},
		"inventory:write": {"inventory:read"},
		"a":               {"b"},
		"b":               {"a"},
	})
	require.NoError(t, err)
	assert.True(t, h.Implies("inventory:admin", "inventory:read"), "transitive")
	assert.True(t, h.Implies("inventory:write", "inventory:read"))
	assert.False(t, h.Implies("inventory:read", "inventory:write"))
	assert.False(t, h.Implies("inventory:admin", "inventory:admin"), "equality is checked by the caller")
	assert.True(t, h.Implies("a", "b"))
	assert.True(t, h.Implies("b", "a"))

	_, err = scopes.NewHierarchy(map[string][]string{"ok": {`bad"scope`}})
	require.ErrorIs(t, err, rsguard.ErrInvalidConfig)
	require.ErrorContains(t, err, `invalid scope token "bad\"scope"`)

	ctx := rsguard.NewContext(context.Background(), &rsguard.Principal{Scopes: []string{"inventory:admin"}})
	assert.NoError(t, h.Require(ctx, "inventory:read", "inventory:write"))
	assert.False(t, scopes.Has(ctx, "inventory:read"), "the package-level checks stay exact")

	// The 403 names the smallest sufficient set: write implies read.
	ctx = rsguard.NewContext(context.Background(), &rsguard.Principal{Scopes: []string{"inventory:read"}})
	err = h.Require(ctx, "inventory:read", "inventory:write")
	var se *scopes.Error
	require.True(t, errors.As(err, &se))
	assert.Equal(t, []string{"inventory:write"}, se.Required)
	rec := httptest.NewRecorder()
	scopes.WriteError(rec, httptest.NewRequest("POST", "/", nil).WithContext(ctx), err)
	assert.Equal(t, 403, rec.Code)
	assert.Contains(t, rec.Header().Get("WWW-Authenticate"), `scope="inventory:write"`)

	// Per MCP tool, with the hierarchy as Implies.
	m, err := scopes.NewMCP(scopes.MCPConfig{
		Tools:   map[string][]string{"list": {"inventory:read"}, "delete": {"inventory:admin"}},
		Implies: h.Implies,
	})
	require.NoError(t, err)
	body := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"list"}}`
	req := withPrincipal(httptest.NewRequest("POST", "/mcp", strings.NewReader(body)), &rsguard.Principal{Scopes: []string{"inventory:write"}})
	rec = httptest.NewRecorder()
	m.Handler(ok200).ServeHTTP(rec, req)
	assert.Equal(t, 200, rec.Code, "write implies read")
}

func TestStepUpRoute(t *testing.T) {
	rt, err := scopes.NewRoute(scopes.RouteConfig{
		Scopes:         []string{"payments:send"},
		Authentication: &scopes.AuthRequirement{ACRValues: []string{"urn:mfa", "phr"}, MaxAge: 5 * time.Minute},
		Now:            func() time.Time { return now },
	})
	require.NoError(t, err)
	h := rt.Handler(ok200)
	for _, tc := range []struct {
		name     string
		g        *rsguard.Principal
		want     int
		wantAuth string
	}{
		{"strong and recent", &rsguard.Principal{Scopes: []string{"payments:send"}, ACR: "urn:mfa", AuthTime: now.Add(-time.Minute)}, 200, ""},
		{"weak acr", &rsguard.Principal{Scopes: []string{"payments:send"}, ACR: "pwd", AuthTime: now}, 401,
			`Bearer resource_metadata="` + rm + `", error="insufficient_user_authentication", error_description="a stronger or more recent authentication is required", acr_values="urn:mfa phr", max_age="300"`},
		{"too old", &rsguard.Principal{Scopes: []string{"payments:send"}, ACR: "phr", AuthTime: now.Add(-time.Hour)}, 401, ""},
		{"no auth_time", &rsguard.Principal{Scopes: []string{"payments:send"}, ACR: "phr"}, 401, ""},
		{"scope first: 403 before step-up", &rsguard.Principal{Scopes: []string{"other"}, ACR: "pwd"}, 403, ""},
		{"API key: no acr", &rsguard.Principal{Scopes: []string{"payments:send"}, Credential: audit.CredentialAPIKey}, 401, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			guarded(rm, tc.g, h).ServeHTTP(rec, httptest.NewRequest("POST", "/pay", nil))
			assert.Equal(t, tc.want, rec.Code)
			if tc.want == 401 {
				assert.Contains(t, rec.Header().Get("WWW-Authenticate"), `error="insufficient_user_authentication"`)
			}
			if tc.wantAuth != "" {
				assert.Equal(t, tc.wantAuth, rec.Header().Get("WWW-Authenticate"))
			}
		})
	}

	_, err = scopes.NewRoute(scopes.RouteConfig{Authentication: &scopes.AuthRequirement{MaxAge: 1500 * time.Millisecond}})
	require.Error(t, err, "max_age is whole seconds")
}

func TestStepUpTool(t *testing.T) {
	m, err := scopes.NewMCP(scopes.MCPConfig{
		Tools:              map[string][]string{"transfer": {"payments:send"}, "balance": {"payments:read"}},
		ToolAuthentication: map[string]scopes.AuthRequirement{"transfer": {ACRValues: []string{"urn:mfa"}}},
		Now:                func() time.Time { return now },
	})
	require.NoError(t, err)
	call := func(tool string, g *rsguard.Principal) *httptest.ResponseRecorder {
		body := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"` + tool + `","arguments":{}}}`
		rec := httptest.NewRecorder()
		guarded(rm, g, m.Handler(ok200)).ServeHTTP(rec, httptest.NewRequest("POST", "/mcp", strings.NewReader(body)))
		return rec
	}
	weak := &rsguard.Principal{Scopes: []string{"payments:send", "payments:read"}, ACR: "pwd"}
	strong := &rsguard.Principal{Scopes: []string{"payments:send", "payments:read"}, ACR: "urn:mfa"}
	rec := call("transfer", weak)
	assert.Equal(t, 401, rec.Code)
	assert.Equal(t, `Bearer resource_metadata="`+rm+`", error="insufficient_user_authentication", error_description="a stronger or more recent authentication is required", acr_values="urn:mfa"`, rec.Header().Get("WWW-Authenticate"))
	assert.Equal(t, 200, call("transfer", strong).Code)
	assert.Equal(t, 200, call("balance", weak).Code, "other tools need no step-up")

	_, err = scopes.NewMCP(scopes.MCPConfig{ToolAuthentication: map[string]scopes.AuthRequirement{"ghost": {}}})
	require.ErrorIs(t, err, rsguard.ErrInvalidConfig, "a step-up for a tool that is not in Tools")
}

func TestRequireAuthentication(t *testing.T) {
	ctx := rsguard.NewContext(context.Background(), &rsguard.Principal{ACR: "pwd", AuthTime: now})
	err := scopes.RequireAuthentication(ctx, scopes.AuthRequirement{ACRValues: []string{"urn:mfa"}}, now)
	require.ErrorIs(t, err, audit.ReasonInsufficientUserAuthentication)
	require.NoError(t, scopes.RequireAuthentication(ctx, scopes.AuthRequirement{MaxAge: time.Minute}, now))
	require.ErrorIs(t, scopes.RequireAuthentication(context.Background(), scopes.AuthRequirement{}, now), audit.ReasonNoPrincipal)
	err = scopes.RequireAuthentication(ctx, scopes.AuthRequirement{MaxAge: -time.Second}, now)
	require.ErrorIs(t, err, rsguard.ErrInvalidConfig, "invalid requirement")
	var r audit.Reason
	require.False(t, errors.As(err, &r), "invalid requirement: a refusal class %q", r)
}

// TestStepUpErrorCannotChangeRequirement: an ErrorHandler that writes into
// the refusal's AuthRequirement changes nothing the next request is checked
// against.
func TestStepUpErrorCannotChangeRequirement(t *testing.T) {
	rt, err := scopes.NewRoute(scopes.RouteConfig{
		Authentication: &scopes.AuthRequirement{ACRValues: []string{"mfa"}},
		Now:            func() time.Time { return now },
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			scopes.WriteError(w, r, err)
			var se *scopes.Error
			if errors.As(err, &se) && se.Authentication != nil && len(se.Authentication.ACRValues) > 0 {
				se.Authentication.ACRValues[0] = "pwd"
				se.Authentication.ACRValues = append(se.Authentication.ACRValues, "otp")
			}
		},
	})
	require.NoError(t, err)
	h := rt.Handler(ok200)
	for i := range 2 {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, withPrincipal(httptest.NewRequest(http.MethodGet, "/", nil), &rsguard.Principal{Subject: "user:x#a", ACR: "pwd", AuthTime: now}))
		assert.Equal(t, http.StatusUnauthorized, w.Code, "request %d: a password login never meets an mfa requirement", i)
		assert.Contains(t, w.Header().Get("WWW-Authenticate"), `acr_values="mfa"`, "request %d", i)
	}
}
