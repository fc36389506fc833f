// Command inventory is a REST API in the middle of a migration from API keys
// to OAuth, protected by rsguard: it accepts legacy API keys (X-API-Key) and
// OAuth access tokens (Authorization: Bearer) in parallel, with the same
// scopes for both, and answers keys of deprecated clients with Deprecation,
// Sunset and Link headers. Its OAuth client is ./inventory/orderservice.
//
// Usage, from the repository root:
//
//	go run -C examples ./inventory [-addr host:port] [-admin host:port] [-issuer URL] [-resource URL] [-keys file]
//
// With no -issuer it starts a development authorization server on loopback,
// registers the order-service client there, issues a deprecated demo API key,
// and prints commands for both credentials. It also issues keys to three more
// legacy clients and replays three weeks of their traffic, keys and tokens, so
// that the migration report (apikey.NewReportHandler), served on the admin
// port (-admin) to callers with the inventory:admin scope, has a history to
// show. See examples/inventory/README.md.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rsguard/rsguard/apikey"
	"github.com/rsguard/rsguard/examples/internal/serve"
	"github.com/rsguard/rsguard/examples/inventory/api"
	"github.com/rsguard/rsguard/rsmeta"
	"github.com/rsguard/rsguard/validate/validatetest"
)

func main() { serve.Main("inventory", run) }

// The development client registered at the embedded issuer for the order
// service, and the client the demo API key is issued to.
const (
	orderServiceID     = "order-service"
	orderServiceSecret = "order-secret"
	legacyClient       = "legacy-pos"
)

type options struct {
	addr, admin, issuer, resource, keys string
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("inventory", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.addr, "addr", "127.0.0.1:8090", "`host:port` to listen on (port 0 picks a free port)")
	fs.StringVar(&o.admin, "admin", "127.0.0.1:8091", "`host:port` of the admin listener, which serves the migration report; keep it internal. Empty: none")
	fs.StringVar(&o.issuer, "issuer", "", "issuer `URL` of the authorization server.\nIf empty, a development issuer is started on loopback, with a demo API key.")
	fs.StringVar(&o.resource, "resource", "", "canonical `URL` of the API, the audience of its tokens (default http://<addr>/api)")
	fs.StringVar(&o.keys, "keys", "", "`file` of API key records (JSON array or lines, hashes only; see apikey.ReadRecords)")
	err := serve.ParseArgs(fs, args)
	return o, err
}

// run serves the API until ctx ends. The banner goes to stdout, the log to
// stderr.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	opts, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))

	ln, resource, err := serve.Listen(opts.addr, opts.resource, defaultResource)
	if err != nil {
		return err
	}
	defer ln.Close()
	var adminLn net.Listener
	if opts.admin != "" {
		if adminLn, err = net.Listen("tcp", opts.admin); err != nil {
			return fmt.Errorf("-admin: %w", err)
		}
		defer adminLn.Close()
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ex, err := newExample(ctx, opts, resource, logger, time.Now)
	if err != nil {
		return err
	}
	defer ex.close()
	reportURL := ""
	if adminLn != nil {
		reportURL = "http://" + adminLn.Addr().String() + api.ReportPath
	}
	printBanner(stdout, ex, reportURL)
	logger.Info("serving", "resource", ex.api.Resource, "metadata", ex.api.MetadataURL, "issuer", ex.issuer, "report", reportURL)

	errc := make(chan error, 2)
	go func() { errc <- serve.Serve(ctx, ln, ex.api.Handler, logger) }()
	servers := 1
	if adminLn != nil {
		servers++
		go func() { errc <- serve.Serve(ctx, adminLn, ex.api.Admin, logger.With("listener", "admin")) }()
	}
	err = <-errc // the first to stop stops the other
	cancel()
	for range servers - 1 {
		if e := <-errc; err == nil {
			err = e
		}
	}
	return err
}

// example is the running example: the API, and, with the development
// issuer, the issuer, the demo key and the demonstration's clock.
type example struct {
	api     *api.API
	issuer  string
	dev     *validatetest.Issuer
	demoKey string
	close   func()
}

// newExample builds the API for resource. Without opts.issuer it starts the
// development issuer, issues the demonstration's keys and replays its
// traffic, with base as the clock of "now".
func newExample(ctx context.Context, opts options, resource string, logger *slog.Logger, base func() time.Time) (_ *example, err error) {
	canonical, err := rsmeta.CanonicalResource(resource)
	if err != nil {
		return nil, err
	}
	ru, _ := url.Parse(canonical)
	docs := (&url.URL{Scheme: ru.Scheme, Host: ru.Host, Path: "/docs/oauth"}).String()

	store := new(apikey.MemoryStore)
	if opts.keys != "" {
		if store, err = loadKeys(opts.keys); err != nil {
			return nil, err
		}
	}
	ex := &example{issuer: opts.issuer, close: func() {}}
	clock := &demoClock{base: base}
	policy := apikey.Policy{Link: docs}
	var keys map[string]string
	if opts.issuer == "" {
		if ex.dev, err = startDevIssuer(canonical); err != nil {
			return nil, err
		}
		ex.close = ex.dev.Close
		defer func() {
			if err != nil {
				ex.dev.Close()
			}
		}()
		ex.issuer = ex.dev.URL
		if keys, policy, err = demoKeys(store, base().UTC(), docs); err != nil {
			return nil, err
		}
		ex.demoKey = keys[legacyClient]
	}

	muted := new(atomic.Bool)
	quiet := slog.New(mutable{logger.Handler(), muted})
	if ex.api, err = api.New(ctx, api.Config{
		Issuer: ex.issuer, Resource: canonical, Keys: store, Policy: policy, Logger: quiet, Now: clock.Now,
	}); err != nil {
		return nil, err
	}
	if ex.dev == nil {
		return ex, nil
	}
	tokens := map[string]string{}
	for _, c := range []struct{ id, secret string }{{orderServiceID, orderServiceSecret}, {warehouseClient, warehouseSecret}} {
		if tokens[c.id], err = clientToken(ctx, ex.dev.TokenURL, c.id, c.secret, canonical, api.ScopeRead); err != nil {
			return nil, err
		}
	}
	muted.Store(true)
	err = replayHistory(ex.api.Routes, clock, canonical, keys, tokens)
	muted.Store(false)
	if err != nil {
		return nil, err
	}
	return ex, nil
}

// defaultResource is http://<addr>/api, with the host as given in -addr and
// the port actually bound; see the MCP example's defaultResource.
func defaultResource(flagAddr string, actual net.Addr) (string, error) {
	return serve.DefaultURL(flagAddr, actual, "/api", "the API")
}

// startDevIssuer starts the development authorization server: rsguard's
// validatetest issuer over plain HTTP on 127.0.0.1, with the order-service
// client. For trying the example only.
func startDevIssuer(resource string) (_ *validatetest.Issuer, err error) {
	defer func() {
		if p := recover(); p != nil { // NewIssuer panics when it has no testing.TB
			err = fmt.Errorf("development issuer: %v", p)
		}
	}()
	return validatetest.NewIssuer(nil, &validatetest.Options{
		PlainHTTP:  true,
		Algorithms: []string{"ES256"},
		Lifetime:   time.Hour,
		Audience:   []string{resource},
		Clients: []validatetest.Client{
			{ID: orderServiceID, Secret: orderServiceSecret, Scopes: []string{api.ScopeRead, api.ScopeWrite}},
			{ID: warehouseClient, Secret: warehouseSecret, Scopes: []string{api.ScopeRead, api.ScopeWrite}},
			{ID: opsClientID, Secret: opsClientSecret, Scopes: []string{api.ScopeAdmin}},
		},
	}), nil
}

// Lines of the banner that tests look for.
const (
	keyCommandHeader    = "The legacy API key still works, with deprecation headers:"
	orderCommandHeader  = "The order service, on OAuth (client_credentials, one token for all its calls):"
	reportCommandHeader = "The migration report as CSV, with a token of the ops console (inventory:admin):"
)

func printBanner(w io.Writer, ex *example, reportURL string) {
	a := ex.api
	var b strings.Builder
	fmt.Fprintf(&b, "rsguard inventory REST API example\n")
	fmt.Fprintf(&b, "  API:                         %s/items, %s/reservations\n", a.Resource, a.Resource)
	fmt.Fprintf(&b, "  protected resource metadata: %s\n", a.MetadataURL)
	fmt.Fprintf(&b, "  authorization server:        %s\n", ex.issuer)
	if reportURL != "" {
		fmt.Fprintf(&b, "  migration report:            %s (admin listener; inventory:admin)\n", reportURL)
	}
	if ex.dev == nil {
		fmt.Fprint(w, b.String())
		return
	}
	dev := ex.dev
	fmt.Fprintf(&b, "  token endpoint:              %s (development issuer, in memory)\n", dev.TokenURL)
	fmt.Fprintf(&b, "  OAuth client:                %s / %s\n", orderServiceID, orderServiceSecret)
	fmt.Fprintf(&b, "  report reader:               %s / %s\n", opsClientID, opsClientSecret)
	fmt.Fprintf(&b, "  demo API key (%s):   %s\n", legacyClient, ex.demoKey)
	fmt.Fprintf(&b, "  demo traffic:                %d days of requests by %s, %s, %s and %s, replayed\n",
		historyDays, legacyClient, warehouseClient, orderServiceID, blockedClient)
	fmt.Fprintf(&b, "\n%s\ncurl -i -H 'X-API-Key: %s' %s\n", keyCommandHeader, ex.demoKey, a.Resource+"/items/BOLT-M6")
	if reportURL != "" {
		fmt.Fprintf(&b, "\n%s\nTOKEN=$(curl -fsS -u %s:%s -d grant_type=client_credentials -d scope=%s --data-urlencode resource=%s %s | sed -n 's/.*\"access_token\":\"\\([^\"]*\\)\".*/\\1/p'); curl -fsS -H \"Authorization: Bearer $TOKEN\" '%s?format=csv'\n",
			reportCommandHeader, opsClientID, opsClientSecret, api.ScopeAdmin, a.Resource, dev.TokenURL, reportURL)
	}
	fmt.Fprintf(&b, "\n%s\ngo run -C examples ./inventory/orderservice -api %s -client-id %s -client-secret %s\n\n",
		orderCommandHeader, a.Resource, orderServiceID, orderServiceSecret)
	fmt.Fprint(w, b.String())
}

// loadKeys reads the key records in the file at path into a new store.
func loadKeys(path string) (*apikey.MemoryStore, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	recs, err := apikey.ReadRecords(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return apikey.NewMemoryStore(recs...)
}
