package validate

import (
	"bytes"
	"errors"
	"hash/maphash"
	"math"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// This file holds a small, strict JSON reader for the two objects of a JWS:
// the protected header and the claims. It validates the whole document
// (RFC 8259) but decodes only the members verification reads, without
// reflection and with few allocations. Whatever it accepts, encoding/json
// (which Claims.Get and Claims.Decode use) reads whole and in the same way:
// json.Unmarshal into a map[string]any succeeds, with the same members. To
// that end it is deliberately stricter than encoding/json, and refuses:
//   - a member name given twice in any object, at any depth (nested objects,
//     objects in arrays), compared after unescaping, so that "tid" and
//     "\u0074id" are the same name (RFC 7515 §4, RFC 7519 §4 allow refusing
//     duplicates; encoding/json takes the last, other parsers the first):
//     errDuplicate;
//   - invalid UTF-8 in a string, including UTF-8-encoded surrogates, and an
//     escaped lone surrogate, a high one ("\ud800") not followed by an
//     escaped low one or a low one alone (encoding/json reads every lone
//     surrogate as U+FFFD, so that "\ud800" and "\udbff" would be one
//     name): errSyntax;
//   - a number that is not a finite float64 (1e400, -1e309: encoding/json
//     fails on it; underflow such as 1e-400 is 0 to both): errSyntax;
//   - nesting deeper than maxDepth levels: errDepth.
// And member names match exactly (encoding/json also accepts "ALG" for "alg").
// All of this holds for every value, read or skipped.

const maxDepth = 32

var (
	errSyntax    = errors.New("invalid JSON")
	errType      = errors.New("claim of the wrong JSON type")
	errDuplicate = errors.New("duplicate member")
	errDepth     = errors.New("JSON nested too deeply")
)

// inlineNames is how many member names a jsonReader holds without
// allocating, and the largest object whose names are compared pairwise.
const inlineNames = 16

// jsonReader walks one JSON text.
type jsonReader struct {
	b []byte
	i int

	// The names of the members read so far of every object being read,
	// outermost first, for the duplicate check: the first inlineNames in
	// small, the rest in *more. (Not a slice field: escape analysis would
	// then move the reader's input, often a buffer on the caller's stack,
	// to the heap.)
	n     int
	small [inlineNames]nameRef
	more  *[]nameRef
}

// nameRef locates a member name in jsonReader.b: the content between its
// quotes, and whether it has escapes (compared after unescaping).
type nameRef struct {
	key        uint64 // of an unescaped name: equal for equal names
	start, end int32
	escaped    bool
}

// nameKey packs the length and some of the bytes of an unescaped name, so
// that most different names differ by an integer comparison.
func nameKey(s []byte) uint64 {
	k := uint64(len(s)) << 56
	if n := len(s); n >= 7 {
		return k | uint64(s[0])<<48 | uint64(s[1])<<40 | uint64(s[2])<<32 | uint64(s[3])<<24 |
			uint64(s[n-3])<<16 | uint64(s[n-2])<<8 | uint64(s[n-1])
	}
	for i, c := range s {
		k |= uint64(c) << (8 * i)
	}
	return k
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
	if len(r.b) > math.MaxInt32 { // nameRef offsets are int32
		return errSyntax
	}
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
		if err := r.closeObject(0); err != nil {
			return nil, false, err
		}
		return nil, false, r.end()
	case !first:
		if r.b[r.i] != ',' {
			return nil, false, errSyntax
		}
		r.i++
		r.ws()
	}
	name, escaped, err := r.name()
	if err != nil {
		return nil, false, err
	}
	if escaped {
		name = unescape(name)
	}
	r.ws()
	if r.i >= len(r.b) || r.b[r.i] != ':' {
		return nil, false, errSyntax
	}
	r.i++
	r.ws()
	return name, true, nil
}

// name reads a member name, like scan, and records it for the duplicate
// check of its object.
func (r *jsonReader) name() ([]byte, bool, error) {
	start := r.i + 1
	s, escaped, err := r.scan()
	if err != nil {
		return nil, false, err
	}
	ref := nameRef{start: int32(start), end: int32(start + len(s)), escaped: escaped}
	if !escaped {
		ref.key = nameKey(s)
	}
	if r.n < len(r.small) {
		r.small[r.n] = ref
	} else {
		if r.more == nil {
			// Room for every name of a text of members of 8 bytes.
			more := make([]nameRef, 0, len(r.b)/8)
			r.more = &more
		}
		*r.more = append(*r.more, ref)
	}
	r.n++
	return s, escaped, nil
}

func (r *jsonReader) nameAt(i int) nameRef {
	if i < len(r.small) {
		return r.small[i]
	}
	return (*r.more)[i-len(r.small)]
}

// closeObject ends the object whose first name is the base-th recorded,
// forgetting its names: errDuplicate if two of them are the same.
func (r *jsonReader) closeObject(base int) error {
	dup := r.repeats(base)
	r.n = base
	if r.more != nil {
		*r.more = (*r.more)[:max(0, base-len(r.small))]
	}
	if dup {
		return errDuplicate
	}
	return nil
}

// repeats reports whether a name repeats among those recorded from the
// base-th on. At most inlineNames names (nearly every object) are compared
// pairwise; more go through a hash table with a random seed, so that the
// check stays O(n) even for the thousands of tiny members an attacker fits
// in a token, and is run before its signature is checked.
func (r *jsonReader) repeats(base int) bool {
	n := r.n - base
	if n <= inlineNames {
		for i := base + 1; i < r.n; i++ {
			a := r.nameAt(i)
			for j := base; j < i; j++ {
				if b := r.nameAt(j); (a.key == b.key || a.escaped || b.escaped) && sameName(r.b, a, b) {
					return true
				}
			}
		}
		return false
	}
	size := 1
	for size < 2*n {
		size <<= 1
	}
	// Each slot holds the high half of a name's hash and 1 + its index (0
	// for none).
	table := make([]uint64, size)
	seed := maphash.MakeSeed()
	for i := range n {
		a := r.nameAt(base + i)
		h := hashName(seed, r.b, a)
		for j := h & uint64(size-1); ; j = (j + 1) & uint64(size-1) {
			slot := table[j]
			if slot == 0 {
				table[j] = h>>32<<32 | uint64(i+1)
				break
			}
			if slot>>32 == h>>32 && sameName(r.b, a, r.nameAt(base+int(uint32(slot))-1)) {
				return true
			}
		}
	}
	return false
}

// sameName reports whether two names of b are the same once unescaped.
func sameName(b []byte, x, y nameRef) bool {
	if !x.escaped && !y.escaped {
		return x.end-x.start == y.end-y.start && string(b[x.start:x.end]) == string(b[y.start:y.end])
	}
	s, t := b[x.start:x.end], b[y.start:y.end]
	for len(s) > 0 && len(t) > 0 {
		c, n := nextRune(s)
		d, m := nextRune(t)
		if c != d {
			return false
		}
		s, t = s[n:], t[m:]
	}
	return len(s) == 0 && len(t) == 0
}

// hashName hashes a name of b once unescaped.
func hashName(seed maphash.Seed, b []byte, x nameRef) uint64 {
	s := b[x.start:x.end]
	if !x.escaped {
		return maphash.Bytes(seed, s)
	}
	var h maphash.Hash
	h.SetSeed(seed)
	var buf [utf8.UTFMax]byte
	for len(s) > 0 {
		c, n := nextRune(s)
		h.Write(utf8.AppendRune(buf[:0], c))
		s = s[n:]
	}
	return h.Sum64()
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
	s, escaped, err := r.scan()
	if err != nil || !escaped {
		return s, err
	}
	return unescape(s), nil
}

// scan reads a string and returns its content between the quotes, still
// escaped if escaped is true. It refuses control characters and unknown
// escapes (RFC 8259 §7), invalid UTF-8 (which includes UTF-8-encoded
// surrogates), and escaped lone surrogates.
func (r *jsonReader) scan() (s []byte, escaped bool, err error) {
	if r.i >= len(r.b) || r.b[r.i] != '"' {
		return nil, false, errSyntax
	}
	r.i++
	start := r.i
	ascii := true
	for r.i < len(r.b) {
		c := r.b[r.i]
		switch {
		case c == '"':
			s := r.b[start:r.i]
			r.i++
			if !ascii && !utf8.Valid(s) {
				return nil, false, errSyntax
			}
			return s, escaped, nil
		case c == '\\':
			escaped = true
			if err := r.escape(); err != nil {
				return nil, false, err
			}
		case c < 0x20:
			return nil, false, errSyntax
		default:
			if c >= 0x80 {
				ascii = false
			}
			r.i++
		}
	}
	return nil, false, errSyntax
}

// escape consumes the escape at r.i. A \u escape of a high surrogate must be
// followed by one of a low surrogate, the two making one character; any
// other surrogate is refused.
func (r *jsonReader) escape() error {
	if r.i+1 >= len(r.b) {
		return errSyntax
	}
	switch r.b[r.i+1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		r.i += 2
		return nil
	case 'u':
	default:
		return errSyntax
	}
	c, ok := hex4(r.b, r.i+2)
	if !ok {
		return errSyntax
	}
	r.i += 6
	if !utf16.IsSurrogate(c) {
		return nil
	}
	if c < 0xdc00 && r.i+1 < len(r.b) && r.b[r.i] == '\\' && r.b[r.i+1] == 'u' {
		if c2, ok := hex4(r.b, r.i+2); ok && 0xdc00 <= c2 && c2 <= 0xdfff {
			r.i += 6
			return nil
		}
	}
	return errSyntax
}

// unescape decodes the escapes of a string's content, as scan checked it.
func unescape(s []byte) []byte {
	out := make([]byte, 0, len(s))
	for len(s) > 0 {
		if i := bytes.IndexByte(s, '\\'); i != 0 {
			if i < 0 {
				i = len(s)
			}
			out = append(out, s[:i]...)
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
// checked it, and returns it with the number of bytes it takes.
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
		_, _, err := r.scan()
		return err
	case c == '{':
		r.i++
		r.ws()
		if r.i < len(r.b) && r.b[r.i] == '}' {
			r.i++
			return nil
		}
		base := r.n
		for {
			r.ws()
			if _, _, err := r.name(); err != nil {
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
				return r.closeObject(base)
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

// number reads a number (RFC 8259 §6) and returns its text. A number
// beyond ±math.MaxFloat64, which encoding/json cannot decode, is errSyntax;
// one that underflows (1e-400) is not, since encoding/json reads it as 0.
func (r *jsonReader) number() ([]byte, error) {
	start := r.i
	if r.i < len(r.b) && r.b[r.i] == '-' {
		r.i++
	}
	intStart := r.i
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
	// Without an exponent, fewer than 309 integer digits cannot overflow.
	inRange := r.i-intStart < 309
	if r.i < len(r.b) && r.b[r.i] == '.' {
		r.i++
		if !r.digits() {
			return nil, errSyntax
		}
	}
	if r.i < len(r.b) && (r.b[r.i] == 'e' || r.b[r.i] == 'E') {
		inRange = false
		r.i++
		if r.i < len(r.b) && (r.b[r.i] == '+' || r.b[r.i] == '-') {
			r.i++
		}
		if !r.digits() {
			return nil, errSyntax
		}
	}
	num := r.b[start:r.i]
	if !inRange {
		if _, err := strconv.ParseFloat(string(num), 64); err != nil {
			return nil, errSyntax // ErrRange: syntax was checked above
		}
	}
	return num, nil
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
