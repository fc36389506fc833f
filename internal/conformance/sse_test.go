package conformance

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSSEAnswerKeptOpen: MCP Streamable HTTP lets a server answer a
// POSTed JSON-RPC request with an SSE stream; after the response event the
// server SHOULD (not MUST) close it. A server that sends the response event
// at once and keeps the stream open a while is conforming: its initialize
// and tools/list answers are there, and the accept check passes it without
// waiting for the end of the stream (which a client timeout shorter than
// the stream's life would make a failure).
func TestSSEAnswerKeptOpen(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/mcp", func(w http.ResponseWriter, r *http.Request) {
		if _, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); !ok {
			w.Header().Set("WWW-Authenticate", `Bearer resource_metadata="`+bbMetadata+`", scope="r"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var msg struct {
			ID     json.RawMessage `json:"id"`
			Method string          `json:"method"`
		}
		_ = json.NewDecoder(r.Body).Decode(&msg)
		if msg.ID == nil {
			w.WriteHeader(http.StatusAccepted)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		fmt.Fprintf(w, "event: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":%s,\"result\":{\"protocolVersion\":\"2025-06-18\",\"tools\":[]}}\n\n", msg.ID)
		w.(http.Flusher).Flush()
		// The stream stays open a while (server-initiated messages may follow).
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	})
	c := blackBox(t, mux, nil, true)
	c.Client.Timeout = 2 * time.Second // as mcpcheck's -request-timeout, shortened
	c.Scopes, c.TokenScopes = nil, []string{"r"}
	c.Tools = nil
	c.Tokens = grantingTokens{all: []string{"r"}}
	c.Skip = []string{"metadata", "authorization servers", "cors", "challenge", "stepup", "session", "attacks", "dpop", "introspection"}
	got := runFor(t, c, "accept")
	assert.Equal(t, Passed, got.Outcome, "errors %q skip %q", got.Errors, got.Skip)
}

// TestReadSSE: the framing of the HTML Living Standard's event streams
// (data lines joined by LF, events ended by a blank line, any line end,
// comments and other fields ignored, a leading BOM dropped, an unfinished
// last event discarded), and the first JSON-RPC response to the request's
// id chosen, past the server's notifications, requests and other answers.
func TestReadSSE(t *testing.T) {
	const resp = `{"jsonrpc":"2.0","id":7,"result":{}}`
	for _, tc := range []struct {
		name, stream string
		id           string // "": any
		want         string // the event's data; "": none
	}{
		{"one event", "event: message\ndata: " + resp + "\n\n", "7", resp},
		{"no space after the colon", "data:" + resp + "\n\n", "7", resp},
		{"CRLF", "event: message\r\ndata: " + resp + "\r\n\r\n", "7", resp},
		{"CR", "event: message\rdata: " + resp + "\r\r", "7", resp},
		{"BOM", "\uFEFFdata: " + resp + "\n\n", "7", resp},
		{"data lines joined by LF", "data: {\"jsonrpc\":\"2.0\",\ndata: \"id\":7,\"result\":{}}\n\n", "7", "{\"jsonrpc\":\"2.0\",\n\"id\":7,\"result\":{}}"},
		{"comments and other fields", ": keep-alive\nid: 1\nretry: 10\nevent: message\ndata: " + resp + "\nfoo: bar\n\n", "7", resp},
		{"a notification first", "data: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{}}\n\ndata: " + resp + "\n\n", "7", resp},
		{"a server request with the same id", "data: {\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"sampling/createMessage\",\"result\":{}}\n\ndata: " + resp + "\n\n", "7", resp},
		{"another id first", "data: {\"jsonrpc\":\"2.0\",\"id\":8,\"result\":{}}\n\ndata: " + resp + "\n\n", "7", resp},
		{"a string id is not a number", "data: {\"jsonrpc\":\"2.0\",\"id\":\"7\",\"result\":{}}\n\n", "7", ""},
		{"an error answer", "data: {\"jsonrpc\":\"2.0\",\"id\":\"a\",\"error\":{\"code\":-1,\"message\":\"no\"}}\n\n", `"a"`, "{\"jsonrpc\":\"2.0\",\"id\":\"a\",\"error\":{\"code\":-1,\"message\":\"no\"}}"},
		{"any id", "data: {\"jsonrpc\":\"2.0\",\"id\":8,\"result\":{}}\n\n", "", "{\"jsonrpc\":\"2.0\",\"id\":8,\"result\":{}}"},
		{"unfinished last event", "data: " + resp + "\n", "7", ""},
		{"empty", "", "7", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var id json.RawMessage
			if tc.id != "" {
				id = json.RawMessage(tc.id)
			}
			got, err := readSSE(strings.NewReader(tc.stream), id)
			require.NoError(t, err)
			assert.Equal(t, tc.want, string(got.event))
			assert.False(t, got.cut)
		})
	}
}

// TestReadSSEBounds: the read stops at the response event on a stream
// that stays open (a CR line end included), and at maxBody bytes on one
// that never answers.
func TestReadSSEBounds(t *testing.T) {
	for _, end := range []string{"\n", "\r\n", "\r"} {
		pr, pw := io.Pipe()
		t.Cleanup(func() { _ = pr.Close() })
		go func() {
			_, _ = io.WriteString(pw, "data: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}"+end+end)
			// The stream stays open: the next write waits for a reader
			// that never comes, until the pipe is closed.
			_, _ = io.WriteString(pw, ": more"+end)
		}()
		got, err := readSSE(pr, json.RawMessage("1"))
		require.NoError(t, err, "%q", end)
		assert.NotNil(t, got.event, "%q", end)
	}

	noise := strings.Repeat(": keep-alive\n", maxBody/10)
	got, err := readSSE(strings.NewReader(noise+"data: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}\n\n"), json.RawMessage("1"))
	require.NoError(t, err)
	assert.Nil(t, got.event)
	assert.True(t, got.cut)
	assert.Len(t, got.body, maxBody)
}

// TestRequestID: the id of a JSON-RPC request the kit built, none for a
// notification or a body that is not JSON.
func TestRequestID(t *testing.T) {
	c := &Target{nextID: 3}
	req, err := c.rpcRequest("http://127.0.0.1/mcp", "tools/list", map[string]any{}, false)
	require.NoError(t, err)
	assert.Equal(t, "3", string(requestID(req)))
	req, err = c.rpcRequest("http://127.0.0.1/mcp", "notifications/initialized", nil, true)
	require.NoError(t, err)
	assert.Nil(t, requestID(req))
	req, err = http.NewRequest(http.MethodPost, "http://127.0.0.1/mcp", strings.NewReader("access_token=x"))
	require.NoError(t, err)
	assert.Nil(t, requestID(req))
}
