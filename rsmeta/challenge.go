package rsmeta

import (
	"fmt"
	"strings"
)

// RFC 6750 §3.1 error codes, for [Challenge].Error.
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
	n, err := c.check(true)
	if err != nil {
		return "", err
	}
	return c.build(n), nil
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
	n, err := c.check(false)
	if err != nil {
		n = c.maxLen()
	}
	return c.build(n)
}

// check validates c strictly and returns the exact length of its encoding.
// Only when explain is set does the error say what is wrong (String does
// not need to know, and should not pay for formatting).
func (c Challenge) check(explain bool) (int, error) {
	bad := func(format string, args ...any) (int, error) {
		if !explain {
			return 0, ErrInvalidChallenge
		}
		return 0, fmt.Errorf("%w: %s", ErrInvalidChallenge, fmt.Sprintf(format, args...))
	}
	scheme := c.Scheme
	if scheme == "" {
		scheme = defaultScheme
	}
	if !isToken(scheme) {
		return bad("auth-scheme %q is not an RFC 9110 token", scheme)
	}
	n := len(scheme)
	params := 0
	param := func(name string, valueLen int) {
		if params == 0 {
			n++ // " "
		} else {
			n += 2 // ", "
		}
		n += len(name) + 3 + valueLen // name="value"
		params++
	}

	if c.Realm != "" {
		l, ok := quotedLen(c.Realm)
		if !ok {
			return bad("realm %q has a control character or a non-ASCII byte", c.Realm)
		}
		param("realm", l)
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
		param("resource_metadata", len(c.ResourceMetadata))
	}
	if len(c.Scope) > 0 {
		l := len(c.Scope) - 1
		for _, s := range c.Scope {
			if !IsScopeToken(s) {
				return bad("scope token %q is empty or has a character outside RFC 6750 §3 NQCHAR", s)
			}
			l += len(s)
		}
		param("scope", l)
	}
	if c.Error != "" {
		if !isNQSString(c.Error) {
			return bad("error %q has a character outside RFC 6750 §3 NQSCHAR", c.Error)
		}
		param("error", len(c.Error))
	}
	if c.ErrorDescription != "" {
		if !isNQSString(c.ErrorDescription) {
			return bad("error_description %q has a character outside RFC 6750 §3 NQSCHAR", c.ErrorDescription)
		}
		param("error_description", len(c.ErrorDescription))
	}
	if c.ErrorURI != "" {
		if !isURIValue(c.ErrorURI) {
			return bad("error_uri %q has a character outside %%x21 / %%x23-5B / %%x5D-7E", c.ErrorURI)
		}
		param("error_uri", len(c.ErrorURI))
	}
	for i, p := range c.Params {
		if !isToken(p.Name) {
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
		l, ok := quotedLen(p.Value)
		if !ok {
			return bad("auth-param %s value %q has a control character or a non-ASCII byte", p.Name, p.Value)
		}
		param(p.Name, l)
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
		n += 1 + len(c.Token68)
	case params == 0 && bearer:
		return bad("a Bearer challenge needs at least one auth-param (RFC 6750 §3)")
	}
	return n, nil
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
	if scheme == "" || !isToken(scheme) {
		scheme = keepBytes(scheme, isTchar)
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
		if !IsScopeToken(s) {
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
	if !isToken(name) || isRegisteredParam(name) {
		return false
	}
	for _, q := range params[:i] {
		if strings.EqualFold(name, q.Name) && isToken(q.Name) && !isRegisteredParam(q.Name) {
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

// Character classes.

// isTchar reports whether c is an RFC 9110 §5.6.2 tchar.
func isTchar(c byte) bool {
	return isAlnum(c) || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// isToken reports whether s is an RFC 9110 §5.6.2 token.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isTchar(s[i]) {
			return false
		}
	}
	return true
}

// isToken68Char reports whether c may appear before the padding of a token68
// (RFC 9110 §11.2).
func isToken68Char(c byte) bool {
	return isAlnum(c) || strings.IndexByte("-._~+/", c) >= 0
}

// isToken68 reports whether s is an RFC 9110 §11.2 token68.
func isToken68(s string) bool {
	i := 0
	for i < len(s) && isToken68Char(s[i]) {
		i++
	}
	if i == 0 {
		return false
	}
	for i < len(s) && s[i] == '=' {
		i++
	}
	return i == len(s)
}

// isNQChar reports whether c is an RFC 6749 Appendix A NQCHAR
// (%x21 / %x23-5B / %x5D-7E): the characters of a scope token, and the
// characters RFC 6750 §3 allows in error_uri.
func isNQChar(c byte) bool {
	return c == 0x21 || 0x23 <= c && c <= 0x5B || 0x5D <= c && c <= 0x7E
}

// isNQSChar reports whether c is an RFC 6749 Appendix A NQSCHAR
// (%x20-21 / %x23-5B / %x5D-7E): the characters of error and
// error_description.
func isNQSChar(c byte) bool {
	return c == ' ' || isNQChar(c)
}

// IsScopeToken reports whether s is an RFC 6749 §3.3 scope-token,
// 1*( %x21 / %x23-5B / %x5D-7E ): the characters a scope may use in a token
// request, a "scope" claim and a challenge's scope auth-param (RFC 6750 §3).
func IsScopeToken(s string) bool {
	return s != "" && allBytes(s, isNQChar)
}

func isNQSString(s string) bool { return allBytes(s, isNQSChar) }

// isURIValue reports whether s is non-empty and made of the characters RFC
// 6750 §3 allows in error_uri.
func isURIValue(s string) bool { return s != "" && allBytes(s, isNQChar) }

// isQuotable reports whether c may be sent inside a quoted-string, as itself
// or (for '"' and '\') as a quoted-pair: SP and VCHAR. HTAB and obs-text
// are allowed by RFC 9110 but not sent.
func isQuotable(c byte) bool { return 0x20 <= c && c <= 0x7E }

func allBytes(s string, ok func(byte) bool) bool {
	for i := 0; i < len(s); i++ {
		if !ok(s[i]) {
			return false
		}
	}
	return true
}

// quotedLen returns the length of s inside a quoted-string, and whether s is
// quotable as is.
func quotedLen(s string) (int, bool) {
	n := len(s)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isQuotable(c) {
			return 0, false
		}
		if c == '"' || c == '\\' {
			n++
		}
	}
	return n, true
}

// hasQuotable reports whether s has a byte writeQuotable keeps.
func hasQuotable(s string) bool {
	for i := 0; i < len(s); i++ {
		if isQuotable(s[i]) {
			return true
		}
	}
	return false
}

// writeQuotable writes s as the inside of a quoted-string: '"' and '\' as
// quoted-pairs (RFC 9110 §5.6.4), other bytes outside SP / VCHAR dropped.
func writeQuotable(b *strings.Builder, s string) {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case isQuotable(c):
			b.WriteByte(c)
		}
	}
}

// textByte maps a byte of error or error_description into NQSCHAR: itself if
// allowed, a space for HTAB, CR and LF, an apostrophe for a double quote,
// or 0 (dropped).
func textByte(c byte) byte {
	switch {
	case isNQSChar(c):
		return c
	case c == '\t' || c == '\r' || c == '\n':
		return ' '
	case c == '"':
		return '\''
	}
	return 0
}

// hasText reports whether sanitiseText(s) is non-empty.
func hasText(s string) bool {
	for i := 0; i < len(s); i++ {
		if textByte(s[i]) != 0 {
			return true
		}
	}
	return false
}

func writeText(b *strings.Builder, s string) {
	for i := 0; i < len(s); i++ {
		if c := textByte(s[i]); c != 0 {
			b.WriteByte(c)
		}
	}
}

// sanitiseText returns s mapped into NQSCHAR as String does for error and
// error_description; s itself when it is already valid.
func sanitiseText(s string) string {
	if isNQSString(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	writeText(&b, s)
	return b.String()
}

// keepBytes returns the bytes of s for which keep is true.
func keepBytes(s string, keep func(byte) bool) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if keep(s[i]) {
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// ParseChallenges parses a WWW-Authenticate (or Proxy-Authenticate) field
// value: a comma-separated list of challenges (RFC 9110 §11.6.1), each an
// auth-scheme followed by either a token68 or a list of auth-params whose
// values are tokens or quoted-strings (§11.2, §5.6.4). Several challenges may
// share the value; a comma may separate two auth-params or two challenges,
// and which one is meant is decided by whether a "=" follows the token. For
// several field lines, parse each (or join them with ", ", RFC 9110 §5.3).
//
// Scheme and parameter names are case-insensitive: the registered Bearer and
// RFC 9728 parameters (realm, resource_metadata, scope, error,
// error_description, error_uri) are recognised in any case and go to their
// fields, whatever the scheme; others go to Params with their spelling. The
// scheme keeps its spelling too: compare it with [strings.EqualFold]. An
// empty value is ignored like an absent one (an empty registered field is
// not sent by [Challenge.String] either). The scope value is split at
// spaces. Quoted-pairs are unescaped.
//
// Where the grammar is strict but senders are not, ParseChallenges accepts
// HTAB as well as SP for whitespace, empty list elements, and auth-params
// after a bare scheme and a comma ("Bearer, realm=x"). It refuses, with an
// error wrapping [ErrInvalidChallenge]: an auth-param before any scheme or
// after a token68, a parameter repeated within a challenge (RFC 9110 §11.2),
// a missing value, control characters, unterminated quoted-strings and
// missing commas. An empty value (or one of only commas and whitespace)
// yields no challenges and no error.
//
// It never panics and runs in time linear in the length of value.
//
// For every c that [Challenge.Header] accepts, ParseChallenges(c.String())
// returns c (with Scheme "Bearer" for "", and nil for empty slices).
func ParseChallenges(value string) ([]Challenge, error) {
	p := challengeParser{s: value}
	return p.parse()
}

type challengeParser struct {
	s   string
	i   int
	out []Challenge

	seen  uint8               // registered params set in the current challenge
	names map[string]struct{} // lowercased extension names, once there are many
}

const (
	seenRealm uint8 = 1 << iota
	seenResourceMetadata
	seenScope
	seenError
	seenErrorDescription
	seenErrorURI
)

func (p *challengeParser) errorf(format string, args ...any) error {
	return fmt.Errorf("%w: at offset %d: %s", ErrInvalidChallenge, p.i, fmt.Sprintf(format, args...))
}

func (p *challengeParser) parse() ([]Challenge, error) {
	for {
		p.skipOWS()
		if p.i == len(p.s) {
			return p.out, nil
		}
		if p.s[p.i] == ',' {
			p.i++
			continue
		}
		start := p.i
		tok := p.token()
		if tok == "" {
			return nil, p.errorf("expected an auth-scheme or auth-param, found %q", p.s[p.i])
		}
		p.skipOWS()
		if p.i < len(p.s) && p.s[p.i] == '=' {
			// An auth-param continuing the current challenge.
			p.i = start
			if len(p.out) == 0 {
				return nil, p.errorf("auth-param before any auth-scheme")
			}
			if p.out[len(p.out)-1].Token68 != "" {
				return nil, p.errorf("auth-param after a token68")
			}
			if err := p.param(); err != nil {
				return nil, err
			}
			continue
		}
		// A new challenge.
		p.i = start + len(tok)
		p.out = append(p.out, Challenge{Scheme: tok})
		p.seen, p.names = 0, nil
		if p.i == len(p.s) || p.s[p.i] == ',' {
			continue
		}
		if !isOWS(p.s[p.i]) {
			return nil, p.errorf("expected a space after auth-scheme %q, found %q", tok, p.s[p.i])
		}
		p.skipOWS()
		if p.i == len(p.s) || p.s[p.i] == ',' {
			continue
		}
		if t, ok := p.token68(); ok {
			p.out[len(p.out)-1].Token68 = t
			continue
		}
		// After "scheme SP", only an auth-param may follow: a second token
		// without "=" is not a new challenge.
		if err := p.param(); err != nil {
			return nil, err
		}
	}
}

// param parses `token BWS "=" BWS ( token / quoted-string )` and the OWS
// after it, up to a comma or the end, and stores it in the last challenge.
func (p *challengeParser) param() error {
	name := p.token()
	if name == "" {
		if p.i < len(p.s) {
			return p.errorf("expected an auth-param name, found %q", p.s[p.i])
		}
		return p.errorf("expected an auth-param name")
	}
	p.skipOWS()
	if p.i == len(p.s) || p.s[p.i] != '=' {
		return p.errorf(`expected "=" after auth-param name %q`, name)
	}
	p.i++
	p.skipOWS()
	var value string
	switch {
	case p.i == len(p.s):
		return p.errorf("missing value for auth-param %q", name)
	case p.s[p.i] == '"':
		v, err := p.quoted()
		if err != nil {
			return err
		}
		value = v
	default:
		value = p.token()
		if value == "" {
			return p.errorf("invalid value for auth-param %q: found %q", name, p.s[p.i])
		}
	}
	p.skipOWS()
	if p.i < len(p.s) && p.s[p.i] != ',' {
		return p.errorf("expected a comma after auth-param %q, found %q", name, p.s[p.i])
	}
	return p.set(name, value)
}

// set stores name=value in the last challenge.
func (p *challengeParser) set(name, value string) error {
	c := &p.out[len(p.out)-1]
	var bit uint8
	var field *string
	switch {
	case strings.EqualFold(name, "realm"):
		bit, field = seenRealm, &c.Realm
	case strings.EqualFold(name, "resource_metadata"):
		bit, field = seenResourceMetadata, &c.ResourceMetadata
	case strings.EqualFold(name, "scope"):
		bit = seenScope
	case strings.EqualFold(name, "error"):
		bit, field = seenError, &c.Error
	case strings.EqualFold(name, "error_description"):
		bit, field = seenErrorDescription, &c.ErrorDescription
	case strings.EqualFold(name, "error_uri"):
		bit, field = seenErrorURI, &c.ErrorURI
	}
	if bit != 0 {
		if p.seen&bit != 0 {
			return p.errorf("auth-param %q repeated", name)
		}
		p.seen |= bit
		if field != nil {
			*field = value
		} else {
			c.Scope = splitScope(value)
		}
		return nil
	}

	// Extension param: look for a repeat, linearly while the list is short.
	const linear = 8
	if len(c.Params) < linear {
		for _, q := range c.Params {
			if strings.EqualFold(q.Name, name) {
				return p.errorf("auth-param %q repeated", name)
			}
		}
	} else {
		if p.names == nil {
			p.names = make(map[string]struct{}, 2*linear)
			for _, q := range c.Params {
				p.names[strings.ToLower(q.Name)] = struct{}{}
			}
		}
		key := strings.ToLower(name)
		if _, dup := p.names[key]; dup {
			return p.errorf("auth-param %q repeated", name)
		}
		p.names[key] = struct{}{}
	}
	c.Params = append(c.Params, Param{Name: name, Value: value})
	return nil
}

// token consumes and returns a (possibly empty) run of tchar.
func (p *challengeParser) token() string {
	start := p.i
	for p.i < len(p.s) && isTchar(p.s[p.i]) {
		p.i++
	}
	return p.s[start:p.i]
}

// token68 consumes a token68 if one starts here and is followed by OWS and
// a comma or the end; otherwise it consumes nothing.
func (p *challengeParser) token68() (string, bool) {
	j := p.i
	for j < len(p.s) && isToken68Char(p.s[j]) {
		j++
	}
	if j == p.i {
		return "", false
	}
	for j < len(p.s) && p.s[j] == '=' {
		j++
	}
	k := j
	for k < len(p.s) && isOWS(p.s[k]) {
		k++
	}
	if k < len(p.s) && p.s[k] != ',' {
		return "", false
	}
	t := p.s[p.i:j]
	p.i = k
	return t, true
}

// quoted consumes a quoted-string (RFC 9110 §5.6.4) and returns its content
// with quoted-pairs unescaped. obs-text is accepted.
func (p *challengeParser) quoted() (string, error) {
	p.i++ // opening DQUOTE
	start := p.i
	var b *strings.Builder // only once a quoted-pair is seen
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == '"':
			var v string
			if b == nil {
				v = p.s[start:p.i]
			} else {
				v = b.String()
			}
			p.i++
			return v, nil
		case c == '\\':
			if p.i+1 == len(p.s) {
				p.i++
				return "", p.errorf("unterminated quoted-string")
			}
			e := p.s[p.i+1]
			if !isQdtextOrPair(e) && e != '"' && e != '\\' {
				p.i++
				return "", p.errorf("invalid quoted-pair %q", e)
			}
			if b == nil {
				b = new(strings.Builder)
				b.WriteString(p.s[start:p.i])
			}
			b.WriteByte(e)
			p.i += 2
		case isQdtextOrPair(c):
			if b != nil {
				b.WriteByte(c)
			}
			p.i++
		default:
			return "", p.errorf("control character %q in quoted-string", c)
		}
	}
	return "", p.errorf("unterminated quoted-string")
}

// isQdtextOrPair reports whether c is HTAB, SP, VCHAR or obs-text: the bytes
// a quoted-string may hold, directly (except '"' and '\') or after '\'.
func isQdtextOrPair(c byte) bool {
	return c == '\t' || c == ' ' || 0x21 <= c && c <= 0x7E || c >= 0x80
}

func isOWS(c byte) bool { return c == ' ' || c == '\t' }

func (p *challengeParser) skipOWS() {
	for p.i < len(p.s) && isOWS(p.s[p.i]) {
		p.i++
	}
}

// splitScope splits a scope value at spaces, dropping empty tokens.
func splitScope(v string) []string {
	var out []string
	for v != "" {
		tok := v
		if i := strings.IndexByte(v, ' '); i >= 0 {
			tok, v = v[:i], v[i+1:]
		} else {
			v = ""
		}
		if tok != "" {
			out = append(out, tok)
		}
	}
	return out
}
