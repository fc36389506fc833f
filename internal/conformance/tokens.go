package conformance

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// TokenSource gets real access tokens for the resource: what a run with
// client credentials has (the checker command), enough for the NeedsToken
// checks.
type TokenSource interface {
	// Token returns a valid access token for the resource granting the
	// scopes (nil: requested without a scope), or an error.
	Token(scopes []string) (string, error)
}

// ResourceTokenSource is a TokenSource that can also ask for a token for
// another resource (RFC 8707 §2 "resource"), for the attack case "claims/aud
// another resource" when the run has no [Minter].
type ResourceTokenSource interface {
	TokenSource

	// TokenFor returns a valid access token for resource granting the
	// scopes (nil: requested without a scope), or an error (the
	// authorization server refused: invalid_target…).
	TokenFor(resource string, scopes []string) (string, error)
}

// Minter mints tokens signed by the authorization server's own keys, with
// chosen claims and headers, and publishes keys in its JWK Set: what the
// kit's issuer does, enough for every check. Its Token, used by no check,
// should be Mint with the resource as "aud" and the scopes.
type Minter interface {
	TokenSource

	// Issuer is the issuer identifier, the "iss" of its tokens.
	Issuer() string

	// Now is the time its tokens are issued at.
	Now() time.Time

	// Claims returns the default claims of its tokens ("iss", "iat",
	// "exp", "jti", "sub", "client_id"…) with extra merged over them (a nil
	// value removes one).
	Claims(extra map[string]any) map[string]any

	// Mint returns a token built as opts says from Claims(claims), or ""
	// after reporting why to the test.
	Mint(opts TokenOptions, claims map[string]any) string

	// Kid is the kid of the key that signs alg by default ("": the
	// default algorithm), or "" if none does.
	Kid(alg string) string

	// DefaultAlg is the algorithm of its tokens.
	DefaultAlg() string

	// PublicKey and PublicJWK return the key with this kid, as a
	// crypto.PublicKey and as its JWK Set entry; nil if there is none.
	PublicKey(kid string) crypto.PublicKey
	PublicJWK(kid string) []byte

	// AddKey publishes signer's public key in the JWK Set, its JWK merged
	// with jwk, and returns its kid, for Mint's TokenOptions.Key; Retire
	// takes it out again.
	AddKey(signer crypto.Signer, jwk map[string]any) string
	Retire(kid string)
}

// Introspector is what a Minter whose issuer has an introspection endpoint
// (RFC 7662) adds, for the introspection check: opaque tokens with chosen
// introspection answers, answers of its own, and a count of requests.
type Introspector interface {
	// OpaqueToken returns a new opaque token whose introspection answer is
	// Claims(claims) with "active": true and "token_type" "Bearer" ("DPoP"
	// with a "cnf" "jkt"), claims merged over them (nil removes one).
	OpaqueToken(claims map[string]any) string

	// HandleIntrospection makes h answer the introspection requests; nil
	// restores the issuer's own answers.
	HandleIntrospection(h http.Handler)

	// IntrospectionRequests returns how many introspection requests the
	// issuer has received.
	IntrospectionRequests() int
}

// TokenOptions chooses how a token is built, as validatetest.TokenOptions
// documents: Alg, Key (a kid), Signer, Secret (HMAC), Header (merged over
// {"alg", "kid", "typ": "at+jwt"}, nil removes), Payload (verbatim) and
// NoSignature.
type TokenOptions struct {
	Alg         string
	Key         string
	Signer      crypto.Signer
	Secret      []byte
	Header      map[string]any
	Payload     []byte
	NoSignature bool
}

// zero reports whether o asks for nothing but a token signed as usual.
func (o TokenOptions) zero() bool {
	return o.Alg == "" && o.Key == "" && o.Signer == nil && o.Secret == nil && o.Header == nil && o.Payload == nil && !o.NoSignature
}

// PublicKey is a signing key the authorization server publishes, as a run
// without its private keys knows it (from its JWK Set).
type PublicKey struct {
	Kid string           // its "kid"
	Alg string           // the algorithm it signs, "RS256"…
	Key crypto.PublicKey // *rsa.PublicKey, *ecdsa.PublicKey or ed25519.PublicKey
	JWK []byte           // its JWK Set entry, byte for byte
}

// issuerView is what the checks know of the authorization server: a Minter,
// or, without one, the forger.
type issuerView interface {
	Issuer() string
	Now() time.Time
	Claims(extra map[string]any) map[string]any
	Mint(opts TokenOptions, claims map[string]any) string
	Kid(alg string) string
	DefaultAlg() string
	PublicKey(kid string) crypto.PublicKey
	PublicJWK(kid string) []byte
}

// token mints a token for the resource with the given scopes (nil: no scope
// claim) and claims.
func (c *Target) token(scopes []string, claims map[string]any) string {
	return c.tokenWith(TokenOptions{}, scopes, claims)
}

// tokenWith mints a token for the resource: from the TokenSource when that
// is all the run has and the token is an ordinary one, else from the Minter
// or the forger ("" for a token the forger cannot make). While the kit
// proves possession of its DPoP key, the token is bound to it (see bind).
func (c *Target) tokenWith(opts TokenOptions, scopes []string, claims map[string]any) string {
	claims = c.bind(claims)
	if c.minter == nil && c.Tokens != nil && opts.zero() && claims == nil {
		tok, err := c.Tokens.Token(scopes)
		if err != nil {
			return ""
		}
		return tok
	}
	m := map[string]any{"aud": c.Resource}
	if scopes != nil {
		m["scope"] = strings.Join(scopes, " ")
	}
	for k, v := range c.Claims {
		m[k] = v
	}
	for k, v := range claims {
		m[k] = v
	}
	return c.iss.Mint(opts, m)
}

// tokenFor is token(scopes, nil), with the error of a token source that
// could not get it (the authorization server refused the scopes…).
func (c *Target) tokenFor(scopes []string) (string, error) {
	if c.minter == nil && c.Tokens != nil && !c.proving {
		return c.Tokens.Token(scopes)
	}
	if tok := c.token(scopes, nil); tok != "" {
		return tok, nil
	}
	return "", errors.New("the run cannot make this token")
}

// otherResource is the resource of the attack case "claims/aud another
// resource".
func (c *Target) otherResource() string {
	if c.OtherResource != "" {
		return c.OtherResource
	}
	return "https://other-resource.invalid/mcp"
}

// otherResourceToken gets, without a Minter, the token of the attack case
// "claims/aud another resource" from a ResourceTokenSource: a token the
// authorization server issued for another resource. If it cannot, skip
// says why (notIssued…) and note what to log.
func (c *Target) otherResourceToken() (tok, skip, note string) {
	other := c.otherResource()
	src, ok := c.Tokens.(ResourceTokenSource)
	if !ok {
		return "", NotCheckable + " without a token for another resource: this token source cannot ask for one", ""
	}
	tok, err := src.TokenFor(other, c.allScopes())
	if err != nil {
		return "", fmt.Sprintf("%s: asked for a token for %s (RFC 8707 resource), it refused: %s", notIssued, other, Redact(err.Error())), ""
	}
	if aud, ok := audienceOf(tok); ok && slices.Contains(aud, c.Resource) {
		return "", fmt.Sprintf("%s: asked for a token for %s, it issued one whose aud names this resource too (%q), so it ignores RFC 8707 resource", notIssued, other, aud),
			"the authorization server ignores the resource parameter (RFC 8707 §2): its tokens for any resource are good here, which no resource server can refuse; an authorization server that honours resource indicators issues audience-restricted tokens"
	}
	return tok, "", ""
}

// audienceOf reads the "aud" of a JWT without verifying it; false for a
// token that is not one (an opaque token).
func audienceOf(tok string) ([]string, bool) {
	_, p, _ := splitToken(tok)
	b, err := base64.RawURLEncoding.DecodeString(p)
	if err != nil {
		return nil, false
	}
	var claims struct {
		Aud json.RawMessage `json:"aud"`
	}
	if json.Unmarshal(b, &claims) != nil {
		return nil, false
	}
	var one string
	if json.Unmarshal(claims.Aud, &one) == nil {
		return []string{one}, true
	}
	var many []string
	if json.Unmarshal(claims.Aud, &many) == nil {
		return many, true
	}
	return nil, true
}

// scopesOf reads the scopes a JWT grants, its "scope" string or its "scp"
// (a string or an array), without verifying it; false for a token that is
// not a JWT or says neither.
func scopesOf(tok string) ([]string, bool) {
	_, p, _ := splitToken(tok)
	b, err := base64.RawURLEncoding.DecodeString(p)
	if err != nil {
		return nil, false
	}
	var claims struct {
		Scope *string         `json:"scope"`
		Scp   json.RawMessage `json:"scp"`
	}
	if json.Unmarshal(b, &claims) != nil {
		return nil, false
	}
	if claims.Scope != nil {
		return strings.Fields(*claims.Scope), true
	}
	var one string
	if json.Unmarshal(claims.Scp, &one) == nil {
		return strings.Fields(one), true
	}
	var many []string
	if json.Unmarshal(claims.Scp, &many) == nil {
		return many, true
	}
	return nil, false
}

// forger makes the tokens of a run without a Minter: with the attacker's
// keys, an HMAC secret (the issuer's public key), or no signature. It
// cannot sign with the authorization server's key: Mint returns "" then.
type forger struct {
	issuer string
	key    *PublicKey // nil: unknown
	now    func() time.Time
}

func (f *forger) Issuer() string { return f.issuer }
func (f *forger) Now() time.Time { return f.now() }

func (f *forger) Claims(extra map[string]any) map[string]any {
	now := f.now()
	c := map[string]any{
		"iat":       now.Unix(),
		"exp":       now.Add(5 * time.Minute).Unix(),
		"jti":       randomHex(16),
		"sub":       "rsguard-conformance-subject",
		"client_id": "rsguard-conformance-client",
	}
	if f.issuer != "" {
		c["iss"] = f.issuer
	}
	merge(c, extra)
	return c
}

func (f *forger) Kid(alg string) string {
	if f.key != nil && (alg == "" || alg == f.key.Alg) {
		return f.key.Kid
	}
	return ""
}

func (f *forger) DefaultAlg() string {
	if f.key != nil && f.key.Alg != "" {
		return f.key.Alg
	}
	return "RS256"
}

func (f *forger) PublicKey(kid string) crypto.PublicKey {
	if f.key != nil && kid == f.key.Kid {
		return f.key.Key
	}
	return nil
}

func (f *forger) PublicJWK(kid string) []byte {
	if f.key != nil && kid == f.key.Kid {
		return f.key.JWK
	}
	return nil
}

// Mint builds the token as the kit's issuer would, but signs only with
// opts.Signer or opts.Secret, or not at all; "" for a token that needs the
// authorization server's private key.
func (f *forger) Mint(opts TokenOptions, claims map[string]any) string {
	alg := opts.Alg
	switch {
	case alg != "":
	case opts.Signer != nil:
		alg = InferAlg(opts.Signer.Public())
	case opts.Secret != nil:
		alg = "HS256"
	default:
		alg = f.DefaultAlg()
	}
	var signWith any
	none := strings.EqualFold(alg, "none")
	switch {
	case none || opts.NoSignature:
	case opts.Secret != nil:
		signWith = opts.Secret
	case opts.Signer != nil:
		signWith = opts.Signer
	default:
		return "" // the authorization server's key
	}
	header := map[string]any{"alg": alg, "typ": "at+jwt"}
	kid := opts.Key
	if kid == "" && f.key != nil {
		kid = f.key.Kid
	}
	if kid != "" {
		header["kid"] = kid
	}
	merge(header, opts.Header)
	hb, err := marshalJSON(header)
	if err != nil {
		return ""
	}
	payload := opts.Payload
	if payload == nil {
		if payload, err = marshalJSON(f.Claims(claims)); err != nil {
			return ""
		}
	}
	input := rawURL64(hb) + "." + rawURL64(payload)
	if signWith == nil {
		return input + "."
	}
	method := jwt.GetSigningMethod(alg)
	if method == nil {
		return ""
	}
	if _, isHMAC := method.(*jwt.SigningMethodHMAC); isHMAC != (opts.Secret != nil) {
		return ""
	}
	sig, err := method.Sign(input, signWith)
	if err != nil {
		return ""
	}
	return input + "." + rawURL64(sig)
}

// merge applies overrides to m in place: a nil value deletes the member.
func merge(m, overrides map[string]any) {
	for k, v := range overrides {
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
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

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand.Read)
	return hex.EncodeToString(b)
}

// PublicJWK encodes a public key as a JWK without kid/alg/use.
func PublicJWK(pub crypto.PublicKey) (map[string]any, error) {
	b64 := base64.RawURLEncoding.EncodeToString
	switch pub := pub.(type) {
	case *rsa.PublicKey:
		return map[string]any{
			"kty": "RSA",
			"n":   b64(pub.N.Bytes()),
			"e":   b64(big.NewInt(int64(pub.E)).Bytes()),
		}, nil
	case *ecdsa.PublicKey:
		ek, err := pub.ECDH()
		if err != nil {
			return nil, fmt.Errorf("encode EC key: %w", err)
		}
		point := ek.Bytes() // 0x04 || X || Y, each padded to the field size
		size := (len(point) - 1) / 2
		return map[string]any{
			"kty": "EC",
			"crv": pub.Curve.Params().Name,
			"x":   b64(point[1 : 1+size]),
			"y":   b64(point[1+size:]),
		}, nil
	case ed25519.PublicKey:
		return map[string]any{"kty": "OKP", "crv": "Ed25519", "x": b64(pub)}, nil
	}
	return nil, fmt.Errorf("unsupported key type %T", pub)
}

// InferAlg names the usual algorithm of a public key.
func InferAlg(pub crypto.PublicKey) string {
	switch pub := pub.(type) {
	case *rsa.PublicKey:
		return "RS256"
	case *ecdsa.PublicKey:
		switch pub.Curve {
		case elliptic.P384():
			return "ES384"
		case elliptic.P521():
			return "ES512"
		}
		return "ES256"
	case ed25519.PublicKey:
		return "EdDSA"
	}
	return ""
}

// pkixPublicKey returns pub as PKIX DER and as a PEM "PUBLIC KEY" block;
// nil, nil when pub is nil or cannot be encoded: the byte strings a
// confused verifier might use as an HMAC secret (RFC 8725 §2.1).
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
