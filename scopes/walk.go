package scopes

import "bytes"

// The readers in this file walk JSON that json.Valid has accepted, without
// checking its syntax again: the tools/list answers that filterTools
// rewrites, which come from the server, not the client, and whose duplicate
// members it rewrites all alike rather than refusing.

// objectReader iterates the members of a JSON object in b; i starts just
// past the '{'.
type objectReader struct {
	b []byte
	i int
}

// key returns the next member's raw key (quotes included) and leaves i at
// its value, which the caller must skip or read, setting i just past it. At
// the end of the object it returns false and leaves i at the '}'.
func (o *objectReader) key() ([]byte, bool) {
	b := o.b
	i := skipSpace(b, o.i)
	if b[i] == ',' {
		i = skipSpace(b, i+1)
	}
	if b[i] != '"' {
		o.i = i // '}'
		return nil, false
	}
	ks := i
	i = skipString(b, i)
	key := b[ks:i]
	i = skipSpace(b, i)     // at ':'
	o.i = skipSpace(b, i+1) // at the value
	return key, true
}

// next returns the next member's raw key (quotes included) and raw value.
func (o *objectReader) next() (key, val []byte, ok bool) {
	key, ok = o.key()
	if !ok {
		return nil, nil, false
	}
	vs := o.i
	o.i = skipValue(o.b, vs)
	return key, o.b[vs:o.i], true
}

// arrayReader iterates the elements of a JSON array in b; i starts just past
// the '['.
type arrayReader struct {
	b []byte
	i int
}

// start returns the index of the next element, which the caller must skip
// or read, setting i just past it; -1 at the end of the array.
func (a *arrayReader) start() int {
	b := a.b
	i := skipSpace(b, a.i)
	if b[i] == ',' {
		i = skipSpace(b, i+1)
	}
	if b[i] == ']' {
		return -1
	}
	return i
}

// next returns the next element's raw value.
func (a *arrayReader) next() (val []byte, ok bool) {
	vs := a.start()
	if vs < 0 {
		return nil, false
	}
	a.i = skipValue(a.b, vs)
	return a.b[vs:a.i], true
}

func skipSpace(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// skipString returns the index just past the string that starts at b[i].
// Short strings (keys, names) are scanned byte by byte; past 16 bytes it
// jumps from quote to quote with bytes.IndexByte (vectorised) and counts the
// backslashes before each: an even number means the quote ends the string.
// Each byte is looked at a bounded number of times, so it stays linear.
func skipString(b []byte, i int) int {
	start := i
	for i++; i < len(b) && i-start <= 16; i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	for ; i < len(b); i++ {
		j := bytes.IndexByte(b[i:], '"')
		if j < 0 {
			return len(b)
		}
		i += j
		k := i - 1
		for k > start && b[k] == '\\' {
			k--
		}
		if (i-1-k)%2 == 0 {
			return i + 1
		}
	}
	return len(b)
}

// skipValue returns the index just past the value that starts at b[i],
// without recursion.
func skipValue(b []byte, i int) int {
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				i = skipString(b, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return i
	default: // number, true, false, null
		for i < len(b) {
			switch b[i] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return i
			}
			i++
		}
		return i
	}
}
