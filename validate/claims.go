package validate

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rsguard/rsguard/scopes"
)

// Claims are the verified claims of an access token (RFC 7519 §4.1,
// RFC 9068 §2.2). Registered claims are decoded into fields; every other
// claim (tenant and organisation ids, roles, …) is reachable with [Claims.Get]
// and [Claims.Decode].
//
// Claims handed out by a [Validator] must be treated as read-only: the same
// value may be shared by every handler of a request.
type Claims struct {
	// Issuer is the "iss" claim: Config.Issuer or one of Config.Issuers.
	Issuer string
	// Subject is the "sub" claim: the resource owner, or the client for a
	// client_credentials token. May be empty when the issuer omits it.
	Subject string
	// Audience is the "aud" claim (sent as a string or an array), which
	// contains this resource (or one of the issuer's IssuerConfig.Audiences).
	// Like every field, read-only: it may be shared.
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
	// as Microsoft Entra and Okta send it).
	Scopes []string
	// AuthTime is the "auth_time" claim (RFC 9068 §2.2.1); zero when absent.
	AuthTime time.Time
	// ACR is the "acr" claim (RFC 9068 §2.2.1); empty when absent.
	ACR string
	// SessionID is the "sid" claim; empty when absent.
	SessionID string

	raw        []byte // the decoded JSON payload
	grantCache atomic.Pointer[scopes.Grant]
	once       sync.Once
	all        map[string]any
	allErrs    error
}

// Principal returns a stable identifier of who the token speaks for, the same
// across token refreshes: the issuer and the subject joined by "#" (an
// issuer identifier has no fragment, so the first "#" separates them). When
// the token has no "sub", the client id stands in for it.
func (c *Claims) Principal() string {
	sub := c.Subject
	if sub == "" {
		sub = c.ClientID
	}
	return c.Issuer + "#" + sub
}

// Raw returns the token's JSON payload, as verified. The returned slice must
// not be modified.
func (c *Claims) Raw() []byte { return c.raw }

// Get returns the value of the named claim as encoding/json decodes it into
// an any (string, float64, bool, []any, map[string]any, nil), and whether it
// is present. The payload is decoded once, on the first call.
func (c *Claims) Get(name string) (any, bool) {
	c.once.Do(func() {
		c.allErrs = json.Unmarshal(c.raw, &c.all)
	})
	if c.allErrs != nil {
		return nil, false
	}
	v, ok := c.all[name]
	return v, ok
}

// Decode unmarshals the whole payload into v (a pointer to a struct or a
// map), for applications with their own claim types. It uses encoding/json,
// which matches struct field names case-insensitively and keeps the last of
// duplicate members: a field tagged "tid" also receives a "TID" claim. Where
// that matters (tenant ids used for authorization), decode into a
// map[string]json.RawMessage and read the exact name, or use [Claims.Get],
// which matches exactly.
func (c *Claims) Decode(v any) error {
	return json.Unmarshal(c.raw, v)
}

// Has reports whether the token grants scope (exact, case-sensitive).
func (c *Claims) Has(scope string) bool {
	for _, s := range c.Scopes {
		if s == scope {
			return true
		}
	}
	return false
}

type claimsKey struct{ name string }

var claimsContextKey = &claimsKey{"rsguard-validate-claims"}

// NewContext returns a copy of ctx carrying c. The bearer middleware calls it;
// tests of handlers may too.
func NewContext(ctx context.Context, c *Claims) context.Context {
	return context.WithValue(ctx, claimsContextKey, c)
}

// ClaimsFromContext returns the verified claims that the bearer middleware
// stored in ctx, and whether there were any (there are none when the request
// was authenticated by another credential, such as an API key).
func ClaimsFromContext(ctx context.Context) (*Claims, bool) {
	c, ok := ctx.Value(claimsContextKey).(*Claims)
	return c, ok && c != nil
}

// grant converts verified claims into the credential-neutral scopes.Grant.
func (c *Claims) grant(resourceMetadata, tenant string) *scopes.Grant {
	return &scopes.Grant{
		Scopes:           c.Scopes,
		Subject:          c.Principal(),
		ClientID:         c.ClientID,
		Tenant:           tenant,
		Credential:       scopes.CredentialJWT,
		Issuer:           c.Issuer,
		TokenID:          c.ID,
		ACR:              c.ACR,
		AuthTime:         c.AuthTime,
		ResourceMetadata: resourceMetadata,
	}
}

// payload holds the registered claims as read from the token, before they are
// checked. Byte slices alias the decoded payload.
type payload struct {
	iss, sub, jti, clientID, azp, acr, sid, scope []byte
	aud, scp                                      [][]byte
	exp, nbf, iat, authTime                       numericDate
	seen                                          uint32 // claimXxx bits of the members present (not null)
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
)

var errNotObject = errors.New("not a JSON object")

// decodePayload reads the claims set. Syntax errors (including a payload
// that is not an object) wrap errSyntax or errNotObject; a registered claim
// of the wrong type, errType; a registered claim given twice, errDuplicate.
func decodePayload(raw []byte, p *payload) error {
	r := jsonReader{b: raw}
	if err := r.open(); err != nil {
		return err
	}
	var found uint32 // members read, null or not, for duplicate detection
	for first := true; ; first = false {
		name, more, err := r.member(first)
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
		default:
			if err := r.skip(1); err != nil {
				return err
			}
			continue
		}
		if found&bit != 0 {
			return errDuplicate
		}
		found |= bit
		var present bool
		switch bit {
		case claimIss:
			p.iss, present, err = r.stringValue()
		case claimSub:
			p.sub, present, err = r.stringValue()
		case claimJti:
			p.jti, present, err = r.stringValue()
		case claimClientID:
			p.clientID, present, err = r.stringValue()
		case claimAzp:
			p.azp, present, err = r.stringValue()
		case claimScope:
			p.scope, present, err = r.stringValue()
		case claimACR:
			p.acr, present, err = r.stringValue()
		case claimSid:
			p.sid, present, err = r.stringValue()
		case claimAud:
			p.aud, err = r.stringOrList(nil)
			present = p.aud != nil
		case claimScp:
			p.scp, err = r.stringOrList(nil)
			present = p.scp != nil
		case claimExp:
			present, err = r.date(&p.exp)
		case claimNbf:
			present, err = r.date(&p.nbf)
		case claimIat:
			present, err = r.date(&p.iat)
		case claimAuthTime:
			present, err = r.date(&p.authTime)
		}
		if err != nil {
			return err
		}
		if present {
			p.seen |= bit
		}
	}
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

// decodeHeader reads a protected header. Members are matched exactly and
// those read may not repeat.
// It returns the header by value so that the buffer it aliases can stay on the
// caller's stack.
func decodeHeader(raw []byte) (h joseHeader, err error) {
	r := jsonReader{b: raw}
	if err := r.open(); err != nil {
		return h, err
	}
	var found uint8
	for first := true; ; first = false {
		var name []byte
		var more bool
		name, more, err = r.member(first)
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
			if err = r.skip(1); err != nil {
				return h, err
			}
			continue
		}
		if found&bit != 0 {
			return h, errDuplicate
		}
		found |= bit
		var ok bool
		switch bit {
		case 1:
			h.alg, _, err = r.stringValue()
		case 2:
			h.kid, ok, err = r.stringValue()
			h.hasKid = ok
		case 4:
			h.typ, ok, err = r.stringValue()
			h.hasTyp = ok
		case 8:
			h.hasCrit = true
			err = r.skip(1)
		case 16:
			h.hasEnc = true
			err = r.skip(1)
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
