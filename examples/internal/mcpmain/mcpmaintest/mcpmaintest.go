// Package mcpmaintest tests the MCP example servers built on package
// mcpmain: an Env that serves an example's handler in front of a
// validatetest issuer, as Program.Run does with its development issuer, and
// the run tests every such program must pass (PrintedCommand,
// RunWithIssuer, RunErrors).
package mcpmaintest

import (
	"context"
	"flag"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/rsguard/rsguard/examples/internal/devissuer"
	"github.com/rsguard/rsguard/examples/internal/mcpmain"
	"github.com/rsguard/rsguard/examples/internal/runtest"
	"github.com/rsguard/rsguard/examples/internal/serve"
	"github.com/rsguard/rsguard/rsmeta"
	"github.com/rsguard/rsguard/validate/validatetest"
)

// bannerMarker is in the banner's last line before the issuer's.
const bannerMarker = "protected resource metadata:"

// Env is an example server on 127.0.0.1:0 in front of a validatetest issuer.
type Env struct {
	Issuer      *validatetest.Issuer
	URL         string          // the MCP endpoint: the resource, the tokens' audience
	MetadataURL string          // its RFC 9728 metadata, every challenge's resource_metadata
	Log         *runtest.Buffer // the server's log, debug level included
}

// EnvConfig configures NewEnv.
type EnvConfig struct {
	// Options are the issuer's. PlainHTTP is set; if Algorithms is nil, ES256
	// (fast key generation); if Clients is nil, the development client
	// (devissuer.ClientID) that may get Scopes.
	Options *validatetest.Options
	// Scopes are the server's scopes.
	Scopes []string
	// DefaultAudience, if true, gives tokens requested without a resource
	// indicator the server as audience, as the development issuer does.
	DefaultAudience bool
}

// NewEnv starts an issuer and, until the test ends, the server that
// newServer builds around store (the data behind its tools, which the test
// may then inspect), as the Program's Handler does.
func NewEnv[S any](t testing.TB, cfg EnvConfig, store S, newServer func(context.Context, mcpmain.Config, S) (http.Handler, error)) *Env {
	t.Helper()
	opts := cfg.Options
	if opts == nil {
		opts = &validatetest.Options{}
	}
	opts.PlainHTTP = true
	if opts.Algorithms == nil {
		opts.Algorithms = []string{"ES256"}
	}
	if opts.Clients == nil {
		opts.Clients = []validatetest.Client{{ID: devissuer.ClientID, Secret: devissuer.ClientSecret, Scopes: cfg.Scopes}}
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	e := &Env{URL: "http://" + ln.Addr().String() + "/mcp", Log: &runtest.Buffer{}}
	if e.MetadataURL, err = rsmeta.WellKnownURL(e.URL); err != nil {
		t.Fatal(err)
	}
	if cfg.DefaultAudience {
		opts.Audience = []string{e.URL}
	}
	e.Issuer = validatetest.NewIssuer(t, opts)

	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	logger := slog.New(slog.NewTextHandler(e.Log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h, err := newServer(ctx, mcpmain.Config{Issuer: e.Issuer.URL, Resource: e.URL, Logger: logger}, store)
	if err != nil {
		t.Fatal(err)
	}
	// Served as the program serves it, access log included, so that every
	// test's requests (SSE streams too) go through it.
	ts := &httptest.Server{Listener: ln, Config: &http.Server{Handler: serve.AccessLog(logger, h)}}
	ts.Start()
	t.Cleanup(ts.Close)
	return e
}

// Token mints an access token for the server (aud: URL) with the given
// scope claim ("" for none) and other claims over it (a nil value removes
// one).
func (e *Env) Token(scope string, claims map[string]any) string {
	c := map[string]any{"aud": e.URL}
	if scope != "" {
		c["scope"] = scope
	}
	for k, v := range claims {
		c[k] = v
	}
	return e.Issuer.Token(c)
}

// Conformance runs rsguard's conformance kit against the server over HTTP,
// as its users would run it against theirs: metadata, challenges, session
// binding (intruders get 404), step-up per tool, and the attacks. cfg
// names the server's challenge scopes, tools and tool arguments; Issuer,
// URL and MCP are set here.
func (e *Env) Conformance(t *testing.T, cfg validatetest.ConformanceConfig) {
	t.Helper()
	cfg.Issuer, cfg.URL, cfg.MCP = e.Issuer, e.URL, true
	validatetest.Conformance(t, cfg)
}

// script returns the ready-to-paste command printed after p's script header.
func script(t *testing.T, p *mcpmain.Program, stdout string) string {
	t.Helper()
	_, after, ok := strings.Cut(stdout, p.ScriptHeader()+"\n")
	if !ok {
		t.Fatalf("no %q in stdout:\n%s", p.ScriptHeader(), stdout)
	}
	s, _, _ := strings.Cut(after, "\n\n")
	return s + "\n"
}

// PrintedCommand runs p as the README's first command does (no -issuer, so
// with the development issuer) and runs the command it prints with bash and
// curl, for real: its output must be a JSON-RPC result, not a tool error,
// and contain want. The log must name requests, never credentials.
func PrintedCommand(t *testing.T, p *mcpmain.Program, want string) {
	t.Helper()
	for _, tool := range []string{"bash", "curl", "sed", "tr"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("the printed command needs %s, which is not installed: %v", tool, err)
		}
	}
	stdout, stderr, stop := runtest.Start(t, p.Run, bannerMarker, "-addr", "127.0.0.1:0")
	cmdText := script(t, p, stdout)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "bash", "-c", cmdText).CombinedOutput()
	if err != nil {
		t.Fatalf("printed command failed: %v\n--- command:\n%s--- output:\n%s--- server log:\n%s", err, cmdText, out, stderr)
	}
	got := string(out)
	if !strings.Contains(got, `"result"`) || !strings.Contains(got, want) || strings.Contains(got, `"isError":true`) {
		t.Errorf("printed command output:\n%s\nwant a %s result with %s", got, p.DemoTool, want)
	}
	if err := stop(); err != nil {
		t.Errorf("run after cancellation: %v", err)
	}
	if log := stderr.String(); strings.Contains(log, "eyJ") || strings.Contains(log, devissuer.ClientSecret) {
		t.Errorf("the log holds a token or a secret:\n%s", log)
	}
	for _, want := range []string{"status=200", "status=202", "shutting down"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, stderr)
		}
	}
}

// RunWithIssuer runs p against an outside issuer (-issuer): no development
// issuer, no script, and a resource given with -resource.
func RunWithIssuer(t *testing.T, p *mcpmain.Program) {
	t.Helper()
	iss := validatetest.NewIssuer(t, &validatetest.Options{PlainHTTP: true, Algorithms: []string{"ES256"}})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	resource := "http://localhost:" + addr[strings.LastIndex(addr, ":")+1:] + "/mcp"

	stdout, _, stop := runtest.Start(t, p.Run, bannerMarker, "-addr", addr, "-issuer", iss.URL, "-resource", resource)
	if strings.Contains(stdout, p.ScriptHeader()) || !strings.Contains(stdout, iss.URL) || !strings.Contains(stdout, resource) {
		t.Errorf("banner:\n%s", stdout)
	}
	if iss.Requests(iss.JWKSURL) == 0 {
		t.Error("the issuer's keys were not fetched at start-up")
	}
	if err := stop(); err != nil {
		t.Error(err)
	}
}

// RunErrors checks that bad command lines and an unreachable issuer stop p
// at start-up.
func RunErrors(t *testing.T, p *mcpmain.Program) {
	t.Helper()
	deadURL := runtest.ClosedURL(t)
	runtest.RunErrors(t, p.Run, []runtest.ErrorCase{
		{Name: "help", Args: []string{"-h"}, WantErr: flag.ErrHelp.Error()},
		{Name: "unknown flag", Args: []string{"-port", "1"}, WantErr: "flag provided but not defined"},
		{Name: "extra argument", Args: []string{"serve"}, WantErr: "unexpected arguments"},
		{Name: "every interface, no -resource", Args: []string{"-addr", "0.0.0.0:0"}, WantErr: "-resource"},
		{Name: "non-loopback http resource", Args: []string{"-addr", "127.0.0.1:0", "-resource", "http://example.com/mcp"}, WantErr: "invalid resource"},
		{Name: "unreachable issuer", Args: []string{"-addr", "127.0.0.1:0", "-issuer", deadURL}, WantErr: "issuer " + deadURL},
	})
}
