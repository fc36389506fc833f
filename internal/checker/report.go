package checker

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

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
	// Issuer the issuer the run used: Config.Issuer if its metadata gives
	// it as its own identifier, or else the first named server whose
	// metadata does; "" if none.
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
	// -max-requests, an interrupt): a run cut short has not passed, and
	// the checks it stopped are skipped, "cut short: …", not judged.
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

	// Result is pass, fail, not_checkable or skipped. A check with
	// sub-checks takes it from its leaves: fail if one failed, else pass if
	// one passed, else not_checkable if one was, else skipped.
	Result string `json:"result"`

	// Spec names the specification sections it checks, where known.
	Spec string `json:"spec,omitempty"`

	// Messages are, for a failure, its messages (each ends with how to fix
	// it); for a skip, why; else none (never null).
	Messages []string `json:"messages"`

	// Notes are what it logged.
	Notes []string `json:"notes,omitempty"`

	depth    int
	leaf     bool
	cutShort bool // skipped because the run was cut short while it ran
	// notCheckable and skipped count, for a check with sub-checks, its
	// leaves not checkable and skipped.
	notCheckable, skipped int
}

// finish fills the report from the discovery and the recorder (nil: the
// run sent nothing); cut, if set, is why the run was cut short.
//
// A check with sub-checks takes its result from its leaves: fail if it or
// one of them failed; else pass if at least one passed; else not checkable
// if one was; else skipped. A check the cut stopped (still running, or
// failed only by requests the cut stopped) is reported skipped as cut
// short, without a fix line: the server was not judged.
func (rep *Report) finish(d *discovery, rec *conformance.Recorder, requests int, start time.Time, cut string) {
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
			errs := res.Errors
			stopped := res.Running
			if cut != "" {
				// Messages about requests the cut stopped judge nothing.
				errs = slices.DeleteFunc(slices.Clone(errs), func(m string) bool { return strings.Contains(m, cutShortPrefix) })
				stopped = stopped || len(errs) < len(res.Errors)
			}
			switch {
			case len(errs) > 0:
				cr.Result = ResultFail
				cr.Messages = append(cr.Messages, errs...)
			case stopped:
				cr.Result = ResultSkipped
				cr.Messages = []string{"cut short: it had not finished when " + cut + "; not judged"}
				cr.cutShort = true
			case res.Outcome == conformance.Failed:
				cr.Result = ResultFail // by a sub-check: see below
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
		rep.fromLeaves()
	}
	rep.Summary = Summary{}
	rep.Passed = cut == ""
	rep.CutShort = cut
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

// fromLeaves gives each check with sub-checks its result from its leaves
// (see finish), and counts the leaves below it that are not checkable or
// skipped, for the table.
func (rep *Report) fromLeaves() {
	for i := range rep.Checks {
		p := &rep.Checks[i]
		if p.leaf {
			continue
		}
		count := map[string]int{}
		for _, c := range rep.Checks {
			if c.leaf && strings.HasPrefix(c.Name, p.Name+"/") {
				count[c.Result]++
			}
		}
		p.notCheckable, p.skipped = count[ResultNotCheckable], count[ResultSkipped]
		switch {
		case len(p.Messages) > 0 && !p.cutShort || count[ResultFail] > 0:
			p.Result = ResultFail
		case p.cutShort:
			p.Result = ResultSkipped
		case count[ResultPass] > 0:
			p.Result = ResultPass
		case count[ResultNotCheckable] > 0:
			p.Result = ResultNotCheckable
		default:
			p.Result = ResultSkipped
		}
		if p.Result != ResultFail && !p.cutShort {
			p.Messages = []string{}
		}
	}
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
// a check with sub-checks saying how many of its leaves were not checkable
// or skipped; every failing check with its messages, one a line, and the
// specification it checks; why a top-level check was skipped; then the
// summary and the request count. Text from the server has its control and
// other non-printing characters turned into spaces.
func (rep *Report) WriteTable(w io.Writer, verbose bool) error {
	c := rep.clean()
	var b strings.Builder
	fmt.Fprintf(&b, "mcpcheck %s\n", oneLine(c.Endpoint))
	fmt.Fprintf(&b, "  metadata       %s\n", oneLine(orNone(c.MetadataURL)))
	fmt.Fprintf(&b, "  issuer         %s\n", oneLine(orNone(c.Issuer)))
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
		fmt.Fprintf(&b, "%-14s %s%s%s\n", labels[ch.Result], indent, oneLine(ch.Name), below(ch))
		showWhy := ch.Result == ResultFail || verbose || (top && ch.Result != ResultPass)
		if showWhy {
			for _, m := range ch.Messages {
				fmt.Fprintf(&b, "%-14s %s  %s\n", "", indent, oneLine(m))
			}
			if ch.Result == ResultFail && len(ch.Messages) > 0 && ch.Spec != "" {
				fmt.Fprintf(&b, "%-14s %s  spec: %s\n", "", indent, ch.Spec)
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
		fmt.Fprintf(&b, "CUT SHORT: %s\n", oneLine(c.CutShort))
	}
	if c.Passed {
		b.WriteString("PASS\n")
	} else {
		b.WriteString("FAIL\n")
	}
	_, err := w.Write(rep.guardBytes([]byte(b.String())))
	return err
}

// below says, after the name of a check with sub-checks, how many of its
// leaves were not checkable or skipped: " (40 not checkable, 3 skipped)".
func below(ch CheckResult) string {
	var parts []string
	if ch.notCheckable > 0 {
		parts = append(parts, fmt.Sprintf("%d not checkable", ch.notCheckable))
	}
	if ch.skipped > 0 {
		parts = append(parts, fmt.Sprintf("%d skipped", ch.skipped))
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// oneLine turns every character that does not print — line breaks and
// the other C0 controls, DEL, the C1 controls (U+0080–U+009F), format
// characters such as bidirectional overrides, and bytes that are not
// UTF-8 — into a space: server text cannot break the table's lines or
// drive the terminal.
func oneLine(s string) string {
	var b strings.Builder
	for i, w := 0, 0; i < len(s); i += w {
		r, size := utf8.DecodeRuneInString(s[i:])
		w = size
		if (r == utf8.RuneError && size == 1) || !unicode.IsPrint(r) {
			b.WriteByte(' ')
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}
