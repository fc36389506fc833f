package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/rsguard/rsguard/scopes"
	"github.com/rsguard/rsguard/validate"
)

// Keys of auth.TokenInfo.Extra set by tokenInfo. Tool handlers read them
// from req.Extra.TokenInfo.Extra.
const (
	extraClientID = "client_id"      // string: the token's client_id (or azp)
	extraIssuer   = "iss"            // string: the token's issuer
	extraSubject  = "sub"            // string: the token's subject
	extraGrant    = "rsguard.grant"  // *scopes.Grant: what rsguard's middleware granted
	extraClaims   = "rsguard.claims" // *validate.Claims: every verified claim
)

// tokenVerifier adapts v to the MCP Go SDK's auth.TokenVerifier, for
// auth.RequireBearerToken: the SDK only fills req.Extra.TokenInfo in tool
// handlers, and only binds a Streamable HTTP session to its user, when that
// middleware put a TokenInfo in the request context.
//
// Mounted behind v.Middleware, the request's token has already been verified:
// the adapter reuses those claims (after checking that they are this token's
// payload) instead of verifying the signature a second time, and so can never
// disagree with the rsguard decision at an expiry boundary. Anywhere else it
// verifies the token itself with v.Verify.
//
// A refusal wraps auth.ErrInvalidToken, which the SDK answers with 401.
func tokenVerifier(v *validate.Validator) auth.TokenVerifier {
	return func(ctx context.Context, token string, _ *http.Request) (*auth.TokenInfo, error) {
		if c, ok := validate.ClaimsFromContext(ctx); ok && samePayload(c, token) {
			g, _ := scopes.FromContext(ctx)
			return tokenInfo(c, g), nil
		}
		c, err := v.Verify(ctx, token)
		if err != nil {
			// err never contains the token (validate's guarantee).
			return nil, fmt.Errorf("%w: %w", auth.ErrInvalidToken, err)
		}
		return tokenInfo(c, v.Grant(c)), nil
	}
}

// samePayload reports whether token's JWS payload is exactly the payload
// that produced c.
func samePayload(c *validate.Claims, token string) bool {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return false
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	return err == nil && bytes.Equal(payload, c.Raw())
}

// tokenInfo converts verified claims to the SDK's TokenInfo. UserID is the
// stable principal (validate.Claims.Principal: "user:" or "client:", the
// issuer, "#" and the subject or client id), the same across token
// refreshes and never shared by a user and a client: the SDK refuses a
// session's requests from
// any other UserID with 403, so a stolen Mcp-Session-Id is useless with
// somebody else's token. It is never derived from the token itself.
func tokenInfo(c *validate.Claims, g *scopes.Grant) *auth.TokenInfo {
	extra := map[string]any{
		extraClientID: c.ClientID,
		extraIssuer:   c.Issuer,
		extraSubject:  c.Subject,
		extraClaims:   c,
	}
	if g != nil {
		extra[extraGrant] = g
	}
	return &auth.TokenInfo{
		Scopes:     append([]string(nil), c.Scopes...),
		Expiration: c.ExpiresAt,
		UserID:     c.Principal(),
		Extra:      extra,
	}
}

// grantOf returns the rsguard grant recorded in ti, or nil.
func grantOf(ti *auth.TokenInfo) *scopes.Grant {
	if ti == nil {
		return nil
	}
	g, _ := ti.Extra[extraGrant].(*scopes.Grant)
	return g
}
