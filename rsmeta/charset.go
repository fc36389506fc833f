package rsmeta

// The character classes of RFC 9110 (tokens, quoted strings), RFC 7235
// (token68) and RFC 6750 §3 / RFC 6749 Appendix A (scope, error and
// error_description values), and the quoting and sanitising built on them.

import "strings"

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

// allQuotable reports whether every byte of s may stand in a quoted-string
// (" and \ as quoted-pairs).
func allQuotable(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isQuotable(s[i]) {
			return false
		}
	}
	return true
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
