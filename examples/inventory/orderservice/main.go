// Command orderservice is the OAuth client of the inventory example: a
// back-end service that reserves stock for orders through the inventory API.
//
// It gets an access token with the client_credentials grant (RFC 6749 §4.4,
// golang.org/x/oauth2/clientcredentials), for the API's resource (RFC 8707
// resource indicator), caches it until shortly before it expires
// (oauth2.ReuseTokenSourceWithExpiry), and sends it on every call: one token
// request for any number of calls. It finds the token endpoint itself, from
// the API's protected resource metadata (RFC 9728) and its authorization
// server's metadata (RFC 8414), unless -token-url is given.
//
// With -api-key instead of client credentials it calls the API the legacy way
// and warns when the API answers with a Deprecation header.
//
// Usage, from the repository root, with ./inventory running:
//
//	go run -C examples ./inventory/orderservice -client-id order-service -client-secret order-secret
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "orderservice:", err)
		os.Exit(1)
	}
}

type options struct {
	api, tokenURL, clientID, clientSecret, resource, scope, apiKey, sku string
	orders                                                              int
}

// Environment variables that may hold the secrets instead of the flags
// (which other users of the machine can read in the process list).
const (
	envClientSecret = "ORDER_SERVICE_CLIENT_SECRET"
	envAPIKey       = "INVENTORY_API_KEY"
)

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("orderservice", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.api, "api", "http://127.0.0.1:8090/api", "base `URL` of the inventory API")
	fs.StringVar(&o.tokenURL, "token-url", "", "token endpoint `URL` (default: discovered from the API's metadata)")
	fs.StringVar(&o.clientID, "client-id", "order-service", "OAuth client `id`")
	fs.StringVar(&o.clientSecret, "client-secret", os.Getenv(envClientSecret), "OAuth client `secret` (default $"+envClientSecret+")")
	fs.StringVar(&o.resource, "resource", "", "resource indicator (RFC 8707) `URL` to request tokens for (default: -api)")
	fs.StringVar(&o.scope, "scope", "inventory:read inventory:write", "space-separated `scopes` to request")
	fs.StringVar(&o.apiKey, "api-key", os.Getenv(envAPIKey), "legacy API `key` instead of OAuth (default $"+envAPIKey+")")
	fs.StringVar(&o.sku, "sku", "BOLT-M6", "`sku` to reserve")
	fs.IntVar(&o.orders, "orders", 3, "`number` of orders to place")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	switch {
	case fs.NArg() > 0:
		return o, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	case o.apiKey == "" && o.clientSecret == "":
		return o, fmt.Errorf("need -client-secret (or $%s) for OAuth, or -api-key (or $%s)", envClientSecret, envAPIKey)
	case o.orders < 0:
		return o, errors.New("-orders must not be negative")
	}
	if o.resource == "" {
		o.resource = o.api
	}
	return o, nil
}

// run places the orders and prints what happened to stdout; warnings go to
// stderr.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	opts, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()

	base := &http.Client{Timeout: 10 * time.Second}
	var c *client
	var tokens *countingSource
	if opts.apiKey != "" {
		c = newKeyClient(opts.api, opts.apiKey, base, stderr)
		fmt.Fprintf(stdout, "order-service: using a legacy API key\n")
	} else {
		tokenURL := opts.tokenURL
		if tokenURL == "" {
			if tokenURL, err = discoverTokenEndpoint(ctx, base, opts.api); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "order-service: token endpoint %s (discovered from the API's metadata)\n", tokenURL)
		}
		c, tokens = newOAuthClient(ctx, oauthConfig{
			ClientID:     opts.clientID,
			ClientSecret: opts.clientSecret,
			TokenURL:     tokenURL,
			Resource:     opts.resource,
			Scopes:       strings.Fields(opts.scope),
			HTTPClient:   base,
		}, opts.api, stderr)
	}

	for i := range opts.orders {
		orderID := fmt.Sprintf("order-%d-%d", time.Now().Unix(), i+1)
		res, err := c.reserve(ctx, orderID, opts.sku, 1)
		if err != nil {
			return fmt.Errorf("%s: %w", orderID, err)
		}
		fmt.Fprintf(stdout, "%s: reserved %d × %s (as %s, via %s)\n", res.OrderID, res.Quantity, res.SKU, res.By, res.Via)
	}
	it, err := c.item(ctx, opts.sku)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: %d available, %d reserved\n", it.SKU, it.Available, it.Reserved)
	if tokens != nil {
		fmt.Fprintf(stdout, "%d API calls, %d token request(s)\n", c.calls.Load(), tokens.fetches.Load())
	}
	return nil
}
