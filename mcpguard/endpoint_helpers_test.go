package mcpguard_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/mcpguard"
	"github.com/rsguard/rsguard/rsmeta"
	"github.com/rsguard/rsguard/validate"
	"github.com/rsguard/rsguard/validate/validatetest"
)

// epTools are the tools of stubMCP and the scopes they need.
var epTools = map[string][]string{
	"ping":        {},
	"read_items":  {"items:read"},
	"write_items": {"items:read", "items:write"},
}

// stubMCP is a small MCP server on the Streamable HTTP transport: a POST of
// initialize without a session opens one (a new Mcp-Session-Id), other
// requests get an empty result, notifications 202; GET is an event stream
// held open until the client leaves; DELETE ends a session with 204. It
// records the principal of every request it serves.
type stubMCP struct {
	mu      sync.Mutex
	callers []string // the Subject of each request served; "" for none
}

func (s *stubMCP) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p, _ := rsguard.FromContext(r.Context())
	s.mu.Lock()
	if p != nil {
		s.callers = append(s.callers, p.Subject)
	} else {
		s.callers = append(s.callers, "")
	}
	s.mu.Unlock()
	switch r.Method {
	case http.MethodGet:
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		_ = http.NewResponseController(w).Flush()
		<-r.Context().Done()
		return
	case http.MethodDelete:
		w.WriteHeader(http.StatusNoContent)
		return
	case http.MethodPost:
	default:
		w.Header().Set("Allow", "GET, POST, DELETE")
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	var msg struct {
		ID     json.RawMessage `json:"id"`
		Method string          `json:"method"`
		Params struct {
			ProtocolVersion string `json:"protocolVersion"`
		} `json:"params"`
	}
	if err := json.NewDecoder(r.Body).Decode(&msg); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	if msg.ID == nil {
		w.WriteHeader(http.StatusAccepted)
		return
	}
	result := map[string]any{}
	switch msg.Method {
	case "initialize":
		if r.Header.Get("Mcp-Session-Id") == "" {
			w.Header().Set("Mcp-Session-Id", newSessionID())
		}
		result = map[string]any{"protocolVersion": msg.Params.ProtocolVersion, "capabilities": map[string]any{"tools": map[string]any{}},
			"serverInfo": map[string]any{"name": "stub", "version": "1"}}
	case "tools/list":
		var tools []map[string]any
		for name := range epTools {
			tools = append(tools, map[string]any{"name": name, "inputSchema": map[string]any{"type": "object"}})
		}
		result = map[string]any{"tools": tools}
	case "tools/call":
		result = map[string]any{"content": []map[string]any{{"type": "text", "text": "ok"}}}
	}
	body, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": msg.ID, "result": result})
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(body)
}

// lastCaller returns the principal of the last request served.
func (s *stubMCP) lastCaller() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.callers) == 0 {
		return "(none)"
	}
	return s.callers[len(s.callers)-1]
}

// count returns how many requests the server has served.
func (s *stubMCP) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.callers)
}

func newSessionID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return "session-" + hex.EncodeToString(b)
}

// baseConfig is a Config that New accepts for the issuer is.
func baseConfig(is *validatetest.Issuer, resource string) mcpguard.Config {
	return mcpguard.Config{
		Issuer:   is.URL,
		Resource: resource,
		Tools:    epTools,
		Validate: validate.Config{Fetch: validate.FetchOptions{HTTPClient: is.Client()}},
	}
}

// served is an Endpoint serving a stubMCP, directly (no mux), behind a real
// HTTP server on 127.0.0.1, whose resource is the server's /mcp.
type served struct {
	t        *testing.T
	is       *validatetest.Issuer
	srv      *httptest.Server
	mcp      *stubMCP
	resource string
}

// serve serves the Endpoint of cfg (Issuer, Resource and Validate.Fetch
// filled in when empty) on a new server.
func serve(t *testing.T, is *validatetest.Issuer, cfg mcpguard.Config) *served {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil) // listening already: its URL is known
	t.Cleanup(srv.Close)
	s := &served{t: t, is: is, srv: srv, mcp: &stubMCP{}, resource: "http://" + srv.Listener.Addr().String() + "/mcp"}
	if cfg.Issuer == "" {
		cfg.Issuer = is.URL
	}
	if cfg.Resource == "" {
		cfg.Resource = s.resource
	}
	if cfg.Validate.Fetch.HTTPClient == nil {
		cfg.Validate.Fetch.HTTPClient = is.Client()
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	e, err := mcpguard.New(ctx, cfg)
	require.NoError(t, err)
	srv.Config.Handler = e.Handler(s.mcp)
	srv.Start()
	return s
}

// token returns a token of the user sub with scopes, for the resource.
func (s *served) token(sub string, scopes ...string) string {
	return s.is.Token(map[string]any{"aud": s.resource, "sub": sub, "scope": strings.Join(scopes, " ")})
}

// answer is a response, read whole.
type answer struct {
	status int
	header http.Header
	body   string
}

// challenge returns the Bearer challenge of a, parsed.
func (a answer) challenge(t *testing.T) rsmeta.Challenge {
	t.Helper()
	cs, err := rsmeta.ParseChallenges(a.header.Get("WWW-Authenticate"))
	require.NoError(t, err)
	require.Len(t, cs, 1)
	return cs[0]
}

// send sends a request to url (a path of the server, or an absolute URL)
// with token and session, if set, and a JSON-RPC body for POST.
func (s *served) send(method, url, token, session, body string) answer {
	s.t.Helper()
	if strings.HasPrefix(url, "/") {
		url = s.srv.URL + url
	}
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	require.NoError(s.t, err)
	req.Header.Set("Accept", "application/json, text/event-stream")
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if session != "" {
		req.Header.Set("Mcp-Session-Id", session)
	}
	res, err := s.srv.Client().Do(req)
	require.NoError(s.t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(s.t, err)
	return answer{status: res.StatusCode, header: res.Header, body: string(b)}
}

// rpc is a JSON-RPC request of method; for tools/call, of the tool.
func rpc(method, tool string) string {
	if method == "tools/call" {
		return `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"` + tool + `","arguments":{}}}`
	}
	return `{"jsonrpc":"2.0","id":7,"method":"` + method + `","params":{}}`
}

// discardLogger logs nothing.
func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
