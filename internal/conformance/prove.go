package conformance

import (
	"slices"

	"github.com/rsguard/rsguard/rsmeta"
)

// The checks whose requests carry the kit's tokens as the target takes them
// (Check.ProvesDPoP: accept, session, stepup, attacks) against a server that
// requires DPoP: their tokens are bound to a key the kit holds, and sendAs
// sends each with a proof of it. With DPoP off or allowed they send bearer
// tokens, as ever.

// whyBoundToken is the reason a check or case that needs a token needs the
// issuer's key when DPoP is required.
const whyBoundToken = "with DPoP required it needs tokens bound to the kit's DPoP key, which only the kit's issuer mints"

// boundNeeds is what a check or case that needs n (why: the reason) needs
// while the kit proves possession of its DPoP key: a token from a
// TokenSource is not bound to the kit's key, so NeedsToken becomes
// NeedsIssuerKey.
func (c *Target) boundNeeds(n Needs, why string) (Needs, string) {
	if c.proving && n == NeedsToken {
		return NeedsIssuerKey, whyBoundToken
	}
	return n, why
}

// bind returns claims with, while the kit proves possession of its DPoP
// key and unless claims names "cnf" (a nil value: unbound), the binding to
// the kit's main DPoP key added (RFC 9449 §6.1), in a new map.
func (c *Target) bind(claims map[string]any) map[string]any {
	if !c.proving || c.dpopKeys == nil {
		return claims
	}
	if _, set := claims["cnf"]; set {
		return claims
	}
	m := map[string]any{"cnf": map[string]any{"jkt": c.dpopKeys.main.Thumbprint()}}
	for n, v := range claims {
		m[n] = v
	}
	return m
}

// tokenOf mints a token for the resource with the scopes and claims, as
// c.token does, bound to k while the kit proves possession of its DPoP
// keys: sendAs then proves possession of k, not of the kit's main key (a
// session's intruders have keys of their own).
func (c *Target) tokenOf(k *DPoPKey, scopes []string, claims map[string]any) string {
	if !c.proving || k == nil {
		return c.token(scopes, claims)
	}
	m := map[string]any{"cnf": map[string]any{"jkt": k.Thumbprint()}}
	for n, v := range claims {
		m[n] = v
	}
	tok := c.token(scopes, m)
	if tok != "" {
		if c.provers == nil {
			c.provers = map[string]*DPoPKey{}
		}
		c.provers[tok] = k
	}
	return tok
}

// proverOf is the key sendAs proves possession of for tok.
func (c *Target) proverOf(tok string) *DPoPKey {
	if k, ok := c.provers[tok]; ok {
		return k
	}
	return c.dpopKeys.main
}

// scheme is the auth-scheme the target takes the kit's tokens in: Bearer,
// or DPoP when DPoP is required.
func (c *Target) scheme() string {
	if c.DPoP == DPoPRequired {
		return "DPoP"
	}
	return "Bearer"
}

// tokenChallenge returns the challenge of a refusal that must carry the
// error of a request made with c.scheme(): the single Bearer challenge (see
// bearerChallenge); or, DPoP required, the DPoP challenge (RFC 9449 §7.1:
// a request with `Authorization: DPoP` is refused on it; one without a
// token gets it alone, §7.2), checked for resource_metadata and scope.
func (c *Target) tokenChallenge(r Reporter, resp *response) (rsmeta.Challenge, bool) {
	r.Helper()
	if c.DPoP != DPoPRequired {
		return c.bearerChallenge(r, resp)
	}
	ch, ok := c.schemeChallenge(r, resp, "DPoP")
	if ok && slices.Contains(ch.Scope, "offline_access") {
		r.Errorf("the challenge names offline_access: MCP says a server never asks for it (MCP authorization, scope selection strategy). Remove offline_access from the scopes of challenges.")
	}
	return ch, ok
}

// withProof says, in messages about a request with a valid token, how it
// was sent while the kit proves possession of its DPoP key.
func (c *Target) withProof() string {
	if c.proving {
		return " (DPoP-bound, sent as Authorization: DPoP with a valid proof of its key)"
	}
	return ""
}

// underValidProof says, in messages about a refused token, that the proof
// that came with it was valid: the refusal is the token's.
func (c *Target) underValidProof() string {
	if c.proving {
		return "; the DPoP proof that came with it was valid, so the token is what is refused: RFC 9449 §7.1"
	}
	return ""
}
