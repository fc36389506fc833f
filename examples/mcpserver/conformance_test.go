package main

import (
	"testing"

	"github.com/rsguard/rsguard/validate/validatetest"
)

// TestConformance runs rsguard's conformance kit against the example server
// over HTTP, as its users would run it against theirs.
func TestConformance(t *testing.T) {
	newTestEnv(t, nil).Conformance(t, validatetest.ConformanceConfig{
		Scopes: challengeScopes,
		Tools:  toolScopes(),
		ToolArguments: map[string]map[string]any{
			"get_item":     {"sku": "BOLT-M6"},
			"add_item":     {"sku": "CONF-1", "name": "conformance", "quantity": 1},
			"adjust_stock": {"sku": "BOLT-M6", "delta": 1},
			"delete_item":  {"sku": "NUT-M6"},
		},
	})
}
