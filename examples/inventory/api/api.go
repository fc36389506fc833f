// Package api is the inventory REST API of the examples, in the middle of a
// migration from API keys to OAuth: one apikey.Authenticator accepts an OAuth
// access token or a legacy API key, and per-route scope checks apply to both.
// Command inventory serves it; the order service's tests run against it.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/apikey"
	"github.com/rsguard/rsguard/examples/internal/serve"
	"github.com/rsguard/rsguard/rsmeta"
	"github.com/rsguard/rsguard/scopes"
	"github.com/rsguard/rsguard/validate"
)

// The scopes of the inventory API (RFC 6749 §3.3), the same as the MCP
// example's: an API key record lists them as an access token's scope claim
// does.
const (
	ScopeRead  = "inventory:read"
	ScopeWrite = "inventory:write"
	ScopeAdmin = "inventory:admin"
)

// ReportPath is the path of the migration report on the admin handler.
const ReportPath = "/debug/apikeys"

// SupportedScopes lists the scopes in the order the metadata publishes them.
var SupportedScopes = []string{ScopeRead, ScopeWrite, ScopeAdmin}

// KeyPrefix is the prefix of this API's keys (see apikey.Config.Prefix): secret
// scanners find them with apikey.Pattern(KeyPrefix).
const KeyPrefix = "inv_live_"

// Config is what New needs.
type Config struct {
	// Issuer is the authorization server's issuer identifier. Required.
	Issuer string
	// Resource is the canonical URL of the API (RFC 8707 §2), such as
	// http://127.0.0.1:8090/api: the audience of its tokens, and the
	// prefix of its routes. Required.
	Resource string
	// Keys holds the legacy API keys' records (hashes only). If nil, no key
	// is known: every key is refused.
	Keys apikey.Store
	// Policy is the migration policy of the keys.
	Policy apikey.Policy
	// Logger receives the log. If nil, nothing is logged.
	Logger *slog.Logger
	// Now is the clock of the keys' policy, their usage counters and the
	// migration report. If nil, time.Now.
	Now func() time.Time
}

// API is the inventory REST API: its handler and its parts.
type API struct {
	// Handler serves the API, its metadata and its migration page.
	Handler http.Handler
	// Routes is Handler without its access log, for callers in the same
	// process (the demo's traffic).
	Routes http.Handler
	// Admin serves the migration report (apikey.NewReportHandler) at
	// ReportPath, to callers with the inventory:admin scope, behind the
	// same Guard as the API: serve it on an internal listener only.
	Admin http.Handler
	// Resource is the canonical resource URL (the metadata's "resource").
	Resource string
	// MetadataURL is the path-inserted well-known URL of the metadata.
	MetadataURL string
	// Auth is the dual-mode authenticator: its Usage says who still uses
	// keys, its SetPolicy moves clients along.
	Auth *apikey.Authenticator
	// Stock is the store behind the API.
	Stock *Stock
}

// New builds the inventory API, protected by rsguard: one Authenticator
// accepts an OAuth access token (Authorization: Bearer) or a legacy API key
// (X-API-Key), and both give the same rsguard.Principal, which one
// rsguard.Guard puts in the context, so each route's scope check works
// whatever the credential.
//
//	GET    <resource>/items              inventory:read    list the stock
//	GET    <resource>/items/{sku}        inventory:read    one item
//	POST   <resource>/reservations       inventory:write   reserve stock for an order
//	DELETE <resource>/items/{sku}        inventory:admin   remove an item
//
// The metadata is served at the path-inserted well-known URL of resource, and
// a page explaining the move to OAuth (the Link of deprecated keys' responses)
// at /docs/oauth.
func New(ctx context.Context, cfg Config) (*API, error) {
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	resource, err := rsmeta.CanonicalResource(cfg.Resource)
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(resource)
	if err != nil {
		return nil, err
	}
	base := strings.TrimSuffix(u.EscapedPath(), "/")
	if u.RawQuery != "" || strings.ContainsAny(base, "{}") {
		return nil, errors.New("the resource URL must be a plain path without a query: the API's routes are under it")
	}

	v, err := validate.New(ctx, validate.Config{
		Issuer:   cfg.Issuer,
		Resource: resource,
		Logger:   logger.With("component", "validate"),
	})
	if err != nil {
		return nil, fmt.Errorf("issuer %s: %w", cfg.Issuer, err)
	}

	mux := http.NewServeMux()
	meta, err := rsmeta.Register(mux, rsmeta.Metadata{
		Resource:              resource,
		AuthorizationServers:  []string{cfg.Issuer},
		ScopesSupported:       slices.Clone(SupportedScopes),
		ResourceName:          "rsguard inventory REST API (example)",
		ResourceDocumentation: (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: "/docs/oauth"}).String(),
	})
	if err != nil {
		return nil, err
	}

	store := cfg.Keys
	if store == nil {
		store = new(apikey.MemoryStore)
	}
	auth, err := apikey.New(apikey.Config{
		Store:                 store,
		Prefix:                KeyPrefix,
		Bearer:                v,
		Policy:                cfg.Policy,
		Now:                   cfg.Now,
		AdvertiseKeyChallenge: true,
		Logger:                logger.With("component", "apikey"),
		OnUse: func(r *http.Request, u apikey.Use) {
			if u.Err == nil && u.Status.State == apikey.StateDeprecated {
				logger.Warn("deprecated API key used", "key_id", u.ID, "client", u.ClientID, "path", r.URL.Path)
			}
		},
	})
	if err != nil {
		return nil, err
	}

	// One Guard answers for both credentials: its challenges point to the
	// metadata, ask for inventory:read first, and carry the APIKey challenge
	// the Authenticator adds.
	guard, err := rsguard.New(rsguard.Config{
		Authenticator:    auth,
		ResourceMetadata: meta.URL(),
		Scopes:           []string{ScopeRead},
		Logger:           logger.With("component", "rsguard"),
	})
	if err != nil {
		return nil, err
	}

	st := NewStock()
	h := &handlers{stock: st}
	protect := func(scope string, hf http.HandlerFunc) http.Handler {
		return guard.Middleware(scopes.Middleware(scope)(hf))
	}
	mux.Handle("GET "+base+"/items", protect(ScopeRead, h.list))
	mux.Handle("GET "+base+"/items/{sku}", protect(ScopeRead, h.get))
	mux.Handle("POST "+base+"/reservations", protect(ScopeWrite, h.reserve))
	mux.Handle("DELETE "+base+"/items/{sku}", protect(ScopeAdmin, h.delete))
	mux.HandleFunc("GET /docs/oauth", docsPage)

	// The migration report, as net/http/pprof would be mounted: on an
	// admin mux, behind the Guard, for the admin scope only.
	report, err := apikey.NewReportHandler(apikey.ReportConfig{
		Source: auth, Scope: ScopeAdmin, Now: cfg.Now, Title: "Inventory API: API key migration",
	})
	if err != nil {
		return nil, err
	}
	admin := http.NewServeMux()
	admin.Handle("GET "+ReportPath, guard.Middleware(report))

	return &API{
		Handler:     serve.AccessLog(logger, mux),
		Routes:      mux,
		Admin:       serve.AccessLog(logger.With("component", "admin"), admin),
		Resource:    resource,
		MetadataURL: meta.URL(),
		Auth:        auth,
		Stock:       st,
	}, nil
}

// Item is one stock-keeping unit.
type Item struct {
	SKU       string `json:"sku"`       // stock-keeping unit, the item's id
	Name      string `json:"name"`      // display name
	Available int    `json:"available"` // units that can still be reserved
	Reserved  int    `json:"reserved"`  // units reserved for orders
}

// Reservation is stock set aside for an order.
type Reservation struct {
	OrderID  string    `json:"order_id"`   // the caller's order
	SKU      string    `json:"sku"`        // the item reserved
	Quantity int       `json:"quantity"`   // units reserved
	By       string    `json:"by"`         // who reserved: rsguard.Principal.Subject (user:… or client:… for a JWT, apikey:… for a key)
	Via      string    `json:"credential"` // how they authenticated: "jwt" or "apikey" (rsguard.Principal.Credential)
	At       time.Time `json:"at"`         // when
}

// Stock is the in-memory inventory, safe for concurrent use.
type Stock struct {
	mu    sync.Mutex
	items map[string]Item
}

// NewStock returns a stock of three items.
func NewStock() *Stock {
	s := &Stock{items: map[string]Item{}}
	for _, it := range []Item{
		{SKU: "BOLT-M6", Name: "Hex bolt M6x20", Available: 1200},
		{SKU: "NUT-M6", Name: "Hex nut M6", Available: 950},
		{SKU: "WASHER-6", Name: "Flat washer 6 mm", Available: 3000},
	} {
		s.items[it.SKU] = it
	}
	return s
}

var (
	errNotFound     = errors.New("no item with this sku")
	errInsufficient = errors.New("not enough stock available")
)

// List returns every item, by sku.
func (s *Stock) List() []Item {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Item, 0, len(s.items))
	for _, it := range s.items {
		out = append(out, it)
	}
	slices.SortFunc(out, func(a, b Item) int { return strings.Compare(a.SKU, b.SKU) })
	return out
}

// Get returns the item sku.
func (s *Stock) Get(sku string) (Item, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	it, ok := s.items[sku]
	return it, ok
}

// Reserve moves qty units of sku from available to reserved.
func (s *Stock) Reserve(sku string, qty int) (Item, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	it, ok := s.items[sku]
	switch {
	case !ok:
		return Item{}, errNotFound
	case it.Available < qty:
		return it, errInsufficient
	}
	it.Available -= qty
	it.Reserved += qty
	s.items[sku] = it
	return it, nil
}

// Remove deletes sku, and reports whether it existed.
func (s *Stock) Remove(sku string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.items[sku]
	delete(s.items, sku)
	return ok
}

type handlers struct{ stock *Stock }

func (h *handlers) list(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"items": h.stock.List()})
}

func (h *handlers) get(w http.ResponseWriter, r *http.Request) {
	it, ok := h.stock.Get(r.PathValue("sku"))
	if !ok {
		writeProblem(w, http.StatusNotFound, errNotFound.Error())
		return
	}
	writeJSON(w, http.StatusOK, it)
}

func (h *handlers) reserve(w http.ResponseWriter, r *http.Request) {
	var req struct {
		OrderID  string `json:"order_id"`
		SKU      string `json:"sku"`
		Quantity int    `json:"quantity"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil || req.OrderID == "" || req.SKU == "" || req.Quantity <= 0 {
		writeProblem(w, http.StatusBadRequest, `the body must be {"order_id": "…", "sku": "…", "quantity": n > 0}`)
		return
	}
	// The principal says who asks, whichever credential it was.
	p, _ := rsguard.FromContext(r.Context())
	if _, err := h.stock.Reserve(req.SKU, req.Quantity); err != nil {
		status := http.StatusConflict
		if errors.Is(err, errNotFound) {
			status = http.StatusNotFound
		}
		writeProblem(w, status, err.Error())
		return
	}
	writeJSON(w, http.StatusCreated, Reservation{
		OrderID: req.OrderID, SKU: req.SKU, Quantity: req.Quantity,
		By: p.Subject, Via: string(p.Credential), At: time.Now().UTC(),
	})
}

func (h *handlers) delete(w http.ResponseWriter, r *http.Request) {
	if !h.stock.Remove(r.PathValue("sku")) {
		writeProblem(w, http.StatusNotFound, errNotFound.Error())
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeProblem(w http.ResponseWriter, status int, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"status": status, "detail": detail})
}

// docsPage is the migration documentation that deprecated keys' responses
// link to (Link: <…/docs/oauth>; rel="deprecation").
func docsPage(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprint(w, `Moving from API keys to OAuth

API keys (X-API-Key) are deprecated. Responses to them carry Deprecation,
Sunset (the date keys stop working for your client) and Link headers.

Ask the authorization server (see authorization_servers in this API's
protected resource metadata, /.well-known/oauth-protected-resource/api) for a
client_credentials token with resource=<this API's URL> and the scopes you
need (inventory:read, inventory:write), and send it as
"Authorization: Bearer <token>". Cache it until it expires.
`)
}
