package checker

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/rsguard/rsguard/internal/conformance"
)

// Report is the result of a run, as the command prints it: a table for
// people (WriteTable) or JSON for CI (WriteJSON, whose field names are
// stable).
type Report struct {
	// Endpoint is the URL checked; Resource the resource identifier the
	// metadata must give (the same URL, RFC 9728 §3.3); MetadataURL the
	// path-inserted metadata URL (RFC 9728 §3.1).
	Endpoint    string `json:"endpoint"`
	Resource    string `json:"resource"`
	MetadataURL string `json:"metadata_url"`

	// AuthorizationServers are those the metadata names (never null);
	// Issuer the first whose metadata gives its own identifier, "" if none.
	AuthorizationServers []string `json:"authorization_servers"`
	Issuer               string   `json:"issuer"`

	// Credentials says that the run had a token: client credentials were
	// given and the authorization server issued a token with them.
	Credentials bool `json:"credentials"`

	// DPoP is the server's DPoP mode as its challenges say it: "off",
	// "allowed" or "required".
	DPoP string `json:"dpop"`

	// Passed says that no check failed and the run was not cut short.
	Passed bool `json:"passed"`

	// Summary counts the checks without sub-checks of their own by result.
	Summary Summary `json:"summary"`

	// Requests is how many requests the run sent; DurationMS how long it
	// took, in milliseconds.
	Requests   int   `json:"requests"`
	DurationMS int64 `json:"duration_ms"`

	// CutShort, if set, says why the run ended early (-timeout,
	// -max-requests, an interrupt): a run cut short has not passed.
	CutShort string `json:"cut_short,omitempty"`

	// Checks are every check and sub-check, in the order they ran:
	// "discovery" (what the run learnt from the endpoint URL; its own),
	// then the engine's, named as it names them.
	Checks []CheckResult `json:"checks"`

	secrets *secrets
}

// Summary counts results.
type Summary struct {
	Passed       int `json:"passed"`
	Failed       int `json:"failed"`
	NotCheckable int `json:"not_checkable"`
	Skipped      int `json:"skipped"`
}

// Results of a check.
const (
	ResultPass         = "pass"
	ResultFail         = "fail"
	ResultNotCheckable = "not_checkable" // skipped as conformance.NotCheckable: the run lacked what it needs
	ResultSkipped      = "skipped"       // any other skip: does not apply, not issued, cut short…
)

// CheckResult is one check or sub-check.
type CheckResult struct {
	// Name is its path, the parts joined with "/" as the engine names them
	// (spaces kept): "attacks/request/token in the query string".
	Name string `json:"name"`

	// Result is pass, fail, not_checkable or skipped.
	Result string `json:"result"`

	// Spec names the specification sections it checks, where known.
	Spec string `json:"spec,omitempty"`

	// Messages are, for a failure, its messages (each ends with how to fix
	// it); for a skip, why; else none (never null).
	Messages []string `json:"messages"`

	// Notes are what it logged.
	Notes []string `json:"notes,omitempty"`

	depth int
	leaf  bool
}

// finish fills the report from the discovery and the recorder (nil: the
// run sent nothing).
func (rep *Report) finish(d *discovery, rec *conformance.Recorder, requests int, start time.Time) {
	disc := CheckResult{Name: d.name, Result: ResultPass, Messages: []string{}, Notes: d.notes, leaf: true}
	if len(d.failures) > 0 {
		disc.Result, disc.Messages = ResultFail, d.failures
	}
	rep.Checks = []CheckResult{disc}
	if rec != nil {
		specs := specIndex()
		for _, res := range rec.Results() {
			if res.Name == "" {
				if len(res.Errors) > 0 { // a fault of the engine's, at its root
					rep.Checks = append(rep.Checks, CheckResult{Name: "run", Result: ResultFail, Messages: res.Errors, leaf: true})
				}
				continue
			}
			cr := CheckResult{Name: res.Name, Messages: []string{}, Notes: res.Logs, depth: strings.Count(res.Name, "/"), leaf: res.Leaf, Spec: specOf(specs, res.Name)}
			switch {
			case res.Running:
				cr.Result = ResultFail
				cr.Messages = append(append(cr.Messages, res.Errors...), "it had not finished when the run was cut short")
			case res.Outcome == conformance.Failed:
				cr.Result = ResultFail
				cr.Messages = append(cr.Messages, res.Errors...)
			case res.Outcome == conformance.Skipped:
				cr.Result = ResultSkipped
				if strings.HasPrefix(res.Skip, conformance.NotCheckable) {
					cr.Result = ResultNotCheckable
				}
				cr.Messages = []string{res.Skip}
			default:
				cr.Result = ResultPass
			}
			rep.Checks = append(rep.Checks, cr)
		}
	}
	rep.Summary = Summary{}
	rep.Passed = true
	for _, c := range rep.Checks {
		if c.Result == ResultFail {
			rep.Passed = false
		}
		if !c.leaf {
			continue
		}
		switch c.Result {
		case ResultPass:
			rep.Summary.Passed++
		case ResultFail:
			rep.Summary.Failed++
		case ResultNotCheckable:
			rep.Summary.NotCheckable++
		default:
			rep.Summary.Skipped++
		}
	}
	rep.Requests = requests
	rep.DurationMS = time.Since(start).Milliseconds()
}

// specIndex maps the names of the engine's checks and cases to their Spec.
func specIndex() map[string]string {
	m := map[string]string{}
	for _, ch := range conformance.Checks() {
		m[ch.Name] = ch.Spec
	}
	for prefix, cases := range map[string][]conformance.AttackCase{
		"attacks": conformance.AttackCases(), "dpop": conformance.DPoPCases(), "introspection": conformance.IntrospectionCases(),
	} {
		for _, a := range cases {
			m[prefix+"/"+a.Class+"/"+a.Name] = a.Spec
		}
	}
	return m
}

// specOf is the Spec of name, or of its nearest ancestor that has one.
func specOf(specs map[string]string, name string) string {
	for {
		if s, ok := specs[name]; ok {
			return s
		}
		i := strings.LastIndexByte(name, '/')
		if i < 0 {
			return ""
		}
		name = name[:i]
	}
}

// clean is the report with every string passed through the last guard:
// conformance.Redact, and every secret the run knows of (the client
// secret, the tokens it got) replaced by "[redacted]".
func (rep *Report) clean() *Report {
	c := *rep
	s := rep.secrets
	if s == nil {
		s = &secrets{}
	}
	f := s.clean
	c.Endpoint, c.Resource, c.MetadataURL, c.Issuer, c.CutShort = f(c.Endpoint), f(c.Resource), f(c.MetadataURL), f(c.Issuer), f(c.CutShort)
	c.AuthorizationServers = cleanAll(f, rep.AuthorizationServers)
	c.Checks = make([]CheckResult, len(rep.Checks))
	for i, ch := range rep.Checks {
		ch.Name = f(ch.Name)
		ch.Messages = cleanAll(f, ch.Messages)
		if ch.Notes != nil {
			ch.Notes = cleanAll(f, ch.Notes)
		}
		c.Checks[i] = ch
	}
	return &c
}

func cleanAll(f func(string) string, in []string) []string {
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = f(s)
	}
	return out
}

// WriteJSON writes the report as one JSON object (see the field tags).
func (rep *Report) WriteJSON(w io.Writer) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(rep.clean()); err != nil {
		return err
	}
	_, err := w.Write(rep.guardBytes(buf.Bytes()))
	return err
}

// guardBytes replaces any secret left in out, as written or as JSON
// escapes it, by "[redacted]": the last line of defence.
func (rep *Report) guardBytes(out []byte) []byte {
	if rep.secrets == nil {
		return out
	}
	rep.secrets.mu.Lock()
	list := append([]string(nil), rep.secrets.list...)
	rep.secrets.mu.Unlock()
	for _, s := range list {
		out = bytes.ReplaceAll(out, []byte(s), []byte("[redacted]"))
		if q, err := json.Marshal(s); err == nil {
			out = bytes.ReplaceAll(out, q[1:len(q)-1], []byte("[redacted]"))
		}
	}
	return out
}

// Labels of the table.
var labels = map[string]string{
	ResultPass: "PASS", ResultFail: "FAIL", ResultNotCheckable: "NOT CHECKABLE", ResultSkipped: "SKIP",
}

// WriteTable writes the report for people, in plain text: a line per
// top-level check with its result (every check and sub-check if verbose),
// every failing check with its messages, one a line, and why a top-level
// check was skipped; then the summary and the request count.
func (rep *Report) WriteTable(w io.Writer, verbose bool) error {
	c := rep.clean()
	var b strings.Builder
	fmt.Fprintf(&b, "mcpcheck %s\n", c.Endpoint)
	fmt.Fprintf(&b, "  metadata       %s\n", orNone(c.MetadataURL))
	fmt.Fprintf(&b, "  issuer         %s\n", orNone(c.Issuer))
	if c.Credentials {
		fmt.Fprintf(&b, "  credentials    yes (client_credentials)\n")
	} else {
		fmt.Fprintf(&b, "  credentials    none: the checks that need a token are not checkable\n")
	}
	fmt.Fprintf(&b, "  DPoP           %s\n\n", orNone(c.DPoP))
	for _, ch := range c.Checks {
		top := ch.depth == 0
		failingLeaf := ch.Result == ResultFail && (ch.leaf || len(ch.Messages) > 0)
		if !verbose && !top && !failingLeaf {
			continue
		}
		indent := ""
		if verbose {
			indent = strings.Repeat("  ", ch.depth)
		}
		fmt.Fprintf(&b, "%-14s %s%s\n", labels[ch.Result], indent, ch.Name)
		showWhy := ch.Result == ResultFail || verbose || (top && ch.Result != ResultPass)
		if showWhy {
			for _, m := range ch.Messages {
				fmt.Fprintf(&b, "%-14s %s  %s\n", "", indent, oneLine(m))
			}
		}
		if verbose {
			for _, n := range ch.Notes {
				fmt.Fprintf(&b, "%-14s %s  note: %s\n", "", indent, oneLine(n))
			}
		}
	}
	s := c.Summary
	fmt.Fprintf(&b, "\n%d passed, %d failed, %d not checkable, %d skipped (checks without sub-checks); %d requests in %.1f s\n",
		s.Passed, s.Failed, s.NotCheckable, s.Skipped, c.Requests, float64(c.DurationMS)/1000)
	if c.CutShort != "" {
		fmt.Fprintf(&b, "CUT SHORT: %s\n", c.CutShort)
	}
	if c.Passed {
		b.WriteString("PASS\n")
	} else {
		b.WriteString("FAIL\n")
	}
	_, err := w.Write(rep.guardBytes([]byte(b.String())))
	return err
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// oneLine turns line breaks and other control characters into spaces.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}
