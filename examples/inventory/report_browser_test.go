package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"image/png"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/rsguard/rsguard/apikey"
	"github.com/rsguard/rsguard/examples/inventory/api"
)

// hostileName is the client of a key record whose name would inject a
// script, markup and a spreadsheet formula if the report did not escape it:
// each would set window.__injected.
const hostileName = `=1+1<script>window.__injected=1</script><img src=x onerror="window.__injected=2">`

// Viewport of the browser test; the screenshot must have this size.
const viewportW, viewportH = 1400, 1100

// chromium returns the path of a headless Chromium: $CHROMIUM, or chromium
// (Debian's package) or another usual name on PATH. Without one the test is
// skipped, unless CI=true, where .ci/run installs it and it is required.
func chromium(t *testing.T) string {
	t.Helper()
	names := []string{"chromium", "chromium-browser", "google-chrome"}
	if p := os.Getenv("CHROMIUM"); p != "" {
		names = []string{p}
	}
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true and no Chromium (tried %s): .ci/run installs Debian's chromium", strings.Join(names, ", "))
	}
	t.Skipf("no headless Chromium (tried %s): install Debian's chromium (apt-get install --no-install-recommends chromium) or set CHROMIUM; CI requires it", strings.Join(names, ", "))
	return ""
}

// TestReportInBrowser serves the inventory example with its demonstration
// data (and a key record with a hostile client name) on 127.0.0.1, opens
// the migration report in headless Chromium as the ops console, and checks
// what the browser shows against the Authenticator's Usage: the chart's data
// points, the countdown, the hostile name shown as text with no script run,
// a screenshot of the viewport's size with more than one colour; then the
// JSON and CSV forms against Usage too.
//
// UPDATE_SCREENSHOT=1 writes the screenshot to the README's picture,
// testdata/report.png.
func TestReportInBrowser(t *testing.T) {
	execPath := chromium(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// A key record of the hostile client, beside the demonstration's keys.
	hostileKey, rec, err := apikey.Generate(api.KeyPrefix, apikey.Record{ClientID: hostileName, Scopes: []string{api.ScopeRead}})
	if err != nil {
		t.Fatal(err)
	}
	recJSON, _ := json.Marshal([]apikey.Record{rec})
	keysFile := filepath.Join(t.TempDir(), "keys.json")
	if err := os.WriteFile(keysFile, recJSON, 0o600); err != nil {
		t.Fatal(err)
	}

	apiSrv := httptest.NewUnstartedServer(nil)
	now := time.Now().UTC().Truncate(time.Minute)
	ex, err := newExample(ctx, options{keys: keysFile}, "http://"+apiSrv.Listener.Addr().String()+"/api",
		slog.New(slog.DiscardHandler), func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	defer ex.close()
	apiSrv.Config.Handler = ex.api.Handler
	apiSrv.Start()
	defer apiSrv.Close()
	admin := httptest.NewServer(ex.api.Admin)
	defer admin.Close()
	reportURL := admin.URL + api.ReportPath

	req, _ := http.NewRequest(http.MethodGet, ex.api.Resource+"/items", nil)
	req.Header.Set("X-API-Key", hostileKey)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("the hostile client's request: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	token, err := clientToken(ctx, ex.dev.TokenURL, opsClientID, opsClientSecret, ex.api.Resource, api.ScopeAdmin)
	if err != nil {
		t.Fatal(err)
	}

	// The browser, as root in CI: Chromium needs --no-sandbox there, and
	// no background networking on a closed network.
	var chromeOut bytes.Buffer
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(execPath), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-default-browser-check", true), chromedp.Flag("hide-scrollbars", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(viewportW, viewportH),
		chromedp.CombinedOutput(&chromeOut))
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(allocCtx)
	defer cancelBrowser()
	// Start the browser without a deadline (it would stop the browser),
	// then bound the test's steps.
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("starting %s: %v\n%s", execPath, err, chromeOut.String())
	}
	tctx, cancelSteps := context.WithTimeout(bctx, 60*time.Second)
	defer cancelSteps()

	setAuth := chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		if _, err := cdp.Call(ctx, tg, network.Enable, network.EnableParams{}); err != nil {
			return err
		}
		_, err := cdp.Call(ctx, tg, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{
			Headers: network.Headers{"Authorization": "Bearer " + token},
		})
		return err
	})
	if err := chromedp.Do(tctx,
		chromedp.EmulateViewport(viewportW, viewportH), setAuth,
		chromedp.Navigate(reportURL), chromedp.WaitVisible(chromedp.CSS("#clients"))); err != nil {
		t.Fatalf("loading the report: %v\n%s", err, chromeOut.String())
	}
	// The page's own request was counted before it was rendered: the usage
	// now is what the page shows.
	u := ex.api.Auth.Usage()

	type row struct {
		Client, Name, Status, Cutoff string
		Days                         []day
	}
	type page struct {
		Rows      []row
		All       []day
		Countdown string
		Scripts   int
		Injected  string
	}
	const readDays = `(svg) => Array.from(svg.querySelectorAll('g.day')).map(g => ({
		Day: g.dataset.day, APIKey: +g.dataset.apiKey, Refused: +g.dataset.apiKeyRefused, Bearer: +g.dataset.bearer}))`
	got, err := chromedp.Run(tctx, chromedp.Evaluate[page](`(() => { const days = `+readDays+`; return {
		Rows: Array.from(document.querySelectorAll('tr.client')).map(tr => ({
			Client: tr.dataset.client, Name: tr.querySelector('td.name').textContent, Status: tr.dataset.status,
			Cutoff: tr.querySelector('td.client-cutoff').textContent, Days: days(tr.querySelector('svg.chart'))})),
		All: days(document.getElementById('chart-all')),
		Countdown: document.getElementById('countdown').textContent,
		Scripts: document.scripts.length,
		Injected: typeof window.__injected,
	}})()`))
	if err != nil {
		t.Fatal(err)
	}

	// The chart's data points are Usage's, day by day, per client and in all.
	toDays := func(ds []apikey.DayUsage) []day {
		var out []day
		for _, d := range ds {
			out = append(out, day{d.Day.Format(time.DateOnly), d.APIKey.Accepted, d.APIKey.Rejected, d.Bearer})
		}
		return out
	}
	nonZero := func(ds []day) []day {
		var out []day
		for _, d := range ds {
			if d.APIKey+d.Refused+d.Bearer != 0 {
				out = append(out, d)
			}
		}
		return out
	}
	if g, w := nonZero(got.All), toDays(u.Days); !equalDays(g, w) {
		t.Errorf("chart of all clients:\n got %v\nwant %v", g, w)
	}
	if len(got.All) != 28 || got.All[27].Day != now.Format(time.DateOnly) {
		t.Errorf("the chart has %d days, the last %v; want 28 ending today", len(got.All), got.All[len(got.All)-1])
	}
	activity := map[string][]apikey.DayUsage{}
	for _, a := range u.Activity {
		activity[a.Client] = a.Days
	}
	statuses := map[string]string{}
	for _, r := range got.Rows {
		statuses[r.Client] = r.Status
		if g, w := nonZero(r.Days), toDays(activity[r.Client]); !equalDays(g, w) {
			t.Errorf("chart of %q:\n got %v\nwant %v", r.Client, g, w)
		}
		delete(activity, r.Client)
	}
	if len(activity) != 0 {
		t.Errorf("clients of Usage not on the page: %v", activity)
	}
	for client, want := range map[string]apikey.ClientStatus{
		legacyClient: apikey.StatusBreaksAtCutoff, warehouseClient: apikey.StatusBreaksAtCutoff,
		orderServiceID: apikey.StatusOnOAuth, blockedClient: apikey.StatusCutOff, hostileName: apikey.StatusBreaksAtCutoff,
	} {
		if statuses[client] != string(want) {
			t.Errorf("%q: status %q, want %q", client, statuses[client], want)
		}
	}
	hl, err := chromedp.Run(tctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('tr.breaks_at_cutoff td.name')).map(td => getComputedStyle(td).borderLeftColor)`))
	if err != nil || len(hl) != 3 || hl[0] == "rgba(0, 0, 0, 0)" || hl[0] == "rgb(0, 0, 0)" {
		t.Errorf("clients that break at the cutoff are not highlighted: %v %v", hl, err)
	}

	// The countdowns, rendered by the server from its clock.
	if !regexp.MustCompile(`^API keys stop working in 4[45] days(, \d+ hours?)?$`).MatchString(got.Countdown) {
		t.Errorf("countdown %q", got.Countdown)
	}
	for _, r := range got.Rows {
		if r.Client == legacyClient && !regexp.MustCompile(`in (29|30) days`).MatchString(r.Cutoff) {
			t.Errorf("legacy-pos's cutoff: %q", r.Cutoff)
		}
	}

	// The hostile name is text, and nothing ran.
	var named bool
	for _, r := range got.Rows {
		named = named || r.Name == hostileName
	}
	if !named || got.Scripts != 0 || got.Injected != "undefined" {
		t.Errorf("hostile client name: shown as text %v, %d script elements, window.__injected %s", named, got.Scripts, got.Injected)
	}

	// A screenshot of the viewport, with more than one colour.
	shot, err := chromedp.Run(tctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		t.Fatalf("the screenshot is not a PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() != viewportW || b.Dy() != viewportH {
		t.Errorf("screenshot %dx%d, want the viewport's %dx%d", b.Dx(), b.Dy(), viewportW, viewportH)
	}
	colours := map[[4]uint32]bool{}
	for y := img.Bounds().Min.Y; y < img.Bounds().Max.Y && len(colours) < 10; y += 7 {
		for x := img.Bounds().Min.X; x < img.Bounds().Max.X; x += 7 {
			r, g, b, a := img.At(x, y).RGBA()
			colours[[4]uint32{r, g, b, a}] = true
		}
	}
	if len(colours) < 2 {
		t.Errorf("the screenshot has %d colour(s)", len(colours))
	}
	if os.Getenv("UPDATE_SCREENSHOT") == "1" {
		if err := os.WriteFile("testdata/report.png", shot, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// JSON and CSV, each against Usage read after it was served.
	get := func(format string) string {
		req, _ := http.NewRequest(http.MethodGet, reportURL+"?format="+format, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d %s", format, resp.StatusCode, b)
		}
		return string(b)
	}
	var rep struct {
		Days    []apikey.DayUsage
		Clients []struct {
			Client string
			Keys   []apikey.KeyUsage
			Days   []apikey.DayUsage
		}
	}
	if err := json.Unmarshal([]byte(get("json")), &rep); err != nil {
		t.Fatal(err)
	}
	u = ex.api.Auth.Usage()
	activity = map[string][]apikey.DayUsage{}
	for _, a := range u.Activity {
		activity[a.Client] = a.Days
	}
	if g, w := nonZero(toDays(rep.Days)), toDays(u.Days); !equalDays(g, w) {
		t.Errorf("JSON days:\n got %v\nwant %v", g, w)
	}
	for _, c := range rep.Clients {
		if g, w := nonZero(toDays(c.Days)), toDays(activity[c.Client]); !equalDays(g, w) {
			t.Errorf("JSON days of %q:\n got %v\nwant %v", c.Client, g, w)
		}
		var want []apikey.KeyUsage
		for _, k := range u.Keys {
			if k.Client == c.Client {
				want = append(want, k)
			}
		}
		gotKeys, _ := json.Marshal(c.Keys)
		wantKeys, _ := json.Marshal(append([]apikey.KeyUsage{}, want...))
		if !bytes.Equal(gotKeys, wantKeys) {
			t.Errorf("JSON keys of %q: %s, want %s", c.Client, gotKeys, wantKeys)
		}
	}

	rows, err := csv.NewReader(strings.NewReader(get("csv"))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	u = ex.api.Auth.Usage()
	sums := map[string][3]uint64{}
	for _, a := range u.Activity {
		var s [3]uint64
		for _, d := range a.Days {
			s[0] += d.APIKey.Accepted
			s[1] += d.APIKey.Rejected
			s[2] += d.Bearer
		}
		sums[a.Client] = s
	}
	if len(rows) != len(sums)+1 {
		t.Errorf("CSV has %d rows, want a header and %d clients", len(rows), len(sums))
	}
	for _, r := range rows[1:] {
		client := r[0]
		if client == "'"+hostileName {
			client = hostileName // the formula is quoted
		}
		s, ok := sums[client]
		if !ok {
			t.Errorf("CSV client %q is not in Usage", r[0])
			continue
		}
		if got := r[4] + "," + r[5] + "," + r[6]; got != strconv.FormatUint(s[0], 10)+","+strconv.FormatUint(s[1], 10)+","+strconv.FormatUint(s[2], 10) {
			t.Errorf("CSV counts of %q: %s, want %v", client, got, s)
		}
	}
}

// day is one day's bar of a chart, as the page's data attributes give it.
type day struct {
	Day                     string
	APIKey, Refused, Bearer uint64
}

func equalDays(a, b []day) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
