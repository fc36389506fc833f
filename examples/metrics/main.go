// Command metrics is a small REST API protected by rsguard that counts every
// authentication and authorization decision in Prometheus metrics: a
// counter by stage, outcome and reason, and a latency histogram, served at
// /metrics. The core module depends on no metrics library; this example
// module brings the Prometheus client and implements audit.Metrics with it
// (prometheus.go).
//
// Usage, from the repository root:
//
//	go run -C examples ./metrics [-addr host:port]
//
// It starts a development authorization server on loopback and prints
// commands that get a token, make allowed and refused requests, and scrape
// the metrics. Each decision is also written to stderr as an audit log
// record (audit.Slog).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rsguard/rsguard/examples/internal/serve"
	"github.com/rsguard/rsguard/validate/validatetest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "metrics:", err)
		os.Exit(2)
	}
}

// The development client registered at the embedded issuer.
const (
	devClientID     = "demo-client"
	devClientSecret = "demo-secret"
)

// run is the whole program: it serves until ctx ends. The banner goes to
// stdout, the audit log to stderr.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	fs := flag.NewFlagSet("metrics", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8080", "`host:port` to listen on, a loopback address (port 0 picks a free port)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	resource := "http://" + ln.Addr().String() + "/api"

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	// The development issuer (validatetest over plain HTTP): for trying the
	// example, never for production. NewIssuer panics without a test.
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("development issuer: %v", p)
		}
	}()
	is := validatetest.NewIssuer(nil, &validatetest.Options{
		PlainHTTP:  true,
		Algorithms: []string{"ES256"},
		Lifetime:   time.Hour,
		Audience:   []string{resource},
		Clients:    []validatetest.Client{{ID: devClientID, Secret: devClientSecret, Scopes: []string{scopeRead, scopeWrite}}},
	})
	defer is.Close()

	audit := slog.New(slog.NewTextHandler(stderr, nil))
	h, err := newServer(ctx, serverConfig{Issuer: is.URL, Resource: resource, Registry: prometheus.NewRegistry(), Audit: audit})
	if err != nil {
		return err
	}
	fmt.Fprint(stdout, banner(is.TokenURL, resource, "http://"+ln.Addr().String()+"/metrics"))

	// The server's own lines (shutdown, HTTP errors) share stderr with the
	// audit records, marked apart.
	return serve.Serve(ctx, ln, h, audit.With("component", "server"))
}

// banner is what run prints: the endpoints and ready-to-paste commands
// (POSIX shell, curl and sed) that make an allowed, a refused and an
// unauthenticated request, then scrape the decision metrics.
func banner(tokenURL, resource, metricsURL string) string {
	lines := []string{
		"rsguard metrics example",
		"  API:     " + resource + "/items (GET: " + scopeRead + ", DELETE: " + scopeWrite + ")",
		"  metrics: " + metricsURL,
		"",
		"Paste into a POSIX shell (needs curl):",
		"API=" + resource,
		"TOKEN=$(curl -fsS -u " + devClientID + ":" + devClientSecret + " -d grant_type=client_credentials -d scope=" + scopeRead +
			` --data-urlencode "resource=$API" ` + tokenURL + ` | sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p')`,
		`curl -sS -H "Authorization: Bearer $TOKEN" "$API/items"; echo`,
		`curl -sS -o /dev/null -w '%{http_code}\n' -X DELETE -H "Authorization: Bearer $TOKEN" "$API/items/A-100"`,
		`curl -sS -o /dev/null -w '%{http_code}\n' "$API/items"`,
		"curl -sS " + metricsURL + " | grep '^rsguard_decisions_total'",
		"",
	}
	return strings.Join(lines, "\n")
}
