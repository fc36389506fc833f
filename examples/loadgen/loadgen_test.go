package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"strings"
	"testing"
	"time"
)

// TestMain lets the test binary be the server process, as the program is:
// run starts os.Executable() again with childEnv set.
func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		if err := childMain(context.Background(), os.Args[1:], os.Stdin, os.Stdout); err != nil {
			os.Stderr.WriteString("loadgen server: " + err.Error() + "\n")
			os.Exit(2)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestRun runs the load for about a second against the three servers and
// checks that the report is sane: every mode called the tool, nothing
// failed, rates and latencies are positive and ordered. It asserts nothing
// about which mode is faster: that is for the figures, not a test.
func TestRun(t *testing.T) {
	rep, err := run(t.Context(), Config{
		Clients: 4, Duration: 250 * time.Millisecond, Warmup: 50 * time.Millisecond,
		Rounds: 1, Alg: "ES256", Modes: allModes,
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Modes) != len(allModes) {
		t.Fatalf("%d modes reported, want %d", len(rep.Modes), len(allModes))
	}
	for i, m := range rep.Modes {
		if m.Mode != allModes[i] {
			t.Errorf("mode %d is %q, want %q", i, m.Mode, allModes[i])
		}
		if m.Calls == 0 || m.Failures != 0 || m.FirstErr != "" {
			t.Errorf("%s: %d calls, %d failures (%s)", m.Mode, m.Calls, m.Failures, m.FirstErr)
		}
		if !(m.Rate > 0) || math.IsInf(m.Rate, 0) || len(m.Rates) != 1 {
			t.Errorf("%s: rate %v (rounds %v)", m.Mode, m.Rate, m.Rates)
		}
		if !(m.P50 > 0 && m.P50 <= m.P99 && m.P99 < 10_000) {
			t.Errorf("%s: p50 %v ms, p99 %v ms", m.Mode, m.P50, m.P99)
		}
		if !(m.Ratio > 0) || (m.Mode == modeNone && m.Ratio != 1) {
			t.Errorf("%s: ratio to none %v", m.Mode, m.Ratio)
		}
		if m.RatioIQR != [2]float64{m.Ratio, m.Ratio} || m.CPURatioIQR != [2]float64{m.CPURatio, m.CPURatio} { // one round: nothing spreads
			t.Errorf("%s: ratio %v, interquartile range %v; CPU ratio %v, interquartile range %v", m.Mode, m.Ratio, m.RatioIQR, m.CPURatio, m.CPURatioIQR)
		}
		if _, ok := processCPU(); ok && !(m.CPU > 0 && m.CPURatio > 0) {
			t.Errorf("%s: server CPU %v µs/call, ratio %v", m.Mode, m.CPU, m.CPURatio)
		}
	}
	var out bytes.Buffer
	writeTable(&out, rep)
	for _, m := range allModes {
		if !strings.Contains(out.String(), "\n"+m+" ") {
			t.Errorf("the table has no row %q:\n%s", m, out.String())
		}
	}
}

// TestRequestBound runs the program with -requests: each mode makes exactly
// that many calls per round, however long -duration is, and the JSON report
// says so.
func TestRequestBound(t *testing.T) {
	var stdout, stderr bytes.Buffer
	start := time.Now()
	err := runMain(t.Context(), []string{"-clients", "3", "-rounds", "2", "-duration", "1m", "-warmup", "0",
		"-requests", "20", "-modes", "rsguard,sdk", "-json"}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("took %v: -requests did not end the rounds", d)
	}
	var rep Report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("%v\n%s", err, stdout.String())
	}
	if len(rep.Modes) != 2 {
		t.Fatalf("modes %+v", rep.Modes)
	}
	for _, m := range rep.Modes {
		if m.Calls != 40 || m.Failures != 0 || m.Ratio != 0 {
			t.Errorf("%s: %d calls (want 2 rounds × 20), %d failures, ratio %v (no none to compare with)", m.Mode, m.Calls, m.Failures, m.Ratio)
		}
	}
	if n := strings.Count(stderr.String(), "round "); n != 2 {
		t.Errorf("%d round lines on stderr:\n%s", n, stderr.String())
	}
}

func TestFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-alg", "HS256"},
		{"-modes", "none,bogus"},
		{"-clients", "0"},
		{"-duration", "0s"},
		{"extra"},
	} {
		var stdout, stderr bytes.Buffer
		if err := runMain(t.Context(), args, &stdout, &stderr); err == nil {
			t.Errorf("%q: no error", args)
		}
	}
}

// TestQuantile checks the quantiles the report's medians and interquartile
// ranges are read with.
func TestQuantile(t *testing.T) {
	for _, tc := range []struct {
		xs   []float64
		q    float64
		want float64
	}{
		{nil, 0.5, 0},
		{[]float64{3}, 0.25, 3},
		{[]float64{3, 1, 2}, 0.5, 2},
		{[]float64{4, 1, 3, 2}, 0.5, 2.5},
		{[]float64{4, 1, 3, 2}, 0.25, 1.75},
		{[]float64{4, 1, 3, 2}, 0.75, 3.25},
		{[]float64{4, 1, 3, 2}, 1, 4},
		{[]float64{5, 1, 4, 2, 3}, 0.25, 2},
		{[]float64{2, 1}, 2, 2}, // q outside 0..1: the nearest end
		{[]float64{2, 1}, -1, 1},
	} {
		if got := quantile(tc.xs, tc.q); got != tc.want {
			t.Errorf("quantile(%v, %v) = %v, want %v", tc.xs, tc.q, got, tc.want)
		}
	}
}
