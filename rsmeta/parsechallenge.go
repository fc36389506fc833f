package rsmeta

import (
	"fmt"
	"strings"

	"github.com/rsguard/rsguard/internal/check"
)

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
	for p.i < len(p.s) && check.IsTchar(p.s[p.i]) {
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
