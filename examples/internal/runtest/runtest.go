// Package runtest holds what the examples' tests need to run a program the
// way its main does: a buffer to watch its output, and Start, which runs it
// until the test ends and waits for its banner. For the tests that run
// programs as child processes (examples/interop, examples/mcpcheck) it
// holds StartChild, which starts one until the test ends and stops it
// within fixed bounds, RunTool and GoBuild for short-lived commands, and
// RequireNode with the skip-locally, fail-in-CI rule (InCI).
package runtest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// Buffer is a bytes.Buffer safe for concurrent use; WaitFor waits for what a
// writer prints. The zero value is an empty buffer ready to use.
type Buffer struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	wrote chan struct{} // closed by the next Write; nil while nobody waits
}

// Write appends p to the buffer and wakes the waiters; it never fails.
func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.wrote != nil {
		close(s.wrote)
		s.wrote = nil
	}
	return s.buf.Write(p)
}

// String returns all that was written so far.
func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// WaitFor returns the content once it contains substr, with ok true; it
// gives up, returning what there is and whether it contains substr, when
// stop is closed, and after timeout. It sleeps until a Write, never polls.
func (s *Buffer) WaitFor(substr string, timeout time.Duration, stop <-chan struct{}) (text string, ok bool) {
	return s.WaitUntil(func(text string) bool { return strings.Contains(text, substr) }, timeout, stop)
}

// WaitUntil returns the content once done(content) is true, with ok true;
// it gives up, returning what there is and done's verdict on it, when stop
// is closed, and after timeout. It sleeps until a Write, never polls. done
// is called with the buffer locked, from WaitUntil's goroutine only: it
// must not use the buffer.
func (s *Buffer) WaitUntil(done func(text string) bool, timeout time.Duration, stop <-chan struct{}) (text string, ok bool) {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		s.mu.Lock()
		text = s.buf.String()
		if done(text) {
			s.mu.Unlock()
			return text, true
		}
		if s.wrote == nil {
			s.wrote = make(chan struct{})
		}
		wrote := s.wrote
		s.mu.Unlock()
		select {
		case <-wrote:
		case <-stop:
			s.mu.Lock()
			defer s.mu.Unlock()
			text = s.buf.String()
			return text, done(text)
		case <-timer.C:
			return text, false
		}
	}
}

// RunFunc is a program's run: it parses args, serves until ctx ends and
// returns, writing its banner to stdout and its log to stderr.
type RunFunc func(ctx context.Context, args []string, stdout, stderr io.Writer) error

// Start runs run with args until the test ends, and returns its stdout once
// it contains marker (a program writes its banner at once, when it is
// listening), its stderr, and stop, which cancels run's context and returns
// run's error (the same on every call). The test fails if run returns
// before marker, or if marker is not out within 30 s.
func Start(t testing.TB, run RunFunc, marker string, args ...string) (stdout string, stderr *Buffer, stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out, errOut := &Buffer{}, &Buffer{}
	var runErr error
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		runErr = run(ctx, args, out, errOut)
	}()
	var once sync.Once
	var stopErr error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case <-exited:
				stopErr = runErr
			case <-time.After(30 * time.Second):
				stopErr = errors.New("run did not return within 30s of cancellation")
			}
		})
		return stopErr
	}
	t.Cleanup(func() { stop() })

	banner, ok := out.WaitFor(marker, 30*time.Second, exited)
	if !ok {
		select {
		case <-exited:
			t.Fatalf("run returned %v before serving; stderr:\n%s", runErr, errOut)
		default:
			t.Fatalf("no banner after 30s; stderr:\n%s", errOut)
		}
	}
	return banner, errOut, stop
}

// ErrorCase is a command line that must stop a program at start-up: run
// with Args returns an error containing WantErr.
type ErrorCase struct {
	Name    string
	Args    []string
	WantErr string
}

// ClosedURL is the http URL of a loopback port that nothing listens on (it
// was just closed): an issuer that cannot be reached.
func ClosedURL(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return "http://" + ln.Addr().String()
}

// RunErrors runs run with each case's arguments, in a subtest, and checks
// that it returns the error the case wants within 20 s.
func RunErrors(t *testing.T, run RunFunc, cases []ErrorCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			err := run(ctx, tc.Args, io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.WantErr) {
				t.Errorf("run(%q) = %v, want an error containing %q", tc.Args, err, tc.WantErr)
			}
		})
	}
}
