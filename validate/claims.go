package validate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"sync"
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
	// Issuer is the "iss" claim, equal to Config.Issuer.
	Issuer string
	// Subject is the "sub" claim: the resource owner, or the client for a
	// client_credentials token. May be empty when the issuer omits it.
	Subject string
	// Audience is the "aud" claim (sent as a string or an array), which
	// contains this resource.
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

	raw     []byte // the decoded JSON payload
	once    sync.Once
	all     map[string]any
	allErrs error
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
// map), for applications with their own claim types.
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
		ResourceMetadata: resourceMetadata,
	}
}

// payload is the wire form of the registered claims. Every field has a type
// that refuses the wrong JSON type: a string "exp", a numeric "aud" or an
// object "iss" make decoding fail, and the token is rejected.
type payload struct {
	Iss      *string      `json:"iss"`
	Sub      string       `json:"sub"`
	Aud      audience     `json:"aud"`
	Exp      *numericDate `json:"exp"`
	Nbf      *numericDate `json:"nbf"`
	Iat      *numericDate `json:"iat"`
	Jti      string       `json:"jti"`
	ClientID string       `json:"client_id"`
	Azp      string       `json:"azp"`
	Scope    *string      `json:"scope"`
	Scp      stringList   `json:"scp"`
	AuthTime *numericDate `json:"auth_time"`
	ACR      string       `json:"acr"`
	Sid      string       `json:"sid"`
}

var errNotObject = errors.New("not a JSON object")

func decodePayload(raw []byte, p *payload) error {
	// A JSON null or array would decode into a struct without complaint.
	if b := bytes.TrimLeft(raw, " \t\r\n"); len(b) == 0 || b[0] != '{' {
		return errNotObject
	}
	return json.Unmarshal(raw, p)
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

func (d *numericDate) UnmarshalJSON(b []byte) error {
	if len(b) == 0 || (b[0] != '-' && (b[0] < '0' || b[0] > '9')) {
		return errNumericDate
	}
	if sec, err := strconv.ParseInt(string(b), 10, 64); err == nil {
		if sec < minNumericDate || sec > maxNumericDate {
			return errNumericDate
		}
		d.t = time.Unix(sec, 0)
		return nil
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil || math.IsNaN(f) || f < minNumericDate || f > maxNumericDate {
		return errNumericDate
	}
	sec, frac := math.Modf(f)
	d.t = time.Unix(int64(sec), int64(frac*1e9))
	return nil
}

func (d *numericDate) time() time.Time {
	if d == nil {
		return time.Time{}
	}
	return d.t
}

// audience is the "aud" claim: a single string or an array of strings
// (RFC 7519 §4.1.3).
type audience []string

var errAudienceType = errors.New(`"aud" must be a string or an array of strings`)

func (a *audience) UnmarshalJSON(b []byte) error {
	return unmarshalStringOrList((*[]string)(a), b, errAudienceType)
}

// stringList is a claim sent as a space-delimited string or an array of
// strings (the "scp" claim).
type stringList []string

var errScpType = errors.New(`"scp" must be a string or an array of strings`)

func (s *stringList) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var str string
		if err := json.Unmarshal(b, &str); err != nil {
			return err
		}
		*s = scopes.Parse(str)
		return nil
	}
	return unmarshalStringOrList((*[]string)(s), b, errScpType)
}

func unmarshalStringOrList(dst *[]string, b []byte, typeErr error) error {
	if len(b) == 0 {
		return typeErr
	}
	switch b[0] {
	case '"':
		var str string
		if err := json.Unmarshal(b, &str); err != nil {
			return err
		}
		*dst = []string{str}
		return nil
	case '[':
		var list []string
		if err := json.Unmarshal(b, &list); err != nil {
			return typeErr
		}
		*dst = list
		return nil
	case 'n': // null: treated as absent
		*dst = nil
		return nil
	}
	return typeErr
}
