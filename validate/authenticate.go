package validate

import (
	"net/http"
	"strings"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/internal/authheader"
)

// Authenticate implements [rsguard.Authenticator] for bearer JWT access
// tokens: it reads the token of r with [rsguard.BearerToken], verifies it
// with [Validator.Verify], and returns the caller as a new [rsguard.Principal]
// owned by this request:
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
	tok, err := rsguard.BearerToken(r)
	if err != nil {
		return nil, err
	}
	if v.dpop.mode == DPoPRequired {
		e := reject(errDPoPRequired)
		e.Credential = v.tokenCredential(tok)
		return nil, e
	}
	c, err := v.Verify(r.Context(), tok)
	if err != nil {
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
