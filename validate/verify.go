package validate

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/audit"
	"github.com/rsguard/rsguard/internal/strictjson"
	"github.com/rsguard/rsguard/rsmeta"
)

// b64 decodes unpadded base64url strictly (RFC 7515 §2): no padding, no
// standard-alphabet characters, no non-zero trailing bits.
var b64 = base64.RawURLEncoding.Strict()

// decodeSegment decodes one token segment (which Verify has checked for CR
// and LF, which the decoder would skip).
func decodeSegment(seg string) ([]byte, bool) {
	return decodeSegmentInto(nil, seg)
}

// decodeSegmentInto decodes seg into buf when it fits (so a caller's stack
// array can hold a header), into a new slice otherwise.
func decodeSegmentInto(buf []byte, seg string) ([]byte, bool) {
	n := b64.DecodedLen(len(seg))
	if cap(buf) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
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
//  3. claims: "iss" equal to a trusted issuer (Config.Issuer or
//     Config.Issuers) whose allow-list has the "alg", "aud" containing this
//     resource (or one of that issuer's Audiences), "exp" present and not
//     past, "nbf" and "iat" not in the future (each with the leeway),
//     registered claims of the right JSON types;
//  4. the key: the "kid" in that issuer's key set (refreshed at most once
//     per Fetch.MinRefreshInterval on an unknown kid), its type, curve and
//     declared "alg" consistent with the header, its use a signature use;
//  5. the signature;
//  6. Config.Revocations, then Config.Check, if set (both also on cache
//     hits).
//
// A token found in the verified-token cache (see the package documentation)
// skips steps 1 to 5: only "exp", "nbf" and the presence of its key in the
// key set (asked of a KeySet of yours again) are checked again, then step 6.
//
// Every error is an [*rsguard.Error] whose Reason is its class (see the
// package documentation, "Refusals"): match it with errors.Is(err,
// audit.ReasonExpired). A token refused at step 6 names the Principal it
// proved (rsguard.Error.Principal).
//
// Verify is the bearer path: a token bound to a key (a "cnf" claim, or
// "cnf" in an introspection answer) is refused, reason sender_constrained,
// cache hits included, whatever [Config].DPoP says: such a token is only
// accepted by [Validator.Authenticate] with `Authorization: DPoP` and the
// proof of its key (RFC 9449 §7.1).
func (v *Validator) Verify(ctx context.Context, raw string) (*Claims, error) {
	return v.verify(ctx, raw, "")
}

// verify is Verify with the key the token must be bound to: want is "" on
// the bearer path (a bound token is refused), the RFC 7638 thumbprint of
// the DPoP proof's key on the DPoP path (the token must be bound to it).
// The binding is checked as soon as the claims are read, before the
// signature and the application's checks, and on cache hits.
func (v *Validator) verify(ctx context.Context, raw, want string) (*Claims, error) {
	if v == nil || v.issuers == nil {
		return nil, errNotBuilt()
	}
	now := v.now() // one clock reading for every time check of this token
	if c, e, hit := v.cached(ctx, raw, want, now); hit {
		if e != nil {
			return nil, e
		}
		return c, nil
	}
	return v.verifyUncached(ctx, raw, want, now, nil)
}

// cached answers for raw from the verified-token cache: hit is false when
// the cache is off or does not hold raw (or may not use it now); otherwise
// the request's own claims, or the refusal of a token bound to another key
// than want or refused by the application's checks. A hit is a token equal,
// byte for byte, to one that passed verification under this Validator's
// configuration, which no token the introspection route answers for can
// be: the cache is asked first.
func (v *Validator) cached(ctx context.Context, raw, want string, now time.Time) (c *Claims, e *rsguard.Error, hit bool) {
	if v.cache == nil {
		return nil, nil, false
	}
	cl, ok := v.cache.get(ctx, raw, now, v.leeway)
	if !ok {
		return nil, nil, false
	}
	if e := binding(cl.KeyThumbprint, want); e != nil {
		return nil, e, true
	}
	c = cl.clone() // the request's own claims
	if e := v.applicationChecks(ctx, c); e != nil {
		return nil, e, true
	}
	return c, nil, true
}

// verifyUncached is verify after a cache miss: every check, at now. When
// decoded is not nil, it is set to the length of the prefix of raw whose
// characters the strict base64url decoding of its segments has checked (0,
// the header's end, the payload's end, or all of raw), for verifyBearer.
func (v *Validator) verifyUncached(ctx context.Context, raw, want string, now time.Time, decoded *int) (*Claims, error) {
	if len(raw) == 0 {
		return nil, reject(errMalformed)
	}
	if len(raw) > v.maxTokenBytes {
		return nil, reject(errTooLarge)
	}
	// Introspection routes the tokens it answers for (introspect.go); they
	// are bound to want like the others.
	if c, e, done := v.introspectRoute(ctx, raw, now); done {
		if e == nil {
			if e = binding(c.KeyThumbprint, want); e != nil {
				e.Credential, e.Principal = audit.CredentialIntrospection, c.principalOf()
			}
		}
		if e != nil {
			return nil, e
		}
		return c, nil
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

	// 2. Header: one a token verified under before is known good (see
	// knownHeaders); any other is decoded and checked.
	h, method, known := v.headers.get(hSeg)
	if !known {
		var hbuf [384]byte // protected headers are small: decode on the stack
		hb, ok := decodeSegmentInto(hbuf[:0], hSeg)
		if !ok {
			return nil, reject(errMalformed)
		}
		if decoded != nil {
			*decoded = d1
		}
		var err error
		if h, err = decodeHeader(hb); err != nil {
			return nil, reject(errMalformed)
		}
		if h.hasEnc {
			return nil, reject(errEncrypted)
		}
		if method, ok = v.methods[string(h.alg)]; !ok {
			return nil, reject(errAlgorithm)
		}
		if h.hasCrit {
			return nil, reject(errCritical)
		}
		if !v.typeAllowed(h.typ, h.hasTyp) {
			return nil, reject(errTokenType)
		}
	} else if decoded != nil {
		*decoded = d1
	}

	// 3. Claims.
	pb, ok := decodeSegment(pSeg)
	if !ok {
		return nil, reject(errMalformed)
	}
	if decoded != nil {
		*decoded = d2
	}
	p := payload{tenantClaim: v.tenantClaim}
	if err := decodePayload(pb, &p); err != nil {
		if errors.Is(err, errType) || errors.Is(err, strictjson.ErrDuplicate) || errors.Is(err, strictjson.ErrDepth) {
			return nil, reject(errClaimTypes)
		}
		return nil, reject(errMalformed)
	}
	t, e := v.checkClaims(&p, h.alg, now)
	if e != nil {
		return nil, e
	}
	if e := binding(string(p.jkt), want); e != nil {
		return nil, e
	}

	// 4. Key, from the claimed issuer's key set only.
	k, e := findKey(ctx, t.keys, h.kid, h.hasKid, h.alg)
	if e != nil {
		return nil, e
	}

	// 5. Signature.
	if len(sSeg) == 0 {
		return nil, reject(errSignature)
	}
	var sbuf [512]byte // an RSA-4096 signature: decode on the stack
	sig, ok := decodeSegmentInto(sbuf[:0], sSeg)
	if !ok {
		return nil, reject(errSignature)
	}
	if decoded != nil {
		*decoded = len(raw)
	}
	if err := method.verify(raw[:d2], sig, k.pub); err != nil {
		return nil, reject(errSignature)
	}
	if !known {
		v.headers.remember(hSeg, h, method)
	}

	// 6. Application checks, on the request's own copy: the claims built
	// here are kept by the cache and never handed out.
	built := v.claims(ctx, t, &p, pb)
	c := built
	if v.cache != nil {
		c = built.clone()
	}
	if e := v.applicationChecks(ctx, c); e != nil {
		return nil, e
	}
	if v.cache != nil {
		v.cache.put(raw, built, t.keys, k, string(h.alg), now)
	}
	return c, nil
}

// applicationChecks runs the checks that depend on the application's state
// rather than on the token's bytes — Config.Revocations, then Config.Check
// (combined in v.check) — on every request, whether the claims were just
// verified or found in the cache. A refusal names the Principal the token
// proved, for the audit trail.
func (v *Validator) applicationChecks(ctx context.Context, c *Claims) *rsguard.Error {
	if v.check == nil {
		return nil
	}
	err := v.check(ctx, c)
	if err == nil {
		return nil
	}
	e := checkError(err)
	if e.Principal == nil {
		e.Principal = c.principalOf()
	}
	return e
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
func (v *Validator) checkClaims(p *payload, alg []byte, now time.Time) (*trusted, *rsguard.Error) {
	if p.seen&claimIss == 0 {
		return nil, reject(errMissingIss)
	}
	t := v.issuerOf(p.iss)
	if t == nil {
		return nil, reject(errIssuer)
	}
	if _, ok := t.methods[string(alg)]; !ok {
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
	if !now.Before(p.exp.t.Add(v.leeway)) {
		return nil, reject(errExpired)
	}
	if p.seen&claimNbf != 0 && now.Add(v.leeway).Before(p.nbf.t) {
		return nil, reject(errNotYetValid)
	}
	if p.seen&claimIat != 0 && now.Add(v.leeway).Before(p.iat.t) {
		return nil, reject(errIssuedInFuture)
	}
	if p.seen&claimAuthTime != 0 && now.Add(v.leeway).Before(p.authTime.t) {
		return nil, reject(errAuthInFuture) // or every max_age would pass
	}
	if p.seen&claimCnf != 0 && p.jkt == nil {
		// A binding this package cannot verify (mTLS, RFC 8705 §3, …):
		// refused on every path. A "jkt" is checked by verify.
		return nil, reject(errSenderConstrained)
	}
	if len(p.sub) == 0 && len(p.clientID) == 0 && len(p.azp) == 0 {
		return nil, reject(errNoPrincipal)
	}
	if v.strictType && (len(p.sub) == 0 || len(p.clientID) == 0 || p.seen&claimIat == 0 || len(p.jti) == 0) {
		return nil, reject(errMissingRequired)
	}
	return t, nil
}

// claims builds the Claims of a verified token. Every string is a copy: the
// Claims share no memory with a buffer a caller could write.
func (v *Validator) claims(ctx context.Context, t *trusted, p *payload, raw []byte) *Claims {
	c := &Claims{
		Issuer:    t.issuer,
		Subject:   string(p.sub),
		ExpiresAt: p.exp.t,
		NotBefore: p.nbf.t,
		IssuedAt:  p.iat.t,
		ID:        string(p.jti),
		ClientID:  string(p.clientID),
		AuthTime:  p.authTime.t,
		ACR:       string(p.acr),
		SessionID: string(p.sid),
		tenant:    string(p.tenant),

		KeyThumbprint: string(p.jkt),
		raw:           raw,
	}
	c.Audience = make([]string, len(p.aud))
	for i, a := range p.aud {
		c.Audience[i] = string(a)
	}
	if c.ClientID == "" {
		c.ClientID = string(p.azp)
	}
	var dropped []string
	switch {
	case p.seen&claimScope != 0:
		c.Scopes, dropped = rsguard.ParseScopes(string(p.scope))
	case p.seen&claimScp != 0 && len(p.scp) == 1 && p.scpString:
		c.Scopes, dropped = rsguard.ParseScopes(string(p.scp[0]))
	case p.seen&claimScp != 0:
		list := make([]string, len(p.scp))
		for i, b := range p.scp {
			list[i] = string(b)
		}
		c.Scopes, dropped = rsguard.ParseScopeList(list)
	}
	c.principal = c.Principal()
	if len(dropped) > 0 && v.logger.Enabled(ctx, slog.LevelDebug) {
		v.logger.DebugContext(ctx, "rsguard: scope tokens outside RFC 6749 §3.3 not granted",
			"issuer", c.Issuer, "jti", c.ID, "dropped", len(dropped))
	}
	return c
}

// newAudience returns the accepted audience a with its comparison form,
// computed once, at New.
func newAudience(a string) audience {
	canon, err := rsmeta.CanonicalResource(a)
	if err != nil {
		// Non-URL audiences (an application id such as "api://x" or a
		// bare client id) are compared exactly.
		return audience{raw: a, key: audienceKey(a)}
	}
	key := audienceKey(canon)
	_, rest, _ := strings.Cut(key, "://")
	tail := ""
	if i := strings.IndexAny(rest, "/?"); i >= 0 {
		tail = rest[i:]
	}
	return audience{raw: a, key: key, tail: tail, url: true}
}

// audienceMatches reports whether aud contains one of the issuer's accepted
// audiences, comparing canonical forms. The exact comparison handles the
// usual case with no work; only values whose length could canonicalise to an
// accepted one, and which end with its path and query (which
// canonicalisation keeps as given), are parsed.
func (t *trusted) audienceMatches(aud [][]byte) bool {
	for _, a := range aud {
		for _, want := range t.audiences {
			if string(a) == want.raw || string(a) == want.key {
				return true
			}
		}
	}
	for _, a := range aud {
		key := "" // a's comparison form, computed at most once
		for _, want := range t.audiences {
			if len(a) < len(want.key) || len(a) > len(want.key)+len(":65535/") {
				continue
			}
			if want.url && !bytes.HasSuffix(bytes.TrimSuffix(a, []byte("/")), []byte(want.tail)) {
				continue
			}
			if key == "" {
				c, err := rsmeta.CanonicalResource(string(a))
				if err != nil {
					break
				}
				key = audienceKey(c)
			}
			if key == want.key {
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
