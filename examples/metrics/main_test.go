package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rsguard/rsguard/examples/internal/runtest"
	"github.com/rsguard/rsguard/validate/validatetest"
)

// TestMetricsScrape makes allowed and refused requests, then scrapes
// /metrics over HTTP and checks the counters and the histogram, and that
// neither the metrics nor the audit log hold a token.
func TestMetricsScrape(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv := httptest.NewUnstartedServer(nil)
	resource := "http://" + srv.Listener.Addr().String() + "/api"
	is := validatetest.NewIssuer(t, &validatetest.Options{Audience: []string{resource}})
	var audit bytes.Buffer
	h, err := newServer(ctx, serverConfig{
		Issuer: is.URL, Resource: resource, HTTPClient: is.Client(),
		Registry: prometheus.NewRegistry(), Audit: slog.New(slog.NewJSONHandler(&audit, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = h
	srv.Start()
	defer srv.Close()

	reader := is.Token(map[string]any{"scope": scopeRead})
	expired := is.Token(map[string]any{"scope": scopeRead, "exp": time.Now().Add(-time.Hour).Unix()})
	for _, tc := range []struct {
		method, path, token string
		want                int
	}{
		{"GET", "/api/items", reader, 200},
		{"GET", "/api/items", reader, 200},
		{"GET", "/api/items", reader, 200},
		{"DELETE", "/api/items/A-100", reader, 403},
		{"GET", "/api/items", "", 401},
		{"GET", "/api/items", expired, 401},
		{"GET", "/api/items", "not-a-jwt", 401},
	} {
		req, err := http.NewRequest(tc.method, srv.URL+tc.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if tc.token != "" {
			req.Header.Set("Authorization", "Bearer "+tc.token)
		}
		res, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != tc.want {
			t.Fatalf("%s %s: status %d, want %d", tc.method, tc.path, res.StatusCode, tc.want)
		}
	}

	res, err := srv.Client().Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	scraped := string(body)
	for series, want := range map[string]int{
		`rsguard_decisions_total{outcome="allow",reason="ok",stage="authenticate"}`:                             4,
		`rsguard_decisions_total{outcome="deny",reason="no_credential",stage="authenticate"}`:                   1,
		`rsguard_decisions_total{outcome="deny",reason="expired",stage="authenticate"}`:                         1,
		`rsguard_decisions_total{outcome="deny",reason="malformed",stage="authenticate"}`:                       1,
		`rsguard_decisions_total{outcome="allow",reason="ok",stage="authorize"}`:                                3,
		`rsguard_decisions_total{outcome="deny",reason="insufficient_scope",stage="authorize"}`:                 1,
		`rsguard_decision_duration_seconds_count{outcome="allow",reason="ok",stage="authenticate"}`:             4,
		`rsguard_decision_duration_seconds_count{outcome="deny",reason="insufficient_scope",stage="authorize"}`: 1,
		`rsguard_decision_duration_seconds_bucket{outcome="allow",reason="ok",stage="authorize",le="+Inf"}`:     3,
	} {
		if got := sample(t, scraped, series); got != want {
			t.Errorf("%s = %d, want %d", series, got, want)
		}
	}
	if n := strings.Count(scraped, "\nrsguard_decisions_total{"); n != 6 {
		t.Errorf("%d decision series, want 6:\n%s", n, scraped)
	}
	for name, text := range map[string]string{"metrics": scraped, "audit log": audit.String()} {
		for _, tok := range []string{reader, expired} {
			if strings.Contains(text, tok[strings.LastIndexByte(tok, '.'):]) {
				t.Errorf("the %s holds a token", name)
			}
		}
	}
	if n := strings.Count(audit.String(), `"msg":"rsguard decision"`); n != 11 {
		t.Errorf("%d audit records, want 11 (7 authentications, 4 authorizations)", n)
	}
}

// sample returns the value of the series in a Prometheus text exposition.
func sample(t *testing.T, exposition, series string) int {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindStringSubmatch(exposition)
	if m == nil {
		t.Errorf("no series %s in:\n%s", series, exposition)
		return -1
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		t.Fatal(err)
	}
	return int(v)
}

// The program starts on a free port, prints its commands and stops with its
// context.
func TestRun(t *testing.T) {
	out, _, stop := runtest.Start(t, run, "rsguard_decisions_total", "-addr", "127.0.0.1:0")
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "/api/items") {
		t.Errorf("banner: %s", out)
	}
	if err := run(context.Background(), []string{"-h"}, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "help") {
		t.Errorf("-h: %v", err)
	}
}
