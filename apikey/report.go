package apikey

import (
	"bytes"
	"crypto/sha256"
	_ "embed" // the report's template and style sheet
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/internal/check"
	"github.com/rsguard/rsguard/scopes"
)

// UsageSource is what a [ReportHandler] reads: the usage counts and the
// migration policy they are judged by. An [*Authenticator] is one: the
// counters of this process ([SourceProcess]). A source that sums the counts
// of several replicas sets its own [Snapshot].Source, which the report shows.
type UsageSource interface {
	Usage() Snapshot
	Policy() Policy
}

// defaultReportDays is the window of a report whose ReportConfig.Days is 0.
const defaultReportDays = 28

// ReportConfig configures a [ReportHandler]. Source and an authorization rule
// (Scope, Authorize or both) are required: there is no default that lets
// everyone read who still uses keys.
type ReportConfig struct {
	// Source is where the report reads usage and policy: the
	// [*Authenticator] of the migration, usually. Required; New refuses a
	// typed nil (such as a nil *Authenticator).
	Source UsageSource

	// Scope, if set, is the scope the caller's [rsguard.Principal] must
	// carry, such as "admin:read", checked as scopes.Require checks it:
	// put the handler behind an [rsguard.Guard], which puts the principal
	// in the request's context. A request without a principal gets 401,
	// one without the scope 403 insufficient_scope naming it (both
	// written by scopes.WriteError, with the Guard's resource_metadata).
	// It must be one RFC 6749 §3.3 scope token.
	Scope string

	// Authorize, if set, is called first on every request: nil lets the
	// request on (to the Scope check, when Scope is set), an error refuses
	// it. An error from package scopes (scopes.Require, scopes.RequireAny)
	// is answered by scopes.WriteError; any other error by 403 Forbidden,
	// without its text. Use it for a rule of your own, such as an admin
	// listener that only a loopback client reaches. It must be safe for
	// concurrent use.
	//
	// At least one of Scope and Authorize is required; with both, both
	// must allow the request.
	Authorize func(r *http.Request) error

	// Days is how many UTC days, ending today, the charts and the window
	// totals cover. If 0, 28. At most [ActivityDays].
	Days int

	// Title is the page's title and heading. If empty, "API key migration".
	Title string

	// Now returns the current time: the report's time, "today" and the
	// countdowns to the cutoffs. If nil, the Time of the Source's
	// [Snapshot]: for an Authenticator, its clock ([Config].Now).
	Now func() time.Time
}

// ReportHandler serves the migration report: which clients still use API
// keys, how much and since when, and what breaks at the cutoff. It is an
// [http.Handler], to mount on an admin mux as net/http/pprof is:
//
//	report, err := apikey.NewReportHandler(apikey.ReportConfig{Source: auth, Scope: "admin:read"})
//	admin.Handle("GET /debug/apikeys", guard.Middleware(report))
//
// It answers GET and HEAD with the report as a web page (the default), or,
// with the query parameter format=json or format=csv, as JSON ([Report]'s
// form) or CSV (one row per client, see [Report.WriteCSV]). Any other format is
// refused with 400, any other method with 405.
//
// The page is one HTML document: inline SVG charts, an embedded style sheet,
// no script and no other resource, sent with a Content-Security-Policy that
// allows nothing else (default-src 'none', the style sheet by its hash), so
// that nothing in it can run or load. Every response carries
// Cache-Control: no-store and X-Content-Type-Options: nosniff. Names come
// from configuration and requests (client ids) and are escaped as text
// (html/template); CSV cells that a spreadsheet would read as a formula are
// quoted (see [Report.WriteCSV]). A report shows key ids, never a key, a
// hash or a token.
//
// It is safe for concurrent use. Build it with [NewReportHandler].
type ReportHandler struct {
	source    UsageSource
	scope     string
	authorize func(*http.Request) error
	days      int
	title     string
	now       func() time.Time
	csp       string
}

//go:embed report.css
var reportCSS string

//go:embed report.html.tmpl
var reportHTML string

// reportTemplate is parsed once; it is only ever executed.
var reportTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"day":  func(t time.Time) string { return t.UTC().Format(time.DateOnly) },
	"when": formatTime,
	"short": func(t time.Time) string {
		if t.IsZero() {
			return "never"
		}
		return t.UTC().Format("2006-01-02 15:04")
	},
}).Parse(reportHTML))

// NewReportHandler checks cfg and returns the report handler. Errors wrap
// [rsguard.ErrInvalidConfig] and name the field at fault.
func NewReportHandler(cfg ReportConfig) (*ReportHandler, error) {
	switch {
	case cfg.Source == nil:
		return nil, fmt.Errorf("%w: report: Source is required (the Authenticator, usually)", rsguard.ErrInvalidConfig)
	case check.IsNil(cfg.Source):
		return nil, fmt.Errorf("%w: report: Source is a nil %T", rsguard.ErrInvalidConfig, cfg.Source)
	case cfg.Scope == "" && cfg.Authorize == nil:
		return nil, fmt.Errorf("%w: report: an authorization rule is required: set Scope (checked against the Guard's principal) or Authorize", rsguard.ErrInvalidConfig)
	case cfg.Days < 0 || cfg.Days > ActivityDays:
		return nil, fmt.Errorf("%w: report: Days must be between 1 and %d (0 for %d)", rsguard.ErrInvalidConfig, ActivityDays, defaultReportDays)
	}
	if cfg.Scope != "" {
		if granted, dropped := rsguard.ParseScopeList([]string{cfg.Scope}); len(dropped) != 0 || len(granted) != 1 {
			return nil, fmt.Errorf("%w: report: Scope %q is not one RFC 6749 scope token", rsguard.ErrInvalidConfig, cfg.Scope)
		}
	}
	h := &ReportHandler{
		source:    cfg.Source,
		scope:     cfg.Scope,
		authorize: cfg.Authorize,
		days:      cfg.Days,
		title:     cfg.Title,
		now:       cfg.Now,
	}
	if h.days == 0 {
		h.days = defaultReportDays
	}
	if h.title == "" {
		h.title = "API key migration"
	}
	sum := sha256.Sum256([]byte(reportCSS))
	h.csp = "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) +
		"'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
	return h, nil
}

// errForbidden is what Check returns when Authorize refused with an error
// that package scopes does not answer; the caller's error is wrapped.
var errForbidden = errors.New("apikey: report: forbidden")

// Check reports whether r may read the report: nil if so; otherwise the
// error that ServeHTTP answers (see [ReportConfig].Scope and Authorize).
func (h *ReportHandler) Check(r *http.Request) error {
	if h.authorize != nil {
		if err := h.authorize(r); err != nil {
			if se := (*scopes.Error)(nil); errors.As(err, &se) {
				return err
			}
			return fmt.Errorf("%w: %w", errForbidden, err)
		}
	}
	if h.scope != "" {
		return scopes.Require(r.Context(), h.scope)
	}
	return nil
}

// Report returns the report as of now ([ReportConfig].Now): what ServeHTTP
// serves.
func (h *ReportHandler) Report() *Report {
	s := h.source.Usage()
	now := s.Time
	if h.now != nil {
		now = h.now()
	}
	return NewReport(s, h.source.Policy(), now, h.days)
}

// ServeHTTP implements [http.Handler]: it checks the request ([Check]), then
// serves the report in the format asked for.
func (h *ReportHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("X-Content-Type-Options", "nosniff")
	if err := h.Check(r); err != nil {
		if errors.Is(err, errForbidden) {
			hdr.Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write([]byte("forbidden\n"))
			return
		}
		scopes.WriteError(w, r, err)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hdr.Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	format := r.URL.Query()["format"]
	if len(format) > 1 {
		http.Error(w, "format given more than once", http.StatusBadRequest)
		return
	}
	var f string
	if len(format) == 1 {
		f = format[0]
	}
	switch f {
	case "", "html", "json", "csv":
	default:
		http.Error(w, "unknown format: use html, json or csv", http.StatusBadRequest)
		return
	}

	rep := h.Report()
	var buf bytes.Buffer
	var err error
	switch f {
	case "json":
		hdr.Set("Content-Type", "application/json")
		enc := json.NewEncoder(&buf)
		enc.SetIndent("", "  ")
		err = enc.Encode(rep)
	case "csv":
		hdr.Set("Content-Type", "text/csv; charset=utf-8; header=present")
		hdr.Set("Content-Disposition", `attachment; filename="apikey-migration-`+rep.Time.UTC().Format(time.DateOnly)+`.csv"`)
		err = rep.WriteCSV(&buf)
	default:
		hdr.Set("Content-Type", "text/html; charset=utf-8")
		hdr.Set("Content-Security-Policy", h.csp)
		hdr.Set("Referrer-Policy", "no-referrer")
		hdr.Set("X-Frame-Options", "DENY")
		err = reportTemplate.Execute(&buf, newReportView(h.title, rep))
	}
	if err != nil { // a bug: every value is ours
		for _, k := range []string{"Content-Disposition", "Content-Security-Policy"} {
			hdr.Del(k)
		}
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(buf.Bytes())
}

// formatTime formats t for the page, to the minute, in UTC; "never" when
// zero.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

// countdown says how long from now until t, to the hour ("in 29 days, 4
// hours"), or how long ago it passed; "" when t is zero.
func countdown(now, t time.Time) string {
	if t.IsZero() {
		return ""
	}
	d := t.Sub(now)
	past := d <= 0
	if past {
		d = -d
	}
	var parts []string
	days := int(d / (24 * time.Hour))
	d -= time.Duration(days) * 24 * time.Hour
	hours := int(d / time.Hour)
	d -= time.Duration(hours) * time.Hour
	minutes := int(d / time.Minute)
	plural := func(n int, unit string) string {
		if n == 1 {
			return "1 " + unit
		}
		return fmt.Sprintf("%d %ss", n, unit)
	}
	switch {
	case days > 0:
		parts = append(parts, plural(days, "day"))
		if hours > 0 {
			parts = append(parts, plural(hours, "hour"))
		}
	case hours > 0:
		parts = append(parts, plural(hours, "hour"), plural(minutes, "minute"))
	default:
		parts = append(parts, plural(minutes, "minute"))
	}
	s := strings.Join(parts, ", ")
	if past {
		return "passed " + s + " ago"
	}
	return "in " + s
}
