package interop_test

import (
	"encoding/json"
	"strings"
	"testing"
)

// serverSpec is one example MCP server under test and its tool/scope table:
// everything the scenarios need to know about it. The scenarios are the same
// for every server; only these values differ.
type serverSpec struct {
	// name is the subtest name and the server's directory under examples/.
	name string
	// serverName is the serverInfo.name its initialize answer carries.
	serverName string
	// scopes are its scopes_supported, in order; as.mjs is started with them
	// (--scopes), so the authorization server serves exactly these.
	scopes []string

	// read needs the scope the 401 challenge names (the scope to start with).
	read toolCall
	// readMarker is a string the read tool's answer contains.
	readMarker string
	// readListed is tools/list for a token with read.scope alone.
	readListed []string
	// write needs a scope the test user may get by step-up: the tool to call
	// for a step-up.
	write toolCall
	// whoami needs any valid token; its structured answer names the caller
	// under whoamiSubject.
	whoami        string
	whoamiSubject string

	// ccScopes is what the client_credentials client asks for; ccTools must
	// then succeed and ccRefused must end in 403 insufficient_scope.
	ccScopes  []string
	ccTools   []toolCall
	ccRefused toolCall

	// denied needs a scope the test user may not hold: the authorization
	// server refuses the step-up to it. deniedUserScopes are as.mjs
	// --user-scopes for a stack of its own that shows this; nil when the
	// test user of the ordinary stacks (every scope but …:admin) already
	// lacks denied.scope.
	denied           toolCall
	deniedUserScopes []string
}

// toolCall is a tool, the JSON arguments to call it with, and the scope a
// tools/call of it needs ("" for any valid token).
type toolCall struct {
	name  string
	args  string // a JSON object
	scope string
}

// arg is the client.mjs argument for the call: NAME=JSON_ARGS.
func (c toolCall) arg() string { return c.name + "=" + c.args }

// argMap is the call's arguments for the Go SDK client.
func (c toolCall) argMap(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(c.args), &m); err != nil {
		t.Fatalf("tool %s: arguments %s: %v", c.name, c.args, err)
	}
	return m
}

// servers lists the examples under test, both built from examples/ and run
// with -addr 127.0.0.1:0 -issuer <as.mjs>: the same command-line contract.
func servers() []*serverSpec {
	return []*serverSpec{mcpserverSpec(), mcpgoSpec()}
}

// mcpserverSpec is examples/mcpserver (the official Go SDK): list_items and
// get_item need inventory:read, add_item and adjust_stock inventory:write,
// delete_item inventory:admin, whoami any valid token.
func mcpserverSpec() *serverSpec {
	const read, write, admin = "inventory:read", "inventory:write", "inventory:admin"
	listItems := toolCall{"list_items", `{}`, read}
	adjust := toolCall{"adjust_stock", `{"sku":"NUT-M6","delta":1}`, write}
	return &serverSpec{
		name:          "mcpserver",
		serverName:    "rsguard-inventory",
		scopes:        []string{read, write, admin},
		read:          listItems,
		readMarker:    "BOLT-M6",
		readListed:    []string{"get_item", "list_items", "whoami"},
		write:         adjust,
		whoami:        "whoami",
		whoamiSubject: "user_id",
		ccScopes:      []string{read, write},
		ccTools:       []toolCall{listItems, adjust},
		ccRefused:     toolCall{"delete_item", `{"sku":"WASHER-6"}`, admin},
		// The ordinary test user lacks inventory:admin.
		denied: toolCall{"delete_item", `{"sku":"WASHER-6"}`, admin},
	}
}

// mcpgoSpec is examples/mcpgo (mark3labs/mcp-go): list_notes needs
// notes:read, add_note notes:write, whoami any valid token. It has no scope
// above notes:write, so the client_credentials client asks for notes:read
// alone to meet a 403, and the step-up the authorization server refuses
// (notes:write) is shown on a stack whose test user may hold notes:read only.
func mcpgoSpec() *serverSpec {
	const read, write = "notes:read", "notes:write"
	listNotes := toolCall{"list_notes", `{}`, read}
	addNote := toolCall{"add_note", `{"text":"written through the interop tests"}`, write}
	return &serverSpec{
		name:             "mcpgo",
		serverName:       "rsguard-notes",
		scopes:           []string{read, write},
		read:             listNotes,
		readMarker:       `notes`,
		readListed:       []string{"list_notes", "whoami"},
		write:            addNote,
		whoami:           "whoami",
		whoamiSubject:    "subject",
		ccScopes:         []string{read},
		ccTools:          []toolCall{listNotes, {"whoami", `{}`, ""}},
		ccRefused:        addNote,
		denied:           addNote,
		deniedUserScopes: []string{read},
	}
}

// ccScope is ccScopes as one scope parameter.
func (sp *serverSpec) ccScope() string { return strings.Join(sp.ccScopes, " ") }
