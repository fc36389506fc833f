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
// (403 insufficient_scope before the SDK sees the call), tools/list is filtered
// by it, and a test checks that every registered tool has an entry. A tool
// missing here cannot be called at all (MCPConfig.AllowUnknownTools is false).
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

// caller returns the principal of the request: the UserID of the TokenInfo
// that tokenVerifier made. Tools behind rsguard always have one; "" would
// mean the server was wired without authentication.
func caller(req *mcp.CallToolRequest) string {
	if req.Extra == nil || req.Extra.TokenInfo == nil {
		return ""
	}
	return req.Extra.TokenInfo.UserID
}

// addTools registers the inventory tools on s. Scopes are not checked here:
// the per-tool middleware has refused every call whose token lacks them
// before the SDK decoded it (see toolScopes). A handler may still check
// scopes itself for finer decisions, from req.Extra.TokenInfo (its Scopes, or
// the principal: principalOf(req.Extra.TokenInfo)), never from ctx, which
// carries the context of the request that opened the session (see
// filterToolsList).
func addTools(s *mcp.Server, inv *inventory) {
	readOnly := &mcp.ToolAnnotations{ReadOnlyHint: true}

	mcp.AddTool(s, &mcp.Tool{
		Name:        "whoami",
		Description: "Who the server thinks you are: your stable user id, client and granted scopes. Needs any valid token.",
		Annotations: readOnly,
	}, func(_ context.Context, req *mcp.CallToolRequest, _ noInput) (*mcp.CallToolResult, whoamiOutput, error) {
		ti := req.Extra.TokenInfo
		if ti == nil {
			return nil, whoamiOutput{}, errors.New("no token information")
		}
		clientID, _ := ti.Extra[extraClientID].(string)
		return nil, whoamiOutput{UserID: ti.UserID, ClientID: clientID, Scopes: ti.Scopes, ExpiresAt: ti.Expiration.UTC()}, nil
	})

	mcp.AddTool(s, &mcp.Tool{
		Name:        "list_items",
		Description: "List every item in stock. Scope: " + scopeRead + ".",
		Annotations: readOnly,
	}, func(context.Context, *mcp.CallToolRequest, noInput) (*mcp.CallToolResult, itemsOutput, error) {
		return nil, itemsOutput{Items: inv.list()}, nil
	})

	mcp.AddTool(s, &mcp.Tool{
		Name:        "get_item",
		Description: "Get one item by sku. Scope: " + scopeRead + ".",
		Annotations: readOnly,
	}, func(_ context.Context, _ *mcp.CallToolRequest, in skuInput) (*mcp.CallToolResult, item, error) {
		it, err := inv.get(in.SKU)
		return nil, it, err
	})

	mcp.AddTool(s, &mcp.Tool{
		Name:        "add_item",
		Description: "Add a new item. Scope: " + scopeWrite + ".",
	}, func(_ context.Context, req *mcp.CallToolRequest, in addInput) (*mcp.CallToolResult, item, error) {
		it, err := inv.add(item{SKU: in.SKU, Name: in.Name, Quantity: in.Quantity}, caller(req))
		return nil, it, err
	})

	mcp.AddTool(s, &mcp.Tool{
		Name:        "adjust_stock",
		Description: "Add or remove units of an item; stock never goes below zero. Scope: " + scopeWrite + ".",
	}, func(_ context.Context, req *mcp.CallToolRequest, in adjustInput) (*mcp.CallToolResult, item, error) {
		it, err := inv.adjust(in.SKU, in.Delta, caller(req))
		return nil, it, err
	})

	mcp.AddTool(s, &mcp.Tool{
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
