package validate

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"math/big"
)

// sigAlg is a JWS signature algorithm this package verifies: RSASSA-PKCS1-v1_5,
// RSASSA-PSS and ECDSA with SHA-2 (RFC 7518 §3.3–3.5) and EdDSA with an
// Ed25519 key (RFC 8037 §3.1). It verifies as golang-jwt's signing methods
// do (PSS with any salt length, ECDSA signatures as R || S of the curve's
// size), with the standard library's crypto, hashing the signing input
// without a copy on the heap.
type sigAlg struct {
	kind sigKind
	hash crypto.Hash // not for EdDSA, which hashes the message itself
	size int         // ECDSA: the bytes of R, and of S
}

type sigKind uint8

const (
	sigPKCS1 sigKind = iota + 1
	sigPSS
	sigECDSA
	sigEdDSA
)

// errSignatureInvalid is verify's refusal; callers refuse the token without
// saying more.
var errSignatureInvalid = errors.New("validate: signature invalid")

// verify checks that sig is a's signature of input under key, whose type
// must be the one the algorithm uses.
func (a sigAlg) verify(input string, sig []byte, key crypto.PublicKey) error {
	// The signing input of a usual token fits this array, on the stack;
	// a longer one is copied to the heap by append.
	var buf [2048]byte
	msg := append(buf[:0], input...)
	if a.kind == sigEdDSA {
		k, ok := key.(ed25519.PublicKey)
		if !ok || len(k) != ed25519.PublicKeySize || !ed25519.Verify(k, msg, sig) {
			return errSignatureInvalid
		}
		return nil
	}
	var digest []byte
	switch a.hash {
	case crypto.SHA256:
		d := sha256.Sum256(msg)
		digest = d[:]
	case crypto.SHA384:
		d := sha512.Sum384(msg)
		digest = d[:]
	case crypto.SHA512:
		d := sha512.Sum512(msg)
		digest = d[:]
	default:
		return errSignatureInvalid
	}
	var err error
	switch a.kind {
	case sigPKCS1, sigPSS:
		k, ok := key.(*rsa.PublicKey)
		if !ok {
			return errSignatureInvalid
		}
		if a.kind == sigPKCS1 {
			err = rsa.VerifyPKCS1v15(k, a.hash, digest, sig)
		} else {
			// Any salt length, as golang-jwt's PS256/384/512 accept
			// (RFC 7518 §3.5 fixes none).
			err = rsa.VerifyPSS(k, a.hash, digest, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto})
		}
	case sigECDSA:
		k, ok := key.(*ecdsa.PublicKey)
		if !ok || len(sig) != 2*a.size {
			return errSignatureInvalid
		}
		r, s := new(big.Int).SetBytes(sig[:a.size]), new(big.Int).SetBytes(sig[a.size:])
		if !ecdsa.Verify(k, digest, r, s) {
			return errSignatureInvalid
		}
	default:
		return errSignatureInvalid
	}
	if err != nil {
		return errSignatureInvalid
	}
	return nil
}
