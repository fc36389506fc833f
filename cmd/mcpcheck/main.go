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
//	                       every failure with its message and specification, and the summary)
//	-issuer URL            the issuer identifier of the authorization server the client
//	                       credentials are for (default $MCPCHECK_ISSUER); required with them
//	-client-id ID          client id at that authorization server (default $MCPCHECK_CLIENT_ID)
//	-client-secret SECRET  its secret (default $MCPCHECK_CLIENT_SECRET); a flag shows in ps:
//	                       prefer the environment or -client-secret-file
//	-client-secret-file F  read the secret from file F (trailing white space removed)
//	-scopes "a b"          the scopes the 401 challenge must name, and those of the run's
//	                       token (default: the challenge must name some, which the token asks for)
//	-tool NAME             a tool the step-up check calls (default: none, as a tool may be destructive)
//	-tool-args JSON        its arguments, a JSON object (default {})
//	-tool-scopes "a b"     the scopes a call of -tool needs, all of them (default: not known)
//	-other-resource URL    the resource of "a token for another resource is refused"
//	                       (default https://other-resource.invalid/mcp)
//	-timeout D             bound on the whole run (default 3m)
//	-request-timeout D     bound on each request (default 10s)
//	-max-requests N        bound on the requests sent (default 1000)
//
// Without credentials the run is black-box: the checks that need a real
// token are reported "not checkable without credentials", never passed;
// with them, those that need tokens signed with chosen claims are "not
// checkable without the authorization server's signing key". The client
// secret and every token the run gets are never printed, in the table, the
// JSON or an error, nor anything a token endpoint answers but its status
// and error code.
//
// Credentials are for one authorization server, the one -issuer names: the
// secret goes only to the token endpoint of the metadata fetched from that
// issuer (RFC 8414 or OpenID Connect Discovery, its "issuer" identical to
// -issuer; the token endpoint https, or http on loopback for an issuer on
// loopback), and only if the server's metadata names that issuer in
// authorization_servers; if it does not, the discovery fails, saying so,
// and no token is asked for.
//
// Step-up: with -tool-scopes, a token lacking one of the scopes must get 403
// insufficient_scope naming the scopes, a token with the scopes the 403
// names must get through, and so must a token with exactly -tool-scopes (a
// server that never checks per-tool scopes fails). Without it, the tool is
// called with the run's token: a 403 insufficient_scope is judged as above;
// a result means the step-up was not exercised (skipped: pass -tool-scopes);
// a JSON-RPC error or a tool error (isError) is reported skipped with what
// the tool said (check -tool-args), or failed if it reads as a scope
// refusal, which must be a 403 insufficient_scope (MCP authorization, scope
// challenge handling). A call gets through only with a clean result.
//
// -other-resource: with credentials, a real token is asked for that
// resource (RFC 8707) and sent to the server under test, which must refuse
// it: name a resource whose tokens you do not mind the server seeing.
//
// What it sends: requests to the endpoint (MCP initialize and tools/list,
// with no token, with forged tokens, and with real ones; tools/call only of
// the -tool), to the metadata URLs of the endpoint's origin, and to the
// authorization servers the metadata names and -issuer (their metadata; the
// JWK Set of the issuer, and the token endpoint of -issuer's). Nothing goes
// anywhere else: a metadata document that points elsewhere is reported,
// not followed, no redirect is followed, and no proxy is used. With
// credentials it asks the token endpoint for tokens for the endpoint and
// for -other-resource (RFC 8707 resource), with the client_credentials
// grant.
//
// Addresses: a metadata document is the server's to write, and could point
// the checker at your own machine or network. For an endpoint that is not
// on loopback, plain http is never used, and every connection is checked
// on the address it connects to (names resolved first, each address they
// resolve to checked): loopback (127.0.0.0/8, ::1), link-local
// (169.254.0.0/16, the cloud metadata address 169.254.169.254 included,
// fe80::/10), unspecified and multicast addresses are refused; private
// addresses (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, 100.64.0.0/10,
// fc00::/7) only when the endpoint's own host resolves to one (an internal
// deployment with an internal authorization server). The endpoint's host
// is resolved once per run. For an endpoint on loopback (127.0.0.1, ::1,
// localhost) nothing is refused, and http is allowed to loopback hosts:
// the server is yours. So a server on this machine is checked at its
// loopback URL, not at a name that resolves to it.
//
// Exit status: 0 when no check failed (not checkable and skipped allowed);
// 1 when a check failed, which includes an unreachable endpoint, a run cut
// short by -timeout, -max-requests or an interrupt, and credentials that
// got no token; 2 for a usage error (bad flags, a URL that is not an
// absolute http or https URL, credentials without -issuer, a secret file
// that cannot be read). A plain http URL on a host that is not loopback is
// a failure of the server's (exit 1), reported without sending it
// anything: tokens would cross the network in clear text.
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
//	                 spec: RFC 6750 §3, §3.1; RFC 9728 §3.1, §5.1; MCP authorization (scope selection strategy)
//	NOT CHECKABLE  accept
//	                 not checkable without credentials: it needs a valid access token for the resource
//	…
//	PASS           attacks (40 not checkable)
//	…
//	45 passed, 1 failed, 40 not checkable, 68 skipped (checks without sub-checks); 112 requests in 1.9 s
//	FAIL
//
// and with credentials, a tool to step up on, and JSON for CI:
//
//	$ MCPCHECK_ISSUER=https://auth.example.com MCPCHECK_CLIENT_ID=checker MCPCHECK_CLIENT_SECRET=… \
//	    mcpcheck -tool write_items -tool-scopes "items:read items:write" -json https://mcp.example.com/mcp
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
	issuer := fs.String("issuer", env("MCPCHECK_ISSUER"), "issuer identifier of the authorization server the credentials are for (default $MCPCHECK_ISSUER; required with them)")
	clientID := fs.String("client-id", env("MCPCHECK_CLIENT_ID"), "client id at the authorization server (default $MCPCHECK_CLIENT_ID)")
	secret := fs.String("client-secret", "", "client secret (default $MCPCHECK_CLIENT_SECRET; prefer it or -client-secret-file, as flags show in ps)")
	secretFile := fs.String("client-secret-file", "", "read the client secret from this file")
	scopes := fs.String("scopes", "", `scopes the 401 challenge must name and the run's token has, space-separated (default: the challenge must name some, which the token asks for)`)
	tool := fs.String("tool", "", "a tool the step-up check calls (default: none)")
	toolArgs := fs.String("tool-args", "", "the tool's arguments, a JSON object (default {})")
	toolScopes := fs.String("tool-scopes", "", `the scopes a call of -tool needs, all of them, space-separated (default: not known)`)
	other := fs.String("other-resource", checker.DefaultOtherResource, "resource of the token for another resource (a real token for it is sent to the server)")
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
		Endpoint: fs.Arg(0), ClientID: *clientID, Issuer: *issuer, Tool: *tool, OtherResource: *other,
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
	if given["tool-scopes"] {
		if *tool == "" {
			return usage("-tool-scopes without -tool")
		}
		cfg.ToolScopes = strings.Fields(*toolScopes)
		if cfg.ToolScopes == nil {
			cfg.ToolScopes = []string{}
		}
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
