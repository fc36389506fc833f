package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/audit"
	"github.com/rsguard/rsguard/rsmeta"
	"github.com/rsguard/rsguard/scopes"
	"github.com/rsguard/rsguard/validate"
)

// The scopes of the example API.
const (
	scopeRead  = "items:read"
	scopeWrite = "items:write"
)

// serverConfig configures newServer.
type serverConfig struct {
	Issuer, Resource string
	// HTTPClient fetches the issuer's metadata and keys; nil for the
	// default.
	HTTPClient *http.Client
	// Registry receives the decision metrics and is served at /metrics.
	Registry *prometheus.Registry
	// Audit, if set, receives one log record per decision.
	Audit *slog.Logger
}

// newServer returns the example API: GET /api/items needs items:read,
// DELETE /api/items/{id} needs items:write, both behind an rsguard.Guard over
// a validate.Validator; the RFC 9728 metadata at its well-known URL; and the
// Prometheus metrics at /metrics. Every decision of the Guard (authenticate
// stage) and of the two scope checks (authorize stage) is counted, and
// logged when cfg.Audit is set.
func newServer(ctx context.Context, cfg serverConfig) (http.Handler, error) {
	prom, err := NewPrometheus(cfg.Registry)
	if err != nil {
		return nil, err
	}
	onDecision := audit.Multi(audit.Count(prom), audit.Slog(cfg.Audit))

	v, err := validate.New(ctx, validate.Config{
		Issuer:   cfg.Issuer,
		Resource: cfg.Resource,
		Fetch:    validate.FetchOptions{HTTPClient: cfg.HTTPClient},
	})
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	meta, err := rsmeta.Register(mux, rsmeta.Metadata{
		Resource:             cfg.Resource,
		AuthorizationServers: v.Issuers(),
		ScopesSupported:      []string{scopeRead, scopeWrite},
	})
	if err != nil {
		return nil, err
	}
	guard, err := rsguard.New(rsguard.Config{
		Authenticator:    v,
		ResourceMetadata: meta.URL(),
		Scopes:           []string{scopeRead},
		OnDecision:       audit.Multi(onDecision, prom.Credentials()),
	})
	if err != nil {
		return nil, err
	}
	read, err := scopes.NewRoute(scopes.RouteConfig{Scopes: []string{scopeRead}, OnDecision: onDecision})
	if err != nil {
		return nil, err
	}
	write, err := scopes.NewRoute(scopes.RouteConfig{Scopes: []string{scopeWrite}, OnDecision: onDecision})
	if err != nil {
		return nil, err
	}

	mux.Handle("GET /api/items", guard.Middleware(read.Handler(http.HandlerFunc(listItems))))
	mux.Handle("DELETE /api/items/{id}", guard.Middleware(write.Handler(http.HandlerFunc(deleteItem))))
	// In production serve /metrics on an internal listener only.
	mux.Handle("GET /metrics", promhttp.HandlerFor(cfg.Registry, promhttp.HandlerOpts{}))
	return mux, nil
}

func listItems(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode([]map[string]any{{"id": "A-100", "name": "bolts", "on_hand": 1200}})
}

func deleteItem(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }
