package apikey

import (
	"fmt"
	"html/template"
	"strconv"
	"time"
)

// reportView is what the page template renders: the report and what the
// server computes for it (texts, countdowns, chart geometry), so that the
// page needs no script.
type reportView struct {
	Title        string
	CSS          template.CSS
	R            *Report
	SourceText   string
	Countdown    string
	CutoffPassed bool
	Share        string
	Share7       string
	SharePrev    string
	Trend        string
	Chart        chart
	Clients      []clientView
}

type clientView struct {
	ReportClient
	StatusText string
	Countdown  string
	Chart      chart
}

// chart is an inline SVG bar chart of days: per day, bearer requests at the
// bottom, accepted API key requests above, refused ones on top. Each day's
// group carries its counts in data attributes.
type chart struct {
	Label         string
	Global        bool // the chart of all clients
	Width, Height int
	Baseline      int
	Bars          []bar
}

type bar struct {
	Day                     string
	X, W                    int
	APIKey, Refused, Bearer uint64
	Title                   string
	Segs                    []seg
}

type seg struct {
	Class string
	Y, H  int
}

var statusText = map[ClientStatus]string{
	StatusBreaksAtCutoff: "breaks at cutoff",
	StatusOnKeys:         "on API keys",
	StatusCutOff:         "cut off",
	StatusOnOAuth:        "on OAuth",
	StatusIdle:           "idle",
}

func newReportView(title string, r *Report) *reportView {
	v := &reportView{Title: title, CSS: template.CSS(reportCSS), R: r}
	if r.Source == SourceProcess {
		v.SourceText = "this process's in-memory counters since " + formatTime(r.Since) +
			": requests to other replicas are not counted, and a restart starts them again."
	} else {
		v.SourceText = r.Source + ", since " + formatTime(r.Since) + "."
	}
	if !r.Cutoff.IsZero() {
		v.Countdown = countdown(r.Time, r.Cutoff)
		v.CutoffPassed = !r.Time.Before(r.Cutoff)
	}
	var any7, anyPrev bool
	for i, d := range r.Days {
		n := d.APIKey.Accepted + d.Bearer
		if n > 0 && i >= len(r.Days)-7 {
			any7 = true
		}
		if n > 0 && i < len(r.Days)-7 && i >= len(r.Days)-14 {
			anyPrev = true
		}
	}
	v.Share, v.Share7, v.SharePrev = "no requests", "no requests", "no requests"
	if r.Totals.APIKey.Accepted+r.Totals.Bearer > 0 {
		v.Share = percent(r.Totals.APIKeyShare)
	}
	if any7 || r.Totals.APIKeyShareLast7Days > 0 {
		v.Share7 = percent(r.Totals.APIKeyShareLast7Days)
	}
	if anyPrev || r.Totals.APIKeySharePrevious7Days > 0 {
		v.SharePrev = percent(r.Totals.APIKeySharePrevious7Days)
	}
	switch d := r.Totals.APIKeyShareLast7Days - r.Totals.APIKeySharePrevious7Days; {
	case v.Share7 == "no requests" || v.SharePrev == "no requests":
		v.Trend = "not enough data for a trend"
	case d < -0.005:
		v.Trend = "falling: down " + points(-d) + " on the 7 days before"
	case d > 0.005:
		v.Trend = "rising: up " + points(d) + " on the 7 days before"
	default:
		v.Trend = "flat on the 7 days before"
	}
	v.Chart = newChart("all clients", r.Days, 24, 120)
	v.Chart.Global = true
	for _, c := range r.Clients {
		cv := clientView{ReportClient: c, StatusText: statusText[c.Status], Chart: newChart(c.Client, c.Days, 4, 36)}
		if !c.Cutoff.IsZero() {
			cv.Countdown = countdown(r.Time, c.Cutoff)
		}
		v.Clients = append(v.Clients, cv)
	}
	return v
}

// newChart lays out days as bars barW wide in a chart h high.
func newChart(label string, days []DayUsage, barW, h int) chart {
	const pad = 2
	c := chart{Label: label, Width: len(days)*barW + 2*pad, Height: h + 2*pad, Baseline: h + pad}
	var top uint64
	for _, d := range days {
		top = max(top, d.Bearer+d.APIKey.Accepted+d.APIKey.Rejected)
	}
	for i, d := range days {
		b := bar{
			Day: d.Day.Format(time.DateOnly), X: pad + i*barW, W: max(barW-2, 1),
			APIKey: d.APIKey.Accepted, Refused: d.APIKey.Rejected, Bearer: d.Bearer,
		}
		b.Title = fmt.Sprintf("%s: %d with API keys (%d refused), %d with OAuth", b.Day, b.APIKey, b.Refused, b.Bearer)
		y := c.Baseline
		for _, s := range []struct {
			class string
			n     uint64
		}{{"bearer", d.Bearer}, {"key", d.APIKey.Accepted}, {"refused", d.APIKey.Rejected}} {
			if s.n == 0 {
				continue
			}
			sh := max(int(s.n*uint64(h)/top), 1)
			y -= sh
			b.Segs = append(b.Segs, seg{Class: s.class, Y: y, H: sh})
		}
		c.Bars = append(c.Bars, b)
	}
	return c
}

// points formats a difference of shares in percentage points.
func points(f float64) string {
	return strconv.FormatFloat(f*100, 'f', 1, 64) + " points"
}

func percent(f float64) string {
	return strconv.FormatFloat(f*100, 'f', 1, 64) + "%"
}
