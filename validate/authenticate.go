package validate

import (
	"net/http"
	"strings"
	"time"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/internal/authheader"
	"github.com/rsguard/rsguard/internal/check"
)

// Authenticate implements [rsguard.Authenticator] for bearer JWT access
// tokens: it reads the token of r as [rsguard.BearerToken] does, verifies it
// as [Validator.Verify] does, and returns the caller as a new
// [rsguard.Principal] owned by this request (the verified-token cache is
// asked first; see the package documentation):
//
//   - Subject: [Claims.Principal]; Credential: audit.CredentialJWT, or
//     audit.CredentialIntrospection for a token checked by introspection;
//   - Issuer, ClientID, Scopes, Expiry ("exp"), TokenID ("jti"), ACR and
//     AuthTime from the claims, Tenant from [Config.TenantClaim];
//   - Details: the request's own *[Claims] ([ClaimsFromContext] reads them).
//
// Its errors are [*rsguard.Error] values: BearerToken's (reasons
// no_credential, invalid_request) or Verify's. Give the Validator to an [rsguard.Guard]
// (rsguard.Config.Authenticator) to protect handlers with it.
//
// With [Config].DPoP on, a request with `Authorization: DPoP <token>` and a
// DPoP header is authenticated by the proof and the token together (RFC
// 9449 §4.3, §7.1; see the package documentation, "DPoP"): the Principal
// is the token's, its [Claims].KeyThumbprint the proof's key, and its
// Header a fresh DPoP-Nonce when the nonce used is about to expire; a
// refusal names the DPoP scheme (rsguard.Error.Scheme), so that the Guard
// puts its error on the DPoP challenge. With DPoPRequired a bearer token is
// refused (reason dpop_required). With DPoP off (the default), the DPoP
// scheme is not read: such a request has no credential (no_credential).
func (v *Validator) Authenticate(r *http.Request) (*rsguard.Principal, error) {
	if v == nil || v.issuers == nil {
		return nil, errNotBuilt()
	}
	if v.dpop.mode != DPoPOff {
		if scheme, _, _ := authheader.Split(r); strings.EqualFold(scheme, dpopScheme) {
			return v.authenticateDPoP(r)
		}
	}
	ctx, now := r.Context(), v.now()
	tok, p := authheader.Unchecked(r, "Bearer")
	if p == authheader.OK && v.dpop.mode != DPoPRequired {
		// The verified-token cache first: a token equal to one verified
		// before is well-formed, so a hit skips BearerToken's scan of its
		// characters. It holds JWS compact serialisations only, so with
		// introspection on, an opaque token goes straight to its cache.
		if v.intro == nil || strings.Count(tok, ".") == 2 {
			if c, e, hit := v.cached(ctx, tok, "", now); hit {
				if e != nil {
					return nil, e
				}
				return c.principalOf(), nil
			}
		}
		if v.intro == nil {
			return v.verifyBearer(r, tok, now)
		}
	}
	// Any other token is checked as BearerToken checks it before anything
	// else (one that may be introspected is sent to its authorization
	// server); the header is read again only for BearerToken's refusal.
	if p != authheader.OK || !check.B64Token(tok) {
		var err error
		if tok, err = rsguard.BearerToken(r); err != nil {
			return nil, err
		}
	}
	if v.dpop.mode == DPoPRequired {
		e := reject(errDPoPRequired)
		e.Credential = v.tokenCredential(tok)
		return nil, e
	}
	c, err := v.verifyUncached(ctx, tok, "", now, nil)
	if err != nil {
		return nil, err
	}
	return c.principalOf(), nil
}

// verifyBearer verifies tok, the bearer token of r that the cache does not
// hold, before BearerToken has checked its characters: verification decodes
// every segment of a JWS strictly, so a token it accepts is made of
// base64url characters and dots, a b64token (RFC 6750 §2.1). Only a refusal
// needs that check, of the characters decoding has not checked, and then
// comes first: a token with characters outside b64token is refused by
// BearerToken (400 invalid_request), as if it had been checked before
// verification. (With no issuer introspecting, verification sends the
// token nowhere; at worst it asks for the key set once, as for any token
// with an unknown kid.)
func (v *Validator) verifyBearer(r *http.Request, tok string, now time.Time) (*rsguard.Principal, error) {
	decoded := 0
	c, err := v.verifyUncached(r.Context(), tok, "", now, &decoded)
	if err != nil {
		// tok[:decoded] is base64url (no "="): when it is not empty, tok is
		// a b64token if the rest is empty or one too.
		if rest := tok[decoded:]; (decoded == 0 || rest != "") && !check.B64Token(rest) {
			if _, berr := rsguard.BearerToken(r); berr != nil {
				return nil, berr
			}
		}
		return nil, err
	}
	return c.principalOf(), nil
}

// principalOf returns the Principal that verified claims prove, sharing c's
// (per-request) scope slice, with c as its Details.
func (c *Claims) principalOf() *rsguard.Principal {
	return &rsguard.Principal{
		Subject:    c.Principal(),
		Credential: c.credential(), // jwt, or introspection
		Issuer:     c.Issuer,
		ClientID:   c.ClientID,
		Tenant:     c.tenant,
		Scopes:     c.Scopes,
		Expiry:     c.ExpiresAt,
		TokenID:    c.ID,
		ACR:        c.ACR,
		AuthTime:   c.AuthTime,
		Details:    c,
	}
}
