// Command mcpgo is an MCP server built with github.com/mark3labs/mcp-go,
// which has no authorization of its own, that rsguard alone turns into an
// OAuth 2.1 resource server: protected resource metadata (RFC 9728) at the
// path-inserted well-known URL, the 401 challenge, JWT access-token
// validation, MCP sessions bound to the caller that opened them, and per-tool
// scopes answered with 403 insufficient_scope before mcp-go sees the call.
//
// Usage, from the repository root:
//
//	go run -C examples ./mcpgo [-addr host:port] [-issuer URL] [-resource URL]
//
// The command line is that of examples/mcpserver. With no -issuer it starts
// a development authorization server on loopback and prints a shell command
// that gets a token and calls a tool. See examples/README.md for the tools and
// their scopes.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/rsguard/rsguard/examples/internal/devissuer"
	"github.com/rsguard/rsguard/rsmeta"
)

// scriptHeader introduces the ready-to-paste command on stdout; the script
// follows it up to the first empty line.
const scriptHeader = "Get a token (scope " + scopeRead + ") and call the list_notes tool; paste into a POSIX shell (needs curl):"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "mcpgo:", err)
		os.Exit(2)
	}
}

// options are the command-line flags, those of examples/mcpserver. Other
// tools rely on them: keep them stable.
type options struct {
	addr     string // -addr host:port
	issuer   string // -issuer URL
	resource string // -resource URL
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("mcpgo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.addr, "addr", "127.0.0.1:8080", "`host:port` to listen on (port 0 picks a free port)")
	fs.StringVar(&o.issuer, "issuer", "", "issuer `URL` of the authorization server; its JWKS is discovered from its metadata.\nIf empty, a development issuer is started on loopback.")
	fs.StringVar(&o.resource, "resource", "", "canonical `URL` of the MCP endpoint, the audience of its tokens (default http://<addr>/mcp)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: mcpgo [-addr host:port] [-issuer URL] [-resource URL]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	return o, nil
}

// run is the whole program: it parses args, serves until ctx ends, then shuts
// down gracefully. The banner (and, with the development issuer, the
// ready-to-paste command) goes to stdout, the log to stderr.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	opts, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))

	ln, err := net.Listen("tcp", opts.addr)
	if err != nil {
		return err
	}
	defer ln.Close()

	resource := opts.resource
	if resource == "" {
		if resource, err = defaultResource(opts.addr, ln.Addr()); err != nil {
			return err
		}
	}

	// Stop the validator's background refresh, mcp-go's session sweeper, the
	// dev issuer and the requests still open (SSE streams) when run returns.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	var dev *devissuer.Issuer
	issuer := opts.issuer
	if issuer == "" {
		if dev, err = devissuer.Start(resource, supportedScopes); err != nil {
			return err
		}
		defer dev.Close()
		issuer = dev.URL
	}

	srv, err := newServer(ctx, serverConfig{Issuer: issuer, Resource: resource, Logger: logger})
	if err != nil {
		return err
	}

	banner(stdout, srv, issuer, dev)
	logger.Info("serving", "resource", srv.Resource, "metadata", srv.MetadataURL, "issuer", issuer)

	hs := &http.Server{
		Handler:           srv.Handler,
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return ctx },
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- hs.Serve(ln) }()

	select {
	case err := <-serveErr:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	// Open SSE streams end with the base context; give the rest a moment.
	cancel()
	shutdownCtx, done := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer done()
	if err := hs.Shutdown(shutdownCtx); err != nil {
		hs.Close()
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// defaultResource is http://<addr>/mcp: the host as given in -addr (so
// "localhost:8080" gives http://localhost:8080/mcp, the URL clients use), the
// port the server actually listens on (so port 0 works). An unspecified host
// (":8080", "0.0.0.0:8080") names no URL clients could use, and http is only
// allowed on loopback hosts: then -resource is required.
func defaultResource(flagAddr string, actual net.Addr) (string, error) {
	host, _, err := net.SplitHostPort(flagAddr)
	if err != nil {
		return "", err
	}
	_, port, err := net.SplitHostPort(actual.String())
	if err != nil {
		return "", err
	}
	resource := "http://" + net.JoinHostPort(host, port) + "/mcp"
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		return "", fmt.Errorf("-addr %s listens on every interface: pass -resource with the URL clients use to reach the MCP endpoint", flagAddr)
	}
	if _, err := rsmeta.CanonicalResource(resource); err != nil {
		return "", fmt.Errorf("default resource %s: %w (http is only allowed on loopback hosts: pass -resource with an https URL)", resource, err)
	}
	return resource, nil
}

// banner prints where the server is and, with the development issuer, the
// ready-to-paste command.
func banner(w io.Writer, srv *mcpServer, issuer string, dev *devissuer.Issuer) {
	var b strings.Builder
	fmt.Fprintf(&b, "rsguard MCP example server (mcp-go)\n")
	fmt.Fprintf(&b, "  MCP endpoint (Streamable HTTP): %s\n", srv.Resource)
	fmt.Fprintf(&b, "  protected resource metadata:    %s\n", srv.MetadataURL)
	if dev == nil {
		fmt.Fprintf(&b, "  authorization server:           %s\n", issuer)
		fmt.Fprintf(&b, "\nGet an access token from it with resource=%s and scope=%s, then call a tool.\n", srv.Resource, scopeRead)
		fmt.Fprint(w, b.String())
		return
	}
	fmt.Fprintf(&b, "  authorization server:           %s (development issuer, in memory)\n", issuer)
	fmt.Fprintf(&b, "  token endpoint:                 %s\n", dev.TokenURL)
	fmt.Fprintf(&b, "  client:                         %s / %s (may get %s)\n", devissuer.ClientID, devissuer.ClientSecret, strings.Join(supportedScopes, " "))
	fmt.Fprintf(&b, "\n%s\n", scriptHeader)
	fmt.Fprint(&b, dev.DemoScript(srv.Resource, scopeRead, "list_notes"))
	fmt.Fprintln(&b)
	fmt.Fprint(w, b.String())
}
