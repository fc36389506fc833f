package scopes

import "encoding/binary"

// maxNestingDepth is encoding/json's limit on nested arrays and objects.
const maxNestingDepth = 10000

// validJSON reports whether b is one valid JSON value (RFC 8259) with
// optional surrounding white space: exactly what json.Valid reports (a fuzz
// test holds it to that), including json.Valid's nesting limit and its
// acceptance of any byte ≥ 0x20 inside strings. It exists because it is
// several times faster on the long strings tool arguments carry. It does not
// allocate.
func validJSON(b []byte) bool {
	var stack [maxNestingDepth/64 + 1]uint64 // bit set: object (1) or array (0)
	depth := 0
	i := 0
	var ok bool
	for {
		// A value starts at i.
		i = skipSpace(b, i)
		if i >= len(b) {
			return false
		}
		switch c := b[i]; c {
		case '{', '[':
			if depth == maxNestingDepth {
				return false
			}
			i = skipSpace(b, i+1)
			if c == '{' {
				if i < len(b) && b[i] == '}' {
					i++
					break
				}
				stack[depth/64] |= 1 << (depth % 64)
				depth++
				if i, ok = objectKey(b, i); !ok {
					return false
				}
				continue
			}
			if i < len(b) && b[i] == ']' {
				i++
				break
			}
			stack[depth/64] &^= 1 << (depth % 64)
			depth++
			continue
		case '"':
			if i, ok = scanString(b, i); !ok {
				return false
			}
		case 't':
			if !hasLiteral(b, i, "true") {
				return false
			}
			i += 4
		case 'f':
			if !hasLiteral(b, i, "false") {
				return false
			}
			i += 5
		case 'n':
			if !hasLiteral(b, i, "null") {
				return false
			}
			i += 4
		default:
			if i, ok = scanNumber(b, i); !ok {
				return false
			}
		}
		// A value ended at i: close containers until one continues.
		for {
			i = skipSpace(b, i)
			if depth == 0 {
				return i == len(b)
			}
			if i >= len(b) {
				return false
			}
			object := stack[(depth-1)/64]&(1<<((depth-1)%64)) != 0
			if b[i] == ',' {
				if object {
					if i, ok = objectKey(b, skipSpace(b, i+1)); !ok {
						return false
					}
				} else {
					i++
				}
				break
			}
			if (object && b[i] == '}') || (!object && b[i] == ']') {
				depth--
				i++
				continue
			}
			return false
		}
	}
}

// objectKey scans `"key" :` at b[i] and returns the index after the colon.
func objectKey(b []byte, i int) (int, bool) {
	if i >= len(b) || b[i] != '"' {
		return i, false
	}
	i, ok := scanString(b, i)
	if !ok {
		return i, false
	}
	i = skipSpace(b, i)
	if i >= len(b) || b[i] != ':' {
		return i, false
	}
	return i + 1, true
}

// scanString scans the string at b[i] (a '"') and returns the index after it.
func scanString(b []byte, i int) (int, bool) {
	for i++; i < len(b); i++ {
		i = skipPlain(b, i)
		for i < len(b) && b[i] >= 0x20 && b[i] != '"' && b[i] != '\\' {
			i++
		}
		if i >= len(b) {
			return i, false
		}
		switch b[i] {
		case '"':
			return i + 1, true
		case '\\':
			i++
			if i >= len(b) {
				return i, false
			}
			switch b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if i+4 >= len(b) || !isHex(b[i+1]) || !isHex(b[i+2]) || !isHex(b[i+3]) || !isHex(b[i+4]) {
					return i, false
				}
				i += 4
			default:
				return i, false
			}
		default: // a control character
			return i, false
		}
	}
	return i, false
}

// skipPlain skips whole 8-byte words of b from i that hold no '"', '\\' or
// control character, testing a word at a time: a byte-wise subtraction
// borrows into a byte's high bit exactly when some byte is below the
// subtrahend (Hacker's Delight 6-1, "find a zero byte"; bytes ≥ 0x80 are
// masked out by ^w). The caller scans the remaining bytes one by one.
func skipPlain(b []byte, i int) int {
	const (
		ones  = 0x0101010101010101
		highs = 0x8080808080808080
	)
	for i+8 <= len(b) {
		w := binary.LittleEndian.Uint64(b[i:])
		q := w ^ (ones * '"')
		s := w ^ (ones * '\\')
		if ((w-ones*0x20)&^w|(q-ones)&^q|(s-ones)&^s)&highs != 0 {
			return i
		}
		i += 8
	}
	return i
}

// scanNumber scans -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? at b[i].
func scanNumber(b []byte, i int) (int, bool) {
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && '1' <= b[i] && b[i] <= '9':
		i = skipDigits(b, i+1)
	default:
		return i, false
	}
	if i < len(b) && b[i] == '.' {
		j := skipDigits(b, i+1)
		if j == i+1 {
			return i, false
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := skipDigits(b, i)
		if j == i {
			return i, false
		}
		i = j
	}
	return i, true
}

func skipDigits(b []byte, i int) int {
	for i < len(b) && '0' <= b[i] && b[i] <= '9' {
		i++
	}
	return i
}

func hasLiteral(b []byte, i int, lit string) bool {
	return len(b)-i >= len(lit) && string(b[i:i+len(lit)]) == lit
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}
