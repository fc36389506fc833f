package conformance

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// DPoPKey is a DPoP client's proof key (RFC 9449 §4): a key pair whose
// public JWK goes in the "jwk" header of its proofs. validatetest.DPoPKey
// wraps it for tests; the DPoP check makes its own.
type DPoPKey struct {
	alg    string // the proofs' "alg"
	method jwt.SigningMethod
	signer crypto.Signer
	jwk    map[string]any
	jkt    string
}

// DPoPAlgorithms are the algorithms NewDPoPKey makes keys for.
var DPoPAlgorithms = []string{"ES256", "ES384", "ES512", "RS256", "PS256", "EdDSA", "Ed25519"}

// NewDPoPKey generates a key for alg, one of DPoPAlgorithms: EC on the
// curve of ES256/384/512, RSA of 2048 bits for RS256 and PS256, Ed25519 for
// EdDSA and for Ed25519 (RFC 9864's fully-specified name, in the header).
func NewDPoPKey(alg string) (*DPoPKey, error) {
	k := &DPoPKey{alg: alg}
	var err error
	switch alg {
	case "ES256", "ES384", "ES512":
		curve := map[string]elliptic.Curve{"ES256": elliptic.P256(), "ES384": elliptic.P384(), "ES512": elliptic.P521()}[alg]
		k.signer, err = ecdsa.GenerateKey(curve, rand.Reader)
		k.method = jwt.GetSigningMethod(alg)
	case "RS256", "PS256":
		k.signer, err = rsa.GenerateKey(rand.Reader, 2048)
		k.method = jwt.GetSigningMethod(alg)
	case "EdDSA", "Ed25519":
		_, k.signer, err = ed25519.GenerateKey(rand.Reader)
		k.method = jwt.SigningMethodEdDSA
	default:
		return nil, fmt.Errorf("no DPoP key for algorithm %q (one of %s)", alg, strings.Join(DPoPAlgorithms, ", "))
	}
	if err != nil {
		return nil, err
	}
	if k.jwk, err = PublicJWK(k.signer.Public()); err != nil {
		return nil, err
	}
	k.jkt = Thumbprint(k.jwk)
	return k, nil
}

// Alg is the "alg" of the key's proofs.
func (k *DPoPKey) Alg() string { return k.alg }

// Thumbprint is the RFC 7638 JWK SHA-256 thumbprint of the key, base64url:
// the "jkt" of a token bound to it ("cnf", RFC 9449 §6).
func (k *DPoPKey) Thumbprint() string { return k.jkt }

// JWK returns the key's public JWK, the "jwk" header of its proofs, as a
// new map.
func (k *DPoPKey) JWK() map[string]any { return maps.Clone(k.jwk) }

// Signer is the private key.
func (k *DPoPKey) Signer() crypto.Signer { return k.signer }

// Thumbprint returns the RFC 7638 thumbprint of a public JWK of kty EC, RSA
// or OKP: the base64url SHA-256 of its required members, in lexicographic
// order, without white space; "" for another kty.
func Thumbprint(jwk map[string]any) string {
	var names []string
	switch jwk["kty"] {
	case "EC":
		names = []string{"crv", "kty", "x", "y"}
	case "RSA":
		names = []string{"e", "kty", "n"}
	case "OKP":
		names = []string{"crv", "kty", "x"}
	default:
		return ""
	}
	var b strings.Builder
	b.WriteByte('{')
	for i, n := range names {
		if i > 0 {
			b.WriteByte(',')
		}
		v, _ := marshalJSON(jwk[n])
		fmt.Fprintf(&b, "%q:%s", n, v)
	}
	b.WriteByte('}')
	return rawURL64(sha256Of(b.String()))
}

// ProofOptions chooses the proof [DPoPKey.Proof] makes.
type ProofOptions struct {
	// Method and URL are the request's method and URL: "htm" and "htu"
	// (without query and fragment, RFC 9449 §4.2).
	Method, URL string

	// Token is the access token the proof goes with: "ath" is its hash.
	// "": no "ath".
	Token string

	// IssuedAt is "iat". Zero: now.
	IssuedAt time.Time

	// ID is "jti". "": random.
	ID string

	// Nonce is "nonce" (RFC 9449 §9). "": none.
	Nonce string

	// Claims are merged over the generated claims, a nil value removing
	// one; Header over {"typ": "dpop+jwt", "alg", "jwk"}.
	Claims, Header map[string]any

	// Payload, if non-nil, is the payload byte for byte, instead of the
	// claims.
	Payload []byte

	// Alg, if set, signs with this algorithm instead of the key's and
	// names it in the header: "none" (no signature), or HS256/384/512
	// keyed with Secret.
	Alg    string
	Secret []byte

	// Signer, if set, signs instead of the key, whose jwk stays in the
	// header (a proof signed by another key than its jwk).
	Signer crypto.Signer
}

// Proof returns a DPoP proof made as o says.
func (k *DPoPKey) Proof(o ProofOptions) (string, error) {
	iat := o.IssuedAt
	if iat.IsZero() {
		iat = time.Now()
	}
	jti := o.ID
	if jti == "" {
		jti = randomHex(16)
	}
	htu := o.URL
	if u, err := url.Parse(o.URL); err == nil {
		u.RawQuery, u.Fragment, u.RawFragment = "", "", ""
		htu = u.String()
	}
	claims := map[string]any{"htm": o.Method, "htu": htu, "iat": iat.Unix(), "jti": jti}
	if o.Token != "" {
		claims["ath"] = rawURL64(sha256Of(o.Token))
	}
	if o.Nonce != "" {
		claims["nonce"] = o.Nonce
	}
	merge(claims, o.Claims)
	alg, method := k.alg, k.method
	var signWith any = k.signer
	switch {
	case strings.EqualFold(o.Alg, "none"):
		alg, method, signWith = o.Alg, nil, nil
	case o.Alg != "":
		alg, method, signWith = o.Alg, jwt.GetSigningMethod(o.Alg), o.Secret
		if method == nil {
			return "", fmt.Errorf("unknown algorithm %q", o.Alg)
		}
		if o.Secret == nil {
			signWith = o.Signer
		}
	case o.Signer != nil:
		signWith = o.Signer
	}
	header := map[string]any{"typ": "dpop+jwt", "alg": alg, "jwk": k.JWK()}
	merge(header, o.Header)
	hb, err := marshalJSON(header)
	if err != nil {
		return "", err
	}
	payload := o.Payload
	if payload == nil {
		if payload, err = marshalJSON(claims); err != nil {
			return "", err
		}
	}
	input := rawURL64(hb) + "." + rawURL64(payload)
	if method == nil {
		return input + ".", nil
	}
	if signWith == nil {
		return "", errors.New("nothing to sign with")
	}
	sig, err := method.Sign(input, signWith)
	if err != nil {
		return "", err
	}
	return input + "." + rawURL64(sig), nil
}
