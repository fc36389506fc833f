package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/auth"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/validate"
)

// Keys of auth.TokenInfo.Extra set by tokenInfo. Tool handlers read them
// from req.Extra.TokenInfo.Extra.
const (
	extraClientID  = "client_id"         // string: the token's client_id (or azp)
	extraIssuer    = "iss"               // string: the token's issuer
	extraSubject   = "sub"               // string: the token's subject
	extraPrincipal = "rsguard.principal" // *rsguard.Principal: the caller, as rsguard's Guard saw it
	extraClaims    = "rsguard.claims"    // *validate.Claims: every verified claim
)

// tokenVerifier adapts v to the MCP Go SDK's auth.TokenVerifier, for
// auth.RequireBearerToken: the SDK only fills req.Extra.TokenInfo in tool
// handlers, and only binds a Streamable HTTP session to its user, when that
// middleware put a TokenInfo in the request context.
//
// Mounted behind an rsguard.Guard over v, the request's token has already
// been verified: the adapter takes the rsguard.Principal the Guard stored
// (after checking that its claims are this token's payload) instead of
// verifying the signature a second time, and so can never disagree with the
// rsguard decision at an expiry boundary. Anywhere else, or for another
// token, it authenticates the token itself with v, as the Guard would.
//
// A refusal wraps auth.ErrInvalidToken, which the SDK answers with 401.
func tokenVerifier(v *validate.Validator) auth.TokenVerifier {
	return func(ctx context.Context, token string, _ *http.Request) (*auth.TokenInfo, error) {
		if p, ok := rsguard.FromContext(ctx); ok {
			if c, ok := p.Details.(*validate.Claims); ok && samePayload(c, token) {
				return tokenInfo(p), nil
			}
		}
		p, err := authenticateToken(ctx, v, token)
		if err != nil {
			// err never contains the token (validate's guarantee).
			return nil, fmt.Errorf("%w: %w", auth.ErrInvalidToken, err)
		}
		return tokenInfo(p), nil
	}
}

// authenticateToken authenticates token with v as the Guard does, so that the
// Principal is the one the Guard would have stored: v.Authenticate reads
// the token from a request that carries only it.
func authenticateToken(ctx context.Context, v *validate.Validator, token string) (*rsguard.Principal, error) {
	r, err := http.NewRequestWithContext(ctx, http.MethodPost, "/", nil)
	if err != nil {
		return nil, err
	}
	r.Header.Set("Authorization", "Bearer "+token)
	return v.Authenticate(r)
}

// samePayload reports whether token's JWS payload is exactly the payload
// that produced c.
func samePayload(c *validate.Claims, token string) bool {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return false
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	var verified json.RawMessage
	return err == nil && c.Decode(&verified) == nil && bytes.Equal(payload, verified)
}

// tokenInfo converts the principal p of a token to the SDK's TokenInfo.
// UserID is the stable principal (rsguard.Principal.Subject, for a token
// validate.Claims.Principal: "user:" or "client:", the issuer, "#" and the
// subject or client id), the same across token refreshes and never
// shared by a user and a client: the SDK refuses a session's requests from
// any other UserID with 403, so a stolen Mcp-Session-Id is useless with
// somebody else's token. It is never derived from the token itself.
func tokenInfo(p *rsguard.Principal) *auth.TokenInfo {
	extra := map[string]any{
		extraClientID:  p.ClientID,
		extraIssuer:    p.Issuer,
		extraPrincipal: p,
	}
	if c, ok := p.Details.(*validate.Claims); ok {
		extra[extraSubject] = c.Subject
		extra[extraClaims] = c
	}
	return &auth.TokenInfo{
		Scopes:     append([]string(nil), p.Scopes...),
		Expiration: p.Expiry,
		UserID:     p.Subject,
		Extra:      extra,
	}
}

// principalOf returns the rsguard principal recorded in ti, or nil.
func principalOf(ti *auth.TokenInfo) *rsguard.Principal {
	if ti == nil {
		return nil
	}
	p, _ := ti.Extra[extraPrincipal].(*rsguard.Principal)
	return p
}
