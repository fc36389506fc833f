package rsmeta

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func newTestHandler(t *testing.T, m Metadata) *Handler {
	t.Helper()
	h, err := NewHandler(m)
	if err != nil {
		t.Fatalf("NewHandler: %v", err)
	}
	return h
}

func TestNewHandler(t *testing.T) {
	m := validMetadata()
	m.Resource = "HTTPS://API.example.com:443/mcp"
	h := newTestHandler(t, m)
	if got, want := h.URL(), "https://api.example.com/.well-known/oauth-protected-resource/mcp"; got != want {
		t.Errorf("URL() = %q, want %q", got, want)
	}
	if got, want := h.Paths(), []string{"/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Paths() = %q, want %q", got, want)
	}
	h.Paths()[0] = "changed"
	if h.Paths()[0] == "changed" {
		t.Error("Paths() exposes internal state")
	}
	var doc Metadata
	if err := json.Unmarshal(h.body, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Resource != "https://api.example.com/mcp" {
		t.Errorf("published resource = %q, want the canonical form", doc.Resource)
	}
	if !reflect.DeepEqual(doc.BearerMethodsSupported, []string{"header"}) {
		t.Errorf("bearer_methods_supported = %q, want [header]", doc.BearerMethodsSupported)
	}
	if m.BearerMethodsSupported != nil {
		t.Error("NewHandler modified the caller's Metadata")
	}

	root := validMetadata()
	root.Resource = "https://api.example.com/"
	if got := newTestHandler(t, root).Paths(); !reflect.DeepEqual(got, []string{WellKnownPrefix}) {
		t.Errorf("root resource Paths() = %q", got)
	}
	q := validMetadata()
	q.Resource = "https://api.example.com/mcp?tenant=a"
	hq := newTestHandler(t, q)
	if hq.URL() != "https://api.example.com/.well-known/oauth-protected-resource/mcp?tenant=a" || hq.Paths()[0] != WellKnownPrefix+"/mcp" {
		t.Errorf("query resource: URL %q, Paths %q", hq.URL(), hq.Paths())
	}

	bad := validMetadata()
	bad.ScopesSupported = []string{"offline_access"}
	if _, err := NewHandler(bad); !errors.Is(err, ErrInvalidMetadata) {
		t.Errorf("NewHandler(offline_access) = %v, want ErrInvalidMetadata", err)
	}
	bad = validMetadata()
	bad.BearerMethodsSupported = []string{"cookie"}
	if _, err := NewHandler(bad); !errors.Is(err, ErrInvalidMetadata) {
		t.Errorf("NewHandler(cookie) = %v, want ErrInvalidMetadata", err)
	}
}

func TestHandlerHTTP(t *testing.T) {
	h := newTestHandler(t, validMetadata())
	srv := httptest.NewServer(h)
	defer srv.Close()
	const wantBody = `{"resource":"https://api.example.com/mcp","authorization_servers":["https://auth.example.com"],` +
		`"scopes_supported":["tools:read","tools:write"],"bearer_methods_supported":["header"]}`

	do := func(t *testing.T, method string, hdr map[string]string) (*http.Response, string) {
		t.Helper()
		req, err := http.NewRequest(method, srv.URL+WellKnownPrefix+"/mcp", nil)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
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
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status = %d, want %d", resp.StatusCode, tt.wantStatus)
			}
			if tt.wantBody != "" || tt.wantStatus != 200 {
				if body != tt.wantBody {
					t.Errorf("body =\n%s\nwant\n%s", body, tt.wantBody)
				}
			}
			for k, want := range tt.wantHeader {
				if got := resp.Header.Get(k); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
		})
	}
	if !strings.HasPrefix(h.etag, `"`) || strings.HasPrefix(h.etag, `W/`) || len(h.etag) != 34 {
		t.Errorf("ETag %q is not a strong entity-tag", h.etag)
	}
}

func TestHandlerETagChangesWithDocument(t *testing.T) {
	a := newTestHandler(t, validMetadata())
	m := validMetadata()
	m.ResourceName = "other"
	b := newTestHandler(t, m)
	if a.etag == b.etag {
		t.Error("different documents share an ETag")
	}
	if c := newTestHandler(t, validMetadata()); c.etag != a.etag {
		t.Error("the same document gets different ETags")
	}
}

func TestRegisterServeMux(t *testing.T) {
	mux := http.NewServeMux()
	h, err := Register(mux, validMetadata())
	if err != nil {
		t.Fatal(err)
	}
	// A second resource on the same origin: the root stays with the first.
	m2 := validMetadata()
	m2.Resource = "https://api.example.com/api/v1/"
	m2.ResourceName = "REST"
	h2, err := Register(mux, m2)
	if err != nil {
		t.Fatalf("second Register: %v", err)
	}
	srv := httptest.NewServer(mux)
	defer srv.Close()

	client := srv.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	get := func(t *testing.T, path string) (int, string) { // t: the subtest's, for Fatal
		t.Helper()
		resp, err := client.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
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
			if status != tt.wantStatus {
				t.Fatalf("GET %s = %d, want %d", tt.path, status, tt.wantStatus)
			}
			if tt.wantBody != nil && body != string(tt.wantBody) {
				t.Errorf("GET %s body = %s, want %s", tt.path, body, tt.wantBody)
			}
		})
	}

	// Registering the same resource twice is a conflict: an error, no panic.
	if _, err := Register(mux, validMetadata()); err == nil || !strings.Contains(err.Error(), "registering") {
		t.Errorf("duplicate Register = %v, want a registration error", err)
	}
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
	if _, err := Register(rec, m); err != nil {
		t.Fatal(err)
	}
	if want := []string{"/.well-known/oauth-protected-resource/a/b/", "/.well-known/oauth-protected-resource"}; !reflect.DeepEqual(rec.patterns, want) {
		t.Errorf("patterns = %q, want %q (no {$} outside ServeMux)", rec.patterns, want)
	}
	if _, err := Register(panickingMux{}, validMetadata()); err == nil || !strings.Contains(err.Error(), "conflict") {
		t.Errorf("panicking mux: err = %v", err)
	}
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
			if _, err := Register(mux, m); !errors.Is(err, tt.wantErr) {
				t.Errorf("Register(%q) = %v, want %v", tt.resource, err, tt.wantErr)
			}
		})
	}
	if _, err := Register(nil, validMetadata()); err == nil {
		t.Error("Register(nil) = nil error")
	}
	var nilMux *http.ServeMux
	if _, err := Register(nilMux, validMetadata()); err == nil {
		t.Error("Register((*http.ServeMux)(nil)) = nil error")
	}
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
			wantBody:   `{}`,
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
			wantBody:   `{"error_description":"x y"}`,
		},
		{
			name: "no challenge", status: 403, wantStatus: 403,
			wantExpose: []string{"WWW-Authenticate"},
			wantBody:   `{}`,
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
			if res.StatusCode != tt.wantStatus {
				t.Errorf("status = %d, want %d", res.StatusCode, tt.wantStatus)
			}
			if got := res.Header.Values("WWW-Authenticate"); !reflect.DeepEqual(got, tt.wantAuth) {
				t.Errorf("WWW-Authenticate = %q, want %q", got, tt.wantAuth)
			}
			if got := res.Header.Values("Access-Control-Expose-Headers"); !reflect.DeepEqual(got, tt.wantExpose) {
				t.Errorf("Access-Control-Expose-Headers = %q, want %q", got, tt.wantExpose)
			}
			for k, want := range map[string]string{"Cache-Control": "no-store", "Content-Type": "application/json"} {
				if got := res.Header.Get(k); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
			if body := rec.Body.String(); body != tt.wantBody {
				t.Errorf("body = %s, want %s", body, tt.wantBody)
			}
			if !json.Valid(rec.Body.Bytes()) {
				t.Errorf("body %q is not JSON", rec.Body.String())
			}
		})
	}
}

func TestRegisterAt(t *testing.T) {
	m := validMetadata()
	m.Resource = "https://api.example.com/tools/mcp"
	mux := http.NewServeMux()
	h, err := RegisterAt(mux, m, WellKnownPrefix+"/mcp", "/internal/prm/")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := h.URL(), "https://api.example.com/.well-known/oauth-protected-resource/tools/mcp"; got != want {
		t.Errorf("URL() = %q, want the public %q", got, want)
	}
	if got, want := h.Paths(), []string{WellKnownPrefix + "/mcp", "/internal/prm/"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Paths() = %q, want %q", got, want)
	}
	srv := httptest.NewServer(mux)
	defer srv.Close()
	client := srv.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	tests := []struct {
		path       string
		wantStatus int
	}{
		{WellKnownPrefix + "/mcp", 200},
		{"/internal/prm/", 200},
		{"/internal/prm/x", 404}, // {$}: no subtree
		{WellKnownPrefix + "/tools/mcp", 404},
		{WellKnownPrefix, 404}, // the root only when listed
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			resp, err := client.Get(srv.URL + tt.path)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("GET %s = %d, want %d", tt.path, resp.StatusCode, tt.wantStatus)
			}
			if tt.wantStatus == 200 && string(b) != string(h.body) {
				t.Errorf("GET %s body = %s", tt.path, b)
			}
		})
	}

	// An explicit path already taken is a conflict, even the root.
	other := validMetadata()
	other.Resource = "https://api.example.com/other"
	if _, err := Register(mux, other); err != nil {
		t.Fatal(err)
	}
	if _, err := RegisterAt(mux, validMetadata(), WellKnownPrefix); err == nil || !strings.Contains(err.Error(), "registering") {
		t.Errorf("RegisterAt(taken root) = %v, want a registration error", err)
	}

	rec := &recordingMux{}
	if _, err := RegisterAt(rec, m, "/a/", WellKnownPrefix); err != nil {
		t.Fatal(err)
	}
	if want := []string{"/a/", WellKnownPrefix}; !reflect.DeepEqual(rec.patterns, want) {
		t.Errorf("patterns = %q, want %q (no {$} outside ServeMux)", rec.patterns, want)
	}
}

func TestRegisterAtErrors(t *testing.T) {
	tests := []struct {
		name    string
		paths   []string
		wantErr string
	}{
		{"none", nil, "no path given"},
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
			_, err := RegisterAt(rec, validMetadata(), tt.paths...)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("RegisterAt(%q) = %v, want an error containing %q", tt.paths, err, tt.wantErr)
			}
			if len(rec.patterns) != 0 {
				t.Errorf("registered %q despite the error", rec.patterns)
			}
		})
	}
	bad := validMetadata()
	bad.Resource = "http://api.example.com/mcp"
	if _, err := RegisterAt(&recordingMux{}, bad, "/prm"); !errors.Is(err, ErrInvalidMetadata) {
		t.Errorf("RegisterAt(invalid metadata) = %v, want ErrInvalidMetadata", err)
	}
	if _, err := RegisterAt(nil, validMetadata(), "/prm"); err == nil {
		t.Error("RegisterAt(nil) = nil error")
	}
	var nilMux *http.ServeMux
	if _, err := RegisterAt(nilMux, validMetadata(), "/prm"); err == nil {
		t.Error("RegisterAt((*http.ServeMux)(nil)) = nil error")
	}
}
