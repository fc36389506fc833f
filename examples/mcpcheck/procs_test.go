package mcpcheck_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rsguard/rsguard/examples/internal/runtest"
)

// Bounds on every wait.
const (
	startTimeout = 30 * time.Second // a child's first line (a banner, a URL)
	stopTimeout  = 5 * time.Second  // a graceful stop, before SIGKILL
	buildTimeout = 5 * time.Minute  // go build, install.sh (npm ci)
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
	goCmd, err := exec.LookPath("go")
	if err != nil {
		//lint:ignore SA1019 the fallback when go is not on PATH: the toolchain that built this test
		goCmd = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	bin := filepath.Join(binDir, pkg[strings.LastIndex(pkg, "/")+1:])
	if runtime.GOOS == "windows" {
		bin += ".exe"
	}
	start := time.Now()
	out, err := runTool(".", buildTimeout, goCmd, "build", "-o", bin, pkg)
	if err != nil {
		return "", fmt.Errorf("go build %s: %w\n%s", pkg, err, out)
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

// runTool runs a short-lived command to completion within timeout, in dir,
// and returns its combined output.
func runTool(dir string, timeout time.Duration, name string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	setProcAttrs(cmd)
	cmd.WaitDelay = stopTimeout
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		err = fmt.Errorf("%w (timed out after %s)", err, timeout)
	}
	return out, err
}

// inCI reports whether the tests run in CI (CI=true), where a missing
// prerequisite is a failure.
func inCI() bool {
	ci, _ := strconv.ParseBool(os.Getenv("CI"))
	return ci
}

// child is a long-running child process (a server) that lives until stop
// or the end of its test. Its stdin is a pipe it keeps open: the Node
// scripts exit when it closes.
type child struct {
	name           string
	cmd            *exec.Cmd
	stdin          io.WriteCloser
	cancel         context.CancelFunc
	stdout, stderr *runtest.Buffer
	done           chan struct{} // closed once Wait returned
	err            error         // Wait's result, after done

	stopOnce sync.Once
	stopErr  error
}

// startChild starts name with args in dir. t.Cleanup stops it.
func startChild(t *testing.T, dir, name string, args ...string) *child {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	setProcAttrs(cmd)
	cmd.WaitDelay = stopTimeout
	c := &child{
		name:   filepath.Base(name) + " " + strings.Join(args, " "),
		cmd:    cmd,
		cancel: cancel,
		stdout: &runtest.Buffer{},
		stderr: &runtest.Buffer{},
		done:   make(chan struct{}),
	}
	cmd.Stdout, cmd.Stderr = c.stdout, c.stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	c.stdin = stdin
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start %s: %v", c.name, err)
	}
	go func() {
		c.err = cmd.Wait()
		close(c.done)
	}()
	t.Cleanup(func() {
		if err := c.stop(); err != nil {
			t.Errorf("stopping %s: %v", c.name, err)
		}
	})
	return c
}

// waitFor returns stdout once it contains marker, waiting at most
// startTimeout. It fails the test if the process exits first. Choose a
// marker that ends what the test reads (a newline, the next line).
func (c *child) waitFor(t *testing.T, marker string) string {
	t.Helper()
	out, ok := c.stdout.WaitFor(marker, startTimeout, c.done)
	if !ok {
		status := "still running"
		select {
		case <-c.done: // c.err is written before done is closed
			status = fmt.Sprint(c.err)
		default:
		}
		t.Fatalf("%s: no %q on stdout within %s (%s)\n--- stdout:\n%s--- stderr:\n%s", c.name, marker, startTimeout, status, out, c.stderr)
	}
	return out
}

// stop ends the process gracefully (stdin closed, SIGTERM), then by SIGKILL
// to its process group if it has not exited within stopTimeout. Every wait
// is bounded; it is safe to call more than once.
func (c *child) stop() error {
	c.stopOnce.Do(func() {
		defer c.cancel()
		c.stdin.Close()
		terminate(c.cmd)
		select {
		case <-c.done:
			return
		case <-time.After(stopTimeout):
		}
		c.cancel() // cmd.Cancel: SIGKILL to the group; Wait gives up on pipes after WaitDelay
		select {
		case <-c.done:
			c.stopErr = fmt.Errorf("did not exit within %s of SIGTERM; killed", stopTimeout)
		case <-time.After(2*stopTimeout + time.Second):
			c.stopErr = errors.New("still not reaped after SIGKILL")
		}
	})
	return c.stopErr
}
