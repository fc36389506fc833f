package runtest

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
)

// Bounds on every wait for a child process. Generous: a loaded 2-core CI
// machine has taken several seconds to start a Node script.
const (
	// StartTimeout bounds the wait for a child's line on stdout (its
	// banner, its JSON line): Child.WaitLine.
	StartTimeout = 30 * time.Second
	// StopTimeout is how long a child has to exit once asked to stop
	// (stdin closed, SIGTERM) before it is killed, and how long Wait
	// keeps reading its pipes after it exited (exec.Cmd.WaitDelay).
	StopTimeout = 5 * time.Second
	// BuildTimeout bounds a build or an install: GoBuild, and the RunTool
	// calls that run examples/interop/install.sh (npm ci).
	BuildTimeout = 5 * time.Minute
)

// InCI reports whether the tests run in CI (CI=true, as GitHub Actions and
// most CI systems set it), where a missing prerequisite is a failure rather
// than a reason to skip.
func InCI() bool {
	ci, _ := strconv.ParseBool(os.Getenv("CI"))
	return ci
}

// RequireNode returns the path of node. When node is not on PATH it skips
// the test with a banner on stderr, or, in CI (InCI), fails it. notRun
// names what does not run ("INTEROP TESTS", say); why says what they prove,
// in a sentence or two.
func RequireNode(t testing.TB, notRun, why string) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err == nil {
		return node
	}
	msg := notRun + " NOT RUN: node is not on PATH (" + err.Error() + "). " + why +
		" They need Node >= 20.19 (22 LTS preferred): see examples/interop/README.md."
	if InCI() {
		t.Fatal(msg + " In CI (CI=true) this is a failure.")
	}
	fmt.Fprintln(os.Stderr, "\n"+strings.Repeat("!", 78)+"\n"+msg+"\n"+strings.Repeat("!", 78))
	t.Skip(msg)
	return ""
}

// Command is exec.CommandContext(ctx, name, args...) run in dir, set up
// for tests: on Linux the child gets its own process group, which ctx's
// end kills (SIGKILL) with whatever the child spawned, and the kernel kills
// it if the test binary dies first (a -timeout panic runs no t.Cleanup);
// Wait gives up on its pipes StopTimeout after it exited. Elsewhere ctx's
// end kills the child itself.
func Command(ctx context.Context, dir, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	setProcAttrs(cmd)
	cmd.WaitDelay = StopTimeout
	return cmd
}

// RunTool runs a short-lived command (a Command) to completion within
// timeout, in dir, and returns its combined output. Its error says so when
// the command was killed for taking too long.
func RunTool(dir string, timeout time.Duration, name string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	out, err := Command(ctx, dir, name, args...).CombinedOutput()
	if ctx.Err() != nil {
		err = fmt.Errorf("%w (timed out after %s)", err, timeout)
	}
	return out, err
}

// GoBuild builds the main package pkg (an import path, or "." for dir's
// own) with go build, run in dir within BuildTimeout, into the file bin
// (".exe" added on Windows), and returns that file's path. It runs the go
// command on PATH, else the one of the toolchain that built the test. Its
// error holds go build's output.
func GoBuild(dir, pkg, bin string) (string, error) {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		//lint:ignore SA1019 the fallback when go is not on PATH: the toolchain that built this test
		goCmd = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	if runtime.GOOS == "windows" {
		bin += ".exe"
	}
	out, err := RunTool(dir, BuildTimeout, goCmd, "build", "-o", bin, pkg)
	if err != nil {
		return "", fmt.Errorf("go build %s: %w\n%s", pkg, err, out)
	}
	return bin, nil
}

// Child is a long-running child process (a server, an authorization
// server) that lives until Stop or the end of its test. Its stdin is a
// pipe it keeps open until Stop: the Node scripts exit when it closes, so a
// test binary that dies takes them along.
type Child struct {
	// Stdout and Stderr hold all the child wrote, for WaitLine and for
	// failure reports.
	Stdout, Stderr *Buffer

	name   string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	cancel context.CancelFunc
	done   chan struct{} // closed once Wait returned
	err    error         // Wait's result, after done
	read   int           // bytes of Stdout WaitLine has gone through

	stopOnce sync.Once
	stopErr  error
}

// StartChild starts name with args in dir (a Command). When the test ends,
// t.Cleanup stops it; a child that had to be killed, or could not be
// reaped, fails the test.
func StartChild(t testing.TB, dir, name string, args ...string) *Child {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := Command(ctx, dir, name, args...)
	c := &Child{
		Stdout: &Buffer{},
		Stderr: &Buffer{},
		name:   filepath.Base(name) + " " + strings.Join(args, " "),
		cmd:    cmd,
		cancel: cancel,
		done:   make(chan struct{}),
	}
	cmd.Stdout, cmd.Stderr = c.Stdout, c.Stderr
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
		if err := c.Stop(); err != nil {
			t.Errorf("stopping %s: %v", c.name, err)
		}
	})
	return c
}

// WaitLine returns the first complete line on stdout, among those no
// earlier WaitLine went through, for which match is true, waiting at most
// StartTimeout; the lines before it are passed over. It fails the test if
// the child exits or the time is up first. Call it from one goroutine at a
// time.
func (c *Child) WaitLine(t testing.TB, match func(line string) bool) string {
	t.Helper()
	var found string
	next := func(text string) bool { // called with c.Stdout locked, by this goroutine
		for {
			nl := strings.IndexByte(text[c.read:], '\n')
			if nl < 0 {
				return false
			}
			line := strings.TrimSuffix(text[c.read:c.read+nl], "\r")
			c.read += nl + 1
			if match(line) {
				found = line
				return true
			}
		}
	}
	if _, ok := c.Stdout.WaitUntil(next, StartTimeout, c.done); !ok {
		status := "still running"
		select {
		case <-c.done: // c.err is written before done is closed
			status = fmt.Sprint("exited: ", c.err)
		default:
		}
		t.Fatalf("%s: no expected line on stdout within %s (%s)\n--- stdout:\n%s--- stderr:\n%s", c.name, StartTimeout, status, c.Stdout, c.Stderr)
	}
	return found
}

// Stop ends the child gracefully (stdin closed, SIGTERM to its process
// group on Linux, os.Interrupt elsewhere), then by SIGKILL to the group if
// it has not exited within StopTimeout, and reports that as an error. Every
// wait is bounded; it is safe to call more than once, and returns the same
// error each time.
func (c *Child) Stop() error {
	c.stopOnce.Do(func() {
		defer c.cancel()
		c.stdin.Close()
		terminate(c.cmd)
		select {
		case <-c.done:
			return
		case <-time.After(StopTimeout):
		}
		c.cancel() // cmd.Cancel: SIGKILL to the group; Wait gives up on pipes after WaitDelay
		select {
		case <-c.done:
			c.stopErr = fmt.Errorf("did not exit within %s of SIGTERM; killed", StopTimeout)
		case <-time.After(2*StopTimeout + time.Second):
			c.stopErr = errors.New("still not reaped after SIGKILL")
		}
	})
	return c.stopErr
}
