// Command inventory is a REST API in the middle of a migration from API keys
// to OAuth, protected by rsguard: it accepts legacy API keys (X-API-Key) and
// OAuth access tokens (Authorization: Bearer) in parallel, with the same
// scopes for both, and answers keys of deprecated clients with Deprecation,
// Sunset and Link headers. Its OAuth client is ./inventory/orderservice.
//
// Usage, from the repository root:
//
//	go run -C examples ./inventory [-addr host:port] [-issuer URL] [-resource URL] [-keys file]
//
// With no -issuer it starts a development authorization server on loopback,
// registers the order-service client there, issues a deprecated demo API key,
// and prints commands for both credentials. See examples/README.md.
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
	addr, issuer, resource, keys string
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("inventory", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.addr, "addr", "127.0.0.1:8090", "`host:port` to listen on (port 0 picks a free port)")
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
	canonical, err := rsmeta.CanonicalResource(resource)
	if err != nil {
		return err
	}
	ru, _ := url.Parse(canonical)
	docs := (&url.URL{Scheme: ru.Scheme, Host: ru.Host, Path: "/docs/oauth"}).String()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	store := new(apikey.MemoryStore)
	if opts.keys != "" {
		if store, err = loadKeys(opts.keys); err != nil {
			return err
		}
	}
	policy := apikey.Policy{Link: docs}

	var dev *validatetest.Issuer
	var demoKey string
	issuer := opts.issuer
	if issuer == "" {
		if dev, err = startDevIssuer(canonical); err != nil {
			return err
		}
		defer dev.Close()
		issuer = dev.URL
		// One legacy client, told to move: its key works for 30 more days.
		now := time.Now().UTC()
		var rec apikey.Record
		demoKey, rec, err = apikey.Generate(api.KeyPrefix, apikey.Record{
			ClientID: legacyClient, Scopes: []string{api.ScopeRead, api.ScopeWrite}, Created: now,
		})
		if err == nil {
			err = store.Put(rec)
		}
		if err != nil {
			return err
		}
		policy.Clients = map[string]apikey.ClientPolicy{
			legacyClient: {State: apikey.StateDeprecated, Deprecated: now, Cutoff: now.Add(30 * 24 * time.Hour).Truncate(time.Second)},
		}
	}

	a, err := api.New(ctx, api.Config{Issuer: issuer, Resource: canonical, Keys: store, Policy: policy, Logger: logger})
	if err != nil {
		return err
	}
	printBanner(stdout, a, issuer, dev, demoKey)
	logger.Info("serving", "resource", a.Resource, "metadata", a.MetadataURL, "issuer", issuer, "keys", len(store.Records()))

	return serve.Serve(ctx, ln, a.Handler, logger)
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
		Clients: []validatetest.Client{{
			ID: orderServiceID, Secret: orderServiceSecret, Scopes: []string{api.ScopeRead, api.ScopeWrite},
		}},
	}), nil
}

// Lines of the banner that tests look for.
const (
	keyCommandHeader   = "The legacy API key still works, with deprecation headers:"
	orderCommandHeader = "The order service, on OAuth (client_credentials, one token for all its calls):"
)

func printBanner(w io.Writer, a *api.API, issuer string, dev *validatetest.Issuer, demoKey string) {
	var b strings.Builder
	fmt.Fprintf(&b, "rsguard inventory REST API example\n")
	fmt.Fprintf(&b, "  API:                         %s/items, %s/reservations\n", a.Resource, a.Resource)
	fmt.Fprintf(&b, "  protected resource metadata: %s\n", a.MetadataURL)
	fmt.Fprintf(&b, "  authorization server:        %s\n", issuer)
	if dev == nil {
		fmt.Fprint(w, b.String())
		return
	}
	fmt.Fprintf(&b, "  token endpoint:              %s (development issuer, in memory)\n", dev.TokenURL)
	fmt.Fprintf(&b, "  OAuth client:                %s / %s\n", orderServiceID, orderServiceSecret)
	fmt.Fprintf(&b, "  demo API key (%s):   %s\n", legacyClient, demoKey)
	fmt.Fprintf(&b, "\n%s\ncurl -i -H 'X-API-Key: %s' %s\n", keyCommandHeader, demoKey, a.Resource+"/items/BOLT-M6")
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
