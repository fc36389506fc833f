package main

import (
	"testing"

	"github.com/rsguard/rsguard/validate/validatetest"
)

// TestConformance runs rsguard's conformance kit against the example server
// over HTTP, as its users would run it against theirs: metadata, challenges,
// session binding (intruders get 404), step-up per tool, and the attacks.
func TestConformance(t *testing.T) {
	env := newTestEnv(t)
	validatetest.Conformance(t, validatetest.ConformanceConfig{
		Issuer: env.iss,
		URL:    env.url,
		Scopes: challengeScopes,
		MCP:    true,
		Tools:  toolScopes(),
		ToolArguments: map[string]map[string]any{
			"add_note": {"text": "conformance"},
		},
	})
}
