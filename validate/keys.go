package validate

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"

	"github.com/MicahParks/keyfunc/v3"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/audit"
)

// minRSABits is the smallest RSA modulus accepted for signature verification
// (RFC 7518 §3.3 requires 2048 bits).
const minRSABits = 2048

// key is one usable verification key of an issuer, with what may be checked
// without touching the signature: its key type, curve and declared algorithm.
type key struct {
	raw    string // the JWK as published, to recognise it in the next fetch
	kid    string
	alg    string // the JWK "alg" member, "" when absent
	family string // "RSA", "EC-P256", "EC-P384", "EC-P521", "Ed25519"
	pub    crypto.PublicKey
	// unusable, when non-nil, says why a published key may never verify a
	// signature (use "enc", a short RSA modulus, a degenerate curve
	// point…). The key stays in the set so that tokens naming it are
	// refused at once, without a refresh.
	unusable *rsguard.Error
	leaked   bool // the JWK carried private key material
}

// keySnapshot is an immutable view of an issuer's key set. Readers load it
// through an atomic pointer: the verification path takes no lock.
type keySnapshot struct {
	byKid  map[string]*key
	usable []*key // usable keys, for tokens without "kid"
	all    []*key // every parsed key, usable or not
}

// algFamily maps a JWS "alg" to the key family that can verify it.
func algFamily(alg string) string {
	switch alg {
	case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512":
		return "RSA"
	case "ES256":
		return "EC-P256"
	case "ES384":
		return "EC-P384"
	case "ES512":
		return "EC-P521"
	case "EdDSA", "Ed25519":
		return "Ed25519"
	}
	return ""
}

// lookup returns the key the token names. ok is false when the kid is not in
// the snapshot at all (a refresh may help); a non-nil *rsguard.Error is a definitive
// refusal.
func (s *keySnapshot) lookup(kid []byte, hasKid bool, alg []byte) (k *key, ok bool, err *rsguard.Error) {
	if s == nil {
		return nil, false, nil
	}
	if hasKid {
		k = s.byKid[string(kid)]
		if k == nil {
			return nil, false, nil
		}
	} else {
		// No "kid": accept only when exactly one usable key fits the
		// algorithm. Several candidates are never tried one after another.
		fam := algFamily(string(alg))
		for _, c := range s.usable {
			if c.family == fam && (c.alg == "" || c.alg == string(alg)) {
				if k != nil {
					return nil, true, reject(errAmbiguousKey)
				}
				k = c
			}
		}
		if k == nil {
			return nil, false, nil
		}
	}
	if k.unusable != nil {
		return nil, true, reject(*k.unusable)
	}
	if k.family != algFamily(string(alg)) || (k.alg != "" && k.alg != string(alg)) {
		return nil, true, reject(errKeyAlgorithm)
	}
	return k, true, nil
}

// parseJWKS builds a snapshot from a JWK Set document (RFC 7517 §5). Each key
// is parsed on its own through keyfunc (which validates its parameters), so
// one key of an unsupported type does not invalidate the others: warn is told
// of each key skipped (it cannot be parsed, or repeats a kid: the first one
// wins) and of each key published with its private part (kept, as unusable).
//
// Keys published unchanged since prev keep their identity (the same *key), so
// that cached verifications made with them stay valid across refreshes.
func parseJWKS(body []byte, prev *keySnapshot, warn func(msg string, args ...any)) (*keySnapshot, error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("JWK Set is not JSON: %w", err)
	}
	if doc.Keys == nil {
		return nil, errors.New(`JWK Set has no "keys" member`)
	}
	s := &keySnapshot{byKid: make(map[string]*key, len(doc.Keys))}
	for i, raw := range doc.Keys {
		k := prev.same(raw)
		if k == nil {
			var err error
			if k, err = parseJWK(raw); err != nil {
				warn("rsguard: skipping a JWK that cannot be used", "index", i, "reason", err.Error())
				continue
			}
		}
		if _, dup := s.byKid[k.kid]; dup && k.kid != "" {
			warn("rsguard: skipping a JWK with a duplicate kid", "kid", k.kid)
			continue
		}
		if k.leaked {
			warn("rsguard: the JWK Set publishes a private key; it will verify nothing", "kid", k.kid)
		}
		s.all = append(s.all, k)
		if k.kid != "" {
			s.byKid[k.kid] = k
		}
		if k.unusable == nil {
			s.usable = append(s.usable, k)
		}
	}
	if len(s.usable) == 0 {
		return nil, errors.New("JWK Set has no usable signature-verification key")
	}
	return s, nil
}

// jwkMeta is what we read of a JWK ourselves, besides the key material that
// keyfunc parses.
type jwkMeta struct {
	Kid    *string  `json:"kid"`
	Kty    string   `json:"kty"`
	Use    string   `json:"use"`
	Alg    string   `json:"alg"`
	KeyOps []string `json:"key_ops"`
	Crv    string   `json:"crv"`
	X      string   `json:"x"`
	Y      string   `json:"y"`
	// Private members (RFC 7518 §6.2.2, §6.3.2, RFC 8037 §2): a JWK Set
	// that publishes them has leaked the key.
	D   *string         `json:"d"`
	P   *string         `json:"p"`
	Q   *string         `json:"q"`
	DP  *string         `json:"dp"`
	DQ  *string         `json:"dq"`
	QI  *string         `json:"qi"`
	Oth json.RawMessage `json:"oth"`
	K   *string         `json:"k"`
}

// coordinateBytes is the length of an EC or OKP coordinate of a curve.
var coordinateBytes = map[string]int{"P-256": 32, "P-384": 48, "P-521": 66, "Ed25519": 32}

// checkCoordinates refuses EC and OKP keys whose coordinates do not have
// their curve's length (the JWK parser underneath panics on some of them).
func (m *jwkMeta) checkCoordinates() error {
	if m.Kty != "EC" && m.Kty != "OKP" {
		return nil
	}
	n, ok := coordinateBytes[m.Crv]
	if !ok {
		return fmt.Errorf("unsupported curve %q", m.Crv)
	}
	for _, c := range []string{m.X, m.Y} {
		if c == "" && m.Kty == "OKP" {
			continue
		}
		b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(c, "="))
		if err != nil || len(b) != n {
			return fmt.Errorf("coordinate of the wrong length for %s", m.Crv)
		}
	}
	return nil
}

// parseKeyMaterial runs keyfunc's JWK parser, turning a panic inside it into
// an error: a malformed key in an issuer's set must cost that key, not the
// process.
func parseKeyMaterial(raw json.RawMessage) (material any, err error) {
	defer func() {
		if r := recover(); r != nil {
			material, err = nil, errors.New("the JWK cannot be parsed")
		}
	}()
	kf, err := keyfunc.NewJWKJSON(raw)
	if err != nil {
		return nil, err
	}
	jwks, err := kf.Storage().KeyReadAll(context.Background())
	if err != nil || len(jwks) != 1 {
		return nil, errors.New("cannot read the parsed key")
	}
	return jwks[0].Key(), nil
}

func parseJWK(raw json.RawMessage) (*key, error) {
	var m jwkMeta
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("not a JWK object: %w", err)
	}
	k := &key{alg: m.Alg, raw: string(raw)}
	if m.Kid != nil {
		k.kid = *m.Kid
	}
	if m.Kty == "oct" {
		// Symmetric keys never verify tokens from a JWKS: HMAC with a
		// published key is no signature at all (RFC 8725 §2.1).
		k.unusable = ptr(invalidToken(audit.ReasonBadAlgorithm, "the token's key is a symmetric key"))
		return k, nil
	}
	if err := m.checkCoordinates(); err != nil {
		return nil, fmt.Errorf("kid %q: %w", k.kid, err)
	}
	material, err := parseKeyMaterial(raw)
	if err != nil {
		return nil, fmt.Errorf("kid %q: %w", k.kid, err)
	}
	if m.D != nil || m.P != nil || m.Q != nil || m.DP != nil || m.DQ != nil || m.QI != nil || m.Oth != nil || m.K != nil {
		// The issuer published private key material: anyone can sign
		// with this key, so nothing it signed can be trusted.
		k.unusable = ptr(errUnusableKey)
		k.leaked = true
	}
	if p, ok := material.(interface{ Public() crypto.PublicKey }); ok {
		material = p.Public()
	}
	family, weak, err := checkPublicKey(material)
	if err != nil {
		return nil, fmt.Errorf("kid %q: %w", k.kid, err)
	}
	k.family = family
	if weak != nil {
		k.unusable = weak
	}
	k.pub = material
	switch {
	case k.unusable != nil:
	case m.Use != "" && m.Use != "sig":
		k.unusable = ptr(errUnusableKey)
	case m.KeyOps != nil && !containsString(m.KeyOps, "verify"):
		k.unusable = ptr(errUnusableKey)
	case m.Alg != "" && algFamily(m.Alg) != k.family:
		// A key declaring an algorithm its type cannot do (or "none", or
		// an HMAC algorithm) verifies nothing.
		k.unusable = ptr(errKeyAlgorithm)
	}
	return k, nil
}

// checkPublicKey returns the family of a verification key (see algFamily),
// and errWeakKey for a key that must never verify a signature although it
// parses: an RSA modulus under 2048 bits, an EC point off its curve (or the
// point at infinity), an Ed25519 key of small order or not canonically
// encoded. Keys of other types and curves are an error. It applies to keys of
// JWK Sets and to those a KeySet of the application returns alike.
func checkPublicKey(pub crypto.PublicKey) (family string, weak *rsguard.Error, err error) {
	switch pub := pub.(type) {
	case *rsa.PublicKey:
		if pub.N == nil || pub.N.BitLen() < minRSABits || pub.E < 2 {
			return "RSA", ptr(errWeakKey), nil
		}
		return "RSA", nil, nil
	case *ecdsa.PublicKey:
		switch pub.Curve {
		case elliptic.P256():
			family = "EC-P256"
		case elliptic.P384():
			family = "EC-P384"
		case elliptic.P521():
			family = "EC-P521"
		default:
			return "", nil, errors.New("unsupported curve")
		}
		// keyfunc (jwkset) does not check that the point is on the
		// curve; ECDH does, and refuses the point at infinity too.
		if pub.X == nil || pub.Y == nil {
			return family, ptr(errWeakKey), nil
		}
		if _, err := pub.ECDH(); err != nil {
			return family, ptr(errWeakKey), nil
		}
		return family, nil, nil
	case ed25519.PublicKey:
		if checkEd25519(pub) != nil {
			return "Ed25519", ptr(errWeakKey), nil
		}
		return "Ed25519", nil, nil
	}
	return "", nil, fmt.Errorf("unsupported key type %T", pub)
}

// checkEd25519 refuses an Ed25519 public key that is not the canonical
// encoding of a curve point (RFC 8032 §5.1.3), or whose point has small order
// (1, 2, 4 or 8). crypto/ed25519 accepts both: it decodes non-canonical
// encodings and does not check the order, and under a key of small order the
// signature R = identity, S = 0 verifies at least one message in 8 (every
// message under the identity), so anyone can forge tokens by varying the
// claims. Keys are checked when a key set is loaded, not per request, so this
// is plain math/big arithmetic, written for clarity rather than speed.
func checkEd25519(pub []byte) error {
	if len(pub) != ed25519.PublicKeySize {
		return errors.New("Ed25519 key of the wrong length")
	}
	one := big.NewInt(1)
	p := new(big.Int).Sub(new(big.Int).Lsh(one, 255), big.NewInt(19)) // 2^255 - 19
	d := new(big.Int).ModInverse(big.NewInt(121666), p)
	d.Mod(d.Mul(d, big.NewInt(-121665)), p) // -121665/121666

	// The encoding is y little-endian; its top bit is the sign of x, which
	// does not matter here: P and -P have the same order, and x = 0 with
	// the sign set (which RFC 8032 refuses) occurs only for y = ±1, points
	// of order 1 and 2.
	be := make([]byte, len(pub))
	for i, b := range pub {
		be[len(pub)-1-i] = b
	}
	be[0] &= 0x7f
	y := new(big.Int).SetBytes(be)
	if y.Cmp(p) >= 0 {
		return errors.New("Ed25519 key not canonically encoded (y >= p)")
	}
	// -x^2 + y^2 = 1 + d·x^2·y^2, so x^2 = (y^2 - 1) / (d·y^2 + 1); the
	// denominator is never 0, as d is not a square.
	y2 := new(big.Int).Mul(y, y)
	num := new(big.Int).Sub(y2, one)
	den := new(big.Int).Add(new(big.Int).Mul(d, y2), one)
	x2 := new(big.Int).Mul(num, den.ModInverse(den, p))
	x := new(big.Int).ModSqrt(x2.Mod(x2, p), p)
	if x == nil {
		return errors.New("Ed25519 key not on the curve")
	}
	// The point has small order exactly when 8 (the cofactor) times it is
	// the identity (0, 1): double it three times.
	for range 3 {
		x, y = edwardsAdd(p, d, x, y, x, y)
	}
	if x.Sign() == 0 && y.Cmp(one) == 0 {
		return errors.New("Ed25519 key of small order")
	}
	return nil
}

// edwardsAdd adds two points of the twisted Edwards curve
// -x^2 + y^2 = 1 + d·x^2·y^2 modulo p (RFC 8032 §5.1.4, in affine
// coordinates; the formula is complete, no denominator is ever 0).
func edwardsAdd(p, d, x1, y1, x2, y2 *big.Int) (x3, y3 *big.Int) {
	mul := func(a, b *big.Int) *big.Int { return new(big.Int).Mod(new(big.Int).Mul(a, b), p) }
	dxy := mul(d, mul(mul(x1, x2), mul(y1, y2)))
	xNum := new(big.Int).Add(mul(x1, y2), mul(y1, x2))
	yNum := new(big.Int).Add(mul(y1, y2), mul(x1, x2))
	xDen := new(big.Int).Add(big.NewInt(1), dxy)
	yDen := new(big.Int).Sub(big.NewInt(1), dxy)
	x3 = mul(xNum, xDen.ModInverse(xDen.Mod(xDen, p), p))
	y3 = mul(yNum, yDen.ModInverse(yDen.Mod(yDen, p), p))
	return x3, y3
}

// same returns the key of s published as exactly raw, if any.
func (s *keySnapshot) same(raw json.RawMessage) *key {
	if s == nil {
		return nil
	}
	for _, k := range s.all {
		if k.raw == string(raw) {
			return k
		}
	}
	return nil
}

func ptr[T any](v T) *T { return &v }

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
