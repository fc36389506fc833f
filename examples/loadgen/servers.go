package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"runtime/pprof"
	"slices"
	"strings"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/rsguard/rsguard/gosdk"
	"github.com/rsguard/rsguard/mcpguard"
	"github.com/rsguard/rsguard/validate/validatetest"
)

// The three ways the same MCP server is served.
const (
	modeNone    = "none"    // no authorization at all
	modeRSGuard = "rsguard" // mcpguard.New's Endpoint around gosdk.Handler
	modeSDK     = "sdk"     // the SDK's auth.RequireBearerToken, golang-jwt + keyfunc
)

var allModes = []string{modeNone, modeRSGuard, modeSDK}

// The tool every client calls, and the scope a call of it needs.
const (
	toolName  = "lookup"
	toolScope = "inventory:read"
	mcpPath   = "/mcp"
	// leeway is the clock-skew tolerance of both verifiers (rsguard's
	// default).
	leeway = 30 * time.Second
)

// lookupInput and lookupOutput are the tool's arguments and result; the SDK
// derives their schemas and checks the arguments against them.
type (
	lookupInput struct {
		SKU string `json:"sku" jsonschema:"stock-keeping unit"`
	}
	lookupOutput struct {
		SKU      string `json:"sku"`
		Name     string `json:"name"`
		Quantity int    `json:"quantity"`
	}
)

var stock = map[string]lookupOutput{
	"BOLT-M6":  {SKU: "BOLT-M6", Name: "Hex bolt M6x20", Quantity: 1200},
	"NUT-M6":   {SKU: "NUT-M6", Name: "Hex nut M6", Quantity: 950},
	"WASHER-6": {SKU: "WASHER-6", Name: "Flat washer 6 mm", Quantity: 3000},
}

// newMCPServer returns the MCP server all three modes serve: one tool, the
// same in each. Each mode gets a server of its own.
func newMCPServer() *mcp.Server {
	s := mcp.NewServer(&mcp.Implementation{Name: "loadgen", Version: "1"}, nil)
	mcp.AddTool(s, &mcp.Tool{Name: toolName, Description: "one item of the inventory by sku"},
		func(_ context.Context, _ *mcp.CallToolRequest, in lookupInput) (*mcp.CallToolResult, lookupOutput, error) {
			it, ok := stock[in.SKU]
			if !ok {
				return nil, lookupOutput{}, errors.New("no item with this sku")
			}
			return nil, it, nil
		})
	return s
}

// streamableOptions are the SDK's transport options of every mode: stateful
// sessions, plain JSON answers to POSTs (as examples/mcpserver).
func streamableOptions() *mcp.StreamableHTTPOptions {
	return &mcp.StreamableHTTPOptions{JSONResponse: true}
}

// streamable is the SDK's Streamable HTTP handler for server.
func streamable(server *mcp.Server) http.Handler {
	return mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server }, streamableOptions())
}

// servers is the issuer and the three servers of one run, each on its own
// loopback listener.
type servers struct {
	issuer   *validatetest.Issuer
	resource string            // the audience of every token: the rsguard server's endpoint
	urls     map[string]string // mode -> MCP endpoint URL
	closers  []func()
}

// startServers starts the development issuer (one key of alg) and the MCP
// server of each mode on 127.0.0.1. Each server's goroutines carry the pprof
// label mode=<mode>, so that a CPU profile of the run can be split by mode
// (go tool pprof -tagfocus=mode=rsguard).
func startServers(ctx context.Context, alg string) (_ *servers, err error) {
	s := &servers{urls: map[string]string{}}
	defer func() {
		if err != nil {
			s.close()
		}
	}()
	lns := map[string]net.Listener{}
	for _, m := range allModes {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		s.closers = append(s.closers, func() { _ = ln.Close() })
		lns[m] = ln
		s.urls[m] = "http://" + ln.Addr().String() + mcpPath
	}
	// One resource for all: the endpoint of the rsguard server. The other two
	// accept the same audience, so that every mode sees the same tokens.
	s.resource = s.urls[modeRSGuard]

	if s.issuer, err = newIssuer(alg, s.resource); err != nil {
		return nil, err
	}
	s.closers = append(s.closers, s.issuer.Close)

	handlers := map[string]http.Handler{}
	mux := http.NewServeMux()
	mux.Handle(mcpPath, streamable(newMCPServer()))
	handlers[modeNone] = mux

	if handlers[modeRSGuard], err = rsguardHandler(ctx, s.issuer.URL, s.resource); err != nil {
		return nil, fmt.Errorf("rsguard: %w", err)
	}
	if handlers[modeSDK], err = sdkHandler(ctx, s.issuer, s.resource); err != nil {
		return nil, fmt.Errorf("sdk: %w", err)
	}

	for _, m := range allModes {
		srv := &http.Server{Handler: handlers[m], ReadHeaderTimeout: 10 * time.Second}
		ln := lns[m]
		go pprof.Do(context.Background(), pprof.Labels("mode", m), func(context.Context) {
			_ = srv.Serve(ln) // connection goroutines inherit the labels
		})
		s.closers = append(s.closers, func() { _ = srv.Close() })
	}
	return s, nil
}

func (s *servers) close() {
	for _, c := range slices.Backward(s.closers) {
		c()
	}
	s.closers = nil
}

// newIssuer starts rsguard's test issuer over plain HTTP on loopback: RFC
// 8414 metadata and a JWK Set with one key of alg, whose tokens name
// resource as their audience.
func newIssuer(alg, resource string) (_ *validatetest.Issuer, err error) {
	defer func() { // NewIssuer panics instead of failing a test when it has none
		if p := recover(); p != nil {
			err = fmt.Errorf("issuer: %v", p)
		}
	}()
	return validatetest.NewIssuer(nil, &validatetest.Options{
		PlainHTTP:  true,
		Algorithms: []string{alg},
		Lifetime:   2 * time.Hour,
		Audience:   []string{resource},
	}), nil
}

// rsguardHandler is the wiring the README recommends: mcpguard.New's
// Endpoint (Origin check, rsguard.Guard over a validate.Validator that
// discovers the issuer's keys, session binding, per-tool scopes) around
// gosdk.Handler, the SDK's Streamable HTTP handler handed the Guard's
// principal.
func rsguardHandler(ctx context.Context, issuer, resource string) (http.Handler, error) {
	ep, err := mcpguard.New(ctx, mcpguard.Config{
		Issuer:          issuer,
		Resource:        resource,
		Tools:           map[string][]string{toolName: {toolScope}},
		ChallengeScopes: []string{toolScope},
	})
	if err != nil {
		return nil, err
	}
	return ep.Handler(gosdk.Handler(newMCPServer(), streamableOptions())), nil
}

// accessClaims are the claims the SDK mode's verifier reads.
type accessClaims struct {
	Scope string `json:"scope"`
	jwt.RegisteredClaims
}

// sdkHandler is the MCP Go SDK's own protection: auth.RequireBearerToken
// with a TokenVerifier on golang-jwt v5 and keyfunc (keys from the issuer's
// JWK Set URL), every check golang-jwt offers turned on (algorithm
// allow-list, issuer, audience, exp required, iat, leeway), the tool's scope
// required on the route (one tool: the same decision as a per-tool check).
// The SDK binds each stateful session to the TokenInfo's UserID itself.
func sdkHandler(ctx context.Context, is *validatetest.Issuer, resource string) (http.Handler, error) {
	kf, err := keyfunc.NewDefaultCtx(ctx, []string{is.JWKSURL})
	if err != nil {
		return nil, err
	}
	parser := jwt.NewParser(
		jwt.WithValidMethods([]string{"RS256", "ES256", "EdDSA"}),
		jwt.WithIssuer(is.URL),
		jwt.WithAudience(resource),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(leeway),
	)
	verifier := func(_ context.Context, raw string, _ *http.Request) (*auth.TokenInfo, error) {
		var c accessClaims
		if _, err := parser.ParseWithClaims(raw, &c, kf.Keyfunc); err != nil {
			return nil, errors.Join(auth.ErrInvalidToken, err)
		}
		return &auth.TokenInfo{Scopes: strings.Fields(c.Scope), Expiration: c.ExpiresAt.Time, UserID: c.Subject}, nil
	}
	mux := http.NewServeMux()
	mux.Handle(mcpPath, auth.RequireBearerToken(verifier, &auth.RequireBearerTokenOptions{
		ResourceMetadataURL: strings.TrimSuffix(resource, mcpPath) + "/.well-known/oauth-protected-resource" + mcpPath,
		Scopes:              []string{toolScope},
		ClockSkew:           leeway,
	})(streamable(newMCPServer())))
	return mux, nil
}
