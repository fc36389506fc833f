package validate

import (
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/url"
)

// Client authentication of the resource server to the introspection
// endpoint (RFC 7662 §2.1): client_secret_basic, client_secret_post
// (RFC 6749 §2.3.1) and private_key_jwt (RFC 7523 §2.2, OpenID Connect
// Core §9).

const clientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// authenticate adds the client's credentials to req or form.
func (in *introspector) authenticate(req *http.Request, form url.Values) error {
	switch in.method {
	case authSecretBasic:
		// RFC 6749 §2.3.1: each form-urlencoded before Basic encodes them.
		req.SetBasicAuth(url.QueryEscape(in.clientID), url.QueryEscape(in.secret))
	case authSecretPost:
		form.Set("client_id", in.clientID)
		form.Set("client_secret", in.secret)
	case authPrivateKey:
		a, err := in.assertion()
		if err != nil {
			return err
		}
		form.Set("client_id", in.clientID)
		form.Set("client_assertion_type", clientAssertionType)
		form.Set("client_assertion", a)
	}
	return nil
}

// assertion returns a new client assertion: a JWT signed with the client's
// key, "iss" and "sub" the client id, "aud" the issuer identifier, a random
// "jti", valid for assertionLifetime.
func (in *introspector) assertion() (string, error) {
	var jti [16]byte
	if _, err := rand.Read(jti[:]); err != nil {
		return "", err
	}
	now := in.now()
	header := map[string]string{"alg": in.alg, "typ": "JWT"}
	if in.kid != "" {
		header["kid"] = in.kid
	}
	claims := map[string]any{
		"iss": in.clientID,
		"sub": in.clientID,
		"aud": in.issuer,
		"jti": base64.RawURLEncoding.EncodeToString(jti[:]),
		"iat": now.Unix(),
		"exp": now.Add(assertionLifetime).Unix(),
	}
	hb, err := json.Marshal(header)
	if err != nil {
		return "", err
	}
	pb, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	input := base64.RawURLEncoding.EncodeToString(hb) + "." + base64.RawURLEncoding.EncodeToString(pb)
	sig, err := signAssertion(in.signer, in.alg, []byte(input))
	if err != nil {
		return "", fmt.Errorf("signing the client assertion: %w", err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

// signAssertion signs input with s, whose public key fits alg (checked by
// assertionAlgorithm), as JWS alg requires (RFC 7518 §3.3, §3.4; RFC 8037).
func signAssertion(s crypto.Signer, alg string, input []byte) ([]byte, error) {
	switch alg {
	case "EdDSA":
		return s.Sign(rand.Reader, input, crypto.Hash(0))
	case "RS256":
		h := sha256.Sum256(input)
		return s.Sign(rand.Reader, h[:], crypto.SHA256) // PKCS #1 v1.5
	case "ES256":
		h := sha256.Sum256(input)
		der, err := s.Sign(rand.Reader, h[:], crypto.SHA256)
		if err != nil {
			return nil, err
		}
		// ASN.1 DER (crypto.Signer) to the fixed-width R || S of JWS.
		var rs struct{ R, S *big.Int }
		if rest, err := asn1.Unmarshal(der, &rs); err != nil || len(rest) != 0 {
			return nil, errors.New("the signer's ECDSA signature is not ASN.1 DER")
		}
		if rs.R.Sign() <= 0 || rs.S.Sign() <= 0 || rs.R.BitLen() > 256 || rs.S.BitLen() > 256 {
			return nil, errors.New("the signer's ECDSA signature is out of range")
		}
		sig := make([]byte, 64)
		rs.R.FillBytes(sig[:32])
		rs.S.FillBytes(sig[32:])
		return sig, nil
	}
	return nil, fmt.Errorf("algorithm %s", alg)
}
