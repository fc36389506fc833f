package validate

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/rsguard/rsguard/rsmeta"
	"github.com/rsguard/rsguard/scopes"
)

// joseHeader is the part of a JWS protected header (RFC 7515 §4.1) that
// verification reads. "jku", "x5u", "jwk" and "x5c" are deliberately not
// read: keys come only from the issuer's key set, never from the token.
type joseHeader struct {
	Alg  string          `json:"alg"`
	Kid  *string         `json:"kid"`
	Typ  *string         `json:"typ"`
	Crit json.RawMessage `json:"crit"`
	Enc  json.RawMessage `json:"enc"`
}

// b64 decodes unpadded base64url strictly (RFC 7515 §2): no padding, no
// standard-alphabet characters, no non-zero trailing bits.
var b64 = base64.RawURLEncoding.Strict()

// decodeSegment decodes one token segment (which Verify has checked for CR
// and LF, which the decoder would skip).
func decodeSegment(seg string) ([]byte, bool) {
	buf := make([]byte, b64.DecodedLen(len(seg)))
	n, err := b64.Decode(buf, []byte(seg))
	if err != nil {
		return nil, false
	}
	return buf[:n], true
}

// Verify checks raw, a JWT access token in JWS compact serialisation, and
// returns its claims. Checks run cheapest first, so that a token refused for
// its form, header or claims costs no signature verification and no key
// fetch:
//
//  1. size, segment count (a JWE's five segments are refused as encrypted),
//     strict base64url, header and payload as JSON objects;
//  2. header: "alg" on the allow-list, no "crit", "typ" an access-token type
//     (RFC 9068 §4);
//  3. claims: "iss" equal to the issuer, "aud" containing this resource,
//     "exp" present and not past, "nbf" and "iat" not in the future (each
//     with the leeway), registered claims of the right JSON types;
//  4. the key: the "kid" in the issuer's key set (refreshed at most once per
//     MinRefreshInterval on an unknown kid), its type, curve and declared
//     "alg" consistent with the header, its use a signature use;
//  5. the signature;
//  6. Config.Check, if set.
//
// Every error is an *[Error] wrapping one of the package's sentinel errors.
func (v *Validator) Verify(ctx context.Context, raw string) (*Claims, error) {
	if len(raw) == 0 {
		return nil, reject(errMalformed)
	}
	if len(raw) > v.maxTokenBytes {
		return nil, reject(errTooLarge)
	}
	// The base64 decoder skips CR and LF; a token must not contain them.
	if strings.IndexByte(raw, '\n') >= 0 || strings.IndexByte(raw, '\r') >= 0 {
		return nil, reject(errMalformed)
	}
	d1 := strings.IndexByte(raw, '.')
	if d1 <= 0 {
		return nil, reject(errMalformed)
	}
	d2 := strings.IndexByte(raw[d1+1:], '.')
	if d2 < 0 {
		return nil, reject(errMalformed)
	}
	d2 += d1 + 1
	if rest := raw[d2+1:]; strings.IndexByte(rest, '.') >= 0 {
		if strings.Count(rest, ".") == 2 {
			return nil, reject(errEncrypted) // five segments: JWE (RFC 7516 §7.1)
		}
		return nil, reject(errMalformed)
	}
	hSeg, pSeg, sSeg := raw[:d1], raw[d1+1:d2], raw[d2+1:]
	if len(pSeg) == 0 {
		return nil, reject(errMalformed)
	}

	// 2. Header.
	hb, ok := decodeSegment(hSeg)
	if !ok || !isObject(hb) {
		return nil, reject(errMalformed)
	}
	var h joseHeader
	if err := json.Unmarshal(hb, &h); err != nil {
		return nil, reject(errMalformed)
	}
	if h.Enc != nil {
		return nil, reject(errEncrypted)
	}
	method := v.methods[h.Alg]
	if method == nil {
		return nil, reject(errAlgorithm)
	}
	if h.Crit != nil {
		return nil, reject(errCritical)
	}
	if !v.typeAllowed(h.Typ) {
		return nil, reject(errTokenType)
	}

	// 3. Claims.
	pb, ok := decodeSegment(pSeg)
	if !ok {
		return nil, reject(errMalformed)
	}
	var p payload
	if err := decodePayload(pb, &p); err != nil {
		if errors.Is(err, errNotObject) {
			return nil, reject(errMalformed)
		}
		var syn *json.SyntaxError
		if errors.As(err, &syn) {
			return nil, reject(errMalformed)
		}
		return nil, reject(errClaimTypes)
	}
	if e := v.checkClaims(&p); e != nil {
		return nil, e
	}

	// 4. Key.
	kid, hasKid := "", h.Kid != nil
	if hasKid {
		kid = *h.Kid
	}
	k, e := v.key(ctx, kid, hasKid, h.Alg)
	if e != nil {
		return nil, e
	}

	// 5. Signature.
	if len(sSeg) == 0 {
		return nil, reject(errSignature)
	}
	sig, ok := decodeSegment(sSeg)
	if !ok {
		return nil, reject(errSignature)
	}
	if err := method.Verify(raw[:d2], sig, k.pub); err != nil {
		return nil, reject(errSignature)
	}

	c := &Claims{
		Issuer:    *p.Iss,
		Subject:   p.Sub,
		Audience:  p.Aud,
		ExpiresAt: p.Exp.time(),
		NotBefore: p.Nbf.time(),
		IssuedAt:  p.Iat.time(),
		ID:        p.Jti,
		ClientID:  p.ClientID,
		AuthTime:  p.AuthTime.time(),
		ACR:       p.ACR,
		SessionID: p.Sid,
		raw:       pb,
	}
	if c.ClientID == "" {
		c.ClientID = p.Azp
	}
	if p.Scope != nil {
		c.Scopes = scopes.Parse(*p.Scope)
	} else {
		c.Scopes = p.Scp
	}

	// 6. Application checks.
	if v.check != nil {
		if err := v.check(ctx, c); err != nil {
			return nil, asError(err)
		}
	}
	return c, nil
}

func isObject(b []byte) bool {
	for _, c := range b {
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		case '{':
			return true
		}
		return false
	}
	return false
}

// typeAllowed applies the RFC 9068 §4 "typ" rule. Media type names compare
// case-insensitively and may omit "application/" (RFC 7515 §4.1.9).
func (v *Validator) typeAllowed(typ *string) bool {
	if typ == nil {
		return !v.strictType
	}
	t := *typ
	if len(t) > len("application/") && strings.EqualFold(t[:len("application/")], "application/") {
		t = t[len("application/"):]
	}
	if strings.EqualFold(t, "at+jwt") {
		return true
	}
	return !v.strictType && strings.EqualFold(t, "JWT")
}

func (v *Validator) checkClaims(p *payload) *Error {
	if p.Iss == nil {
		return reject(errMissingIss)
	}
	if *p.Iss != v.issuer {
		return reject(errIssuer)
	}
	if len(p.Aud) == 0 {
		return reject(errMissingAud)
	}
	if !v.audienceMatches(p.Aud) {
		return reject(errAudience)
	}
	if p.Exp == nil {
		return reject(errMissingExp)
	}
	now := v.now()
	if !now.Before(p.Exp.t.Add(v.leeway)) {
		return reject(errExpired)
	}
	if p.Nbf != nil && now.Add(v.leeway).Before(p.Nbf.t) {
		return reject(errNotYetValid)
	}
	if p.Iat != nil && now.Add(v.leeway).Before(p.Iat.t) {
		return reject(errIssuedInFuture)
	}
	if v.strictType && (p.Sub == "" || p.ClientID == "" || p.Iat == nil || p.Jti == "") {
		return reject(errMissingRequired)
	}
	return nil
}

// audienceMatches reports whether aud contains this resource, comparing
// canonical forms. The exact comparison handles the usual case with no work;
// only values whose length could canonicalise to ours are parsed.
func (v *Validator) audienceMatches(aud []string) bool {
	for _, a := range aud {
		if a == v.resource || a == v.resourceKey {
			return true
		}
	}
	for _, a := range aud {
		if len(a) < len(v.resourceKey) || len(a) > len(v.resourceKey)+len(":65535/") {
			continue
		}
		c, err := rsmeta.CanonicalResource(a)
		if err == nil && audienceKey(c) == v.resourceKey {
			return true
		}
	}
	return false
}

// audienceKey is the comparison form of a canonical resource URI: without a
// trailing slash on its path.
func audienceKey(canonical string) string {
	return strings.TrimSuffix(canonical, "/")
}

// key finds the verification key for a token, refreshing the key set (rate
// limited) when the kid is unknown.
func (v *Validator) key(ctx context.Context, kid string, hasKid bool, alg string) (*key, *Error) {
	snap := v.keys.snapshot()
	k, found, e := snap.lookup(kid, hasKid, alg)
	if e != nil {
		return nil, e
	}
	if found {
		return k, nil
	}
	// Unknown kid (or no key set yet): one shared, rate-limited refresh.
	rctx, cancel := context.WithTimeout(ctx, v.fetchWait())
	err := v.keys.refresh(rctx, false)
	cancel()
	snap = v.keys.snapshot()
	if snap == nil {
		return nil, reject(errKeysUnavailable)
	}
	if err != nil && !errors.Is(err, errRateLimited) {
		v.logger.Debug("rsguard: key refresh for an unknown kid failed", "error", err.Error())
	}
	k, found, e = snap.lookup(kid, hasKid, alg)
	if e != nil {
		return nil, e
	}
	if !found {
		return nil, reject(errUnknownKey)
	}
	return k, nil
}

func (v *Validator) fetchWait() time.Duration {
	if rk, ok := v.keys.(*remoteKeys); ok {
		return rk.fetchTimeout
	}
	return 0
}
