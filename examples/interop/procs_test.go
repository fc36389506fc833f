package interop_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Bounds on every wait. Generous: a loaded 2-core CI machine has taken
// several seconds to start as.mjs and several more for one SDK step.
const (
	startTimeout   = 30 * time.Second // a child's first output
	stopTimeout    = 5 * time.Second  // a graceful stop, before SIGKILL
	installTimeout = 5 * time.Minute  // install.sh (npm ci) and go build
	clientTimeout  = 60 * time.Second // client.mjs --timeout
)

// inCI reports whether the tests run in CI (CI=true, as GitHub Actions and
// most CI systems set it), where a missing prerequisite is a failure.
func inCI() bool {
	ci, _ := strconv.ParseBool(os.Getenv("CI"))
	return ci
}

// requireNode skips the test, loudly, when node is not on PATH; in CI it
// fails instead.
func requireNode(t *testing.T) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err == nil {
		return node
	}
	msg := "INTEROP TESTS NOT RUN: node is not on PATH (" + err.Error() + "). " +
		"They prove rsguard against oidc-provider and the official MCP TypeScript SDK; " +
		"install Node >= 20.19 (22 LTS preferred) to run them. See examples/interop/README.md."
	if inCI() {
		t.Fatal(msg + " In CI (CI=true) this is a failure.")
	}
	fmt.Fprintln(os.Stderr, "\n"+strings.Repeat("!", 78)+"\n"+msg+"\n"+strings.Repeat("!", 78))
	t.Skip(msg)
	return ""
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

// proc is a long-running child process (as.mjs, the MCP server binary) that
// lives until stop: its stdout lines are available in order, its stderr is
// kept for failure reports.
type proc struct {
	name   string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	cancel context.CancelFunc
	lines  chan string // stdout, line by line; closed at EOF
	stdout *syncBuffer // stdout, all of it
	stderr *syncBuffer
	done   chan struct{} // closed once Wait returned
	err    error         // Wait's result, after done

	stopOnce sync.Once
}

// startProc starts name with args in dir. Its stdin is a pipe, which it
// keeps open until stop: as.mjs exits when that pipe closes, so a test binary
// that dies takes it along (the MCP server binary is covered by setProcAttrs'
// parent-death signal on Linux). t.Cleanup stops it.
func startProc(t *testing.T, dir, name string, args ...string) *proc {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	setProcAttrs(cmd)
	cmd.WaitDelay = stopTimeout
	p := &proc{
		name:   name + " " + strings.Join(args, " "),
		cmd:    cmd,
		cancel: cancel,
		lines:  make(chan string, 64),
		stdout: &syncBuffer{},
		stderr: &syncBuffer{},
		done:   make(chan struct{}),
	}
	cmd.Stderr = p.stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	p.stdin = stdin
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start %s: %v", p.name, err)
	}
	t.Cleanup(func() {
		if err := p.stop(); err != nil {
			t.Logf("stopping %s: %v", p.name, err)
		}
	})
	// Read stdout to EOF, so the child never blocks on a full pipe.
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		defer close(p.lines)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			p.stdout.Write([]byte(line + "\n"))
			select {
			case p.lines <- line:
			default: // nobody is waiting for more lines: keep them in p.stdout only
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	go func() {
		<-readDone
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p
}

// waitLine returns the first stdout line (among those not read yet) for which
// match is true, waiting at most startTimeout. It fails the test if the
// process exits or the time is up first.
func (p *proc) waitLine(t *testing.T, match func(string) bool) string {
	t.Helper()
	deadline := time.NewTimer(startTimeout)
	defer deadline.Stop()
	for {
		select {
		case line, ok := <-p.lines:
			if !ok {
				status := "still running"
				select {
				case <-p.done: // p.err is written before done is closed
					status = fmt.Sprint(p.err)
				case <-time.After(stopTimeout):
				}
				t.Fatalf("%s closed its stdout (exit: %s) before printing the expected line\n--- stdout:\n%s--- stderr:\n%s", p.name, status, p.stdout, p.stderr)
			}
			if match(line) {
				return line
			}
		case <-deadline.C:
			t.Fatalf("%s: no expected line on stdout within %s\n--- stdout:\n%s--- stderr:\n%s", p.name, startTimeout, p.stdout, p.stderr)
		}
	}
}

// stop ends the process gracefully (stdin closed, SIGTERM), then by SIGKILL
// to its process group if it has not exited within stopTimeout. Every wait is
// bounded; it is safe to call more than once.
func (p *proc) stop() error {
	var err error
	p.stopOnce.Do(func() {
		defer p.cancel()
		p.stdin.Close()
		terminate(p.cmd)
		select {
		case <-p.done:
			return
		case <-time.After(stopTimeout):
		}
		p.cancel() // cmd.Cancel: SIGKILL to the group; Wait gives up on pipes after WaitDelay
		select {
		case <-p.done:
			err = fmt.Errorf("did not exit within %s of SIGTERM; killed", stopTimeout)
		case <-time.After(2*stopTimeout + time.Second):
			err = errors.New("still not reaped after SIGKILL")
		}
	})
	return err
}

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}
