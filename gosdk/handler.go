package gosdk

import (
	"context"
	"errors"
	"io"
	"net/http"
	"slices"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/rsguard/rsguard"
)

// extraPrincipal is the key of auth.TokenInfo.Extra under which [Handler]
// stores the *rsguard.Principal of the HTTP request.
const extraPrincipal = "rsguard.principal"

// placeholderAuthorization is the Authorization value [Handler] puts first
// in the request's header for the SDK's auth.RequireBearerToken, which reads
// only the first Authorization value, refuses any request without
// "Bearer <x>" there, and is the only way to hand the SDK a TokenInfo. The
// request's own token is never handed to the SDK: the Guard has checked it,
// and the SDK would only scan it again (strings.Fields over the whole
// token) for a verifier that does not read it; a request without a bearer
// token (a principal from an API key, whose header package apikey removes,
// or a Basic header that remains) needs the placeholder anyway.
//
// The value is not a credential: its "token" contains '<', ':' and '>',
// outside the RFC 6750 §2.1 b64token alphabet, so no bearer authenticator
// would accept it. Its scheme is in lowercase, which the SDK's
// case-insensitive match takes without allocating. The verifier removes it
// again, before the SDK's handler sees the request, so that tool handlers
// see the request's own header.
const placeholderAuthorization = "bearer <rsguard-gosdk:no-bearer-token>"

// errNoPrincipal is the verifier's error for a request without an rsguard
// principal. [Handler] refuses such requests before the SDK's middleware
// runs; were it ever reached, the SDK would send this text in its 500 body,
// so it names no wiring.
var errNoPrincipal = errors.New("gosdk: no principal")

// bodyInternal is the JSON-RPC error body of [Handler]'s 500 for a request
// without an rsguard principal (MCP Streamable HTTP allows one on an HTTP
// error status): a null id and chosen text, the same bytes as mcpguard's 500.
const bodyInternal = `{"jsonrpc":"2.0","id":null,"error":{"code":-32603,"message":"internal error"}}` + "\n"

// Handler returns the SDK's Streamable HTTP handler for server, to be
// mounted behind an rsguard.Guard and mcpguard's session binder — as
// mcpguard.Endpoint.Handler mounts it: it turns the Guard's principal into
// the SDK's auth.TokenInfo (UserID = Principal.Subject, Scopes, Extra holds
// the *rsguard.Principal) without reading the token again. opts are the
// SDK's (nil for its defaults).
//
// The TokenInfo's Expiration stays zero (the SDK's middleware is told to
// allow that): the Guard has decided whether the credential is still valid,
// with its own clock and leeway, and the SDK must not decide again with the
// wall clock and a fixed skew — it would answer a plain-text 401 without a
// challenge to a caller the Guard accepted. The expiry is still at hand as
// the principal's Expiry.
//
// The TokenInfo is the SDK's channel to tool handlers: the Streamable HTTP
// handler copies the TokenInfo of each HTTP request into req.Extra.TokenInfo
// of every JSON-RPC request it carries, which [Principal] and [Context] read.
// The SDK also binds each stateful session to its UserID and answers 403 to a
// request of another user; that check stays on, behind the Guard's.
//
// A request without an rsguard principal in its context is refused with 500
// and never reaches server. The cause is always wiring: no rsguard.Guard runs
// in front of the Handler. gosdk does not log, and the body does not say so
// to the client: it is the generic JSON-RPC error
// {"jsonrpc":"2.0","id":null,"error":{"code":-32603,"message":"internal error"}}
// with Content-Type application/json.
//
// Every other request is served, whatever its Authorization header (a bearer
// token, another scheme's credentials, or none for a principal from an API
// key): the SDK's bearer middleware is given a placeholder that is not a
// credential, and the SDK's handler, like the tool handlers, sees the
// request's own header. The placeholder goes into the request's own header
// map, on the serving goroutine, and out again before the SDK's handler
// runs: nothing is copied per request, and the header is as it came by the
// time anything else reads it.
func Handler(server *mcp.Server, opts *mcp.StreamableHTTPOptions) http.Handler {
	streamable := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server }, opts)
	tokenInfo := auth.RequireBearerToken(verifyPrincipal, &auth.RequireBearerTokenOptions{
		// Every TokenInfo has a zero Expiration: the Guard has
		// decided on expiry already.
		AllowMissingExpiration: true,
	})(streamable)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p, ok := rsguard.FromContext(r.Context()); !ok || p.Subject == "" {
			h := w.Header()
			h.Set("Cache-Control", "no-store")
			h.Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = io.WriteString(w, bodyInternal)
			return
		}
		if r.Header == nil {
			r = r.WithContext(r.Context())
			r.Header = make(http.Header, 1)
		}
		// The placeholder goes first, before the request's own values,
		// which verifyPrincipal puts back. In between, only the SDK's
		// middleware reads the header, on this goroutine: no copy of the
		// request or its header is needed.
		own := r.Header["Authorization"]
		vals := make([]string, 1, 1+len(own))
		vals[0] = placeholderAuthorization
		r.Header["Authorization"] = append(vals, own...)
		tokenInfo.ServeHTTP(w, r)
	})
}

// verifyPrincipal is the auth.TokenVerifier of [Handler]. It ignores token
// (the placeholder): the Guard has authenticated the request already, and
// the principal it stored in the request's context is the caller. It first
// removes the placeholder [Handler] put first in the request's
// Authorization values: the SDK's middleware has read the header by then,
// and reads it no more. Each call returns a new TokenInfo with a new Extra
// map and its own Scopes slice.
func verifyPrincipal(_ context.Context, _ string, r *http.Request) (*auth.TokenInfo, error) {
	switch vals := r.Header["Authorization"]; {
	case len(vals) > 1:
		r.Header["Authorization"] = vals[1:]
	case len(vals) == 1:
		delete(r.Header, "Authorization")
	}
	p, ok := rsguard.FromContext(r.Context())
	if !ok || p.Subject == "" {
		// Not auth.ErrInvalidToken: the SDK answers 500. Handler has
		// refused such requests already.
		return nil, errNoPrincipal
	}
	// Expiration stays zero: see Handler.
	return &auth.TokenInfo{
		UserID: p.Subject,
		Scopes: slices.Clone(p.Scopes),
		Extra:  map[string]any{extraPrincipal: p},
	}, nil
}

// Principal returns the caller of the JSON-RPC request req — the principal
// of the HTTP request that carried it (not the session's first one) — as the
// Guard authenticated it; false outside a [Handler] (req nil, or without
// Extra or TokenInfo).
//
// The Principal is the one the Guard stored for that HTTP request, shared
// with no other request; treat it as read-only.
func Principal(req mcp.Request) (*rsguard.Principal, bool) {
	if req == nil {
		return nil, false
	}
	extra := req.GetExtra()
	if extra == nil || extra.TokenInfo == nil {
		return nil, false
	}
	p, ok := extra.TokenInfo.Extra[extraPrincipal].(*rsguard.Principal)
	return p, ok && p != nil
}

// Context returns ctx carrying req's principal, so that rsguard.FromContext
// and the scopes package (scopes.Require, scopes.Has,
// RequireAuthentication) see the current caller in a tool handler.
//
// In a stateful session the SDK runs tool handlers with the context of the
// request that opened the session, whose principal is the first caller's;
// Context replaces it. When req has no principal ([Principal] is false), the
// returned context has none either — not ctx's — so scope checks fail closed.
// The challenge of the Guard that ran before is kept (rsguard.NewContext).
func Context(ctx context.Context, req mcp.Request) context.Context {
	p, _ := Principal(req)
	return rsguard.NewContext(ctx, p)
}
