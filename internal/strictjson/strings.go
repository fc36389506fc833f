package strictjson

import (
	"bytes"
	"unicode/utf16"
	"unicode/utf8"
)

// scan reads a string and returns its content between the quotes, and
// whether that must be decoded (it has escapes, or invalid UTF-8 that
// ReplaceInvalidUTF8 lets through). It refuses control characters and
// unknown escapes (RFC 8259 §7), escaped lone surrogates, and, unless
// ReplaceInvalidUTF8, invalid UTF-8 (which includes UTF-8-encoded
// surrogates).
func (r *Reader) scan() (s []byte, decode bool, err error) {
	b := r.b
	i := r.i
	if i >= len(b) || b[i] != '"' {
		return nil, false, ErrSyntax
	}
	i++
	start := i
	var high byte // every byte of the content ORed in: bit 7 set if some byte is not ASCII
	for {
		for i < len(b) && plain[b[i]] {
			high |= b[i]
			i++
		}
		if i >= len(b) {
			return nil, false, ErrSyntax
		}
		switch b[i] {
		case '"':
			s := b[start:i]
			r.i = i + 1
			if high >= utf8.RuneSelf && !utf8.Valid(s) {
				if !r.ReplaceInvalidUTF8 {
					return nil, false, ErrSyntax
				}
				decode = true
			}
			return s, decode, nil
		case '\\':
			decode = true
			r.i = i
			if err := r.escape(); err != nil {
				return nil, false, err
			}
			i = r.i
		default: // a control character
			return nil, false, ErrSyntax
		}
	}
}

// plain holds, for each byte, whether a string holds it as it is: every
// byte but '"', '\\' and the control characters (RFC 8259 §7). Bytes of
// UTF-8 sequences are plain; scan checks the sequences once the string ends.
var plain = func() (t [256]bool) {
	for c := 0x20; c < len(t); c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// escape consumes the escape at r.i. A \u escape of a high surrogate must be
// followed by one of a low surrogate, the two making one character; any
// other surrogate is ErrSurrogate.
func (r *Reader) escape() error {
	if r.i+1 >= len(r.b) {
		return ErrSyntax
	}
	switch r.b[r.i+1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		r.i += 2
		return nil
	case 'u':
	default:
		return ErrSyntax
	}
	c, ok := hex4(r.b, r.i+2)
	if !ok {
		return ErrSyntax
	}
	r.i += 6
	if !utf16.IsSurrogate(c) {
		return nil
	}
	if c < 0xdc00 && r.i+1 < len(r.b) && r.b[r.i] == '\\' && r.b[r.i+1] == 'u' {
		c2, ok := hex4(r.b, r.i+2)
		if !ok {
			return ErrSyntax
		}
		if 0xdc00 <= c2 && c2 <= 0xdfff {
			r.i += 6
			return nil
		}
	}
	return ErrSurrogate
}

// decodeString decodes a string's content as scan checked it: escapes, and
// invalid UTF-8 as U+FFFD.
func (r *Reader) decodeString(s []byte) []byte {
	out := make([]byte, 0, len(s))
	for len(s) > 0 {
		if i := bytes.IndexByte(s, '\\'); i != 0 {
			if i < 0 {
				i = len(s)
			}
			if !r.ReplaceInvalidUTF8 || utf8.Valid(s[:i]) {
				out = append(out, s[:i]...)
				s = s[i:]
				continue
			}
			for _, c := range string(s[:i]) { // invalid bytes range as U+FFFD
				out = utf8.AppendRune(out, c)
			}
			s = s[i:]
			continue
		}
		c, n := nextRune(s)
		out = utf8.AppendRune(out, c)
		s = s[n:]
	}
	return out
}

// nextRune decodes the first character of a string's content, as scan
// checked it, and returns it with the number of bytes it takes: a byte of
// invalid UTF-8 is U+FFFD.
func nextRune(s []byte) (rune, int) {
	switch {
	case s[0] < utf8.RuneSelf && s[0] != '\\':
		return rune(s[0]), 1
	case s[0] != '\\':
		return utf8.DecodeRune(s)
	}
	switch s[1] {
	case 'b':
		return '\b', 2
	case 'f':
		return '\f', 2
	case 'n':
		return '\n', 2
	case 'r':
		return '\r', 2
	case 't':
		return '\t', 2
	case 'u':
		c, _ := hex4(s, 2)
		if utf16.IsSurrogate(c) {
			c2, _ := hex4(s, 8)
			return utf16.DecodeRune(c, c2), 12
		}
		return c, 6
	}
	return rune(s[1]), 2 // '"', '\\' or '/'
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
