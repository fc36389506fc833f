package main

import (
	"testing"

	"github.com/rsguard/rsguard/validate/validatetest"
)

// TestConformance runs rsguard's conformance kit against the example server
// over HTTP: metadata, challenges, session binding (intruders get 404),
// step-up per tool, and the attacks.
func TestConformance(t *testing.T) {
	cfg := validatetest.ConformanceConfig{Scopes: challengeScopes, Tools: toolScopes()}
	cfg.ToolArguments = map[string]map[string]any{"add_note": {"text": "conformance"}}
	newTestEnv(t).Conformance(t, cfg)
}
