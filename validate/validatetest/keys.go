package validatetest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"maps"
	"strings"

	"github.com/rsguard/rsguard/internal/conformance"
)

// Key is a key for [Issuer.AddKey]: usually one the issuer should not trust
// but publishes anyway, for attack tests (a JWK with "use":"enc", a 1024-bit
// RSA key, a JWK whose "alg" disagrees with the tokens it signs, an "oct"
// key, a duplicate "kid"…).
type Key struct {
	// Signer is the private key: *rsa.PrivateKey, *ecdsa.PrivateKey or
	// ed25519.PrivateKey. The issuer publishes its public JWK (RFC 7517 §4,
	// RFC 7518 §6, RFC 8037 §2) with "kid", "alg" and "use":"sig", and can
	// sign with it through [TokenOptions].Key. If nil, JWK is published
	// verbatim and nothing can sign with the key except a
	// [TokenOptions].Secret.
	Signer crypto.Signer

	// Alg is the JWK "alg" and the algorithm [TokenOptions].Key signs with
	// when [TokenOptions].Alg is empty. If empty, the default follows from
	// the key: RS256 for RSA, ES256/ES384/ES512 for P-256/P-384/P-521,
	// EdDSA for Ed25519.
	Alg string

	// JWK holds members merged over the generated JWK; a nil value removes
	// the member (for example {"use": "enc"}, {"alg": "RS512"},
	// {"kid": nil}). A string "kid" here is the key's kid. With a nil
	// Signer, JWK is the whole published entry. If nil, the generated JWK is
	// published as is.
	JWK map[string]any
}

// key is one signing key the issuer knows: published (in the JWKS) or
// retired. Its fields never change after creation except published, which
// is guarded by Issuer.mu.
type key struct {
	kid       string         // handle; also the JWK "kid" unless the JWK says otherwise
	alg       string         // what it signs when TokenOptions.Alg is empty
	signer    crypto.Signer  // nil for a verbatim JWK
	jwk       map[string]any // the published entry
	published bool
}

// canGenerate reports whether generateKey supports alg.
func canGenerate(alg string) bool {
	switch alg {
	case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA":
		return true
	}
	return false
}

// generateKey makes a fresh published key for alg.
func generateKey(alg string) (*key, error) {
	var (
		signer crypto.Signer
		err    error
	)
	switch alg {
	case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512":
		signer, err = rsa.GenerateKey(rand.Reader, 2048)
	case "ES256":
		signer, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "ES384":
		signer, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "ES512":
		signer, err = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	case "EdDSA":
		_, signer, err = ed25519.GenerateKey(rand.Reader)
	default:
		return nil, fmt.Errorf("cannot generate a key for algorithm %q", alg)
	}
	if err != nil {
		return nil, fmt.Errorf("generate %s key: %w", alg, err)
	}
	return newKey(signer, alg, nil)
}

// newKey builds the published JWK of signer, with overrides applied.
func newKey(signer crypto.Signer, alg string, overrides map[string]any) (*key, error) {
	jwk, err := conformance.PublicJWK(signer.Public())
	if err != nil {
		return nil, err
	}
	if alg == "" {
		alg = conformance.InferAlg(signer.Public())
	}
	k := &key{alg: alg, signer: signer, published: true, kid: newKid(alg)}
	jwk["kid"] = k.kid
	jwk["alg"] = alg
	jwk["use"] = "sig"
	merge(jwk, overrides)
	if kid, ok := overrides["kid"].(string); ok {
		k.kid = kid
	}
	k.jwk = jwk
	return k, nil
}

// newKid returns a random key ID that says which algorithm it is for, so
// test failures are readable: "rs256-1a2b3c4d5e6f".
func newKid(alg string) string {
	if alg == "" {
		alg = "key"
	}
	return strings.ToLower(alg) + "-" + randomHex(6)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand.Read)
	return hex.EncodeToString(b)
}

// Rotate generates a new key for alg (any algorithm [Options].Algorithms
// accepts), publishes it and makes it the key that signs alg by default
// (RFC 7517 §5; rotation as in OpenID Connect Core §10.1.1). The previous
// key stays published until [Issuer.Retire]. Rotate returns the new kid; for
// an unsupported alg it reports an error to the test and returns "".
func (is *Issuer) Rotate(alg string) (kid string) {
	if is.tb != nil {
		is.tb.Helper()
	}
	k, err := generateKey(alg)
	if err != nil {
		is.fail("Rotate: %v", err)
		return ""
	}
	is.mu.Lock()
	defer is.mu.Unlock()
	is.keys = append(is.keys, k)
	is.current[alg] = k
	return k.kid
}

// Retire removes every key with this kid from the JWK Set. A retired key can
// still sign through [TokenOptions].Key (tokens that no longer verify), and
// still signs its algorithm by default until [Issuer.Rotate] replaces it.
// An unknown kid is reported to the test as an error.
func (is *Issuer) Retire(kid string) {
	if is.tb != nil {
		is.tb.Helper()
	}
	is.mu.Lock()
	found := false
	for _, k := range is.keys {
		if k.kid == kid {
			k.published = false
			found = true
		}
	}
	is.mu.Unlock()
	if !found {
		is.fail("Retire: unknown kid %q", kid)
	}
}

// AddKey publishes k in the JWK Set, after the keys already there, and
// returns its kid: the handle for [TokenOptions].Key, [Issuer.Retire] and
// [Issuer.PublicKey], even if k.JWK removes the "kid" member from the
// published entry. It does not change which keys sign by default. A kid
// shared with another key publishes both (a JWK Set with a duplicate kid);
// lookups then find the newest. A key it cannot encode is reported to the
// test as an error, and AddKey returns "".
func (is *Issuer) AddKey(k Key) (kid string) {
	if is.tb != nil {
		is.tb.Helper()
	}
	var nk *key
	if k.Signer == nil {
		if k.JWK == nil {
			is.fail("AddKey: neither Signer nor JWK set")
			return ""
		}
		nk = &key{alg: k.Alg, jwk: maps.Clone(k.JWK), published: true}
		if s, ok := k.JWK["kid"].(string); ok {
			nk.kid = s
		} else {
			nk.kid = newKid(k.Alg)
		}
	} else {
		var err error
		if nk, err = newKey(k.Signer, k.Alg, k.JWK); err != nil {
			is.fail("AddKey: %v", err)
			return ""
		}
	}
	is.mu.Lock()
	is.keys = append(is.keys, nk)
	is.mu.Unlock()
	return nk.kid
}

// Kid returns the kid of the key that signs alg by default, or "" if alg has
// no key. An empty alg means the default algorithm ([Options].DefaultAlgorithm).
func (is *Issuer) Kid(alg string) string {
	if alg == "" {
		alg = is.defaultAlg
	}
	is.mu.RLock()
	defer is.mu.RUnlock()
	if k := is.current[alg]; k != nil {
		return k.kid
	}
	return ""
}

// lookup finds the newest key with this kid, published or not. Call with
// is.mu held.
func (is *Issuer) lookup(kid string) *key {
	for i := len(is.keys) - 1; i >= 0; i-- {
		if is.keys[i].kid == kid {
			return is.keys[i]
		}
	}
	return nil
}

// PublicKey returns the public key with this kid (*rsa.PublicKey,
// *ecdsa.PublicKey or ed25519.PublicKey), published or retired, or nil if
// there is none (an unknown kid, or a key added as a bare JWK). Encoded
// with x509.MarshalPKIXPublicKey (and encoding/pem, "PUBLIC KEY"), it gives
// the byte strings a confused verifier might use as an HMAC secret
// (RFC 8725 §2.1), as [Issuer.PublicJWK] does: sign with
// [TokenOptions].Secret set to them.
func (is *Issuer) PublicKey(kid string) crypto.PublicKey {
	is.mu.RLock()
	defer is.mu.RUnlock()
	if k := is.lookup(kid); k != nil && k.signer != nil {
		return k.signer.Public()
	}
	return nil
}

// pkixPublicKey returns pub as PKIX, ASN.1 DER (RFC 5280 §4.1.2.7
// SubjectPublicKeyInfo), and as a PEM "PUBLIC KEY" block (RFC 7468 §13) with
// its trailing newline; nil, nil when pub is nil or cannot be encoded. With
// the JWK, these are the byte strings a confused verifier might use as an
// HMAC secret (RFC 8725 §2.1).
func pkixPublicKey(pub crypto.PublicKey) (der, pemBlock []byte) {
	if pub == nil {
		return nil, nil
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, nil
	}
	return der, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// PublicJWK returns the JWK with this kid exactly as the JWK Set serves it
// (published or retired), or nil if there is none.
func (is *Issuer) PublicJWK(kid string) []byte {
	is.mu.RLock()
	defer is.mu.RUnlock()
	k := is.lookup(kid)
	if k == nil {
		return nil
	}
	b, err := marshalJSON(k.jwk)
	if err != nil {
		return nil
	}
	return b
}

// jwks returns the published JWK Set document (RFC 7517 §5).
func (is *Issuer) jwks() ([]byte, error) {
	is.mu.RLock()
	defer is.mu.RUnlock()
	keys := make([]json.RawMessage, 0, len(is.keys))
	for _, k := range is.keys {
		if !k.published {
			continue
		}
		b, err := marshalJSON(k.jwk)
		if err != nil {
			return nil, fmt.Errorf("JWK %q: %w", k.kid, err)
		}
		keys = append(keys, b)
	}
	return marshalJSON(map[string]any{"keys": keys})
}
