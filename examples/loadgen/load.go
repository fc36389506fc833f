package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// protocolVersion is the MCP protocol version the clients speak.
const protocolVersion = "2025-11-25"

// client is one simulated MCP client: its own token, one stateful session
// per server, HTTP keep-alive through the shared transport.
type client struct {
	hc      *http.Client
	token   string
	session map[string]string // mode -> Mcp-Session-Id
	id      int
	body    []byte // the tools/call body, rebuilt per call
	buf     bytes.Buffer
}

// rpc posts one JSON-RPC message of the session sid ("" before initialize)
// to url and returns the status, the response's session id and its body.
func (c *client) rpc(ctx context.Context, url, sid string, body []byte) (int, string, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, "", nil, err
	}
	h := req.Header
	h["Content-Type"] = []string{"application/json"}
	h["Accept"] = []string{"application/json, text/event-stream"}
	if c.token != "" {
		h["Authorization"] = []string{"Bearer " + c.token}
	}
	if sid != "" {
		h["Mcp-Session-Id"] = []string{sid}
		h["Mcp-Protocol-Version"] = []string{protocolVersion}
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, "", nil, err
	}
	defer resp.Body.Close()
	c.buf.Reset()
	if _, err := io.Copy(&c.buf, resp.Body); err != nil {
		return 0, "", nil, err
	}
	return resp.StatusCode, resp.Header.Get("Mcp-Session-Id"), c.buf.Bytes(), nil
}

// initialize opens the client's session on the server of mode: initialize,
// then notifications/initialized.
func (c *client) initialize(ctx context.Context, mode, url string) error {
	init := `{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"` + protocolVersion +
		`","capabilities":{},"clientInfo":{"name":"loadgen","version":"1"}}}`
	status, sid, body, err := c.rpc(ctx, url, "", []byte(init))
	if err != nil {
		return err
	}
	if status != http.StatusOK || sid == "" {
		return fmt.Errorf("%s: initialize: status %d, session id %q: %.200s", mode, status, sid, body)
	}
	status, _, body, err = c.rpc(ctx, url, sid, []byte(`{"jsonrpc":"2.0","method":"notifications/initialized"}`))
	if err != nil {
		return err
	}
	if status != http.StatusAccepted {
		return fmt.Errorf("%s: notifications/initialized: status %d: %.200s", mode, status, body)
	}
	c.session[mode] = sid
	return nil
}

// call makes one tools/call in the client's session on the server of mode
// and checks its answer: 200 and a JSON-RPC result that is not a tool error.
func (c *client) call(ctx context.Context, mode, url string) error {
	c.id++
	c.body = append(c.body[:0], `{"jsonrpc":"2.0","id":`...)
	c.body = strconv.AppendInt(c.body, int64(c.id), 10)
	c.body = append(c.body, `,"method":"tools/call","params":{"name":"`+toolName+`","arguments":{"sku":"BOLT-M6"}}}`...)
	status, _, body, err := c.rpc(ctx, url, c.session[mode], c.body)
	if err != nil {
		return err
	}
	if status != http.StatusOK || !bytes.Contains(body, []byte(`"result"`)) || bytes.Contains(body, []byte(`"isError":true`)) {
		return fmt.Errorf("%s: tools/call: status %d: %.200s", mode, status, body)
	}
	return nil
}

// sample is what one mode did in one round.
type sample struct {
	ok, failed int
	elapsed    time.Duration
	cpu        time.Duration // of the server process while the mode ran; 0 if unknown
	latencies  []time.Duration
	firstErr   error
}

func (s *sample) rate() float64 { return float64(s.ok) / s.elapsed.Seconds() }

// cpuPerCall is the server process's CPU time per successful call, in
// microseconds; 0 if unknown.
func (s *sample) cpuPerCall() float64 {
	if s.ok == 0 {
		return 0
	}
	return float64(s.cpu) / float64(time.Microsecond) / float64(s.ok)
}

// measure runs every client against the server of mode, each calling the
// tool in a loop until d has passed or max calls were made (0: no count
// bound), and returns what they did, with the server process's CPU time
// meanwhile.
func measure(ctx context.Context, srv *serverProcess, clients []*client, mode string, d time.Duration, maxCalls int64) (*sample, error) {
	url := srv.URLs[mode]
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		started atomic.Int64
		s       = &sample{}
		start   = make(chan struct{})
	)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for _, c := range clients {
		wg.Go(func() {
			func() {
				lat := make([]time.Duration, 0, 1024)
				var failed int
				var firstErr error
				<-start
				deadline := time.Now().Add(d)
				for ctx.Err() == nil && (maxCalls <= 0 || started.Add(1) <= maxCalls) {
					t0 := time.Now()
					if t0.After(deadline) {
						break
					}
					if err := c.call(ctx, mode, url); err != nil {
						if ctx.Err() != nil {
							break
						}
						failed++
						if firstErr == nil {
							firstErr = err
						}
						if failed > 10 && len(lat) == 0 {
							break // a broken server: do not spin
						}
						continue
					}
					lat = append(lat, time.Since(t0))
				}
				mu.Lock()
				s.latencies = append(s.latencies, lat...)
				s.ok += len(lat)
				s.failed += failed
				if s.firstErr == nil {
					s.firstErr = firstErr
				}
				mu.Unlock()
			}()
		})
	}
	cpu0, err := srv.cpu(ctx, false)
	if err != nil {
		cancel()
		close(start)
		wg.Wait()
		return nil, err
	}
	t0 := time.Now()
	close(start)
	wg.Wait()
	s.elapsed = time.Since(t0)
	cpu1, err := srv.cpu(ctx, false)
	if err != nil {
		return nil, err
	}
	s.cpu = cpu1 - cpu0
	return s, nil
}

// Config is one run of the load generator.
type Config struct {
	Clients  int           // concurrent clients, each with its own token and sessions
	Duration time.Duration // per mode per round
	Warmup   time.Duration // per mode, before the first round, not measured
	Rounds   int           // the modes run one after the other in each round, in a rotated order
	MaxCalls int64         // bound on the calls per mode per round; 0 = none
	Alg      string        // the tokens' algorithm: ES256, RS256 or EdDSA
	Modes    []string      // a subset of none, rsguard, sdk
	// ServerProfile, if set, is the file the server process writes a CPU
	// profile of the measured rounds to.
	ServerProfile string
	// Progress, if set, receives a line per round.
	Progress io.Writer
}

// ModeReport is the result of one mode over all rounds.
type ModeReport struct {
	Mode     string    `json:"mode"`
	Rates    []float64 `json:"rates"`     // requests/s of each round, in round order
	Rate     float64   `json:"rate"`      // median of Rates
	Ratio    float64   `json:"ratio"`     // median over rounds of Rate / none's Rate in the same round; 0 without none
	CPU      float64   `json:"cpu_us"`    // median over rounds of the server process's CPU µs per call; 0 if unknown
	CPURatio float64   `json:"cpu_ratio"` // median over rounds of CPU / none's CPU in the same round; 0 without none
	// RatioIQR and CPURatioIQR are the spread of the rounds' ratios: their
	// first and third quartiles. Zero without none, and CPURatioIQR also
	// when the CPU time is unknown.
	RatioIQR    [2]float64 `json:"ratio_iqr"`
	CPURatioIQR [2]float64 `json:"cpu_ratio_iqr"`
	P50         float64    `json:"p50_ms"`   // over every call of every round, in milliseconds
	P99         float64    `json:"p99_ms"`   // idem
	Calls       int        `json:"calls"`    // successful calls, all rounds
	Failures    int        `json:"failures"` // failed calls, all rounds
	FirstErr    string     `json:"first_error,omitempty"`
}

// Report is the result of a run.
type Report struct {
	Config Config        `json:"-"`
	Modes  []*ModeReport `json:"modes"`
}

// run starts the server process, opens the clients' sessions, checks that
// the protected servers refuse a call without a token, and measures.
func run(ctx context.Context, cfg Config) (_ *Report, err error) {
	if cfg.Clients < 1 || cfg.Rounds < 1 || cfg.Duration <= 0 || cfg.MaxCalls < 0 || cfg.Warmup < 0 {
		return nil, errors.New("clients, rounds and duration must be positive, max calls and warm-up not negative")
	}
	if len(cfg.Modes) == 0 {
		return nil, errors.New("no mode")
	}
	for _, m := range cfg.Modes {
		if !slices.Contains(allModes, m) {
			return nil, fmt.Errorf("unknown mode %q (want none, rsguard or sdk)", m)
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	srv, err := startServerProcess(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer func() {
		if serr := srv.stop(); err == nil && serr != nil {
			err = fmt.Errorf("server process: %w", serr)
		}
	}()

	transport := &http.Transport{
		MaxIdleConns:        4 * cfg.Clients,
		MaxIdleConnsPerHost: 2 * cfg.Clients,
		DisableCompression:  true,
	}
	defer transport.CloseIdleConnections()
	hc := &http.Client{Transport: transport, Timeout: 30 * time.Second}

	if err := preflight(ctx, hc, srv.URLs); err != nil {
		return nil, err
	}
	clients := make([]*client, cfg.Clients)
	for i := range clients {
		clients[i] = &client{hc: hc, session: map[string]string{}, token: srv.Tokens[i]}
		for _, m := range cfg.Modes {
			if err := clients[i].initialize(ctx, m, srv.URLs[m]); err != nil {
				return nil, err
			}
		}
	}

	if cfg.Warmup > 0 {
		for _, m := range cfg.Modes {
			s, err := measure(ctx, srv, clients, m, cfg.Warmup, 0)
			if err != nil {
				return nil, err
			}
			if s.failed > 0 {
				return nil, fmt.Errorf("warm-up: %w", s.firstErr)
			}
		}
	}
	if _, err := srv.cpu(ctx, true); err != nil { // starts the server's profile
		return nil, err
	}
	samples := map[string][]*sample{}
	for r := range cfg.Rounds {
		order := slices.Concat(cfg.Modes[r%len(cfg.Modes):], cfg.Modes[:r%len(cfg.Modes)])
		line := fmt.Sprintf("round %d:", r+1)
		for _, m := range order {
			s, err := measure(ctx, srv, clients, m, cfg.Duration, cfg.MaxCalls)
			if err != nil {
				return nil, err
			}
			samples[m] = append(samples[m], s)
			line += fmt.Sprintf("  %s %.0f/s %.0fµs", m, s.rate(), s.cpuPerCall())
		}
		if cfg.Progress != nil {
			fmt.Fprintln(cfg.Progress, line)
		}
	}
	return report(cfg, samples), nil
}

// preflight checks that the protected servers are protected: a tools/call
// without a token gets 401 from rsguard and the SDK's middleware, and the
// unprotected server answers initialize without one.
func preflight(ctx context.Context, hc *http.Client, urls map[string]string) error {
	c := &client{hc: hc, session: map[string]string{}}
	for _, m := range []string{modeRSGuard, modeSDK} {
		status, _, _, err := c.rpc(ctx, urls[m], "", []byte(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"`+toolName+`","arguments":{"sku":"BOLT-M6"}}}`))
		if err != nil {
			return err
		}
		if status != http.StatusUnauthorized {
			return fmt.Errorf("%s: a call without a token got %d, not 401", m, status)
		}
	}
	return c.initialize(ctx, modeNone, urls[modeNone])
}

// report turns the samples into a Report: median rates, ratios taken
// within each round, latency percentiles over all calls.
func report(cfg Config, samples map[string][]*sample) *Report {
	rep := &Report{Config: cfg}
	for _, m := range cfg.Modes {
		mr := &ModeReport{Mode: m}
		var all []time.Duration
		var ratios, cpus, cpuRatios []float64
		for r, s := range samples[m] {
			mr.Rates = append(mr.Rates, s.rate())
			cpus = append(cpus, s.cpuPerCall())
			all = append(all, s.latencies...)
			mr.Calls += s.ok
			mr.Failures += s.failed
			if s.firstErr != nil && mr.FirstErr == "" {
				mr.FirstErr = s.firstErr.Error()
			}
			if base, ok := samples[modeNone]; ok && base[r].rate() > 0 {
				ratios = append(ratios, s.rate()/base[r].rate())
				if c := base[r].cpuPerCall(); c > 0 {
					cpuRatios = append(cpuRatios, s.cpuPerCall()/c)
				}
			}
		}
		mr.Rate = quantile(mr.Rates, 0.5)
		mr.Ratio, mr.RatioIQR = quantile(ratios, 0.5), [2]float64{quantile(ratios, 0.25), quantile(ratios, 0.75)}
		mr.CPU = quantile(cpus, 0.5)
		mr.CPURatio, mr.CPURatioIQR = quantile(cpuRatios, 0.5), [2]float64{quantile(cpuRatios, 0.25), quantile(cpuRatios, 0.75)}
		slices.Sort(all)
		mr.P50, mr.P99 = ms(percentile(all, 0.50)), ms(percentile(all, 0.99))
		rep.Modes = append(rep.Modes, mr)
	}
	return rep
}

// quantile returns the q-quantile of xs (q from 0 to 1), interpolated
// between the nearest values (0.5: the median); 0 for no values.
func quantile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	q = min(max(q, 0), 1)
	s := slices.Sorted(slices.Values(xs))
	pos := q * float64(len(s)-1)
	i := int(pos)
	if i+1 >= len(s) {
		return s[len(s)-1]
	}
	return s[i] + (pos-float64(i))*(s[i+1]-s[i])
}

// percentile returns the q-quantile of sorted (nearest rank).
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// writeTable prints rep as a table.
func writeTable(w io.Writer, rep *Report) {
	fmt.Fprintf(w, "%-8s %11s %8s %12s %8s %8s %19s %8s %12s %8s %7s\n", "mode", "requests/s", "vs none", "(IQR)", "p50 ms", "p99 ms", "server CPU µs/call", "vs none", "(IQR)", "calls", "failed")
	for _, m := range rep.Modes {
		fmt.Fprintf(w, "%-8s %11.0f %8s %12s %8.3f %8.3f %19.1f %8s %12s %8d %7d\n", m.Mode, m.Rate, ratio(m.Ratio), iqr(m.RatioIQR), m.P50, m.P99, m.CPU, ratio(m.CPURatio), iqr(m.CPURatioIQR), m.Calls, m.Failures)
	}
	for _, m := range rep.Modes {
		if m.FirstErr != "" {
			fmt.Fprintf(w, "%s: first failure: %s\n", m.Mode, m.FirstErr)
		}
	}
}

func ratio(r float64) string {
	if r <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.3f", r)
}

func iqr(r [2]float64) string {
	if r[0] <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.3f–%.3f", r[0], r[1])
}

// writeJSON prints rep as JSON.
func writeJSON(w io.Writer, rep *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}
