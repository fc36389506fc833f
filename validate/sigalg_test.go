package validate

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSigAlgMatchesGolangJWT: sigAlg.verify accepts and refuses what
// golang-jwt's signing method of the same name does, for every algorithm a
// Config or a DPoPConfig may allow: the signature as signed, PSS signatures
// of other salt lengths, any bit of the signature or of the input changed,
// a signature cut short or lengthened, and the key of another family.
func TestSigAlgMatchesGolangJWT(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	ecKeys := map[int]*ecdsa.PrivateKey{}
	for size, curve := range map[int]elliptic.Curve{32: elliptic.P256(), 48: elliptic.P384(), 66: elliptic.P521()} {
		ecKeys[size], err = ecdsa.GenerateKey(curve, rand.Reader)
		require.NoError(t, err)
	}
	edPub, edPriv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	otherEC, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)

	input := strings.Repeat("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9", 60) // longer than verify's array: 2,400 bytes
	for _, in := range []string{input[:41], input} {
		for name, a := range dpopMethods {
			t.Run(name+"/"+map[bool]string{true: "short", false: "long"}[len(in) < 100], func(t *testing.T) {
				jm := jwt.GetSigningMethod(name)
				if name == "Ed25519" {
					jm = jwt.SigningMethodEdDSA
				}
				require.NotNil(t, jm)
				var priv crypto.Signer
				var pub crypto.PublicKey
				switch a.kind {
				case sigPKCS1, sigPSS:
					priv, pub = rsaKey, &rsaKey.PublicKey
				case sigECDSA:
					priv, pub = ecKeys[a.size], &ecKeys[a.size].PublicKey
				case sigEdDSA:
					priv, pub = edPriv, edPub
				}
				sig, err := jm.Sign(in, priv)
				require.NoError(t, err)
				sigs := [][]byte{sig}
				if a.kind == sigPSS {
					h := a.hash.New()
					h.Write([]byte(in))
					for _, salt := range []int{0, 7, rsa.PSSSaltLengthAuto} {
						s, err := rsa.SignPSS(rand.Reader, rsaKey, a.hash, h.Sum(nil), &rsa.PSSOptions{SaltLength: salt})
						require.NoError(t, err)
						sigs = append(sigs, s)
					}
				}
				same := func(input string, sig []byte, key crypto.PublicKey, what string) {
					t.Helper()
					want := jm.Verify(input, sig, key) == nil
					assert.Equal(t, want, a.verify(input, sig, key) == nil, "%s (golang-jwt accepts: %v)", what, want)
				}
				for _, s := range sigs {
					require.NoError(t, a.verify(in, s, pub))
					same(in, s, pub, "as signed")
					for _, bit := range []int{0, 7, len(s) * 4, len(s)*8 - 1} {
						bad := append([]byte(nil), s...)
						bad[bit/8] ^= 1 << (bit % 8)
						same(in, bad, pub, "signature bit changed")
						require.Error(t, a.verify(in, bad, pub))
					}
					same(in[:len(in)-1]+"x", s, pub, "input changed")
					same(in, s[:len(s)-1], pub, "signature cut short")
					same(in, append(append([]byte(nil), s...), 0), pub, "signature lengthened")
					same(in, nil, pub, "no signature")
					require.Error(t, a.verify(in, s[:len(s)-1], pub))
				}
				for _, other := range []crypto.PublicKey{&rsaKey.PublicKey, &otherEC.PublicKey, edPub, ed25519.PublicKey(edPub[:31]), nil} {
					assert.Equal(t, jm.Verify(in, sig, other) == nil, a.verify(in, sig, other) == nil, "key %T", other)
				}
			})
		}
	}
}

// TestSigAlgZero: the zero sigAlg, which a map lookup of an unknown name
// returns, verifies nothing.
func TestSigAlgZero(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	sig, err := jwt.SigningMethodRS256.Sign("a.b", key)
	require.NoError(t, err)
	require.NoError(t, supportedAlgorithms["RS256"].verify("a.b", sig, &key.PublicKey))
	assert.Error(t, sigAlg{}.verify("a.b", sig, &key.PublicKey))
	assert.Error(t, sigAlg{kind: sigPKCS1}.verify("a.b", sig, &key.PublicKey))
	assert.Error(t, sigAlg{kind: sigKind(9), hash: crypto.SHA256}.verify("a.b", sig, &key.PublicKey))
}

// TestSigAlgLists: a Config allows the asymmetric algorithms of RFC 7518
// and EdDSA, a DPoPConfig those and Ed25519 (RFC 9864), and nothing else.
func TestSigAlgLists(t *testing.T) {
	var names []string
	for n := range supportedAlgorithms {
		names = append(names, n)
	}
	assert.ElementsMatch(t, []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}, names)
	assert.Len(t, dpopMethods, len(supportedAlgorithms)+1)
	assert.Equal(t, supportedAlgorithms["EdDSA"], dpopMethods["Ed25519"])
}
