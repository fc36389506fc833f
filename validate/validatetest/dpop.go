package validatetest

import (
	"testing"
	"time"

	"github.com/rsguard/rsguard/internal/conformance"
)

// DPoPKey is the proof key of a DPoP client (RFC 9449): it makes the
// proofs a test sends in the DPoP header, next to `Authorization: DPoP
// <token>`, with a token bound to it. Bind a token to the key with its
// thumbprint in "cnf":
//
//	key := validatetest.NewDPoPKey(t, "ES256")
//	tok := iss.Token(map[string]any{"aud": resource, "cnf": map[string]any{"jkt": key.Thumbprint()}})
//	req.Header.Set("Authorization", "DPoP "+tok)
//	req.Header.Set("DPoP", key.Proof(http.MethodPost, resource, tok))
//
// ([Issuer.OpaqueToken] takes the same "cnf" claim.) Proofs are signed
// with golang-jwt. A DPoPKey is safe for concurrent use.
type DPoPKey struct {
	tb  testing.TB
	key *conformance.DPoPKey
}

// NewDPoPKey generates a proof key for alg: "ES256", "ES384", "ES512"
// (EC on P-256, P-384, P-521), "RS256" or "PS256" (RSA, 2048 bits),
// "EdDSA" or "Ed25519" (an Ed25519 key; the proofs' header names the alg
// as given, "Ed25519" being RFC 9864's fully-specified name). Like
// [NewIssuer] it calls tb.Fatal for an alg it does not know, or panics
// when tb is nil; later mistakes are reported with tb.Errorf.
func NewDPoPKey(tb testing.TB, alg string) *DPoPKey {
	if tb != nil {
		tb.Helper()
	}
	k, err := conformance.NewDPoPKey(alg)
	if err != nil {
		if tb == nil {
			panic("validatetest: " + err.Error())
		}
		tb.Fatalf("validatetest: %v", err)
		return nil
	}
	return &DPoPKey{tb: tb, key: k}
}

// Thumbprint returns the key's RFC 7638 JWK SHA-256 thumbprint, base64url:
// the "jkt" of the "cnf" claim of a token bound to it (RFC 9449 §6).
func (k *DPoPKey) Thumbprint() string { return k.key.Thumbprint() }

// JWK returns the key's public JWK, as a proof's "jwk" header carries it,
// in a new map.
func (k *DPoPKey) JWK() map[string]any { return k.key.JWK() }

// Proof returns a DPoP proof (RFC 9449 §4.2) of a request with this method
// to this URL, carrying token: header {"typ": "dpop+jwt", "alg", "jwk"},
// claims "htm" method, "htu" url without its query and fragment, "iat"
// now, a random "jti", and "ath" the hash of token (none if token is "").
// A proof is accepted once: make one per request.
func (k *DPoPKey) Proof(method, url, token string) string {
	if k.tb != nil {
		k.tb.Helper()
	}
	return k.ProofWith(ProofOptions{Method: method, URL: url, Token: token})
}

// ProofOptions chooses how [DPoPKey.ProofWith] makes a proof, including
// proofs a resource server must refuse. The zero value makes a proof with
// empty "htm" and "htu".
type ProofOptions struct {
	// Method is "htm", URL "htu" (without its query and fragment).
	Method, URL string

	// Token is the access token the proof goes with: "ath" is the
	// base64url SHA-256 of it. If empty, no "ath".
	Token string

	// IssuedAt is "iat". If zero, now (time.Now).
	IssuedAt time.Time

	// ID is "jti". If empty, random.
	ID string

	// Nonce is "nonce", a server nonce (RFC 9449 §9) from a DPoP-Nonce
	// header. If empty, none.
	Nonce string

	// Claims are merged over the generated claims, and Header over the
	// generated header {"typ": "dpop+jwt", "alg", "jwk"}; a nil value
	// removes a member. For a wrong "htm", another key's "jwk", a "typ" of
	// "JWT", a "jku"…
	Claims, Header map[string]any

	// Payload, if non-nil, is the proof's payload byte for byte (duplicate
	// members, not JSON…); Claims and the generated claims are then
	// ignored.
	Payload []byte
}

// ProofWith returns a proof made as opts says, signed with the key. A proof
// it cannot make (a claim that is not JSON) is reported to the test as an
// error, and ProofWith returns "".
func (k *DPoPKey) ProofWith(opts ProofOptions) string {
	if k.tb != nil {
		k.tb.Helper()
	}
	p, err := k.key.Proof(conformance.ProofOptions{Method: opts.Method, URL: opts.URL, Token: opts.Token, IssuedAt: opts.IssuedAt,
		ID: opts.ID, Nonce: opts.Nonce, Claims: opts.Claims, Header: opts.Header, Payload: opts.Payload})
	if err != nil {
		if k.tb == nil {
			panic("validatetest: ProofWith: " + err.Error())
		}
		k.tb.Errorf("validatetest: ProofWith: %v", err)
		return ""
	}
	return p
}
