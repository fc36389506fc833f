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

// placeholderAuthorization is the Authorization value [Handler] gives the
// SDK's auth.RequireBearerToken when the request has no bearer token (a
// principal from an API key: package apikey removes its header once the key
// is accepted, and a Basic header may remain).
// That middleware refuses any request without "Bearer <x>", and it is the
// only way to hand the SDK a TokenInfo. The value is not a credential: its
// "token" contains '<', ':' and '>', outside the RFC 6750 §2.1 b64token
// alphabet, so no bearer authenticator would accept it, and the verifier
// never reads the token string at all — it uses only the principal the
// Guard put in the request's context. The request's own header is put back
// before the SDK's handler sees the request, so tool handlers never see it.
const placeholderAuthorization = "Bearer <rsguard-gosdk:no-bearer-token>"

// errNoPrincipal is the verifier's error for a request without an rsguard
// principal. [Handler] refuses such requests before the SDK's middleware
// runs; were it ever reached, the SDK would send this text in its 500 body,
// so it names no wiring.
var errNoPrincipal = errors.New("gosdk: no principal")

// bodyInternal is the JSON-RPC error body of [Handler]'s 500 for a request
// without an rsguard principal (MCP Streamable HTTP allows one on an HTTP
// error status): a null id and chosen text, the same bytes as mcpguard's 500.
const bodyInternal = `{"jsonrpc":"2.0","id":null,"error":{"code":-32603,"message":"internal error"}}` + "\n"

// placeholderKey holds, in the context of the request given to the SDK, the
// Authorization values [Handler] replaced with placeholderAuthorization
// (nil when there were none), to be put back for the SDK's handler.
type placeholderKey struct{}

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
// A request without a bearer token (a principal from an API key, with or
// without an Authorization header of another scheme) is served: Handler
// gives the SDK's bearer middleware a placeholder that is not a credential,
// and puts the request's own header back before the SDK's handler sees it.
func Handler(server *mcp.Server, opts *mcp.StreamableHTTPOptions) http.Handler {
	streamable := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server }, opts)
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if orig, ok := r.Context().Value(placeholderKey{}).([]string); ok {
			// r.Header is the clone made below, not the caller's.
			r.Header.Del("Authorization")
			if orig != nil {
				r.Header["Authorization"] = orig
			}
		}
		streamable.ServeHTTP(w, r)
	})
	tokenInfo := auth.RequireBearerToken(verifyPrincipal, &auth.RequireBearerTokenOptions{
		// Every TokenInfo has a zero Expiration: the Guard has
		// decided on expiry already.
		AllowMissingExpiration: true,
	})(inner)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p, ok := rsguard.FromContext(r.Context()); !ok || p.Subject == "" {
			h := w.Header()
			h.Set("Cache-Control", "no-store")
			h.Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = io.WriteString(w, bodyInternal)
			return
		}
		if _, err := rsguard.BearerToken(r); err != nil {
			// Not one well-formed bearer token (an API key, with or
			// without another scheme's header): the SDK's middleware
			// would answer 401 to a caller the Guard accepted.
			orig := r.Header.Values("Authorization")
			r = r.Clone(context.WithValue(r.Context(), placeholderKey{}, orig))
			r.Header.Set("Authorization", placeholderAuthorization)
		}
		tokenInfo.ServeHTTP(w, r)
	})
}

// verifyPrincipal is the auth.TokenVerifier of [Handler]. It ignores token:
// the Guard has authenticated the request already, and the principal it
// stored in the request's context is the caller. Each call returns a new
// TokenInfo with a new Extra map and its own Scopes slice.
func verifyPrincipal(_ context.Context, _ string, r *http.Request) (*auth.TokenInfo, error) {
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
