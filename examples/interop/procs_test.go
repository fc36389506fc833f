package interop_test

import (
	"testing"
	"time"

	"github.com/rsguard/rsguard/examples/internal/runtest"
)

// clientTimeout is client.mjs's and dpop-client.mjs's --timeout. Generous:
// a loaded 2-core CI machine has taken several seconds for one SDK step.
// The child processes' other bounds are runtest's (StartTimeout,
// StopTimeout, BuildTimeout).
const clientTimeout = 60 * time.Second

// requireNode returns node; without it the test is skipped, loudly, or, in
// CI, fails (runtest.RequireNode).
func requireNode(t *testing.T) string {
	t.Helper()
	return runtest.RequireNode(t, "INTEROP TESTS",
		"They prove rsguard against oidc-provider and the official MCP TypeScript SDK.")
}
