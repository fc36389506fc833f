package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rsguard/rsguard/examples/internal/mcpmain/mcpmaintest"
)

// protocolVersion is the MCP revision the tests speak.
const protocolVersion = "2025-11-25"

// testEnv is the example server on 127.0.0.1:0 in front of a validatetest
// issuer with the demo client, as run starts them, and the notes behind its
// tools.
type testEnv struct {
	*mcpmaintest.Env
	notes *notes
}

// newTestEnv starts an issuer with the demo client and the example server.
func newTestEnv(t *testing.T) *testEnv {
	t.Helper()
	store := &notes{}
	env := mcpmaintest.NewEnv(t, mcpmaintest.EnvConfig{Scopes: supportedScopes, DefaultAudience: true}, store, newServer)
	return &testEnv{env, store}
}

// answer is the HTTP answer to one JSON-RPC message.
type answer struct {
	status  int
	header  http.Header
	message map[string]any // the JSON-RPC response, nil if none
}

// result returns the "result" member of the JSON-RPC response, failing the
// test if the answer is not a 200 with a result.
func (a answer) result(t *testing.T) map[string]any {
	t.Helper()
	res, ok := a.message["result"].(map[string]any)
	if a.status != http.StatusOK || !ok {
		t.Fatalf("status %d, message %v: want 200 with a result", a.status, a.message)
	}
	return res
}

// structured returns the structuredContent of a tools/call result that is
// not an error.
func (a answer) structured(t *testing.T) map[string]any {
	t.Helper()
	res := a.result(t)
	out, ok := res["structuredContent"].(map[string]any)
	if isErr, _ := res["isError"].(bool); isErr || !ok {
		t.Fatalf("tools/call result %v: want structured content and no error", res)
	}
	return out
}

// send POSTs a JSON-RPC message with token, in session if it is not "",
// and reads the answer, JSON or an SSE stream (up to the response).
func (e *testEnv) send(t *testing.T, token, session string, msg map[string]any) answer {
	t.Helper()
	msg["jsonrpc"] = "2.0"
	body, err := json.Marshal(msg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.URL, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Authorization", "Bearer "+token)
	if session != "" {
		req.Header.Set("Mcp-Session-Id", session)
		req.Header.Set("MCP-Protocol-Version", protocolVersion)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	a := answer{status: resp.StatusCode, header: resp.Header}
	if _, ok := msg["id"]; !ok || resp.StatusCode != http.StatusOK {
		return a
	}
	raw, err := readMessage(resp)
	if err != nil {
		t.Fatalf("%v: reading the answer: %v", msg["method"], err)
	}
	if err := json.Unmarshal(raw, &a.message); err != nil {
		t.Fatalf("%v: answer %q: %v", msg["method"], raw, err)
	}
	return a
}

// readMessage reads the JSON-RPC response of resp: its body, or the first
// SSE event carrying a response (one with an "id").
func readMessage(resp *http.Response) ([]byte, error) {
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if mt != "text/event-stream" {
		return io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	}
	sc := bufio.NewScanner(resp.Body)
	var data []string
	for sc.Scan() {
		line := sc.Text()
		if d, ok := strings.CutPrefix(line, "data:"); ok {
			data = append(data, strings.TrimPrefix(d, " "))
			continue
		}
		if line != "" || len(data) == 0 {
			continue
		}
		ev := []byte(strings.Join(data, "\n"))
		data = nil
		var probe struct {
			ID json.RawMessage `json:"id"`
		}
		if json.Unmarshal(ev, &probe) == nil && len(probe.ID) > 0 {
			return ev, nil
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return nil, io.ErrUnexpectedEOF
}

// open opens an MCP session with token and returns its id.
func (e *testEnv) open(t *testing.T, token string) string {
	t.Helper()
	a := e.send(t, token, "", map[string]any{"id": 1, "method": "initialize", "params": map[string]any{
		"protocolVersion": protocolVersion,
		"capabilities":    map[string]any{},
		"clientInfo":      map[string]any{"name": "mcpgo-test", "version": "1"},
	}})
	a.result(t)
	session := a.header.Get("Mcp-Session-Id")
	if session == "" {
		t.Fatal("initialize: no Mcp-Session-Id: the server is not stateful")
	}
	if a := e.send(t, token, session, map[string]any{"method": "notifications/initialized"}); a.status != http.StatusAccepted {
		t.Fatalf("notifications/initialized: status %d, want 202", a.status)
	}
	return session
}

// call calls tool with args in session.
func (e *testEnv) call(t *testing.T, token, session, tool string, args map[string]any) answer {
	t.Helper()
	if args == nil {
		args = map[string]any{}
	}
	return e.send(t, token, session, map[string]any{"id": 2, "method": "tools/call", "params": map[string]any{"name": tool, "arguments": args}})
}

// toolNames returns the names in a tools/list result.
func toolNames(t *testing.T, a answer) []string {
	t.Helper()
	list, _ := a.result(t)["tools"].([]any)
	var names []string
	for _, tool := range list {
		m, _ := tool.(map[string]any)
		names = append(names, fmt.Sprint(m["name"]))
	}
	return names
}
