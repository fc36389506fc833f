package mcpguard_test

import (
	"crypto/subtle"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/audit"
	"github.com/rsguard/rsguard/mcpguard"
	"github.com/rsguard/rsguard/rsmeta"
)

// demoTokens is a stand-in authenticator: fixed bearer tokens for two
// users. In production, a validate.Validator or an apikey.Authenticator.
type demoTokens map[string]string // token → user

func (d demoTokens) Authenticate(r *http.Request) (*rsguard.Principal, error) {
	tok, err := rsguard.BearerToken(r)
	if err != nil {
		return nil, err
	}
	for known, user := range d {
		if subtle.ConstantTimeCompare([]byte(tok), []byte(known)) == 1 {
			return &rsguard.Principal{Subject: "user:https://issuer.example.com#" + user}, nil
		}
	}
	return nil, &rsguard.Error{Status: http.StatusUnauthorized, Code: rsmeta.ErrorInvalidToken, Reason: audit.ReasonRejected, Err: audit.ReasonRejected}
}

// The chain is Guard → Sessions → MCP server; any MCP SDK's Streamable
// HTTP handler takes the place of mcpServer.
func ExampleSessions() {
	guard, err := rsguard.New(rsguard.Config{
		Authenticator:    demoTokens{"alice-token": "alice", "bob-token": "bob"},
		ResourceMetadata: "https://mcp.example.com/.well-known/oauth-protected-resource/mcp",
	})
	if err != nil {
		panic(err)
	}
	sessions, err := mcpguard.NewSessions(mcpguard.SessionConfig{})
	if err != nil {
		panic(err)
	}
	// A stateful MCP server: initialize (a POST without a session) starts
	// session "session-42".
	mcpServer := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.Header.Get("Mcp-Session-Id") == "" {
			w.Header().Set("Mcp-Session-Id", "session-42")
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"jsonrpc":"2.0","id":1,"result":{}}`)
	})
	srv := httptest.NewServer(guard.Middleware(sessions.Middleware(mcpServer)))
	defer srv.Close()

	call := func(token, session string) {
		req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"ping"}`))
		req.Header.Set("Authorization", "Bearer "+token)
		if session != "" {
			req.Header.Set("Mcp-Session-Id", session)
		}
		res, err := srv.Client().Do(req)
		if err != nil {
			fmt.Println(err)
			return
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		fmt.Println(res.StatusCode, res.Header.Get("Mcp-Session-Id"), strings.TrimSpace(string(body)))
	}
	call("alice-token", "")           // initialize: the session is alice's
	call("alice-token", "session-42") // alice uses it
	call("bob-token", "session-42")   // bob presents alice's id: as if unknown
	call("bob-token", "session-7")    // an unknown id
	// Output:
	// 200 session-42 {"jsonrpc":"2.0","id":1,"result":{}}
	// 200  {"jsonrpc":"2.0","id":1,"result":{}}
	// 404  {"jsonrpc":"2.0","id":null,"error":{"code":-32001,"message":"session not found"}}
	// 404  {"jsonrpc":"2.0","id":null,"error":{"code":-32001,"message":"session not found"}}
}
