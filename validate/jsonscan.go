package validate

import (
	"errors"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// This file holds a small, strict JSON reader for the two objects of a JWS:
// the protected header and the claims. It validates the whole document
// (RFC 8259) but decodes only the members verification reads, without
// reflection and with few allocations. Compared with encoding/json it is
// deliberately stricter:
//   - member names match exactly (encoding/json also accepts "ALG" for "alg");
//   - a member verification reads may appear only once (RFC 7515 §4, RFC 7519
//     §4 allow refusing duplicates instead of taking the last one);
//   - nesting is limited to maxDepth levels;
//   - strings must be valid UTF-8.

const maxDepth = 32

var (
	errSyntax    = errors.New("invalid JSON")
	errType      = errors.New("claim of the wrong JSON type")
	errDuplicate = errors.New("duplicate member")
	errDepth     = errors.New("JSON nested too deeply")
)

// jsonReader walks one JSON text.
type jsonReader struct {
	b []byte
	i int
}

func (r *jsonReader) ws() {
	for r.i < len(r.b) {
		switch r.b[r.i] {
		case ' ', '\t', '\n', '\r':
			r.i++
		default:
			return
		}
	}
}

// open starts reading the top-level object. Then call member until it
// reports no more members; it leaves r positioned at each member's value,
// which the caller must consume before the next call. (An iterator rather
// than a callback, so that the buffers read stay on the caller's stack.)
func (r *jsonReader) open() error {
	r.ws()
	if r.i >= len(r.b) || r.b[r.i] != '{' {
		return errNotObject
	}
	r.i++
	return nil
}

// member returns the next member's name, or ok false after the closing
// brace (having checked that only white space follows).
func (r *jsonReader) member(first bool) (name []byte, ok bool, err error) {
	r.ws()
	if r.i >= len(r.b) {
		return nil, false, errSyntax
	}
	switch {
	case r.b[r.i] == '}':
		r.i++
		return nil, false, r.end()
	case !first:
		if r.b[r.i] != ',' {
			return nil, false, errSyntax
		}
		r.i++
		r.ws()
	}
	if name, err = r.str(); err != nil {
		return nil, false, err
	}
	r.ws()
	if r.i >= len(r.b) || r.b[r.i] != ':' {
		return nil, false, errSyntax
	}
	r.i++
	r.ws()
	return name, true, nil
}

func (r *jsonReader) end() error {
	r.ws()
	if r.i != len(r.b) {
		return errSyntax
	}
	return nil
}

// str reads a string and returns its unescaped content. Without escapes the
// result aliases the input.
func (r *jsonReader) str() ([]byte, error) {
	if r.i >= len(r.b) || r.b[r.i] != '"' {
		return nil, errSyntax
	}
	r.i++
	start := r.i
	escaped, ascii := false, true
	for r.i < len(r.b) {
		c := r.b[r.i]
		switch {
		case c == '"':
			s := r.b[start:r.i]
			r.i++
			if !ascii && !utf8.Valid(s) {
				return nil, errSyntax
			}
			if escaped {
				return unescape(s)
			}
			return s, nil
		case c == '\\':
			escaped = true
			r.i += 2
		case c < 0x20:
			return nil, errSyntax
		default:
			if c >= 0x80 {
				ascii = false
			}
			r.i++
		}
	}
	return nil, errSyntax
}

// unescape decodes the escapes of a string's content (RFC 8259 §7).
func unescape(s []byte) ([]byte, error) {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		i++
		if i >= len(s) {
			return nil, errSyntax
		}
		switch s[i] {
		case '"', '\\', '/':
			out = append(out, s[i])
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := hex4(s, i+1)
			if !ok {
				return nil, errSyntax
			}
			i += 4
			if utf16.IsSurrogate(r) {
				r2, ok := rune(0), false
				if i+2 < len(s) && s[i+1] == '\\' && s[i+2] == 'u' {
					r2, ok = hex4(s, i+3)
				}
				if dec := utf16.DecodeRune(r, r2); ok && dec != utf8.RuneError {
					r = dec
					i += 6
				} else {
					r = utf8.RuneError // a lone surrogate, as encoding/json does
				}
			}
			out = utf8.AppendRune(out, r)
		default:
			return nil, errSyntax
		}
	}
	return out, nil
}

func hex4(s []byte, i int) (rune, bool) {
	if i+4 > len(s) {
		return 0, false
	}
	var r rune
	for _, c := range s[i : i+4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// skip consumes any value, checking its syntax.
func (r *jsonReader) skip(depth int) error {
	if depth > maxDepth {
		return errDepth
	}
	if r.i >= len(r.b) {
		return errSyntax
	}
	switch c := r.b[r.i]; {
	case c == '"':
		_, err := r.str()
		return err
	case c == '{':
		r.i++
		r.ws()
		if r.i < len(r.b) && r.b[r.i] == '}' {
			r.i++
			return nil
		}
		for {
			r.ws()
			if _, err := r.str(); err != nil {
				return err
			}
			r.ws()
			if r.i >= len(r.b) || r.b[r.i] != ':' {
				return errSyntax
			}
			r.i++
			r.ws()
			if err := r.skip(depth + 1); err != nil {
				return err
			}
			r.ws()
			if r.i >= len(r.b) {
				return errSyntax
			}
			if r.b[r.i] == '}' {
				r.i++
				return nil
			}
			if r.b[r.i] != ',' {
				return errSyntax
			}
			r.i++
		}
	case c == '[':
		r.i++
		r.ws()
		if r.i < len(r.b) && r.b[r.i] == ']' {
			r.i++
			return nil
		}
		for {
			r.ws()
			if err := r.skip(depth + 1); err != nil {
				return err
			}
			r.ws()
			if r.i >= len(r.b) {
				return errSyntax
			}
			if r.b[r.i] == ']' {
				r.i++
				return nil
			}
			if r.b[r.i] != ',' {
				return errSyntax
			}
			r.i++
		}
	case c == 't':
		return r.lit("true")
	case c == 'f':
		return r.lit("false")
	case c == 'n':
		return r.lit("null")
	default:
		_, err := r.number()
		return err
	}
}

func (r *jsonReader) lit(s string) error {
	if len(r.b)-r.i < len(s) || string(r.b[r.i:r.i+len(s)]) != s {
		return errSyntax
	}
	r.i += len(s)
	return nil
}

// null consumes a null if one is next.
func (r *jsonReader) null() bool {
	if r.i < len(r.b) && r.b[r.i] == 'n' {
		return r.lit("null") == nil
	}
	return false
}

// number reads a number (RFC 8259 §6) and returns its text.
func (r *jsonReader) number() ([]byte, error) {
	start := r.i
	if r.i < len(r.b) && r.b[r.i] == '-' {
		r.i++
	}
	switch {
	case r.i < len(r.b) && r.b[r.i] == '0':
		r.i++
	case r.i < len(r.b) && '1' <= r.b[r.i] && r.b[r.i] <= '9':
		for r.i < len(r.b) && '0' <= r.b[r.i] && r.b[r.i] <= '9' {
			r.i++
		}
	default:
		return nil, errSyntax
	}
	if r.i < len(r.b) && r.b[r.i] == '.' {
		r.i++
		if !r.digits() {
			return nil, errSyntax
		}
	}
	if r.i < len(r.b) && (r.b[r.i] == 'e' || r.b[r.i] == 'E') {
		r.i++
		if r.i < len(r.b) && (r.b[r.i] == '+' || r.b[r.i] == '-') {
			r.i++
		}
		if !r.digits() {
			return nil, errSyntax
		}
	}
	return r.b[start:r.i], nil
}

func (r *jsonReader) digits() bool {
	start := r.i
	for r.i < len(r.b) && '0' <= r.b[r.i] && r.b[r.i] <= '9' {
		r.i++
	}
	return r.i > start
}

// stringValue reads a string value; any other type is errType. null, when
// allowed, yields (nil, false).
func (r *jsonReader) stringValue() ([]byte, bool, error) {
	if r.null() {
		return nil, false, nil
	}
	if r.i < len(r.b) && r.b[r.i] == '"' {
		s, err := r.str()
		return s, true, err
	}
	if err := r.skip(1); err != nil {
		return nil, false, err
	}
	return nil, false, errType
}

// date reads an RFC 7519 §2 NumericDate into d and reports whether one was
// present (null is absent).
func (r *jsonReader) date(d *numericDate) (bool, error) {
	if r.null() {
		return false, nil
	}
	if r.i >= len(r.b) || (r.b[r.i] != '-' && (r.b[r.i] < '0' || r.b[r.i] > '9')) {
		if err := r.skip(1); err != nil {
			return false, err
		}
		return false, errType
	}
	num, err := r.number()
	if err != nil {
		return false, err
	}
	if err := d.parse(num); err != nil {
		return false, errType
	}
	return true, nil
}

// stringOrList reads a string or an array of strings (the "aud" and "scp"
// claims), appending to buf; null yields nil. A string is returned as a
// one-element list.
func (r *jsonReader) stringOrList(buf [][]byte) ([][]byte, error) {
	if r.null() {
		return nil, nil
	}
	if r.i < len(r.b) && r.b[r.i] == '"' {
		s, err := r.str()
		if err != nil {
			return nil, err
		}
		return append(buf, s), nil
	}
	if r.i >= len(r.b) || r.b[r.i] != '[' {
		if err := r.skip(1); err != nil {
			return nil, err
		}
		return nil, errType
	}
	r.i++
	list := buf[:0:len(buf)] // non-nil even when empty: "aud": [] is present
	if list == nil {
		list = [][]byte{}
	}
	r.ws()
	if r.i < len(r.b) && r.b[r.i] == ']' {
		r.i++
		return list, nil
	}
	for {
		r.ws()
		if r.i >= len(r.b) || r.b[r.i] != '"' {
			if err := r.skip(2); err != nil {
				return nil, err
			}
			return nil, errType
		}
		s, err := r.str()
		if err != nil {
			return nil, err
		}
		list = append(list, s)
		r.ws()
		if r.i >= len(r.b) {
			return nil, errSyntax
		}
		if r.b[r.i] == ']' {
			r.i++
			return list, nil
		}
		if r.b[r.i] != ',' {
			return nil, errSyntax
		}
		r.i++
	}
}

// parse reads a NumericDate from the text of a JSON number.
func (d *numericDate) parse(b []byte) error {
	// Fast path: a plain integer of at most 12 digits (well inside the
	// accepted range), no allocation.
	if n := len(b); n > 0 && n <= 12 {
		neg := b[0] == '-'
		digits := b
		if neg {
			digits = b[1:]
		}
		var sec int64
		ok := len(digits) > 0
		for _, c := range digits {
			if c < '0' || c > '9' {
				ok = false
				break
			}
			sec = sec*10 + int64(c-'0')
		}
		if ok {
			if neg {
				sec = -sec
			}
			return d.setUnix(sec, 0)
		}
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil || f != f || f < minNumericDate || f > maxNumericDate {
		return errNumericDate
	}
	sec := int64(f)
	return d.setUnix(sec, int64((f-float64(sec))*1e9))
}
