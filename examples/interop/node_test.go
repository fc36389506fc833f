package interop_test

import (
	"bytes"
	"regexp"
	"testing"
	"time"

	"github.com/rsguard/rsguard/examples/internal/runtest"
)

// TestNodeSelfTests runs the Node test files (*.test.mjs, lib/*.test.mjs)
// with node --test: as.mjs, client.mjs, dpop-client.mjs, ts-server.mjs and
// lib/shutdown.mjs proven on their own, so that the fixtures the Go tests
// rely on are checked wherever the Go tests run, CI included.
func TestNodeSelfTests(t *testing.T) {
	t.Parallel()
	env := setupNode(t)
	out, err := runtest.RunTool(env.dir, 5*time.Minute, env.node, "--test", "--test-timeout=120000")
	if err != nil {
		t.Fatalf("node --test: %v\n%s", err, out)
	}
	// node --test also succeeds when it finds no test file.
	if !regexp.MustCompile(`(?m)^# pass [1-9]`).Match(out) || !regexp.MustCompile(`(?m)^# fail 0$`).Match(out) {
		t.Fatalf("node --test ran no test, or reported a failure:\n%s", out)
	}
	t.Logf("%s", bytes.Join(regexp.MustCompile(`(?m)^# (tests|pass|duration_ms) .*$`).FindAll(out, -1), []byte("; ")))
}
