package validatetest

import (
	"bytes"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/golang-jwt/jwt/v5"
	"github.com/rsguard/rsguard/internal/conformance"
)

// TokenOptions chooses how [Issuer.TokenWith] builds a token, including
// tokens a validator must refuse. The zero value mints what [Issuer.Token]
// mints: the default algorithm, signed with its current published key.
type TokenOptions struct {
	// Alg is the header "alg" (RFC 7515 §4.1.1) and the algorithm that
	// signs: any name golang-jwt knows (RS*, PS*, ES*, EdDSA, HS*), or
	// "none" in any casing for an unsecured JWT with an empty signature
	// (RFC 7519 §6). If empty, the default is Key's algorithm when Key is
	// set, else the Signer's usual one (RS256, ES256/384/512, EdDSA), else
	// HS256 when Secret is set, else [Options].DefaultAlgorithm.
	Alg string

	// Key is the kid of a key of the issuer, published or retired, that
	// signs the token and whose kid the header carries. With Signer or
	// Secret set it only names the header kid. If empty, the default is the
	// key that currently signs Alg or, for an algorithm the issuer has no
	// key for (HS256, none…), the default algorithm's key: the header then
	// names that kid, as a forger would.
	Key string

	// Signer signs instead of the issuer's keys: a key that is not
	// published, as an attacker's. It must be an *rsa.PrivateKey,
	// *ecdsa.PrivateKey or ed25519.PrivateKey matching Alg. If nil, the
	// issuer's key signs.
	Signer crypto.Signer

	// Secret is the HMAC key for HS256, HS384 and HS512 (RFC 7518 §3.2):
	// arbitrary bytes, such as the issuer's public key in PEM or DER (see
	// [Issuer.PublicKey]) or its JWK ([Issuer.PublicJWK]) for an algorithm
	// confusion attack (RFC 8725 §2.1). If nil, HS* cannot sign.
	Secret []byte

	// Header holds members merged over the generated JOSE header
	// {"alg", "kid", "typ":"at+jwt"}; a nil value removes one. Use it for
	// "typ", "crit", "jku", "x5u", "jwk", an unknown or absent "kid", or an
	// "alg" that differs from the one that signed. If nil, the generated
	// header is used.
	Header map[string]any

	// Payload, if non-nil, is the JWS payload byte for byte (a string
	// "exp", an array, invalid JSON, nothing at all…); the claims argument
	// and the default claims are then ignored. If nil, the payload is the
	// claims as JSON.
	Payload []byte

	// NoSignature strips the signature, leaving "header.payload." whatever
	// Alg says. The default (false) signs.
	NoSignature bool
}

// Token returns a signed RFC 9068 JWT access token: header
// {"alg": default algorithm, "kid", "typ": "at+jwt"}, signed with the
// default algorithm's current key, with the claims "iss" (the issuer), "iat"
// (now), "exp" (now plus the lifetime), "jti" (random), "sub"
// ("test-subject"), "client_id" ("test-client") and, if
// [Options].Audience is set, "aud". claims are added over these; a nil value
// removes a claim. Typical claims to add are "aud" and "scope" (a
// space-separated string, RFC 9068 §2.2.3).
//
// Token never fails with the issuer's own keys; a claim that cannot be
// encoded as JSON is reported to the test as an error and Token returns "".
func (is *Issuer) Token(claims map[string]any) string {
	if is.tb != nil {
		is.tb.Helper()
	}
	return is.TokenWith(TokenOptions{}, claims)
}

// TokenWith returns a token built as opts says from the claims of
// [Issuer.Token] (the same defaults, and claims merged over them the same
// way): good tokens signed otherwise, and bad ones for attack tests. A
// request it cannot carry out (an unknown Key, no key for Alg, a Signer of
// the wrong type) is reported to the test as an error, and TokenWith returns
// "".
func (is *Issuer) TokenWith(opts TokenOptions, claims map[string]any) string {
	if is.tb != nil {
		is.tb.Helper()
	}
	tok, err := is.sign(opts, claims)
	if err != nil {
		is.fail("TokenWith: %v", err)
		return ""
	}
	return tok
}

// claims returns the default claims of a token with extra merged over them.
func (is *Issuer) claims(extra map[string]any) map[string]any {
	now := is.now()
	c := map[string]any{
		"iss":       is.issuer,
		"iat":       now.Unix(),
		"exp":       now.Add(is.lifetime).Unix(),
		"jti":       randomHex(16),
		"sub":       defaultSubject,
		"client_id": defaultClientID,
	}
	switch len(is.audience) {
	case 0:
	case 1:
		c["aud"] = is.audience[0]
	default:
		c["aud"] = is.audience
	}
	merge(c, extra)
	return c
}

func (is *Issuer) sign(opts TokenOptions, claims map[string]any) (string, error) {
	if opts.Signer != nil && opts.Secret != nil {
		return "", errors.New("both Signer and Secret set")
	}

	// Choose the algorithm, the key that names the kid, and what signs.
	is.mu.RLock()
	var named *key
	if opts.Key != "" {
		if named = is.lookup(opts.Key); named == nil {
			is.mu.RUnlock()
			return "", fmt.Errorf("unknown Key %q", opts.Key)
		}
	}
	alg := opts.Alg
	switch {
	case alg != "":
	case named != nil && opts.Signer == nil && opts.Secret == nil:
		alg = named.alg
	case opts.Signer != nil:
		alg = conformance.InferAlg(opts.Signer.Public())
	case opts.Secret != nil:
		alg = "HS256"
	default:
		alg = is.defaultAlg
	}
	if named == nil {
		if named = is.current[alg]; named == nil {
			named = is.current[is.defaultAlg]
		}
	}
	var signWith any
	none := strings.EqualFold(alg, "none")
	switch {
	case none || opts.NoSignature:
	case opts.Secret != nil:
		signWith = opts.Secret
	case opts.Signer != nil:
		signWith = opts.Signer
	case opts.Key != "" && named.signer == nil:
		is.mu.RUnlock()
		return "", fmt.Errorf("key %q has no private key (added as a bare JWK): set Secret or Signer", opts.Key)
	case opts.Key != "":
		signWith = named.signer
	case is.current[alg] != nil:
		signWith = is.current[alg].signer
	default:
		is.mu.RUnlock()
		return "", fmt.Errorf("the issuer has no key for %q: Rotate(%q) first, or set Key, Signer or Secret", alg, alg)
	}
	kid := ""
	if named != nil {
		kid = named.kid
	}
	is.mu.RUnlock()

	header := map[string]any{"alg": alg, "typ": "at+jwt"}
	if kid != "" {
		header["kid"] = kid
	}
	merge(header, opts.Header)
	hb, err := marshalJSON(header)
	if err != nil {
		return "", fmt.Errorf("encode header: %w", err)
	}
	payload := opts.Payload
	if payload == nil {
		if payload, err = marshalJSON(is.claims(claims)); err != nil {
			return "", fmt.Errorf("encode claims: %w", err)
		}
	}
	enc := base64.RawURLEncoding.EncodeToString
	input := enc(hb) + "." + enc(payload)
	if signWith == nil {
		return input + ".", nil
	}
	method := jwt.GetSigningMethod(alg)
	if method == nil {
		return "", fmt.Errorf("cannot sign with unknown algorithm %q (sign with a known one and set Header[\"alg\"])", alg)
	}
	if _, isHMAC := method.(*jwt.SigningMethodHMAC); isHMAC != (opts.Secret != nil) {
		return "", fmt.Errorf("algorithm %q: HS* algorithms sign with Secret, and only they do", alg)
	}
	sig, err := method.Sign(input, signWith)
	if err != nil {
		return "", fmt.Errorf("sign with %s: %w", alg, err)
	}
	return input + "." + enc(sig), nil
}

// marshalJSON encodes v without HTML escaping and without a trailing newline.
func marshalJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
