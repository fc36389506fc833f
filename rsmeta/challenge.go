package rsmeta

import (
	"fmt"
	"strings"

	"github.com/rsguard/rsguard/internal/check"
)

// RFC 6750 §3.1 and RFC 9449 §7.1, §9 error codes, for [Challenge].Error.
const (
	// ErrorInvalidRequest: the request is malformed (missing or repeated
	// parameter, several credentials, …). Status 400.
	ErrorInvalidRequest = "invalid_request"
	// ErrorInvalidToken: the access token is expired, revoked, malformed or
	// invalid for another reason. Status 401.
	ErrorInvalidToken = "invalid_token"
	// ErrorInsufficientScope: the token lacks scopes the request needs; the
	// challenge's Scope names them. Status 403.
	ErrorInsufficientScope = "insufficient_scope"
	// ErrorInvalidDPoPProof: the DPoP proof is missing or invalid (RFC 9449
	// §7.1), on a DPoP challenge. Status 401.
	ErrorInvalidDPoPProof = "invalid_dpop_proof"
	// ErrorUseDPoPNonce: the DPoP proof must carry the nonce of the
	// response's DPoP-Nonce header (RFC 9449 §9), on a DPoP challenge.
	// Status 401.
	ErrorUseDPoPNonce = "use_dpop_nonce"
)

// Param is one auth-param of a challenge (RFC 9110 §11.2): a name, matched
// case-insensitively, and its value (unquoted).
type Param struct {
	Name, Value string
}

// Challenge is one challenge of a WWW-Authenticate field (RFC 9110 §11.6.1),
// with the auth-params of the Bearer scheme (RFC 6750 §3) and of RFC 9728
// §5.1 as fields. The zero value is a Bearer challenge with no parameters,
// which [Challenge.Header] refuses (RFC 6750 §3 requires at least one
// auth-param) and [Challenge.String] writes as `Bearer realm=""`.
//
// Empty fields are not sent. Auth-params are written in this order: realm,
// resource_metadata, scope, error, error_description, error_uri, then Params.
type Challenge struct {
	// Scheme is the auth-scheme, an RFC 9110 token. "" means "Bearer".
	// Schemes compare case-insensitively; [ParseChallenges] keeps the
	// spelling it read.
	Scheme string

	// Realm is the "realm" auth-param (RFC 9110 §11.5), sent as a
	// quoted-string. Optional.
	Realm string

	// ResourceMetadata is the "resource_metadata" auth-param (RFC 9728
	// §5.1): the URL of the protected resource metadata document, as
	// returned by [WellKnownURL] or [Handler.URL]. MCP clients need it on
	// every 401.
	ResourceMetadata string

	// Scope lists the scopes needed (RFC 6750 §3), sent space-joined in the
	// "scope" auth-param. Each must be an RFC 6749 §3.3 scope token.
	Scope []string

	// Error is the "error" auth-param: an RFC 6750 §3.1 error code such as
	// [ErrorInvalidToken]. Leave empty when the request carried no
	// credentials (RFC 6750 §3.1).
	Error string

	// ErrorDescription is the "error_description" auth-param: text for the
	// client's developer, not for end users. Never put a token or an
	// internal error's text here.
	ErrorDescription string

	// ErrorURI is the "error_uri" auth-param: a URI of a page that explains
	// the error.
	ErrorURI string

	// Params are extension auth-params (acr_values, max_age, …), written
	// after the registered ones as quoted-strings. Names are RFC 9110 tokens
	// that must not repeat each other or a registered name
	// (case-insensitively).
	Params []Param

	// Token68 is the token68 form of a challenge (RFC 9110 §11.2), used by
	// schemes such as Negotiate instead of auth-params. It is exclusive with
	// every auth-param and never valid for Bearer. Empty means none.
	Token68 string
}

const defaultScheme = "Bearer"

// Header returns the challenge as a WWW-Authenticate field value, or an error
// wrapping [ErrInvalidChallenge] if any part is outside the character sets
// the RFCs allow: the scheme and extension parameter names must be RFC 9110
// tokens; scope tokens must be NQCHAR (%x21 / %x23-5B / %x5D-7E), error and
// error_description NQSCHAR (%x20-21 / %x23-5B / %x5D-7E), error_uri and
// resource_metadata URI characters (%x21 / %x23-5B / %x5D-7E), as RFC 6750
// §3 requires, and resource_metadata an absolute https URL (http only on a
// loopback host, see the package documentation) without userinfo or
// fragment, since clients fetch it; realm and extension values must be free of control characters
// and non-ASCII bytes (" and \ are escaped as quoted-pairs, RFC 9110 §5.6.4).
// A Bearer challenge needs at least one auth-param (RFC 6750 §3).
//
// Use Header to check configuration up front; use [Challenge.String] when
// writing responses.
func (c Challenge) Header() (string, error) {
	if err := c.check(true); err != nil {
		return "", err
	}
	return c.build(c.maxLen()), nil
}

// String returns the challenge as a WWW-Authenticate field value. For a
// challenge that [Challenge.Header] accepts the result is the same. Otherwise
// String sanitises instead of failing, so that a response always gets a
// well-formed header:
//   - an invalid scheme loses its invalid bytes ("Bearer" if none remain);
//   - realm and extension values lose control characters and non-ASCII
//     bytes;
//   - error and error_description turn HTAB, CR and LF into spaces and
//     double quotes into apostrophes, and lose every other byte outside
//     NQSCHAR;
//   - invalid scope tokens are dropped; so are resource_metadata and
//     error_uri when invalid (a mangled URL is worse than none), and
//     extension params whose names are invalid, registered or repeated;
//   - a token68 is dropped when the challenge also has auth-params, when
//     the scheme is Bearer, or when it is malformed;
//   - a Bearer challenge left without auth-params gets `realm=""`, the
//     smallest conformant one.
//
// String makes one allocation for a valid challenge.
func (c Challenge) String() string {
	return c.build(c.maxLen())
}

// check validates c strictly. Only when explain is set does the error say what is wrong (String does
// not need to know, and should not pay for formatting).
func (c Challenge) check(explain bool) error {
	bad := func(format string, args ...any) error {
		if !explain {
			return ErrInvalidChallenge
		}
		return fmt.Errorf("%w: %s", ErrInvalidChallenge, fmt.Sprintf(format, args...))
	}
	scheme := c.Scheme
	if scheme == "" {
		scheme = defaultScheme
	}
	if !check.IsToken(scheme) {
		return bad("auth-scheme %q is not an RFC 9110 token", scheme)
	}
	params := 0 // auth-params present
	param := func() { params++ }

	if c.Realm != "" {
		if !allQuotable(c.Realm) {
			return bad("realm %q has a control character or a non-ASCII byte", c.Realm)
		}
		param()
	}
	if c.ResourceMetadata != "" {
		if !isURIValue(c.ResourceMetadata) {
			return bad("resource_metadata %q has a character outside %%x21 / %%x23-5B / %%x5D-7E", c.ResourceMetadata)
		}
		if explain { // configuration time only: not on the request path
			if _, err := parseHTTPSURL(c.ResourceMetadata); err != nil {
				return bad("resource_metadata: %v", err)
			}
		}
		param()
	}
	if len(c.Scope) > 0 {
		for _, s := range c.Scope {
			if !check.IsScopeToken(s) {
				return bad("scope token %q is empty or has a character outside RFC 6750 §3 NQCHAR", s)
			}
		}
		param()
	}
	if c.Error != "" {
		if !isNQSString(c.Error) {
			return bad("error %q has a character outside RFC 6750 §3 NQSCHAR", c.Error)
		}
		param()
	}
	if c.ErrorDescription != "" {
		if !isNQSString(c.ErrorDescription) {
			return bad("error_description %q has a character outside RFC 6750 §3 NQSCHAR", c.ErrorDescription)
		}
		param()
	}
	if c.ErrorURI != "" {
		if !isURIValue(c.ErrorURI) {
			return bad("error_uri %q has a character outside %%x21 / %%x23-5B / %%x5D-7E", c.ErrorURI)
		}
		param()
	}
	for i, p := range c.Params {
		if !check.IsToken(p.Name) {
			return bad("auth-param name %q is not an RFC 9110 token", p.Name)
		}
		if isRegisteredParam(p.Name) {
			return bad("auth-param %q must be set through its Challenge field", p.Name)
		}
		for _, q := range c.Params[:i] {
			if strings.EqualFold(p.Name, q.Name) {
				return bad("auth-param %q appears twice (RFC 9110 §11.2)", p.Name)
			}
		}
		if !allQuotable(p.Value) {
			return bad("auth-param %s value %q has a control character or a non-ASCII byte", p.Name, p.Value)
		}
		param()
	}

	bearer := strings.EqualFold(scheme, defaultScheme)
	switch {
	case c.Token68 != "" && params > 0:
		return bad("a challenge has either a token68 or auth-params, not both (RFC 9110 §11.2)")
	case c.Token68 != "" && bearer:
		return bad("a Bearer challenge carries auth-params, not a token68 (RFC 6750 §3)")
	case c.Token68 != "":
		if !isToken68(c.Token68) {
			return bad("%q is not a token68 (RFC 9110 §11.2)", c.Token68)
		}
	case params == 0 && bearer:
		return bad("a Bearer challenge needs at least one auth-param (RFC 6750 §3)")
	}
	return nil
}

// maxLen is an upper bound on the length of c's sanitised encoding.
func (c Challenge) maxLen() int {
	n := len(c.Scheme) + len(defaultScheme) + len(` realm=""`) + 1 + len(c.Token68)
	n += len(", realm=\"\"") + 2*len(c.Realm)
	n += len(`, resource_metadata=""`) + len(c.ResourceMetadata)
	n += len(`, scope=""`)
	for _, s := range c.Scope {
		n += len(s) + 1
	}
	n += len(`, error=""`) + len(c.Error)
	n += len(`, error_description=""`) + len(c.ErrorDescription)
	n += len(`, error_uri=""`) + len(c.ErrorURI)
	for _, p := range c.Params {
		n += len(p.Name) + 2*len(p.Value) + len(`, =""`)
	}
	return n
}

// build writes c, sanitising as String documents; for a valid challenge the
// sanitising is the identity. size is the capacity to reserve.
func (c Challenge) build(size int) string {
	var b strings.Builder
	b.Grow(size)

	scheme := c.Scheme
	if scheme == "" || !check.IsToken(scheme) {
		scheme = keepBytes(scheme, check.IsTchar)
		if scheme == "" {
			scheme = defaultScheme
		}
	}
	b.WriteString(scheme)

	params := 0
	start := func(name string) {
		if params == 0 {
			b.WriteByte(' ')
		} else {
			b.WriteString(", ")
		}
		b.WriteString(name)
		b.WriteString(`="`)
		params++
	}

	if hasQuotable(c.Realm) {
		start("realm")
		writeQuotable(&b, c.Realm)
		b.WriteByte('"')
	}
	if c.ResourceMetadata != "" && isURIValue(c.ResourceMetadata) {
		start("resource_metadata")
		b.WriteString(c.ResourceMetadata)
		b.WriteByte('"')
	}
	first := true
	for _, s := range c.Scope {
		if !check.IsScopeToken(s) {
			continue
		}
		if first {
			start("scope")
			first = false
		} else {
			b.WriteByte(' ')
		}
		b.WriteString(s)
	}
	if !first {
		b.WriteByte('"')
	}
	if hasText(c.Error) {
		start("error")
		writeText(&b, c.Error)
		b.WriteByte('"')
	}
	if hasText(c.ErrorDescription) {
		start("error_description")
		writeText(&b, c.ErrorDescription)
		b.WriteByte('"')
	}
	if c.ErrorURI != "" && isURIValue(c.ErrorURI) {
		start("error_uri")
		b.WriteString(c.ErrorURI)
		b.WriteByte('"')
	}
	for i, p := range c.Params {
		if !keptParam(c.Params, i) {
			continue
		}
		start(p.Name)
		writeQuotable(&b, p.Value)
		b.WriteByte('"')
	}

	bearer := strings.EqualFold(scheme, defaultScheme)
	if params == 0 {
		switch {
		case bearer:
			b.WriteString(` realm=""`)
		case c.Token68 != "" && isToken68(c.Token68):
			b.WriteByte(' ')
			b.WriteString(c.Token68)
		}
	}
	return b.String()
}

// keptParam reports whether String writes params[i]: its name is a token,
// not a registered name, and not a repeat of an earlier written name. (An
// earlier param that was itself a repeat has a written twin further up, so
// comparing against every earlier valid name is enough.)
func keptParam(params []Param, i int) bool {
	name := params[i].Name
	if !check.IsToken(name) || isRegisteredParam(name) {
		return false
	}
	for _, q := range params[:i] {
		if strings.EqualFold(name, q.Name) && check.IsToken(q.Name) && !isRegisteredParam(q.Name) {
			return false
		}
	}
	return true
}

// isRegisteredParam reports whether name (case-insensitively) is one of the
// auth-params Challenge has a field for.
func isRegisteredParam(name string) bool {
	switch len(name) {
	case 5:
		return strings.EqualFold(name, "realm") || strings.EqualFold(name, "scope") || strings.EqualFold(name, "error")
	case 9:
		return strings.EqualFold(name, "error_uri")
	case 17:
		return strings.EqualFold(name, "resource_metadata") || strings.EqualFold(name, "error_description")
	}
	return false
}
