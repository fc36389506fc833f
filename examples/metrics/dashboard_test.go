package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rsguard/rsguard/validate/validatetest"
)

// TestGrafanaDashboard: grafana-dashboard.json parses, and every query in
// it names only metrics, and selects only labels, that this example
// exports, as scraped from its /metrics after a few requests.
func TestGrafanaDashboard(t *testing.T) {
	b, err := os.ReadFile("grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Title  string
		UID    string
		Panels []struct {
			Title   string
			Type    string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("grafana-dashboard.json: %v", err)
	}
	if dash.Title == "" || dash.UID == "" || len(dash.Panels) == 0 {
		t.Fatalf("dashboard without title, uid or panels: %+v", dash)
	}

	// What the example exports: metric families and their labels.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv := httptest.NewUnstartedServer(nil)
	resource := "http://" + srv.Listener.Addr().String() + "/api"
	is := validatetest.NewIssuer(t, &validatetest.Options{Audience: []string{resource}})
	h, err := newServer(ctx, serverConfig{Issuer: is.URL, Resource: resource, HTTPClient: is.Client(),
		Registry: prometheus.NewRegistry(), Audit: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = h
	srv.Start()
	defer srv.Close()
	for _, tok := range []string{"", is.Token(map[string]any{"scope": scopeRead})} {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api/items", nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	resp, err := srv.Client().Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	exported := map[string][]string{} // series name -> label names
	series := regexp.MustCompile(`(?m)^(rsguard_[a-z_]+)\{([^}]*)\}`)
	for _, m := range series.FindAllStringSubmatch(string(body), -1) {
		for _, kv := range strings.Split(m[2], ",") {
			name, _, _ := strings.Cut(kv, "=")
			if !slices.Contains(exported[m[1]], name) {
				exported[m[1]] = append(exported[m[1]], name)
			}
		}
	}
	for _, want := range []string{decisionsMetric, latencyMetric + "_bucket", authenticationsMetric} {
		if _, ok := exported[want]; !ok {
			t.Fatalf("the example does not export %s:\n%s", want, body)
		}
	}

	metric := regexp.MustCompile(`\b(rsguard_[a-z_]+)(\{([^}]*)\})?`)
	label := regexp.MustCompile(`([a-z_]+)\s*(=~|!~|!=|=)`)
	by := regexp.MustCompile(`by \(([^)]*)\)`)
	var queries int
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			queries++
			ms := metric.FindAllStringSubmatch(tg.Expr, -1)
			if len(ms) == 0 {
				t.Errorf("panel %q: query names no rsguard metric: %s", p.Title, tg.Expr)
			}
			var labels []string
			for _, m := range ms {
				names, ok := exported[m[1]]
				if !ok {
					t.Errorf("panel %q: %s is not exported by the example", p.Title, m[1])
					continue
				}
				labels = append(labels, names...)
				for _, l := range label.FindAllStringSubmatch(m[3], -1) {
					if !slices.Contains(names, l[1]) {
						t.Errorf("panel %q: %s has no label %q", p.Title, m[1], l[1])
					}
				}
			}
			for _, m := range by.FindAllStringSubmatch(tg.Expr, -1) {
				for _, l := range strings.Split(m[1], ",") {
					if l = strings.TrimSpace(l); !slices.Contains(labels, l) {
						t.Errorf("panel %q: grouping by %q, which its metrics do not have", p.Title, l)
					}
				}
			}
		}
	}
	if queries < 5 {
		t.Errorf("%d queries", queries)
	}
}
