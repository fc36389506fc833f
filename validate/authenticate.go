package validate

import (
	"net/http"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/audit"
)

// Authenticate implements [rsguard.Authenticator] for bearer JWT access
// tokens: it reads the token of r with [rsguard.BearerToken], verifies it
// with [Validator.Verify], and returns the caller as a new [rsguard.Principal]
// owned by this request:
//
//   - Subject: [Claims.Principal]; Credential: audit.CredentialJWT;
//   - Issuer, ClientID, Scopes, Expiry ("exp"), TokenID ("jti"), ACR and
//     AuthTime from the claims, Tenant from [Config.TenantClaim];
//   - Details: the request's own *[Claims] ([ClaimsFromContext] reads them).
//
// Its errors are [*rsguard.Error] values: BearerToken's (reasons
// no_credential, invalid_request) or Verify's. Give the Validator to an [rsguard.Guard]
// (rsguard.Config.Authenticator) to protect handlers with it.
func (v *Validator) Authenticate(r *http.Request) (*rsguard.Principal, error) {
	if v == nil || v.issuers == nil {
		return nil, errNotBuilt()
	}
	tok, err := rsguard.BearerToken(r)
	if err != nil {
		return nil, err
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
		Credential: audit.CredentialJWT,
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
