package checker

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/MicahParks/keyfunc/v3"

	"github.com/rsguard/rsguard/internal/conformance"
)

// signingKey returns the first signing key of a JWK Set (RFC 7517 §5): the
// first key whose "use" is "sig" or absent, of type RSA, EC or OKP
// (Ed25519), that parses, with its "alg" (or the usual one of its type, as
// conformance.InferAlg names it) and its entry byte for byte. It is what the
// forged tokens name or use as an HMAC secret (RFC 8725 §2.1).
func signingKey(set []byte) (*conformance.PublicKey, error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(set, &doc); err != nil {
		return nil, errors.New("the JWK Set is not a JSON object with a keys array")
	}
	for _, raw := range doc.Keys {
		var m struct {
			Kid string `json:"kid"`
			Kty string `json:"kty"`
			Use string `json:"use"`
			Alg string `json:"alg"`
		}
		if json.Unmarshal(raw, &m) != nil || (m.Use != "" && m.Use != "sig") {
			continue
		}
		switch m.Kty {
		case "RSA", "EC", "OKP":
		default:
			continue
		}
		pub := parseJWK(raw)
		if pub == nil {
			continue
		}
		alg := m.Alg
		if alg == "" {
			alg = conformance.InferAlg(pub)
		}
		if alg == "" || strings.EqualFold(alg, "none") || strings.HasPrefix(alg, "HS") {
			continue
		}
		return &conformance.PublicKey{Kid: m.Kid, Alg: alg, Key: pub, JWK: append([]byte(nil), raw...)}, nil
	}
	return nil, fmt.Errorf("the JWK Set has no signing key of type RSA, EC or OKP among its %d keys", len(doc.Keys))
}

// parseJWK parses one JWK with keyfunc, as the validate package does; nil
// for a key it cannot parse (a panic inside the parser included) or that is
// not an RSA, ECDSA (on its curve) or Ed25519 public key.
func parseJWK(raw json.RawMessage) (pub crypto.PublicKey) {
	defer func() {
		if recover() != nil {
			pub = nil
		}
	}()
	kf, err := keyfunc.NewJWKJSON(raw)
	if err != nil {
		return nil
	}
	keys, err := kf.Storage().KeyReadAll(context.Background())
	if err != nil || len(keys) != 1 {
		return nil
	}
	k := keys[0].Key()
	if p, ok := k.(interface{ Public() crypto.PublicKey }); ok {
		k = p.Public()
	}
	switch k := k.(type) {
	case *rsa.PublicKey:
		if k.N != nil && k.N.Sign() > 0 && k.E > 1 {
			return k
		}
	case *ecdsa.PublicKey:
		if _, err := k.ECDH(); err == nil { // on its curve
			return k
		}
	case ed25519.PublicKey:
		if len(k) == ed25519.PublicKeySize {
			return k
		}
	}
	return nil
}
