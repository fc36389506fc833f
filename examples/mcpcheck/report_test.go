package mcpcheck_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rsguard/rsguard/examples/internal/runtest"
)

// checkTimeout bounds one run of the command from outside; the command's
// own -timeout (runTimeout) is shorter, so that it is the one that ends a
// slow run and reports what it got.
const (
	checkTimeout = 60 * time.Second
	runTimeout   = "40s"
)

// The results of a check in the command's -json report.
const (
	pass         = "pass"
	fail         = "fail"
	notCheckable = "not_checkable"
	skipped      = "skipped"
)

// notCheckableWhy begins the message of every check a run without
// credentials cannot make; notCheckableWithoutKey that of every check a run
// with credentials cannot make, for want of tokens signed with chosen
// claims by the authorization server's key.
const (
	notCheckableWhy        = "not checkable without credentials"
	notCheckableWithoutKey = "not checkable without the authorization server's signing key"
)

// report is the command's -json output (the command-line contract of
// cmd/mcpcheck). Members the tests do not read are ignored.
type report struct {
	Endpoint             string   `json:"endpoint"`
	Resource             string   `json:"resource"`
	MetadataURL          string   `json:"metadata_url"`
	AuthorizationServers []string `json:"authorization_servers"`
	Issuer               string   `json:"issuer"`
	Credentials          bool     `json:"credentials"`
	Passed               bool     `json:"passed"`
	Summary              struct {
		Passed       int `json:"passed"`
		Failed       int `json:"failed"`
		NotCheckable int `json:"not_checkable"`
		Skipped      int `json:"skipped"`
	} `json:"summary"`
	Requests   int           `json:"requests"`
	DurationMS int64         `json:"duration_ms"`
	CutShort   string        `json:"cut_short"`
	Checks     []checkResult `json:"checks"`
}

// checkResult is one line of the report.
type checkResult struct {
	Name     string   `json:"name"`
	Result   string   `json:"result"`
	Spec     string   `json:"spec"`
	Messages []string `json:"messages"`
}

// text is the check's messages as one string, for error reports and
// matching.
func (c checkResult) text() string { return strings.Join(c.Messages, " | ") }

// checkRun is one run of the command.
type checkRun struct {
	args           []string
	code           int // exit status
	stdout, stderr string
	report         *report // with -json
}

// mcpcheck runs the command with -json and args, and returns its report.
// It fails the test if the command cannot be built, does not end in time,
// or prints no valid report.
func mcpcheck(t *testing.T, env []string, args ...string) *checkRun {
	t.Helper()
	start := time.Now()
	run := runCommand(t, env, append([]string{"-json"}, args...)...)
	run.report = &report{}
	if err := json.Unmarshal([]byte(run.stdout), run.report); err != nil {
		t.Fatalf("mcpcheck %s (exit %d): stdout is not a JSON report: %v\n--- stdout:\n%s\n--- stderr:\n%s", strings.Join(run.args, " "), run.code, err, run.stdout, run.stderr)
	}
	t.Logf("mcpcheck %s: exit %d in %s, %d requests, summary %+v", strings.Join(run.args, " "), run.code, time.Since(start).Round(time.Millisecond), run.report.Requests, run.report.Summary)
	run.consistent(t)
	return run
}

// runCommand runs the command with -timeout and args, and env added to the
// test's environment (without any MCPCHECK_ variable of its own). It fails
// the test if the command cannot be built or does not end in time.
func runCommand(t *testing.T, env []string, args ...string) *checkRun {
	t.Helper()
	bin := binary(t, mcpcheckBin)
	args = append([]string{"-timeout", runTimeout}, args...)
	ctx, cancel := context.WithTimeout(context.Background(), checkTimeout)
	defer cancel()
	cmd := runtest.Command(ctx, "", bin, args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "MCPCHECK_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	run := &checkRun{args: args, stdout: stdout.String(), stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Fatalf("mcpcheck %s: not done within %s\n--- stdout:\n%s\n--- stderr:\n%s", strings.Join(args, " "), checkTimeout, run.stdout, run.stderr)
	case errors.As(err, &exit):
		run.code = exit.ExitCode()
	case err != nil:
		t.Fatalf("mcpcheck %s: %v", strings.Join(args, " "), err)
	}
	return run
}

// consistent checks what holds for every report: the summary counts the
// checks without sub-checks of their own (leaves) by result; a check with
// sub-checks fails exactly when one of them does, and otherwise takes its
// result from its leaves (fromLeaves); "passed" and the exit status agree
// with the failures; every result is known; every leaf that
// fails, is not checkable or is skipped says why; the run was not cut short
// (by its -timeout or -max-requests).
func (r *checkRun) consistent(t *testing.T) {
	t.Helper()
	rep := r.report
	count := map[string]int{}
	seen := map[string]bool{}
	for _, c := range rep.Checks {
		if seen[c.Name] {
			t.Errorf("check %q reported twice", c.Name)
		}
		seen[c.Name] = true
		switch c.Result {
		case pass, fail, notCheckable, skipped:
		default:
			t.Errorf("check %q: result %q", c.Name, c.Result)
		}
		below := r.below(c.Name)
		if len(below) == 0 {
			count[c.Result]++
			if c.Result != pass && len(c.Messages) == 0 {
				t.Errorf("check %q: %s without a message", c.Name, c.Result)
			}
			continue
		}
		failedBelow := slices.ContainsFunc(below, func(b checkResult) bool { return b.Result == fail })
		if failedBelow != (c.Result == fail) {
			t.Errorf("check %q: %s, but a sub-check failed: %v", c.Name, c.Result, failedBelow)
		}
		if want := fromLeaves(r.leavesBelow(c.Name)); !failedBelow && c.Result != want {
			t.Errorf("check %q: %s, want %s from its leaves", c.Name, c.Result, want)
		}
	}
	if rep.CutShort != "" {
		t.Errorf("the run was cut short: %s", rep.CutShort)
	}
	s := rep.Summary
	if s.Passed != count[pass] || s.Failed != count[fail] || s.NotCheckable != count[notCheckable] || s.Skipped != count[skipped] {
		t.Errorf("summary %+v, but the checks without sub-checks count %v", s, count)
	}
	failed := count[fail] > 0 || rep.CutShort != ""
	if rep.Passed == failed {
		t.Errorf("passed %v with %d failed checks", rep.Passed, count[fail])
	}
	if want := map[bool]int{false: 0, true: 1}[failed]; r.code != want {
		t.Errorf("exit status %d, want %d (%d failed checks)", r.code, want, count[fail])
	}
	if len(rep.Checks) == 0 || rep.Requests == 0 {
		t.Errorf("%d checks, %d requests", len(rep.Checks), rep.Requests)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the report of mcpcheck %s:\n%s", strings.Join(r.args, " "), r.describe(""))
		}
	})
}

// fromLeaves is the result of a check with sub-checks, from the results of
// its leaves: fail if one failed; else pass if one passed; else not
// checkable if one was; else skipped.
func fromLeaves(leaves []checkResult) string {
	count := map[string]int{}
	for _, l := range leaves {
		count[l.Result]++
	}
	for _, result := range []string{fail, pass, notCheckable} {
		if count[result] > 0 {
			return result
		}
	}
	return skipped
}

// leavesBelow returns the sub-checks of the check name that have none of
// their own.
func (r *checkRun) leavesBelow(name string) []checkResult {
	var leaves []checkResult
	for _, c := range r.below(name) {
		if len(r.below(c.Name)) == 0 {
			leaves = append(leaves, c)
		}
	}
	return leaves
}

// below returns the sub-checks of the check name, at any depth.
func (r *checkRun) below(name string) []checkResult {
	var sub []checkResult
	for _, c := range r.report.Checks {
		if strings.HasPrefix(c.Name, name+"/") {
			sub = append(sub, c)
		}
	}
	return sub
}

// check returns the report's check name, or fails the test.
func (r *checkRun) check(t *testing.T, name string) checkResult {
	t.Helper()
	for _, c := range r.report.Checks {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no check %q in the report; it has: %s", name, strings.Join(r.names(), ", "))
	return checkResult{}
}

// names lists the report's checks, in order.
func (r *checkRun) names() []string {
	var names []string
	for _, c := range r.report.Checks {
		names = append(names, c.Name)
	}
	return names
}

// want checks that the check name has the result, and that its messages
// contain each of texts (case-insensitive).
func (r *checkRun) want(t *testing.T, name, result string, texts ...string) {
	t.Helper()
	c := r.check(t, name)
	if c.Result != result {
		t.Errorf("check %q: %s, want %s: %s", name, c.Result, result, c.text())
		return
	}
	msgs := strings.ToLower(c.text())
	for _, s := range texts {
		if !strings.Contains(msgs, strings.ToLower(s)) {
			t.Errorf("check %q (%s): the messages lack %q: %s", name, result, s, c.text())
		}
	}
}

// failed returns the names of the checks without sub-checks that failed,
// in order.
func (r *checkRun) failed() []string {
	var names []string
	for _, c := range r.report.Checks {
		if c.Result == fail && len(r.below(c.Name)) == 0 {
			names = append(names, c.Name)
		}
	}
	return names
}

// wantFailed checks that exactly the checks names failed.
func (r *checkRun) wantFailed(t *testing.T, names ...string) {
	t.Helper()
	got := r.failed()
	if !slices.Equal(got, names) {
		t.Errorf("failed checks:\n  %s\nwant:\n  %s\n%s", strings.Join(got, "\n  "), strings.Join(names, "\n  "), r.describe(fail))
	}
}

// describe lists the checks with the result ("": all), and their
// messages.
func (r *checkRun) describe(result string) string {
	var b strings.Builder
	for _, c := range r.report.Checks {
		if result == "" || c.Result == result {
			b.WriteString("  " + c.Result + " | " + c.Name + " | " + c.text() + "\n")
		}
	}
	return b.String()
}

// tokenShaped finds what looks like a JWT, or a part of one: base64url of
// a JSON object.
var tokenShaped = regexp.MustCompile(`eyJ[A-Za-z0-9_-]*(\.[A-Za-z0-9_-]*)*`)

// noSecrets checks that the command printed nothing of a token, and none
// of secrets.
func (r *checkRun) noSecrets(t *testing.T, secrets ...string) {
	t.Helper()
	for stream, out := range map[string]string{"stdout": r.stdout, "stderr": r.stderr} {
		if m := tokenShaped.FindAllString(out, 3); m != nil {
			t.Errorf("%s holds token-shaped strings: %q", stream, m)
		}
		for _, s := range secrets {
			if strings.Contains(out, s) {
				t.Errorf("%s holds the secret %q", stream, s)
			}
		}
	}
}
