package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/rsguard/rsguard/gosdk"
	"github.com/rsguard/rsguard/scopes"
)

// The scopes of this server (RFC 6749 §3.3), published in scopes_supported.
const (
	scopeRead  = "inventory:read"
	scopeWrite = "inventory:write"
	scopeAdmin = "inventory:admin"
)

// supportedScopes lists the scopes in the order the metadata publishes them.
var supportedScopes = []string{scopeRead, scopeWrite, scopeAdmin}

// toolScopes maps each tool to the scopes a tools/call of it needs, all of
// them. It is the single source of truth: the per-tool middleware enforces it
// (403 insufficient_scope before the SDK sees the call), addTool checks it
// again inside the server, tools/list is filtered by it, and a test checks
// that every registered tool has an entry. A tool missing here cannot be
// called at all (MCPConfig.AllowUnknownTools is false).
func toolScopes() map[string][]string {
	return map[string][]string{
		"whoami":       {}, // any valid token
		"list_items":   {scopeRead},
		"get_item":     {scopeRead},
		"add_item":     {scopeWrite},
		"adjust_stock": {scopeWrite},
		"delete_item":  {scopeAdmin},
	}
}

// item is one stock-keeping unit of the inventory.
type item struct {
	SKU       string    `json:"sku" jsonschema:"stock-keeping unit, the item's id"`
	Name      string    `json:"name" jsonschema:"display name"`
	Quantity  int       `json:"quantity" jsonschema:"units in stock"`
	UpdatedBy string    `json:"updated_by,omitempty" jsonschema:"principal (user:issuer#subject or client:issuer#client_id) of the last change"`
	UpdatedAt time.Time `json:"updated_at,omitzero" jsonschema:"time of the last change"`
}

// inventory is an in-memory store, safe for concurrent use.
type inventory struct {
	mu    sync.Mutex
	items map[string]item
	now   func() time.Time
}

func newInventory() *inventory {
	inv := &inventory{items: map[string]item{}, now: time.Now}
	for _, it := range []item{
		{SKU: "BOLT-M6", Name: "Hex bolt M6x20", Quantity: 1200},
		{SKU: "NUT-M6", Name: "Hex nut M6", Quantity: 950},
		{SKU: "WASHER-6", Name: "Flat washer 6 mm", Quantity: 3000},
	} {
		inv.items[it.SKU] = it
	}
	return inv
}

var (
	errNotFound = errors.New("no item with this sku")
	errExists   = errors.New("an item with this sku exists")
	errNegative = errors.New("stock cannot go below zero")
	errInput    = errors.New("invalid input")
)

func (inv *inventory) list() []item {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	out := make([]item, 0, len(inv.items))
	for _, it := range inv.items {
		out = append(out, it)
	}
	slices.SortFunc(out, func(a, b item) int { return strings.Compare(a.SKU, b.SKU) })
	return out
}

func (inv *inventory) get(sku string) (item, error) {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	it, ok := inv.items[sku]
	if !ok {
		return item{}, errNotFound
	}
	return it, nil
}

func (inv *inventory) add(it item, by string) (item, error) {
	if it.SKU == "" || it.Name == "" || it.Quantity < 0 {
		return item{}, fmt.Errorf("%w: sku and name are required, quantity must not be negative", errInput)
	}
	inv.mu.Lock()
	defer inv.mu.Unlock()
	if _, ok := inv.items[it.SKU]; ok {
		return item{}, errExists
	}
	it.UpdatedBy, it.UpdatedAt = by, inv.now().UTC()
	inv.items[it.SKU] = it
	return it, nil
}

func (inv *inventory) adjust(sku string, delta int, by string) (item, error) {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	it, ok := inv.items[sku]
	if !ok {
		return item{}, errNotFound
	}
	if it.Quantity+delta < 0 {
		return item{}, errNegative
	}
	it.Quantity += delta
	it.UpdatedBy, it.UpdatedAt = by, inv.now().UTC()
	inv.items[sku] = it
	return it, nil
}

func (inv *inventory) remove(sku string) error {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	if _, ok := inv.items[sku]; !ok {
		return errNotFound
	}
	delete(inv.items, sku)
	return nil
}

// Tool inputs and outputs. The SDK derives their JSON schemas.
type (
	noInput  struct{}
	skuInput struct {
		SKU string `json:"sku" jsonschema:"stock-keeping unit of the item"`
	}
	addInput struct {
		SKU      string `json:"sku" jsonschema:"stock-keeping unit of the new item"`
		Name     string `json:"name" jsonschema:"display name"`
		Quantity int    `json:"quantity,omitempty" jsonschema:"initial units in stock (default 0)"`
	}
	adjustInput struct {
		SKU   string `json:"sku" jsonschema:"stock-keeping unit of the item"`
		Delta int    `json:"delta" jsonschema:"units to add (positive) or remove (negative)"`
	}
	itemsOutput struct {
		Items []item `json:"items"`
	}
	deletedOutput struct {
		Deleted string `json:"deleted"`
	}
	whoamiOutput struct {
		UserID    string    `json:"user_id" jsonschema:"stable principal: user:issuer#subject or client:issuer#client_id"`
		ClientID  string    `json:"client_id,omitempty"`
		Scopes    []string  `json:"scopes"`
		ExpiresAt time.Time `json:"expires_at"`
	}
)

// Tool errors of addTool's own check. The text is chosen: never a scope
// check's internal error.
var (
	errNoCaller    = errors.New("no authenticated caller")
	errUnknownTool = errors.New("this tool has no scopes configured and cannot be called")
)

// caller returns the stable principal of the request that carries req
// (rsguard.Principal.Subject: user:issuer#subject or client:issuer#client_id),
// through gosdk.Principal: the caller of this very HTTP request, not of the
// one that opened the session. Tools behind the Guard always have one; ""
// would mean the server was wired without it.
func caller(req *mcp.CallToolRequest) string {
	if p, ok := gosdk.Principal(req); ok {
		return p.Subject
	}
	return ""
}

// addTool registers t on s with handler h behind a second check of the
// tool's scopes (toolScopes), made on gosdk.Context(ctx, req): the
// principal of the HTTP request that carries the call. The per-tool
// middleware has refused every call whose token lacks them before the SDK
// decoded it; this check is the second line, and the pattern for finer
// decisions inside a tool. Never check ctx as the SDK hands it: in a stateful
// session it carries the principal of the request that opened the session
// (initialize), whose scopes are stale after a step-up or a down-scoped
// token. h gets the context with the current principal, so that
// rsguard.FromContext and package scopes there see the caller too.
func addTool[In, Out any](s *mcp.Server, t *mcp.Tool, h mcp.ToolHandlerFor[In, Out]) {
	need, known := toolScopes()[t.Name]
	mcp.AddTool(s, t, func(ctx context.Context, req *mcp.CallToolRequest, in In) (*mcp.CallToolResult, Out, error) {
		var zero Out
		ctx = gosdk.Context(ctx, req)
		if !known {
			return nil, zero, errUnknownTool // fail closed, as the middleware does
		}
		if err := scopes.Require(ctx, need...); err != nil {
			if !scopes.Has(ctx) {
				return nil, zero, errNoCaller
			}
			return nil, zero, fmt.Errorf("insufficient scope: %s needs %s", t.Name, strings.Join(need, " "))
		}
		return h(ctx, req, in)
	})
}

// addTools registers the inventory tools on s. Each handler reads its
// caller with gosdk.Principal(req) (see caller and whoami); addTool has
// checked its scopes.
func addTools(s *mcp.Server, inv *inventory) {
	readOnly := &mcp.ToolAnnotations{ReadOnlyHint: true}

	addTool(s, &mcp.Tool{
		Name:        "whoami",
		Description: "Who the server thinks you are: your stable user id, client and granted scopes. Needs any valid token.",
		Annotations: readOnly,
	}, func(_ context.Context, req *mcp.CallToolRequest, _ noInput) (*mcp.CallToolResult, whoamiOutput, error) {
		p, ok := gosdk.Principal(req)
		if !ok {
			return nil, whoamiOutput{}, errNoCaller
		}
		return nil, whoamiOutput{UserID: p.Subject, ClientID: p.ClientID, Scopes: slices.Clone(p.Scopes), ExpiresAt: p.Expiry.UTC()}, nil
	})

	addTool(s, &mcp.Tool{
		Name:        "list_items",
		Description: "List every item in stock. Scope: " + scopeRead + ".",
		Annotations: readOnly,
	}, func(context.Context, *mcp.CallToolRequest, noInput) (*mcp.CallToolResult, itemsOutput, error) {
		return nil, itemsOutput{Items: inv.list()}, nil
	})

	addTool(s, &mcp.Tool{
		Name:        "get_item",
		Description: "Get one item by sku. Scope: " + scopeRead + ".",
		Annotations: readOnly,
	}, func(_ context.Context, _ *mcp.CallToolRequest, in skuInput) (*mcp.CallToolResult, item, error) {
		it, err := inv.get(in.SKU)
		return nil, it, err
	})

	addTool(s, &mcp.Tool{
		Name:        "add_item",
		Description: "Add a new item. Scope: " + scopeWrite + ".",
	}, func(_ context.Context, req *mcp.CallToolRequest, in addInput) (*mcp.CallToolResult, item, error) {
		it, err := inv.add(item{SKU: in.SKU, Name: in.Name, Quantity: in.Quantity}, caller(req))
		return nil, it, err
	})

	addTool(s, &mcp.Tool{
		Name:        "adjust_stock",
		Description: "Add or remove units of an item; stock never goes below zero. Scope: " + scopeWrite + ".",
	}, func(_ context.Context, req *mcp.CallToolRequest, in adjustInput) (*mcp.CallToolResult, item, error) {
		it, err := inv.adjust(in.SKU, in.Delta, caller(req))
		return nil, it, err
	})

	addTool(s, &mcp.Tool{
		Name:        "delete_item",
		Description: "Delete an item for good. Scope: " + scopeAdmin + ".",
		Annotations: &mcp.ToolAnnotations{DestructiveHint: ptr(true)},
	}, func(_ context.Context, _ *mcp.CallToolRequest, in skuInput) (*mcp.CallToolResult, deletedOutput, error) {
		if err := inv.remove(in.SKU); err != nil {
			return nil, deletedOutput{}, err
		}
		return nil, deletedOutput{Deleted: in.SKU}, nil
	})
}

func ptr[T any](v T) *T { return &v }
