package check

// b64tokenChar[c] reports whether c may appear in an RFC 6750 §2.1 b64token
// before its "=" padding: ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/".
// Every request's token goes through [B64Token]: one table look-up a byte
// costs about half of testing the ranges.
var b64tokenChar = func() (t [256]bool) {
	for c := range 256 {
		t[c] = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/'
	}
	return t
}()

// B64Token reports whether s is an RFC 6750 §2.1 b64token (RFC 9449 §7.1's
// token68): 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
func B64Token(s string) bool {
	i := 0
	for i < len(s) && b64tokenChar[s[i]] {
		i++
	}
	if i == 0 {
		return false
	}
	for ; i < len(s); i++ {
		if s[i] != '=' {
			return false
		}
	}
	return true
}
