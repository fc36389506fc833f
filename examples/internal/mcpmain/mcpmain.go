// Package mcpmain is the command line of the MCP example servers
// (examples/mcpserver on the official Go SDK, examples/mcpgo on mcp-go): the
// flags -addr, -issuer and -resource, the embedded development issuer
// (examples/internal/devissuer) when -issuer is empty, the banner and its
// ready-to-paste command, and serving until a signal with a graceful
// shutdown. An example states what is its own in a [Program]: its name, its
// scopes and the function that builds its protected MCP handler.
//
// Other tools (examples/interop) run the programs through this command line
// and read the banner's "MCP endpoint" and "protected resource metadata:"
// lines: keep them stable.
package mcpmain

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/rsguard/rsguard/examples/internal/devissuer"
	"github.com/rsguard/rsguard/examples/internal/serve"
	"github.com/rsguard/rsguard/rsmeta"
)

// Program is one MCP example server: what differs between them.
type Program struct {
	// Name is the command's name, in its usage line and error messages.
	Name string
	// Title is the first line of the banner.
	Title string
	// Scopes are the server's scopes; the development issuer's client may
	// get all of them.
	Scopes []string
	// DemoScope is the scope to start with (the 401 challenge's), and
	// DemoTool a tool it allows that takes no arguments: the printed command
	// gets a token with DemoScope and calls DemoTool.
	DemoScope, DemoTool string
	// Handler builds the whole protected server for cfg: the RFC 9728
	// metadata at the resource's path-inserted well-known URL, and the MCP
	// endpoint at the resource's path. ctx lives as long as the server.
	Handler func(ctx context.Context, cfg Config) (http.Handler, error)
}

// Config is what a Program's Handler is given.
type Config struct {
	// Issuer is the authorization server's issuer identifier; its keys are
	// discovered from its RFC 8414 metadata.
	Issuer string
	// Resource is the canonical URL of the MCP endpoint (RFC 8707 §2,
	// rsmeta.CanonicalResource): the metadata's "resource" and the audience
	// tokens must carry.
	Resource string
	// Logger receives the server's log. Never nil.
	Logger *slog.Logger
}

// ScriptHeader introduces the ready-to-paste command on stdout; the script
// follows it up to the first empty line.
func (p *Program) ScriptHeader() string {
	return "Get a token (scope " + p.DemoScope + ") and call the " + p.DemoTool + " tool; paste into a POSIX shell (needs curl):"
}

// Main runs the program with the process's arguments until SIGINT or
// SIGTERM, and exits with status 2 if it fails.
func (p *Program) Main() { serve.Main(p.Name, p.Run) }

// options are the command-line flags. Other tools rely on them: keep them
// stable.
type options struct {
	addr     string // -addr host:port
	issuer   string // -issuer URL
	resource string // -resource URL
}

func (p *Program) parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet(p.Name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.addr, "addr", "127.0.0.1:8080", "`host:port` to listen on (port 0 picks a free port)")
	fs.StringVar(&o.issuer, "issuer", "", "issuer `URL` of the authorization server; its JWKS is discovered from its metadata.\nIf empty, a development issuer is started on loopback.")
	fs.StringVar(&o.resource, "resource", "", "canonical `URL` of the MCP endpoint, the audience of its tokens (default http://<addr>/mcp)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: %s [-addr host:port] [-issuer URL] [-resource URL]\n", p.Name)
		fs.PrintDefaults()
	}
	err := serve.ParseArgs(fs, args)
	return o, err
}

// Run is the whole program: it parses args, serves until ctx ends, then
// shuts down gracefully. The banner (and, with the development issuer, the
// ready-to-paste command) goes to stdout, the log to stderr: one line per
// request (method, path, status, duration; never a header, so never a
// token).
func (p *Program) Run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	opts, err := p.parseFlags(args, stderr)
	if err != nil {
		return err
	}
	ln, resource, err := serve.Listen(opts.addr, opts.resource, defaultResource)
	if err != nil {
		return err
	}
	defer ln.Close()
	if resource, err = rsmeta.CanonicalResource(resource); err != nil {
		return fmt.Errorf("-resource: %w", err)
	}
	metadataURL, err := rsmeta.WellKnownURL(resource)
	if err != nil {
		return fmt.Errorf("-resource: %w", err)
	}

	// Stop the server's background work (the validator's key refresh, an
	// SDK's session sweeper), the dev issuer and the requests still open
	// (SSE streams) when Run returns.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	var dev *devissuer.Issuer
	issuer := opts.issuer
	if issuer == "" {
		if dev, err = devissuer.Start(resource, p.Scopes); err != nil {
			return err
		}
		defer dev.Close()
		issuer = dev.URL
	}

	logger := slog.New(slog.NewTextHandler(stderr, nil))
	h, err := p.Handler(ctx, Config{Issuer: issuer, Resource: resource, Logger: logger})
	if err != nil {
		return err
	}

	p.banner(stdout, resource, metadataURL, issuer, dev)
	logger.Info("serving", "resource", resource, "metadata", metadataURL, "issuer", issuer)
	return serve.Serve(ctx, ln, serve.AccessLog(logger, h), logger)
}

// banner prints where the server is and, with the development issuer, the
// ready-to-paste command.
func (p *Program) banner(w io.Writer, resource, metadataURL, issuer string, dev *devissuer.Issuer) {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n", p.Title)
	fmt.Fprintf(&b, "  MCP endpoint (Streamable HTTP): %s\n", resource)
	fmt.Fprintf(&b, "  protected resource metadata:    %s\n", metadataURL)
	if dev == nil {
		fmt.Fprintf(&b, "  authorization server:           %s\n", issuer)
		fmt.Fprintf(&b, "\nGet an access token from it with resource=%s and scope=%s, then call a tool.\n", resource, p.DemoScope)
		fmt.Fprint(w, b.String())
		return
	}
	fmt.Fprintf(&b, "  authorization server:           %s (development issuer, in memory)\n", issuer)
	fmt.Fprintf(&b, "  token endpoint:                 %s\n", dev.TokenURL)
	fmt.Fprintf(&b, "  client:                         %s / %s (may get %s)\n", devissuer.ClientID, devissuer.ClientSecret, strings.Join(p.Scopes, " "))
	fmt.Fprintf(&b, "\n%s\n", p.ScriptHeader())
	fmt.Fprint(&b, dev.DemoScript(resource, p.DemoScope, p.DemoTool))
	fmt.Fprintln(&b)
	fmt.Fprint(w, b.String())
}
