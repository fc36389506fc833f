package runtest

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMain makes the test binary its own child process: run as
// "<binary> runtest-child MODE" it does what MODE says (childMain) instead
// of running the tests.
func TestMain(m *testing.M) {
	if len(os.Args) == 3 && os.Args[1] == "runtest-child" {
		childMain(os.Args[2])
		return
	}
	os.Exit(m.Run())
}

// childMain is the child's behaviour in each mode.
func childMain(mode string) {
	switch mode {
	case "lines": // three lines (one ending in CRLF) and half of one, then run until stdin closes
		fmt.Print("first\nsecond\r\nthird\nhalf")
		io.Copy(io.Discard, os.Stdin)
	case "exit": // half a line, then exit 3
		fmt.Print("half a line")
		os.Exit(3)
	case "echo": // a line on each of stdout and stderr
		fmt.Println("to stdout")
		fmt.Fprintln(os.Stderr, "to stderr")
	case "sleep":
		time.Sleep(time.Hour)
	case "stubborn": // deaf to SIGTERM, SIGINT and stdin, with a grandchild like it on our stdout
		signal.Ignore(syscall.SIGTERM, os.Interrupt)
		gc := exec.Command(os.Args[0], "runtest-child", "deaf")
		gc.Stdout = os.Stdout
		if err := gc.Start(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Printf("grandchild %d\n", gc.Process.Pid)
		time.Sleep(time.Hour)
	case "deaf":
		signal.Ignore(syscall.SIGTERM, os.Interrupt)
		time.Sleep(time.Hour)
	default:
		fmt.Fprintf(os.Stderr, "runtest-child: unknown mode %q\n", mode)
		os.Exit(2)
	}
}

// self returns the test binary, to run as a child.
func self(t *testing.T) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return exe
}

// recorder is a testing.TB that records what the helpers under test
// report: a failure or a skip ends the goroutine it ran on (run), as it
// does a test's; errors and cleanups are kept. Everything else goes to the
// real test.
type recorder struct {
	testing.TB
	fatal, skip string
	errors      []string
	cleanups    []func()
}

func (r *recorder) Helper()                           {}
func (r *recorder) Fatal(args ...any)                 { r.fatal = fmt.Sprint(args...); runtime.Goexit() }
func (r *recorder) Fatalf(format string, args ...any) { r.Fatal(fmt.Sprintf(format, args...)) }
func (r *recorder) FailNow()                          { r.Fatal("FailNow") }
func (r *recorder) Skip(args ...any)                  { r.skip = fmt.Sprint(args...); runtime.Goexit() }
func (r *recorder) Skipf(format string, args ...any)  { r.Skip(fmt.Sprintf(format, args...)) }
func (r *recorder) SkipNow()                          { r.Skip("SkipNow") }
func (r *recorder) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}
func (r *recorder) Cleanup(f func()) { r.cleanups = append(r.cleanups, f) }

// newRecorder returns a recorder for t whose cleanups run when t ends
// unless cleanup ran them first.
func newRecorder(t *testing.T) *recorder {
	r := &recorder{TB: t}
	t.Cleanup(r.cleanup)
	return r
}

// startChild starts the test binary as a child in mode (childMain) with
// StartChild on a recorder, whose cleanups (the child's Stop) the caller
// may run before t ends.
func startChild(t *testing.T, mode string) (*recorder, *Child) {
	t.Helper()
	exe := self(t)
	r := newRecorder(t)
	var c *Child
	r.run(func(tb testing.TB) { c = StartChild(tb, "", exe, "runtest-child", mode) })
	if c == nil {
		t.Fatalf("StartChild(%s) failed: %s", mode, r.fatal)
	}
	return r, c
}

// run calls f with r on a goroutine of its own and returns once f returned
// or ended the goroutine (Fatal, Skip).
func (r *recorder) run(f func(testing.TB)) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(r)
	}()
	<-done
}

// cleanup runs the recorded cleanups, last first, as testing does.
func (r *recorder) cleanup() {
	for len(r.cleanups) > 0 {
		f := r.cleanups[len(r.cleanups)-1]
		r.cleanups = r.cleanups[:len(r.cleanups)-1]
		f()
	}
}

// TestChildWaitLine: WaitLine returns the first matching complete line
// among those not gone through yet (CR of CRLF dropped), passing over the
// rest; a child that keeps running until its stdin closes stops at once,
// and the cleanup reports nothing.
func TestChildWaitLine(t *testing.T) {
	r, c := startChild(t, "lines")
	if got := c.WaitLine(t, func(l string) bool { return strings.HasPrefix(l, "sec") }); got != "second" {
		t.Errorf("WaitLine(sec…) = %q, want %q", got, "second")
	}
	if got := c.WaitLine(t, func(string) bool { return true }); got != "third" {
		t.Errorf("WaitLine(any) after second = %q, want %q", got, "third")
	}
	start := time.Now()
	if err := c.Stop(); err != nil {
		t.Errorf("Stop: %v", err)
	}
	if d := time.Since(start); d >= StopTimeout {
		t.Errorf("Stop took %s, want less than StopTimeout (%s)", d, StopTimeout)
	}
	// "half" never became a line: WaitLine fails once the child is gone.
	r.run(func(tb testing.TB) { c.WaitLine(tb, func(string) bool { return true }) })
	if !strings.Contains(r.fatal, "no expected line") || !strings.Contains(r.fatal, "exited:") {
		t.Errorf("WaitLine after the last line: fatal %q, want no expected line, exited", r.fatal)
	}
	r.cleanup()
	if len(r.errors) != 0 {
		t.Errorf("cleanup reported %q", r.errors)
	}
}

// TestChildExits: a child that exits before the line WaitLine wants fails
// the test at once, with its exit status and output.
func TestChildExits(t *testing.T) {
	r, c := startChild(t, "exit")
	start := time.Now()
	line := "(none)"
	r.run(func(tb testing.TB) { line = c.WaitLine(tb, func(string) bool { return true }) })
	if d := time.Since(start); d >= StartTimeout {
		t.Errorf("WaitLine gave up after %s, want at once", d)
	}
	for _, want := range []string{"no expected line", "exited: exit status 3", "--- stdout:\nhalf a line"} {
		if !strings.Contains(r.fatal, want) {
			t.Errorf("WaitLine failure %q does not contain %q", r.fatal, want)
		}
	}
	if line != "(none)" {
		t.Errorf("WaitLine returned %q", line)
	}
}

// TestStartChildMissing: a program that cannot be started fails the test.
func TestStartChildMissing(t *testing.T) {
	r := newRecorder(t)
	missing := filepath.Join(t.TempDir(), "no-such-program")
	r.run(func(tb testing.TB) { StartChild(tb, "", missing) })
	if !strings.HasPrefix(r.fatal, "start no-such-program") {
		t.Errorf("fatal %q, want start no-such-program: …", r.fatal)
	}
}

func TestRunTool(t *testing.T) {
	out, err := RunTool("", 30*time.Second, self(t), "runtest-child", "echo")
	if err != nil || !strings.Contains(string(out), "to stdout\n") || !strings.Contains(string(out), "to stderr\n") {
		t.Errorf("RunTool(echo) = %q, %v; want both streams, no error", out, err)
	}

	start := time.Now()
	_, err = RunTool("", 200*time.Millisecond, self(t), "runtest-child", "sleep")
	if err == nil || !strings.Contains(err.Error(), "timed out after 200ms") {
		t.Errorf("RunTool(sleep) error %v, want timed out after 200ms", err)
	}
	if d := time.Since(start); d >= StopTimeout {
		t.Errorf("RunTool(sleep) returned after %s, want soon after 200ms", d)
	}

	_, err = RunTool(t.TempDir(), time.Minute, filepath.Join(t.TempDir(), "no-such-program"))
	if err == nil {
		t.Error("RunTool(no such program): no error")
	}
}

func TestGoBuild(t *testing.T) {
	src := t.TempDir()
	for name, text := range map[string]string{
		"go.mod":  "module hello\n\ngo 1.25\n",
		"main.go": "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"hello from a build\") }\n",
	} {
		if err := os.WriteFile(filepath.Join(src, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	bin, err := GoBuild(src, ".", filepath.Join(t.TempDir(), "hello"))
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS == "windows" && !strings.HasSuffix(bin, ".exe") {
		t.Errorf("GoBuild on Windows returned %q, want .exe", bin)
	}
	if out, err := RunTool(src, 30*time.Second, bin); err != nil || string(out) != "hello from a build\n" {
		t.Errorf("the built program: %q, %v", out, err)
	}

	_, err = GoBuild(src, "./missing", filepath.Join(t.TempDir(), "missing"))
	if err == nil || !strings.HasPrefix(err.Error(), "go build ./missing: ") || !strings.Contains(err.Error(), "missing") {
		t.Errorf("GoBuild(./missing) error %v, want go build ./missing: … with go's output", err)
	}
}

func TestInCI(t *testing.T) {
	for value, want := range map[string]bool{"true": true, "1": true, "TRUE": true, "false": false, "": false, "yes": false} {
		t.Setenv("CI", value)
		if got := InCI(); got != want {
			t.Errorf("CI=%q: InCI() = %v, want %v", value, got, want)
		}
	}
}

// TestRequireNode: node on PATH is returned; without it the test is
// skipped, or fails in CI, saying what did not run and why.
func TestRequireNode(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("PATH", dir)

	for _, ci := range []string{"false", "true"} {
		t.Setenv("CI", ci)
		r := newRecorder(t)
		r.run(func(tb testing.TB) { RequireNode(tb, "SOME TESTS", "They prove things.") })
		got, other := r.skip, r.fatal
		if ci == "true" {
			got, other = r.fatal, r.skip
		}
		if !strings.HasPrefix(got, "SOME TESTS NOT RUN: node is not on PATH (") || !strings.Contains(got, "They prove things.") || other != "" {
			t.Errorf("CI=%s: skip %q, fatal %q", ci, r.skip, r.fatal)
		}
		if strings.Contains(got, "In CI (CI=true) this is a failure.") != (ci == "true") {
			t.Errorf("CI=%s: %q", ci, got)
		}
	}

	name := "node"
	if runtime.GOOS == "windows" {
		name += ".exe"
	}
	node := filepath.Join(dir, name)
	if err := os.WriteFile(node, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	r := newRecorder(t)
	var got string
	r.run(func(tb testing.TB) { got = RequireNode(tb, "SOME TESTS", "They prove things.") })
	if got != node || r.skip != "" || r.fatal != "" {
		t.Errorf("RequireNode with node on PATH = %q (skip %q, fatal %q), want %q", got, r.skip, r.fatal, node)
	}
}
