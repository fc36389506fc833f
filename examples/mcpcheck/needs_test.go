package mcpcheck_test

import (
	"strings"
	"testing"

	"github.com/rsguard/rsguard/internal/conformance"
)

// needsOf returns what the engine declares the check name (a report line)
// needs: the Needs of its attack, DPoP or introspection case
// ("attacks/<class>/<case>"…), else of its top-level check (a check's
// sub-checks, such as "stepup/<tool>", need what it needs). The command is
// run black-box; this is only the table the tests judge its report by, so
// that a check added to the engine is judged too.
func needsOf(name string) (conformance.Needs, bool) {
	if name == "discovery" { // the command's own first line: what it learnt from the URL
		return conformance.NeedsNothing, true
	}
	top, rest, _ := strings.Cut(name, "/")
	cases := map[string]func() []conformance.AttackCase{
		"attacks":       conformance.AttackCases,
		"dpop":          conformance.DPoPCases,
		"introspection": conformance.IntrospectionCases,
	}[top]
	if class, caseName, ok := strings.Cut(rest, "/"); ok && cases != nil {
		for _, a := range cases() {
			if a.Class == class && a.Name == caseName {
				return a.Needs, true
			}
		}
	}
	for _, ch := range conformance.Checks() {
		if ch.Name == top {
			return ch.Needs, true
		}
	}
	return 0, false
}

// wantResults checks the report of a run against a server that fails
// exactly the checks failed (none: a correct server): those fail; every
// other check the run can make passes or does not apply to the server;
// every check it cannot make — needing a token when it has no credentials,
// needing the authorization server's key (it never has it) — is reported
// not checkable, saying so ("without credentials" in a black-box run,
// "without the authorization server's signing key" in a run with
// credentials), never passed. A token for another resource
// ("attacks/claims/aud another resource") needs a token: with credentials
// the run asks the authorization server for one (RFC 8707), and the check
// must pass.
func (r *checkRun) wantResults(t *testing.T, credentials bool, failed ...string) {
	t.Helper()
	r.wantFailed(t, failed...)
	have, why := conformance.NeedsNothing, notCheckableWhy
	if credentials {
		have, why = conformance.NeedsToken, notCheckableWithoutKey
	}
	for _, c := range r.report.Checks {
		needs, ok := needsOf(c.Name)
		if !ok {
			t.Errorf("check %q is none of the engine's (internal/conformance)", c.Name)
			continue
		}
		switch {
		case c.Result == fail: // as wantFailed and consistent checked
		case c.Result == skipped && strings.HasPrefix(c.text(), conformance.DoesNotApply):
		case len(r.below(c.Name)) > 0:
			// A check with sub-checks: they are judged one by one, and
			// its result follows from theirs (see consistent).
		case needs <= have:
			if c.Result != pass {
				t.Errorf("check %q (needs %s, the run has %s): %s, want pass: %s", c.Name, needs, have, c.Result, c.text())
			}
		default:
			if c.Result != notCheckable || !strings.HasPrefix(c.text(), why) {
				t.Errorf("check %q (needs %s, the run has %s): %s, want %s (%s): %s", c.Name, needs, have, c.Result, notCheckable, why, c.text())
			}
		}
	}
}
