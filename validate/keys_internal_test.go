package validate

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"math/big"
	mrand "math/rand/v2"
	"slices"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The tests below judge checkEd25519 against an oracle built from
// crypto/ed25519 and math/big alone, sharing no code with it.

func edP() *big.Int { return new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 255), big.NewInt(19)) }

// edD is d = -121665/121666 mod p (RFC 8032 §5.1).
func edD() *big.Int {
	p := edP()
	d := new(big.Int).ModInverse(big.NewInt(121666), p)
	return d.Mod(d.Mul(d, big.NewInt(-121665)), p)
}

// encodeEd25519 is the RFC 8032 §5.1.2 encoding of y (below 2^255,
// non-canonical values allowed) with the sign bit of x.
func encodeEd25519(y *big.Int, negative bool) []byte {
	b := y.FillBytes(make([]byte, 32))
	slices.Reverse(b)
	if negative {
		b[31] |= 0x80
	}
	return b
}

// forgeable reports whether crypto/ed25519.Verify accepts the signature
// R = identity, S = 0 under pub for one of 64 fixed messages: it does for
// some message whenever pub has small order (one message in at most 8), and
// never otherwise.
func forgeable(pub []byte) bool {
	sig := make([]byte, ed25519.SignatureSize)
	sig[0] = 1 // R = (0, 1), S = 0
	for i := range 64 {
		if ed25519.Verify(pub, []byte("message "+strconv.Itoa(i)), sig) {
			return true
		}
	}
	return false
}

// ed25519Facts classifies an Ed25519 public key: canonical when y < p and
// the sign bit is not set on x = 0 (on y = ±1), as RFC 8032 §5.1.3 asks;
// onCurve when x^2 = (y^2-1)/(d·y^2+1) is a square mod p (Euler's criterion);
// smallOrder when forgeable.
func ed25519Facts(pub []byte) (canonical, onCurve, smallOrder bool) {
	p, d, one := edP(), edD(), big.NewInt(1)
	le := slices.Clone(pub)
	negative := le[31]&0x80 != 0
	le[31] &= 0x7f
	slices.Reverse(le)
	y := new(big.Int).SetBytes(le)
	xZero := y.Cmp(one) == 0 || y.Cmp(new(big.Int).Sub(p, one)) == 0
	canonical = y.Cmp(p) < 0 && !(negative && xZero)
	y2 := new(big.Int).Mul(y, y)
	num := new(big.Int).Sub(y2, one)
	den := new(big.Int).Add(new(big.Int).Mul(d, y2), one)
	x2 := new(big.Int).Mul(num, new(big.Int).ModInverse(den, p))
	onCurve = big.Jacobi(x2.Mod(x2, p), p) >= 0
	return canonical, onCurve, forgeable(pub)
}

// order8Y returns the y coordinates of the four points of order 8: doubling
// one gives a point of order 4, (±sqrt(-1), 0), so x^2 = -y^2, and the curve
// equation -x^2 + y^2 = 1 + d·x^2·y^2 becomes d·y^4 + 2·y^2 - 1 = 0, that is
// y^2 = (-1 ± sqrt(1+d)) / d.
func order8Y(t *testing.T) []*big.Int {
	p, d := edP(), edD()
	s := new(big.Int).ModSqrt(new(big.Int).Add(d, big.NewInt(1)), p)
	require.NotNil(t, s, "1+d is not a square")
	var ys []*big.Int
	for _, r := range []*big.Int{s, new(big.Int).Sub(p, s)} {
		y2 := new(big.Int).Mul(new(big.Int).Sub(r, big.NewInt(1)), new(big.Int).ModInverse(d, p))
		y := new(big.Int).ModSqrt(y2.Mod(y2, p), p)
		if y == nil {
			continue // this root gives no y on the field
		}
		ys = append(ys, y, new(big.Int).Sub(p, y))
	}
	return ys
}

func TestCheckEd25519(t *testing.T) {
	p := edP()
	var ys []*big.Int
	for i := range int64(25) {
		ys = append(ys, big.NewInt(i), new(big.Int).Sub(p, big.NewInt(i+1)))
	}
	for y := new(big.Int).Set(p); y.BitLen() <= 255; y = new(big.Int).Add(y, big.NewInt(1)) {
		ys = append(ys, y) // every non-canonical y: p … 2^255-1
	}
	ys = append(ys, order8Y(t)...)
	var encodings [][]byte
	for _, y := range ys {
		encodings = append(encodings, encodeEd25519(y, false), encodeEd25519(y, true))
	}
	rng := mrand.New(mrand.NewChaCha8([32]byte{}))
	for range 256 {
		b := make([]byte, 32)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		encodings = append(encodings, b)
	}
	genuine := make(map[string]bool)
	for range 64 {
		pub, _, err := ed25519.GenerateKey(rand.Reader)
		require.NoError(t, err)
		genuine[string(pub)] = true
		encodings = append(encodings, pub)
	}

	canonicalSmallOrder := 0
	for _, enc := range encodings {
		canonical, onCurve, small := ed25519Facts(enc)
		want := canonical && onCurve && !small
		if genuine[string(enc)] {
			require.True(t, want, "a generated key %x is judged degenerate", enc)
		}
		if canonical && small {
			canonicalSmallOrder++
		}
		err := checkEd25519(enc)
		assert.Equal(t, want, err == nil, "checkEd25519(%x) = %v: accepted? (canonical %v, on the curve %v, small order %v)",
			enc, err, canonical, onCurve, small)
	}
	// The curve has 8·L points, 8 of them of small order: all were met.
	assert.Equal(t, 8, canonicalSmallOrder, "canonical small-order points met")
}

// FuzzParseJWK feeds arbitrary JWKs to parseJWK: it must not panic, and a key
// it accepts as usable must be a real one — an Ed25519 key of large order
// with a canonical encoding, an EC key on its curve.
func FuzzParseJWK(f *testing.F) {
	okp := func(x []byte) []byte {
		return []byte(fmt.Sprintf(`{"kty":"OKP","crv":"Ed25519","kid":"k","x":%q}`, base64.RawURLEncoding.EncodeToString(x)))
	}
	ec := func(crv, x, y string) []byte {
		return []byte(fmt.Sprintf(`{"kty":"EC","crv":%q,"kid":"k","x":%q,"y":%q}`, crv, x, y))
	}
	p := edP()
	genuine := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize)).Public().(ed25519.PublicKey)
	f.Add(okp(genuine))
	f.Add(okp(encodeEd25519(big.NewInt(1), false)))                      // identity
	f.Add(okp(encodeEd25519(new(big.Int).Add(p, big.NewInt(1)), true)))  // identity, non-canonical
	f.Add(okp(encodeEd25519(new(big.Int).Sub(p, big.NewInt(1)), false))) // order 2
	f.Add(okp(encodeEd25519(big.NewInt(0), true)))                       // order 4
	f.Add(okp(encodeEd25519(big.NewInt(2), false)))                      // off the curve
	f.Add(okp(encodeEd25519(new(big.Int).Add(p, big.NewInt(3)), false))) // non-canonical, large order
	// RFC 7515 §A.3's P-256 key, then off the curve, then all zero.
	f.Add(ec("P-256", "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"))
	f.Add(ec("P-256", "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a1"))
	f.Add(ec("P-256", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		k, err := parseJWK(raw)
		if err != nil || k.unusable != nil {
			return
		}
		switch pub := k.pub.(type) {
		case ed25519.PublicKey:
			canonical, onCurve, small := ed25519Facts(pub)
			require.True(t, canonical, "usable Ed25519 key %x: canonical", []byte(pub))
			require.True(t, onCurve, "usable Ed25519 key %x: on the curve", []byte(pub))
			require.False(t, small, "usable Ed25519 key %x: small order", []byte(pub))
		case *ecdsa.PublicKey:
			//lint:ignore SA1019 an oracle independent of the ECDH check under test
			require.True(t, pub.Curve.IsOnCurve(pub.X, pub.Y), "usable EC key off its curve")
		}
	})
}
