package validate

import (
	"context"
	"encoding/base64"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/rsguard/rsguard/rsmeta"
	"github.com/rsguard/rsguard/scopes"
)

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
	if v.cache != nil {
		if c, ok := v.cache.get(raw, v.now(), v.leeway); ok {
			if v.check != nil {
				if err := v.check(ctx, c); err != nil {
					return nil, asError(err)
				}
			}
			return c, nil
		}
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
	if !ok {
		return nil, reject(errMalformed)
	}
	var h joseHeader
	if err := decodeHeader(hb, &h); err != nil {
		return nil, reject(errMalformed)
	}
	if h.hasEnc {
		return nil, reject(errEncrypted)
	}
	method := v.methods[string(h.alg)]
	if method == nil {
		return nil, reject(errAlgorithm)
	}
	if h.hasCrit {
		return nil, reject(errCritical)
	}
	if !v.typeAllowed(h.typ, h.hasTyp) {
		return nil, reject(errTokenType)
	}

	// 3. Claims.
	pb, ok := decodeSegment(pSeg)
	if !ok {
		return nil, reject(errMalformed)
	}
	var p payload
	if err := decodePayload(pb, &p); err != nil {
		if errors.Is(err, errType) || errors.Is(err, errDuplicate) || errors.Is(err, errDepth) {
			return nil, reject(errClaimTypes)
		}
		return nil, reject(errMalformed)
	}
	t, e := v.checkClaims(&p, h.alg)
	if e != nil {
		return nil, e
	}

	// 4. Key, from the claimed issuer's key set only.
	k, e := v.key(ctx, t.keys, h.kid, h.hasKid, h.alg)
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

	c := v.claims(t, &p, pb)
	if v.allowTenant != nil {
		tenant, _ := c.Get(v.tenantClaim)
		ts, _ := tenant.(string)
		if !v.allowTenant(t.issuer, ts) {
			return nil, reject(errTenant)
		}
	}

	// 6. Application checks.
	if v.check != nil {
		if err := v.check(ctx, c); err != nil {
			return nil, asError(err)
		}
	}
	if v.cache != nil {
		v.cache.put(raw, c, t.keys, k, v.now())
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
func (v *Validator) typeAllowed(typ []byte, present bool) bool {
	if !present {
		return !v.strictType
	}
	const prefix = "application/"
	if len(typ) > len(prefix) && strings.EqualFold(string(typ[:len(prefix)]), prefix) {
		typ = typ[len(prefix):]
	}
	if strings.EqualFold(string(typ), "at+jwt") {
		return true
	}
	return !v.strictType && strings.EqualFold(string(typ), "JWT")
}

// checkClaims checks the claims that need no key, and returns the trusted
// issuer the token claims.
func (v *Validator) checkClaims(p *payload, alg []byte) (*trusted, *Error) {
	if p.seen&claimIss == 0 {
		return nil, reject(errMissingIss)
	}
	t := v.issuerOf(p.iss)
	if t == nil {
		return nil, reject(errIssuer)
	}
	if t.methods[string(alg)] == nil {
		return nil, reject(errAlgorithm) // allowed for another issuer only
	}
	if len(p.aud) == 0 { // absent, null or []
		return nil, reject(errMissingAud)
	}
	if !t.audienceMatches(p.aud) {
		return nil, reject(errAudience)
	}
	if p.seen&claimExp == 0 {
		return nil, reject(errMissingExp)
	}
	now := v.now()
	if !now.Before(p.exp.t.Add(v.leeway)) {
		return nil, reject(errExpired)
	}
	if p.seen&claimNbf != 0 && now.Add(v.leeway).Before(p.nbf.t) {
		return nil, reject(errNotYetValid)
	}
	if p.seen&claimIat != 0 && now.Add(v.leeway).Before(p.iat.t) {
		return nil, reject(errIssuedInFuture)
	}
	if v.strictType && (len(p.sub) == 0 || len(p.clientID) == 0 || p.seen&claimIat == 0 || len(p.jti) == 0) {
		return nil, reject(errMissingRequired)
	}
	return t, nil
}

// claims builds the Claims of a verified token. Strings equal to the
// configured issuer and resource reuse the configuration's, so the usual
// token costs no allocation for them.
func (v *Validator) claims(t *trusted, p *payload, raw []byte) *Claims {
	c := &Claims{
		Issuer:    t.issuer,
		Subject:   string(p.sub),
		Audience:  make([]string, len(p.aud)),
		ExpiresAt: p.exp.t,
		NotBefore: p.nbf.t,
		IssuedAt:  p.iat.t,
		ID:        string(p.jti),
		ClientID:  string(p.clientID),
		AuthTime:  p.authTime.t,
		ACR:       string(p.acr),
		SessionID: string(p.sid),
		raw:       raw,
	}
	for i, a := range p.aud {
		if string(a) == t.audiences[0].raw {
			c.Audience[i] = t.audiences[0].raw
		} else {
			c.Audience[i] = string(a)
		}
	}
	if c.ClientID == "" {
		c.ClientID = string(p.azp)
	}
	switch {
	case p.seen&claimScope != 0:
		c.Scopes = scopes.Parse(string(p.scope))
	case p.seen&claimScp != 0:
		if len(p.scp) == 1 {
			c.Scopes = scopes.Parse(string(p.scp[0]))
		} else {
			c.Scopes = make([]string, 0, len(p.scp))
			for _, s := range p.scp {
				if str := string(s); str != "" && !slices.Contains(c.Scopes, str) {
					c.Scopes = append(c.Scopes, str)
				}
			}
		}
	}
	return c
}

// audienceMatches reports whether aud contains one of the issuer's accepted
// audiences, comparing canonical forms. The exact comparison handles the
// usual case with no work; only values whose length could canonicalise to an
// accepted one are parsed.
func (t *trusted) audienceMatches(aud [][]byte) bool {
	for _, a := range aud {
		for _, want := range t.audiences {
			if string(a) == want.raw || string(a) == want.key {
				return true
			}
		}
	}
	for _, a := range aud {
		for _, want := range t.audiences {
			if len(a) < len(want.key) || len(a) > len(want.key)+len(":65535/") {
				continue
			}
			c, err := rsmeta.CanonicalResource(string(a))
			if err == nil && audienceKey(c) == want.key {
				return true
			}
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
func (v *Validator) key(ctx context.Context, keys keySource, kid []byte, hasKid bool, alg []byte) (*key, *Error) {
	snap := keys.snapshot()
	k, found, e := snap.lookup(kid, hasKid, alg)
	if e != nil {
		return nil, e
	}
	if found {
		return k, nil
	}
	// Unknown kid (or no key set yet): one shared, rate-limited refresh.
	// Inside the rate-limit interval the answer is known without a lock.
	if snap != nil && keys.rateLimited() {
		return nil, reject(errUnknownKey)
	}
	rctx, cancel := context.WithTimeout(ctx, v.fetchWait())
	err := keys.refresh(rctx, false)
	cancel()
	snap = keys.snapshot()
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

func (v *Validator) fetchWait() time.Duration { return v.fetchTimeout }
