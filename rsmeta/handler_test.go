package rsmeta

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func newTestHandler(t *testing.T, m Metadata) *Handler {
	t.Helper()
	h, err := NewHandler(m)
	require.NoError(t, err, "NewHandler")
	return h
}

func TestNewHandler(t *testing.T) {
	m := validMetadata()
	m.Resource = "HTTPS://API.example.com:443/mcp"
	h := newTestHandler(t, m)
	assert.Equal(t, "https://api.example.com/.well-known/oauth-protected-resource/mcp", h.URL(), "URL()")
	assert.Equal(t, []string{"/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource"}, h.Paths(), "Paths()")
	h.Paths()[0] = "changed"
	assert.NotEqual(t, "changed", h.Paths()[0], "Paths() exposes internal state")
	var doc Metadata
	require.NoError(t, json.Unmarshal(h.body, &doc))
	assert.Equal(t, "https://api.example.com/mcp", doc.Resource, "published resource, want the canonical form")
	assert.Equal(t, []string{"header"}, doc.BearerMethodsSupported, "bearer_methods_supported")
	assert.Nil(t, m.BearerMethodsSupported, "NewHandler modified the caller's Metadata")

	root := validMetadata()
	root.Resource = "https://api.example.com/"
	assert.Equal(t, []string{wellKnownPrefix}, newTestHandler(t, root).Paths(), "root resource Paths()")
	q := validMetadata()
	q.Resource = "https://api.example.com/mcp?tenant=a"
	hq := newTestHandler(t, q)
	assert.Equal(t, "https://api.example.com/.well-known/oauth-protected-resource/mcp?tenant=a", hq.URL(), "query resource: URL")
	assert.Equal(t, wellKnownPrefix+"/mcp", hq.Paths()[0], "query resource: Paths %q", hq.Paths())

	bad := validMetadata()
	bad.ScopesSupported = []string{"offline_access"}
	_, err := NewHandler(bad)
	assert.ErrorIs(t, err, ErrInvalidMetadata, "NewHandler(offline_access)")
	bad = validMetadata()
	bad.BearerMethodsSupported = []string{"cookie"}
	_, err = NewHandler(bad)
	assert.ErrorIs(t, err, ErrInvalidMetadata, "NewHandler(cookie)")
}

func TestHandlerHTTP(t *testing.T) {
	h := newTestHandler(t, validMetadata())
	srv := httptest.NewServer(h)
	defer srv.Close()
	const wantBody = `{"resource":"https://api.example.com/mcp","authorization_servers":["https://auth.example.com"],` +
		`"scopes_supported":["tools:read","tools:write"],"bearer_methods_supported":["header"]}`

	do := func(t *testing.T, method string, hdr map[string]string) (*http.Response, string) {
		t.Helper()
		req, err := http.NewRequest(method, srv.URL+wellKnownPrefix+"/mcp", nil)
		require.NoError(t, err)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := srv.Client().Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp, string(b)
	}

	tests := []struct {
		name       string
		method     string
		reqHeader  map[string]string
		wantStatus int
		wantBody   string
		wantHeader map[string]string // "" means absent
	}{
		{name: "GET", method: http.MethodGet, wantStatus: 200, wantBody: wantBody, wantHeader: map[string]string{
			"Content-Type":                "application/json",
			"Content-Length":              strconv.Itoa(len(wantBody)),
			"Cache-Control":               "public, max-age=3600",
			"X-Content-Type-Options":      "nosniff",
			"Access-Control-Allow-Origin": "*",
			"ETag":                        h.etag,
			"Allow":                       "",
		}},
		{name: "HEAD", method: http.MethodHead, wantStatus: 200, wantBody: "", wantHeader: map[string]string{
			"Content-Type":                "application/json",
			"Content-Length":              strconv.Itoa(len(wantBody)),
			"Cache-Control":               "public, max-age=3600",
			"Access-Control-Allow-Origin": "*",
			"ETag":                        h.etag,
		}},
		{name: "If-None-Match strong", method: http.MethodGet, reqHeader: map[string]string{"If-None-Match": h.etag}, wantStatus: 304, wantHeader: map[string]string{
			"ETag":                        h.etag,
			"Cache-Control":               "public, max-age=3600",
			"Access-Control-Allow-Origin": "*",
			"Content-Type":                "",
		}},
		{name: "If-None-Match weak in list", method: http.MethodGet, reqHeader: map[string]string{"If-None-Match": `"x,y", W/` + h.etag}, wantStatus: 304},
		{name: "If-None-Match star", method: http.MethodHead, reqHeader: map[string]string{"If-None-Match": "*"}, wantStatus: 304},
		{name: "If-None-Match other", method: http.MethodGet, reqHeader: map[string]string{"If-None-Match": `"abc", W/"def"`}, wantStatus: 200, wantBody: wantBody},
		{name: "If-None-Match malformed", method: http.MethodGet, reqHeader: map[string]string{"If-None-Match": `abc ` + h.etag}, wantStatus: 200, wantBody: wantBody},
		{name: "preflight default headers", method: http.MethodOptions, reqHeader: map[string]string{
			"Origin": "https://app.example", "Access-Control-Request-Method": "GET",
		}, wantStatus: 204, wantHeader: map[string]string{
			"Access-Control-Allow-Origin":  "*",
			"Access-Control-Allow-Methods": "GET, HEAD, OPTIONS",
			"Access-Control-Allow-Headers": "Authorization, Content-Type, MCP-Protocol-Version",
			"Access-Control-Max-Age":       "86400",
			"Allow":                        "GET, HEAD, OPTIONS",
			"Content-Type":                 "",
		}},
		{name: "preflight echo", method: http.MethodOptions, reqHeader: map[string]string{
			"Origin": "https://app.example", "Access-Control-Request-Method": "GET",
			"Access-Control-Request-Headers": "mcp-protocol-version,authorization , x-custom",
		}, wantStatus: 204, wantHeader: map[string]string{
			"Access-Control-Allow-Headers": "mcp-protocol-version, authorization, x-custom",
		}},
		{name: "preflight junk", method: http.MethodOptions, reqHeader: map[string]string{
			"Access-Control-Request-Headers": `x-a, "quoted"`,
		}, wantStatus: 204, wantHeader: map[string]string{
			"Access-Control-Allow-Headers": "Authorization, Content-Type, MCP-Protocol-Version",
		}},
		{name: "POST", method: http.MethodPost, wantStatus: 405, wantHeader: map[string]string{
			"Allow":                       "GET, HEAD, OPTIONS",
			"Access-Control-Allow-Origin": "*",
			"Cache-Control":               "",
		}},
		{name: "DELETE", method: http.MethodDelete, wantStatus: 405, wantHeader: map[string]string{"Allow": "GET, HEAD, OPTIONS"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := do(t, tt.method, tt.reqHeader)
			require.Equal(t, tt.wantStatus, resp.StatusCode, "status")
			if tt.wantBody != "" || tt.wantStatus != 200 {
				assert.Equal(t, tt.wantBody, body, "body")
			}
			for k, want := range tt.wantHeader {
				assert.Equal(t, want, resp.Header.Get(k), k)
			}
		})
	}
	assert.True(t, strings.HasPrefix(h.etag, `"`), "ETag %q is not a strong entity-tag", h.etag)
	assert.False(t, strings.HasPrefix(h.etag, `W/`), "ETag %q is not a strong entity-tag", h.etag)
	assert.Len(t, h.etag, 34, "ETag %q is not a strong entity-tag", h.etag)
}

func TestHandlerETagChangesWithDocument(t *testing.T) {
	a := newTestHandler(t, validMetadata())
	m := validMetadata()
	m.ResourceName = "other"
	b := newTestHandler(t, m)
	assert.NotEqual(t, a.etag, b.etag, "different documents share an ETag")
	assert.Equal(t, a.etag, newTestHandler(t, validMetadata()).etag, "the same document gets different ETags")
}

func TestRegisterServeMux(t *testing.T) {
	mux := http.NewServeMux()
	h, err := Register(mux, validMetadata())
	require.NoError(t, err)
	// A second resource on the same origin: the root stays with the first.
	m2 := validMetadata()
	m2.Resource = "https://api.example.com/api/v1/"
	m2.ResourceName = "REST"
	h2, err := Register(mux, m2)
	require.NoError(t, err, "second Register")
	srv := httptest.NewServer(mux)
	defer srv.Close()

	client := srv.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	get := func(t *testing.T, path string) (int, string) { // t: the subtest's, for Fatal
		t.Helper()
		resp, err := client.Get(srv.URL + path)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	tests := []struct {
		path       string
		wantStatus int
		wantBody   []byte
	}{
		{"/.well-known/oauth-protected-resource/mcp", 200, h.body},
		{"/.well-known/oauth-protected-resource", 200, h.body},
		{"/.well-known/oauth-protected-resource/api/v1/", 200, h2.body},
		{"/.well-known/oauth-protected-resource/api/v1/x", 404, nil}, // {$}: no subtree
		// ServeMux's own trailing-slash redirect.
		{"/.well-known/oauth-protected-resource/api/v1", http.StatusTemporaryRedirect, nil},
		{"/.well-known/oauth-protected-resource/mcp/x", 404, nil},
		{"/mcp", 404, nil},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			status, body := get(t, tt.path)
			require.Equal(t, tt.wantStatus, status, "GET %s", tt.path)
			if tt.wantBody != nil {
				assert.Equal(t, string(tt.wantBody), body, "GET %s body", tt.path)
			}
		})
	}

	// Registering the same resource twice is a conflict: an error, no panic.
	_, err = Register(mux, validMetadata())
	assert.ErrorContains(t, err, "registering", "duplicate Register, want a registration error")
}

// recordingMux is a minimal router with chi's Handle signature.
type recordingMux struct{ patterns []string }

func (m *recordingMux) Handle(p string, _ http.Handler) { m.patterns = append(m.patterns, p) }

type panickingMux struct{}

func (panickingMux) Handle(string, http.Handler) { panic("conflict") }

func TestRegisterOtherMux(t *testing.T) {
	m := validMetadata()
	m.Resource = "https://api.example.com/a/b/"
	rec := &recordingMux{}
	_, err := Register(rec, m)
	require.NoError(t, err)
	assert.Equal(t, []string{"/.well-known/oauth-protected-resource/a/b/", "/.well-known/oauth-protected-resource"}, rec.patterns, "patterns (no {$} outside ServeMux)")
	_, err = Register(panickingMux{}, validMetadata())
	assert.ErrorContains(t, err, "conflict", "panicking mux")
}

func TestRegisterErrors(t *testing.T) {
	tests := []struct {
		name     string
		resource string
		wantErr  error
	}{
		{"star", "https://api.example.com/files/*", ErrInvalidResource},
		{"empty segment", "https://api.example.com//mcp", ErrInvalidResource},
		{"invalid", "http://api.example.com/mcp", ErrInvalidMetadata},
		{"brace", "https://api.example.com/{x}", ErrInvalidMetadata},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := validMetadata()
			m.Resource = tt.resource
			mux := http.NewServeMux()
			_, err := Register(mux, m)
			assert.ErrorIs(t, err, tt.wantErr, "Register(%q)", tt.resource)
		})
	}
	_, err := Register(nil, validMetadata())
	assert.Error(t, err, "Register(nil) = nil error")
	var nilMux *http.ServeMux
	_, err = Register(nilMux, validMetadata())
	assert.Error(t, err, "Register((*http.ServeMux)(nil)) = nil error")
}

func TestWriteChallenge(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		cs         []Challenge
		preset     http.Header
		wantStatus int
		wantAuth   []string
		wantExpose []string
		wantBody   string
	}{
		{
			name: "401 no token", status: 401,
			cs:         []Challenge{{ResourceMetadata: testRM, Scope: []string{"a"}}},
			wantStatus: 401,
			wantAuth:   []string{`Bearer resource_metadata="` + testRM + `", scope="a"`},
			wantExpose: []string{"WWW-Authenticate"},
			wantBody:   `{"error":"unauthorized","error_description":"authentication required"}`,
		},
		{
			name: "403 with two challenges", status: 403,
			cs: []Challenge{
				{ResourceMetadata: testRM, Scope: []string{"a", "b"}, Error: ErrorInsufficientScope, ErrorDescription: "needs \"b\""},
				{Scheme: "ApiKey", Realm: "legacy"},
			},
			preset:     http.Header{"Www-Authenticate": {"Stale"}, "Access-Control-Expose-Headers": {"Mcp-Session-Id"}},
			wantStatus: 403,
			wantAuth: []string{
				`Bearer resource_metadata="` + testRM + `", scope="a b", error="insufficient_scope", error_description="needs 'b'"`,
				`ApiKey realm="legacy"`,
			},
			wantExpose: []string{"Mcp-Session-Id", "WWW-Authenticate"},
			wantBody:   `{"error":"insufficient_scope","error_description":"needs 'b'"}`,
		},
		{
			name: "default status, already exposed", status: 0,
			cs:         []Challenge{{Error: ErrorInvalidToken}},
			preset:     http.Header{"Access-Control-Expose-Headers": {"Mcp-Session-Id, www-authenticate"}},
			wantStatus: 401,
			wantAuth:   []string{`Bearer error="invalid_token"`},
			wantExpose: []string{"Mcp-Session-Id, www-authenticate"},
			wantBody:   `{"error":"invalid_token"}`,
		},
		{
			name: "description only", status: 400,
			cs:         []Challenge{{ErrorDescription: "x\ny"}},
			wantStatus: 400,
			wantAuth:   []string{`Bearer error_description="x y"`},
			wantExpose: []string{"WWW-Authenticate"},
			wantBody:   `{"error":"invalid_request","error_description":"x y"}`,
		},
		{
			name: "no challenge", status: 403, wantStatus: 403,
			wantExpose: []string{"WWW-Authenticate"},
			wantBody:   `{"error":"access_denied"}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			for k, v := range tt.preset {
				rec.Header()[k] = v
			}
			WriteChallenge(rec, tt.status, tt.cs...)
			res := rec.Result()
			assert.Equal(t, tt.wantStatus, res.StatusCode, "status")
			assert.Equal(t, tt.wantAuth, res.Header.Values("WWW-Authenticate"), "WWW-Authenticate")
			assert.Equal(t, tt.wantExpose, res.Header.Values("Access-Control-Expose-Headers"), "Access-Control-Expose-Headers")
			for k, want := range map[string]string{"Cache-Control": "no-store", "Content-Type": "application/json"} {
				assert.Equal(t, want, res.Header.Get(k), k)
			}
			assert.Equal(t, tt.wantBody, rec.Body.String(), "body")
			assert.True(t, json.Valid(rec.Body.Bytes()), "body %q is not JSON", rec.Body.String())
		})
	}
}

// TestWriteError: the body says code and description even where the
// challenge must not (no credential, RFC 6750 §3.1) or has no code for it
// (503); without a code, one is chosen by status.
func TestWriteError(t *testing.T) {
	noCreds := Challenge{ResourceMetadata: testRM}
	tests := []struct {
		name       string
		status     int
		code, desc string
		wantAuth   string
		wantBody   string
	}{
		{"no credential", 401, "", "", `Bearer resource_metadata="` + testRM + `"`,
			`{"error":"unauthorized","error_description":"authentication required"}`},
		{"default status", 0, "", "", `Bearer resource_metadata="` + testRM + `"`,
			`{"error":"unauthorized","error_description":"authentication required"}`},
		{"503", 503, "", "the token cannot be verified right now", `Bearer resource_metadata="` + testRM + `"`,
			`{"error":"temporarily_unavailable","error_description":"the token cannot be verified right now"}`},
		{"500", 500, "", "", `Bearer resource_metadata="` + testRM + `"`, `{"error":"server_error"}`},
		{"403", 403, "", "", `Bearer resource_metadata="` + testRM + `"`, `{"error":"access_denied"}`},
		{"413", 413, "", "", `Bearer resource_metadata="` + testRM + `"`, `{"error":"invalid_request"}`},
		{"code given", 401, ErrorInvalidToken, "bad \"quote\"\n", `Bearer resource_metadata="` + testRM + `"`,
			`{"error":"invalid_token","error_description":"bad 'quote' "}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			WriteError(rec, tt.status, tt.code, tt.desc, noCreds)
			assert.Equal(t, tt.wantAuth, rec.Header().Get("WWW-Authenticate"), "the challenge is the caller's")
			assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))
			assert.Equal(t, tt.wantBody, rec.Body.String())
			assert.Equal(t, strconv.Itoa(len(tt.wantBody)), rec.Header().Get("Content-Length"))
			assert.True(t, json.Valid(rec.Body.Bytes()), "body %q is not JSON", rec.Body.String())
		})
	}
}

func TestRegister(t *testing.T) {
	m := validMetadata()
	m.Resource = "https://api.example.com/tools/mcp"
	mux := http.NewServeMux()
	h, err := Register(mux, m, wellKnownPrefix+"/mcp", "/internal/prm/")
	require.NoError(t, err)
	assert.Equal(t, "https://api.example.com/.well-known/oauth-protected-resource/tools/mcp", h.URL(), "URL(), want the public one")
	assert.Equal(t, []string{wellKnownPrefix + "/mcp", "/internal/prm/"}, h.Paths(), "Paths()")
	srv := httptest.NewServer(mux)
	defer srv.Close()
	client := srv.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	tests := []struct {
		path       string
		wantStatus int
	}{
		{wellKnownPrefix + "/mcp", 200},
		{"/internal/prm/", 200},
		{"/internal/prm/x", 404}, // {$}: no subtree
		{wellKnownPrefix + "/tools/mcp", 404},
		{wellKnownPrefix, 404}, // the root only when listed
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			resp, err := client.Get(srv.URL + tt.path)
			require.NoError(t, err)
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			require.Equal(t, tt.wantStatus, resp.StatusCode, "GET %s", tt.path)
			if tt.wantStatus == 200 {
				assert.Equal(t, string(h.body), string(b), "GET %s body", tt.path)
			}
		})
	}

	// An explicit path already taken is a conflict, even the root.
	other := validMetadata()
	other.Resource = "https://api.example.com/other"
	_, err = Register(mux, other)
	require.NoError(t, err)
	_, err = Register(mux, validMetadata(), wellKnownPrefix)
	assert.ErrorContains(t, err, "registering", "Register(taken root), want a registration error")

	rec := &recordingMux{}
	_, err = Register(rec, m, "/a/", wellKnownPrefix)
	require.NoError(t, err)
	assert.Equal(t, []string{"/a/", wellKnownPrefix}, rec.patterns, "patterns (no {$} outside ServeMux)")
}

func TestRegisterPathsErrors(t *testing.T) {
	tests := []struct {
		name    string
		paths   []string
		wantErr string
	}{
		{"relative", []string{".well-known/oauth-protected-resource"}, `does not start with "/"`},
		{"empty", []string{""}, `does not start with "/"`},
		{"query", []string{"/prm?x=1"}, "not allowed in a path"},
		{"fragment", []string{"/prm#x"}, "not allowed in a path"},
		{"space", []string{"/p rm"}, "not allowed in a URI"},
		{"bad escape", []string{"/p%zz"}, "percent-encoding"},
		{"dot segment", []string{"/a/../prm"}, "dot-segment"},
		{"encoded dot segment", []string{"/a/%2E%2E/prm"}, "dot-segment"},
		{"empty segment", []string{"/a//prm"}, "empty segment"},
		{"wildcard", []string{"/prm/*"}, "router patterns"},
		{"brace", []string{"/{x}"}, "not allowed in a URI"},
		{"host", []string{"api.example.com/prm"}, `does not start with "/"`},
		{"method", []string{"GET /prm"}, `does not start with "/"`},
		{"twice", []string{"/prm", "/prm"}, "listed twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recordingMux{}
			_, err := Register(rec, validMetadata(), tt.paths...)
			require.ErrorContains(t, err, tt.wantErr, "Register(%q)", tt.paths)
			assert.Empty(t, rec.patterns, "registered despite the error")
		})
	}
	bad := validMetadata()
	bad.Resource = "http://api.example.com/mcp"
	_, err := Register(&recordingMux{}, bad, "/prm")
	assert.ErrorIs(t, err, ErrInvalidMetadata, "Register(invalid metadata)")
	_, err = Register(nil, validMetadata(), "/prm")
	assert.Error(t, err, "Register(nil) = nil error")
	var nilMux *http.ServeMux
	_, err = Register(nilMux, validMetadata(), "/prm")
	assert.Error(t, err, "Register((*http.ServeMux)(nil)) = nil error")
}
