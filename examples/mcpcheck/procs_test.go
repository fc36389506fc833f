package mcpcheck_test

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/rsguard/rsguard/examples/internal/runtest"
)

// binDir holds the programs the tests build, once per test binary; TestMain
// creates it before any test runs and removes it after the last.
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "rsguard-mcpcheck-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// The programs under test, each built on first use (concurrent callers
// wait for the one build): the checker command from the library module
// (through examples/go.mod's replace directive) and the example servers.
var (
	mcpcheckBin  = sync.OnceValues(func() (string, error) { return build("github.com/rsguard/rsguard/cmd/mcpcheck") })
	mcpserverBin = sync.OnceValues(func() (string, error) { return build("github.com/rsguard/rsguard/examples/mcpserver") })
	mcpgoBin     = sync.OnceValues(func() (string, error) { return build("github.com/rsguard/rsguard/examples/mcpgo") })
)

// build builds the main package pkg into binDir and returns the binary.
func build(pkg string) (string, error) {
	start := time.Now()
	bin, err := runtest.GoBuild(".", pkg, filepath.Join(binDir, path.Base(pkg)))
	if err != nil {
		return "", err
	}
	fmt.Fprintf(os.Stderr, "mcpcheck tests: built %s in %s\n", pkg, time.Since(start).Round(time.Millisecond))
	return bin, nil
}

// binary returns the program a build function built, or fails the test.
func binary(t *testing.T, built func() (string, error)) string {
	t.Helper()
	bin, err := built()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}
