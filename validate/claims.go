package validate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/internal/strictjson"
)

// Claims are the verified claims of an access token (RFC 7519 §4.1,
// RFC 9068 §2.2). Registered claims are decoded into fields; every other
// claim (tenant and organisation ids, roles, …) is reachable with [Claims.Get]
// and [Claims.Decode].
//
// Every request gets Claims of its own, also when the token was found in the
// verified-token cache: a handler may change them (or the slices they hold)
// without changing what any other request sees.
type Claims struct {
	// Issuer is the "iss" claim: Config.Issuer or one of Config.Issuers.
	Issuer string
	// Subject is the "sub" claim: the resource owner, or the client for a
	// client_credentials token. May be empty when the issuer omits it.
	Subject string
	// Audience is the "aud" claim (sent as a string or an array), which
	// contains this resource (or one of the issuer's IssuerConfig.Audiences).
	Audience []string
	// ExpiresAt is the "exp" claim.
	ExpiresAt time.Time
	// NotBefore is the "nbf" claim; zero when absent.
	NotBefore time.Time
	// IssuedAt is the "iat" claim; zero when absent.
	IssuedAt time.Time
	// ID is the "jti" claim; empty when absent.
	ID string
	// ClientID is the RFC 9068 / RFC 8693 "client_id" claim, or "azp" when
	// "client_id" is absent (OpenID Connect style issuers).
	ClientID string
	// Scopes are the granted scopes: the RFC 9068 "scope" claim (a
	// space-delimited string) or, when absent, "scp" (a string or an array,
	// as Microsoft Entra and Okta send it), read by the rule of
	// rsguard.ParseScopes and rsguard.ParseScopeList: split on single spaces
	// (an array element is never split), tokens outside RFC 6749 §3.3
	// dropped.
	Scopes []string
	// AuthTime is the "auth_time" claim (RFC 9068 §2.2.1); zero when absent.
	AuthTime time.Time
	// ACR is the "acr" claim (RFC 9068 §2.2.1); empty when absent.
	ACR string
	// SessionID is the "sid" claim; empty when absent.
	SessionID string
	// KeyThumbprint is the "jkt" member of the "cnf" claim (RFC 9449 §6):
	// the RFC 7638 SHA-256 thumbprint of the key the token is bound to,
	// whose DPoP proof must accompany every use of the token. Empty for a
	// token that is not bound to a key.
	KeyThumbprint string

	raw       []byte // the decoded JSON payload: shared, never written, never handed out
	tenant    string // the Config.TenantClaim string, read at verification
	principal string // Principal, computed once at verification

	introspected bool // verified by introspection (RFC 7662), not as a JWT
}

// clone returns Claims of their own for one request: the slices are copied
// (into one array, each capped so that appending to one cannot write into the
// other), the payload (never written, and handed out only as a copy) is
// shared.
func (c *Claims) clone() *Claims {
	d := *c
	na := len(c.Audience)
	both := make([]string, na+len(c.Scopes))
	copy(both, c.Audience)
	copy(both[na:], c.Scopes)
	d.Audience, d.Scopes = both[:na:na], both[na:]
	if c.Audience == nil {
		d.Audience = nil
	}
	if c.Scopes == nil {
		d.Scopes = nil
	}
	return &d
}

// footprint approximates the memory the Claims hold, for the cache's byte
// bound: the payload, every string and slice, and the struct itself.
func (c *Claims) footprint() int64 {
	const str, slice = 16, 24 // headers
	n := int64(len(c.raw)) + 256
	for _, s := range [...]string{c.Issuer, c.Subject, c.ID, c.ClientID, c.ACR, c.SessionID, c.KeyThumbprint, c.tenant, c.principal} {
		n += int64(len(s))
	}
	for _, list := range [...][]string{c.Audience, c.Scopes} {
		n += slice
		for _, s := range list {
			n += str + int64(len(s))
		}
	}
	return n
}

// Tenant returns the value of the claim [Config.TenantClaim] names, as
// verified: empty when TenantClaim is not set or the claim is absent or
// null. Like Principal it is read once, at verification, and is also
// rsguard.Principal.Tenant; [Config.Check] can judge it, with c.Issuer.
func (c *Claims) Tenant() string { return c.tenant }

// Principal returns a stable identifier of who the token speaks for, the same
// across token refreshes, and never equal to the principal of another kind:
//
//   - "user:" + issuer + "#" + sub, for a token whose "sub" is present and
//     differs from its client id: a user (resource owner);
//   - "client:" + issuer + "#" + client id, for a token whose "sub" is absent
//     or equals its client id ("client_id", or "azp"): a client acting on
//     its own behalf (RFC 9068 §2.2, client credentials).
//
// An issuer identifier has no "#" (RFC 8414 §2), so the first "#" separates
// it from the subject; the prefix names the kind, and API keys use a third
// one ("apikey:", package apikey). So a client whose id an attacker chose
// ("alice") never shares a principal with the user "alice".
//
// For Claims from a [Validator] it is computed once, at verification, from
// the verified claims: changing Subject or ClientID afterwards does not change
// it.
func (c *Claims) Principal() string {
	if c.principal != "" {
		return c.principal
	}
	if c.Subject == "" || c.Subject == c.ClientID {
		return "client:" + c.Issuer + "#" + c.ClientID
	}
	return "user:" + c.Issuer + "#" + c.Subject
}

// Get returns the value of the named claim as encoding/json decodes it into
// an any (string, float64, bool, []any, map[string]any, nil), and whether it
// is present. Each call decodes the payload anew, so the value returned
// belongs to the caller alone (keep it rather than calling Get again).
// Verification refused any payload that cannot be decoded whole (duplicate
// member names, numbers out of range, lone surrogates), so no claim is ever
// silently missing.
func (c *Claims) Get(name string) (any, bool) {
	var all map[string]json.RawMessage
	if json.Unmarshal(c.raw, &all) != nil {
		return nil, false
	}
	raw, ok := all[name]
	if !ok {
		return nil, false
	}
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return nil, false
	}
	return v, true
}

// Decode unmarshals the whole payload into v (a pointer to a struct or a
// map), for applications with their own claim types; into a
// *json.RawMessage, it copies the payload's JSON object (as encoding/json
// reads it: without whitespace around the object). It uses
// encoding/json, which matches struct field names case-insensitively: a
// field tagged "tid" also receives a "TID" claim. Where that matters
// (tenant ids used for authorization), decode into a
// map[string]json.RawMessage and read the exact name, or use [Claims.Get],
// which matches exactly. (Duplicate member names never reach Decode:
// verification refuses them.) Each call decodes a copy of the payload, so
// an UnmarshalJSON method that keeps or writes the bytes it is given cannot
// change what Get, Decode or another request reads.
func (c *Claims) Decode(v any) error {
	return json.Unmarshal(bytes.Clone(c.raw), v)
}

// ClaimsFromContext returns the verified claims of the request whose context
// is ctx, and whether there were any: the Details of the [rsguard.Principal]
// that [Validator.Authenticate] returned and an [rsguard.Guard] stored
// (rsguard.FromContext). There are none when the request was authenticated
// by another credential, such as an API key.
func ClaimsFromContext(ctx context.Context) (*Claims, bool) {
	p, ok := rsguard.FromContext(ctx)
	if !ok {
		return nil, false
	}
	c, ok := p.Details.(*Claims)
	return c, ok && c != nil
}

// payload holds the registered claims as read from the token, before they are
// checked. Byte slices alias the decoded payload.
type payload struct {
	iss, sub, jti, clientID, azp, acr, sid, scope []byte
	jkt                                           []byte // "cnf" {"jkt": …}, when that is all of "cnf"
	aud, scp                                      [][]byte
	exp, nbf, iat, authTime                       numericDate
	seen                                          uint32 // claimXxx bits of the members present (not null)
	scpString                                     bool   // "scp" is a string, not an array

	tenantClaim string // in: the name of Config.TenantClaim, if set
	tenant      []byte // out: its string value (claimTenant in seen)
}

// Bits of payload.seen, one per registered claim read.
const (
	claimIss uint32 = 1 << iota
	claimSub
	claimAud
	claimExp
	claimNbf
	claimIat
	claimJti
	claimClientID
	claimAzp
	claimScope
	claimScp
	claimAuthTime
	claimACR
	claimSid
	claimCnf    // "cnf" (RFC 7800), present in any form, null included
	claimTenant // Config.TenantClaim
)

// decodePayload reads the claims set, checking all of it as
// internal/strictjson does. A payload that is not an object is errNotObject;
// a registered claim of the wrong type, errType; otherwise the error is the
// lexer's: any member name given twice, at any depth, is
// strictjson.ErrDuplicate, nesting over strictjson.DefaultMaxDepth
// strictjson.ErrDepth, a lone surrogate escape strictjson.ErrSurrogate, a
// number out of float64 range strictjson.ErrRange, invalid UTF-8 or syntax
// strictjson.ErrSyntax. It also notes "cnf" (any value, null included),
// reads its "jkt" (see confirmation) and reads p.tenantClaim.
func decodePayload(raw []byte, p *payload) error {
	r := strictjson.NewReader(raw)
	if r.Peek() != '{' {
		return errNotObject
	}
	if err := r.Open(); err != nil {
		return err
	}
	var found uint32 // members read, null or not, for duplicate detection
	for {
		name, more, err := r.Member()
		if err != nil || !more {
			return err
		}
		var bit uint32
		switch string(name) {
		case "iss":
			bit = claimIss
		case "sub":
			bit = claimSub
		case "aud":
			bit = claimAud
		case "exp":
			bit = claimExp
		case "nbf":
			bit = claimNbf
		case "iat":
			bit = claimIat
		case "jti":
			bit = claimJti
		case "client_id":
			bit = claimClientID
		case "azp":
			bit = claimAzp
		case "scope":
			bit = claimScope
		case "scp":
			bit = claimScp
		case "auth_time":
			bit = claimAuthTime
		case "acr":
			bit = claimACR
		case "sid":
			bit = claimSid
		case "cnf":
			bit = claimCnf
		default:
			if p.tenantClaim == "" || string(name) != p.tenantClaim {
				if err := r.Skip(); err != nil {
					return err
				}
				continue
			}
			bit = claimTenant
		}
		if found&bit != 0 {
			return strictjson.ErrDuplicate
		}
		found |= bit
		var present bool
		switch bit {
		case claimIss:
			p.iss, present, err = stringValue(&r)
		case claimSub:
			p.sub, present, err = stringValue(&r)
		case claimJti:
			p.jti, present, err = stringValue(&r)
		case claimClientID:
			p.clientID, present, err = stringValue(&r)
		case claimAzp:
			p.azp, present, err = stringValue(&r)
		case claimScope:
			p.scope, present, err = stringValue(&r)
		case claimACR:
			p.acr, present, err = stringValue(&r)
		case claimSid:
			p.sid, present, err = stringValue(&r)
		case claimAud:
			p.aud, err = stringOrList(&r)
			present = p.aud != nil
		case claimScp:
			p.scpString = r.Peek() == '"'
			p.scp, err = stringOrList(&r)
			present = p.scp != nil
		case claimExp:
			present, err = date(&r, &p.exp)
		case claimNbf:
			present, err = date(&r, &p.nbf)
		case claimIat:
			present, err = date(&r, &p.iat)
		case claimAuthTime:
			present, err = date(&r, &p.authTime)
		case claimCnf:
			present = true
			p.jkt, err = confirmation(&r)
		case claimTenant:
			p.tenant, present, err = stringValue(&r)
		}
		if err != nil {
			return err
		}
		if present {
			p.seen |= bit
		}
	}
}

// confirmation reads a "cnf" claim (RFC 7800 §3.1) and returns its "jkt"
// (RFC 9449 §6.1) when "cnf" is an object whose one member is "jkt", a
// base64url SHA-256 thumbprint (43 characters); otherwise nil: a binding
// this package cannot verify (mTLS "x5t#S256", an empty object, null, …),
// which refuses the token on every path.
func confirmation(r *strictjson.Reader) ([]byte, error) {
	if r.Peek() != '{' {
		return nil, r.Skip()
	}
	if err := r.Open(); err != nil {
		return nil, err
	}
	var jkt []byte
	members := 0
	for {
		name, more, err := r.Member()
		if err != nil {
			return nil, err
		}
		if !more {
			break
		}
		members++
		if string(name) == "jkt" && r.Peek() == '"' {
			if jkt, err = r.String(); err != nil {
				return nil, err
			}
			continue
		}
		if err := r.Skip(); err != nil {
			return nil, err
		}
	}
	if members != 1 || len(jkt) != 43 {
		return nil, nil
	}
	if _, ok := decodeSegment(string(jkt)); !ok {
		return nil, nil
	}
	return jkt, nil
}

// joseHeader is the part of a JWS protected header (RFC 7515 §4.1) that
// verification reads. "jku", "x5u", "jwk" and "x5c" are deliberately not
// read: keys come only from the issuer's key set, never from the token.
type joseHeader struct {
	alg, kid, typ []byte
	hasKid        bool
	hasTyp        bool
	hasCrit       bool
	hasEnc        bool
}

// decodeHeader reads a protected header, checking all of it as decodePayload
// does. Members are matched exactly.
// It returns the header by value so that the buffer it aliases can stay on the
// caller's stack.
func decodeHeader(raw []byte) (h joseHeader, err error) {
	r := strictjson.NewReader(raw)
	if r.Peek() != '{' {
		return h, errNotObject
	}
	if err := r.Open(); err != nil {
		return h, err
	}
	var found uint8
	for {
		var name []byte
		var more bool
		name, more, err = r.Member()
		if err != nil || !more {
			return h, err
		}
		var bit uint8
		switch string(name) {
		case "alg":
			bit = 1
		case "kid":
			bit = 2
		case "typ":
			bit = 4
		case "crit":
			bit = 8
		case "enc":
			bit = 16
		default:
			if err = r.Skip(); err != nil {
				return h, err
			}
			continue
		}
		if found&bit != 0 {
			return h, strictjson.ErrDuplicate
		}
		found |= bit
		var ok bool
		switch bit {
		case 1:
			h.alg, _, err = stringValue(&r)
		case 2:
			h.kid, ok, err = stringValue(&r)
			h.hasKid = ok
		case 4:
			h.typ, ok, err = stringValue(&r)
			h.hasTyp = ok
		case 8:
			h.hasCrit = true
			err = r.Skip()
		case 16:
			h.hasEnc = true
			err = r.Skip()
		}
		if err != nil {
			return h, err
		}
	}
}

// numericDate is an RFC 7519 §2 NumericDate: a JSON number of seconds since
// the epoch, possibly with a fraction. Strings, booleans and values outside
// years 1–9999 are refused.
type numericDate struct{ t time.Time }

const (
	minNumericDate = -62135596800 // 0001-01-01T00:00:00Z
	maxNumericDate = 253402300799 // 9999-12-31T23:59:59Z
)

var errNumericDate = errors.New("NumericDate must be a number of seconds")

func (d *numericDate) setUnix(sec, nsec int64) error {
	if sec < minNumericDate || sec > maxNumericDate {
		return errNumericDate
	}
	d.t = time.Unix(sec, nsec)
	return nil
}
