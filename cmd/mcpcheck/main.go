// Command mcpcheck checks the resource-server side of a deployed MCP
// server: the 401 challenge, the RFC 9728 metadata and its authorization
// servers, CORS, and the refusal of forged and misplaced tokens, black-box;
// and, with client credentials at the server's authorization server, that
// a real token gets through, a step-up (403 insufficient_scope, then the
// call with the scopes it names) on a tool you name, and that a token for
// another resource is refused. Its checks are those validatetest.Conformance
// runs inside go test, from the same code.
//
// Usage:
//
//	mcpcheck [flags] URL
//
// URL is the MCP endpoint, such as https://mcp.example.com/mcp: the
// resource identifier its metadata must give, byte for byte (RFC 9728
// §3.3). In this repository: go run ./cmd/mcpcheck URL.
//
// Flags:
//
//	-json                  write the JSON report to standard output instead of the table
//	-v                     list every check and sub-check, with notes (default: each check,
//	                       every failure with its message, and the summary)
//	-client-id ID          client id at the authorization server (default $MCPCHECK_CLIENT_ID)
//	-client-secret SECRET  its secret (default $MCPCHECK_CLIENT_SECRET); a flag shows in ps:
//	                       prefer the environment or -client-secret-file
//	-client-secret-file F  read the secret from file F (trailing white space removed)
//	-scopes "a b"          scopes of the run's token (default: those the 401 challenge names)
//	-tool NAME             a tool the step-up check calls (default: none, as a tool may be destructive)
//	-tool-args JSON        its arguments, a JSON object (default {})
//	-other-resource URL    the resource of "a token for another resource is refused"
//	                       (default https://other-resource.invalid/mcp)
//	-timeout D             bound on the whole run (default 3m)
//	-request-timeout D     bound on each request (default 10s)
//	-max-requests N        bound on the requests sent (default 1000)
//
// Without credentials the run is black-box: the checks that need a real
// token are reported "not checkable without credentials", never passed.
// The client secret and every token the run gets are never printed, in
// the table, the JSON or an error.
//
// What it sends: requests to the endpoint (MCP initialize and tools/list,
// with no token, with forged tokens, and with real ones; tools/call only of
// the -tool), to the metadata URLs of the endpoint's origin, and to the
// authorization servers the metadata names (their metadata; the JWK Set and
// the token endpoint of the one whose metadata gives its own issuer).
// Nothing goes anywhere else: a metadata document that points elsewhere is
// reported, not followed, and no redirect is followed. With credentials it
// asks the token endpoint for tokens for the endpoint and for
// -other-resource (RFC 8707 resource), with the client_credentials grant.
//
// Exit status: 0 when no check failed (not checkable and skipped allowed);
// 1 when a check failed, which includes an unreachable endpoint, a run cut
// short by -timeout, -max-requests or an interrupt, and credentials that
// got no token; 2 for a usage error (bad flags, a URL that is not an
// absolute http or https URL, a secret file that cannot be read). A plain
// http URL on a host that is not loopback is a failure of the server's
// (exit 1), reported without sending it anything: tokens would cross the
// network in clear text.
//
// An example run, black-box:
//
//	$ mcpcheck https://mcp.example.com/mcp
//	mcpcheck https://mcp.example.com/mcp
//	  metadata       https://mcp.example.com/.well-known/oauth-protected-resource/mcp
//	  issuer         https://auth.example.com
//	  credentials    none: the checks that need a token are not checkable
//	  DPoP           off
//
//	PASS           discovery
//	PASS           metadata
//	PASS           authorization servers
//	PASS           cors
//	FAIL           challenge
//	                 the challenge to a request without credentials carries error="invalid_token": RFC 6750 §3.1 says it should not. Leave error out of the challenge when the request carried no credentials.
//	NOT CHECKABLE  accept
//	                 not checkable without credentials: it needs a valid access token for the resource
//	…
//	45 passed, 1 failed, 40 not checkable, 68 skipped (checks without sub-checks); 112 requests in 1.9 s
//	FAIL
//
// and with credentials, a tool to step up on, and JSON for CI:
//
//	$ MCPCHECK_CLIENT_ID=checker MCPCHECK_CLIENT_SECRET=… mcpcheck -tool write_items -json https://mcp.example.com/mcp
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/rsguard/rsguard/internal/checker"
)

func main() {
	signal.Ignore(syscall.SIGPIPE)
	os.Exit(run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

// run is the command: it parses args (with defaults from env), runs the
// checker and writes its report. It returns the exit status.
func run(args []string, env func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("mcpcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "write the JSON report instead of the table")
	verbose := fs.Bool("v", false, "list every check and sub-check")
	clientID := fs.String("client-id", env("MCPCHECK_CLIENT_ID"), "client id at the authorization server (default $MCPCHECK_CLIENT_ID)")
	secret := fs.String("client-secret", "", "client secret (default $MCPCHECK_CLIENT_SECRET; prefer it or -client-secret-file, as flags show in ps)")
	secretFile := fs.String("client-secret-file", "", "read the client secret from this file")
	scopes := fs.String("scopes", "", `scopes of the run's token, space-separated (default: the 401 challenge's)`)
	tool := fs.String("tool", "", "a tool the step-up check calls (default: none)")
	toolArgs := fs.String("tool-args", "", "the tool's arguments, a JSON object (default {})")
	other := fs.String("other-resource", checker.DefaultOtherResource, "resource of the token for another resource")
	timeout := fs.Duration("timeout", checker.DefaultTimeout, "bound on the whole run")
	reqTimeout := fs.Duration("request-timeout", checker.DefaultRequestTimeout, "bound on each request")
	maxRequests := fs.Int("max-requests", checker.DefaultMaxRequests, "bound on the requests sent")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: mcpcheck [flags] URL\n\nChecks the resource-server side of the MCP server at URL (its MCP endpoint).\nExit status 0: no check failed; 1: a check failed; 2: usage error.\n\nFlags:")
		fs.PrintDefaults()
	}
	usage := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "mcpcheck: "+format+"\n", a...)
		fmt.Fprintln(stderr, "usage: mcpcheck [flags] URL (mcpcheck -h for help)")
		return 2
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() != 1 {
		return usage("want one URL, the MCP endpoint, after the flags; got %d arguments", fs.NArg())
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })

	cfg := checker.Config{
		Endpoint: fs.Arg(0), ClientID: *clientID, Tool: *tool, OtherResource: *other,
		Timeout: *timeout, RequestTimeout: *reqTimeout, MaxRequests: *maxRequests,
	}
	switch {
	case given["client-secret"] && given["client-secret-file"]:
		return usage("give -client-secret or -client-secret-file, not both")
	case given["client-secret-file"]:
		b, err := os.ReadFile(*secretFile)
		if err != nil {
			return usage("cannot read the client secret file: %v", err)
		}
		cfg.ClientSecret = strings.TrimRight(string(b), " \t\r\n")
		if cfg.ClientSecret == "" {
			return usage("the client secret file %s is empty", *secretFile)
		}
	case given["client-secret"]:
		cfg.ClientSecret = *secret
	default:
		cfg.ClientSecret = env("MCPCHECK_CLIENT_SECRET")
	}
	if given["scopes"] {
		cfg.Scopes = strings.Fields(*scopes)
		if cfg.Scopes == nil {
			cfg.Scopes = []string{}
		}
	}
	if *timeout <= 0 || *reqTimeout <= 0 || *maxRequests <= 0 {
		return usage("-timeout, -request-timeout and -max-requests must be positive")
	}
	if given["tool-args"] {
		if *tool == "" {
			return usage("-tool-args without -tool")
		}
		if err := json.Unmarshal([]byte(*toolArgs), &cfg.ToolArguments); err != nil || cfg.ToolArguments == nil {
			return usage("-tool-args must be a JSON object")
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := checker.Run(ctx, cfg)
	if err != nil {
		if errors.Is(err, checker.ErrConfig) {
			return usage("%s", scrub(strings.TrimPrefix(err.Error(), checker.ErrConfig.Error()+": "), cfg.ClientSecret))
		}
		fmt.Fprintf(stderr, "mcpcheck: %s\n", scrub(err.Error(), cfg.ClientSecret))
		return 1
	}
	if *asJSON {
		err = rep.WriteJSON(stdout)
	} else {
		err = rep.WriteTable(stdout, *verbose)
	}
	if err != nil {
		fmt.Fprintf(stderr, "mcpcheck: writing the report: %v\n", err)
		return 1
	}
	if !rep.Passed {
		return 1
	}
	return 0
}

// scrub removes the secret from an error message.
func scrub(msg, secret string) string {
	if secret == "" {
		return msg
	}
	return strings.ReplaceAll(msg, secret, "[redacted]")
}
