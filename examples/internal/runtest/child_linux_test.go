package runtest

import (
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestChildStubborn: a child deaf to SIGTERM and to its stdin closing, with
// a grandchild as deaf holding its stdout, is killed StopTimeout after
// SIGTERM, grandchild included (its process group); Stop says so, and so
// does the cleanup, as a test error.
func TestChildStubborn(t *testing.T) {
	r, c := startChild(t, "stubborn")
	line := c.WaitLine(t, func(l string) bool { return strings.HasPrefix(l, "grandchild ") })
	grandchild, err := strconv.Atoi(strings.TrimPrefix(line, "grandchild "))
	if err != nil {
		t.Fatalf("child printed %q", line)
	}

	start := time.Now()
	err = c.Stop()
	elapsed := time.Since(start)
	if want := "did not exit within 5s of SIGTERM; killed"; err == nil || err.Error() != want {
		t.Errorf("Stop: %v, want %q", err, want)
	}
	// The grandchild held the child's stdout: Wait saw it closed, rather
	// than giving up WaitDelay (StopTimeout) after the child's death, only
	// because the grandchild died with it.
	if elapsed < StopTimeout || elapsed >= 2*StopTimeout {
		t.Errorf("Stop took %s, want StopTimeout (%s) and less than another", elapsed, StopTimeout)
	}
	if stat, err := os.ReadFile("/proc/" + strconv.Itoa(grandchild) + "/stat"); err == nil {
		if fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:])); len(fields) == 0 || fields[0] != "Z" {
			t.Errorf("grandchild %d still running after Stop: %s", grandchild, stat)
			syscall.Kill(grandchild, syscall.SIGKILL) // leave nothing behind
		}
	}

	r.cleanup()
	if len(r.errors) != 1 || !strings.Contains(r.errors[0], "stopping runtest") || !strings.Contains(r.errors[0], "killed") {
		t.Errorf("cleanup reported %q, want one error: stopping …: … killed", r.errors)
	}
}
