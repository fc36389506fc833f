package strictjson

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/maphash"
	"math"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// DefaultMaxDepth is the nesting limit of a Reader whose MaxDepth is zero:
// more than any JOSE header or claims set needs.
const DefaultMaxDepth = 32

// The refusals of a Reader; see the package documentation.
var (
	ErrSyntax    = errors.New("strictjson: invalid JSON")
	ErrDuplicate = errors.New("strictjson: duplicate member name")
	ErrSurrogate = errors.New("strictjson: lone surrogate escape")
	ErrRange     = errors.New("strictjson: number out of float64 range")
	ErrDepth     = errors.New("strictjson: nested too deeply")
)

// errUsage is a call that does not fit the value at hand (Member outside an
// object): a bug of the caller, refused rather than guessed at.
var errUsage = errors.New("strictjson: Member or Element outside its container")

const (
	// inlineNames is how many member names a Reader holds without
	// allocating, and the largest object whose names are compared pairwise.
	inlineNames = 16
	// inlineFrames is how many open arrays and objects a Reader tracks
	// without allocating: DefaultMaxDepth.
	inlineFrames = DefaultMaxDepth
)

// A Reader walks one JSON text. Get one from [NewReader], set the options,
// then read the text as an iterator: [Reader.Peek] at the next value, then consume
// it with exactly one of [Reader.Open] (an object or array, then
// [Reader.Member] or [Reader.Element] until they report its end),
// [Reader.String], [Reader.Number], [Reader.Raw] or [Reader.Skip]. Reading
// the end of the top-level value also checks that only white space follows
// it. The first error ends the walk: a Reader cannot resume after one.
//
// A Reader does not allocate for texts of up to 16 member names open at once
// whose strings need no unescaping, and keeps the text on the caller's stack
// if it is there: keep the Reader in a local variable.
type Reader struct {
	// MaxDepth is the most arrays and objects that may be open at once (the
	// top-level value counts: {"a":[]} has depth 2). If zero,
	// DefaultMaxDepth. encoding/json's own limit is 10000.
	MaxDepth int
	// ReplaceInvalidUTF8 reads strings with invalid UTF-8 as encoding/json
	// does: each byte that is not part of a valid encoding as U+FFFD (so
	// that "a\xff" and "a\xfe" are one member name). If false, invalid UTF-8
	// is ErrSyntax.
	ReplaceInvalidUTF8 bool

	b     []byte
	i     int
	first bool // the innermost open container has no member or element yet
	depth int  // arrays and objects open

	// For each open container, outermost first: -1 for an array, the index
	// of its first name (in the name list below) for an object. The first
	// inlineFrames in frames, the rest in *moreFrames.
	frames     [inlineFrames]int32
	moreFrames *[]int32

	// The names of the members read so far of every object open, outermost
	// first, for the duplicate check: the first inlineNames in small, the
	// rest in *more. (Pointers rather than slice fields: escape analysis
	// would then move the reader's input, often a buffer on the caller's
	// stack, to the heap.)
	n     int
	small [inlineNames]nameRef
	more  *[]nameRef
}

// nameRef locates a member name in Reader.b: the content between its
// quotes, and whether it must be decoded (escapes, or invalid UTF-8 read as
// U+FFFD) before it is compared.
type nameRef struct {
	key        uint64 // of a name as written: equal for equal names
	start, end int32
	decode     bool
}

// NewReader returns a Reader of b with the default options. A text of 2 GiB
// or more is refused (ErrSyntax), as name offsets are 32-bit. (A value
// rather than a pointer, and no Reset method: storing b through a pointer
// would move a buffer on the caller's stack to the heap.)
func NewReader(b []byte) Reader {
	if len(b) > math.MaxInt32 {
		b = nil
	}
	return Reader{b: b}
}

// Peek skips white space and returns the first byte of the next value: '{',
// '[', '"', 't', 'f', 'n', '-' or a digit if it is well-formed. It returns 0
// at the end of the text.
func (r *Reader) Peek() byte {
	r.ws()
	if r.i < len(r.b) {
		return r.b[r.i]
	}
	return 0
}

// Open consumes the '{' or '[' that starts the next value. Then call
// Member (an object) or Element (an array) until it reports the end.
func (r *Reader) Open() error {
	r.ws()
	if r.i >= len(r.b) || (r.b[r.i] != '{' && r.b[r.i] != '[') {
		return ErrSyntax
	}
	return r.push()
}

// Member advances to the next member of the innermost open object and
// returns its name, unescaped (aliasing the text when it has no escapes),
// leaving the Reader at its value, which the caller must consume before the
// next call. At the closing brace it returns ok false, having checked that
// no name repeats in the object.
func (r *Reader) Member() (name []byte, ok bool, err error) {
	if r.depth == 0 || r.frame(r.depth-1) < 0 {
		return nil, false, errUsage
	}
	name, decode, ok, err := r.nextMember()
	switch {
	case err != nil:
		return nil, false, err
	case !ok:
		return nil, false, r.endIfTop()
	case decode:
		name = r.decodeString(name)
	}
	return name, true, nil
}

// Element advances to the next element of the innermost open array, which
// the caller must then consume; at the closing bracket it returns false.
func (r *Reader) Element() (bool, error) {
	if r.depth == 0 || r.frame(r.depth-1) >= 0 {
		return false, errUsage
	}
	ok, err := r.nextElement()
	if err != nil || ok {
		return ok, err
	}
	return false, r.endIfTop()
}

// Skip consumes the next value, checking all of it.
func (r *Reader) Skip() error {
	if err := r.skip(); err != nil {
		return err
	}
	return r.endIfTop()
}

// Raw consumes the next value, checking all of it, and returns its text as
// written, without the white space around it.
func (r *Reader) Raw() ([]byte, error) {
	r.ws()
	start := r.i
	if err := r.skip(); err != nil {
		return nil, err
	}
	raw := r.b[start:r.i]
	return raw, r.endIfTop()
}

// String consumes the next value, which must be a string, and returns its
// content unescaped: a sub-slice of the text when it has no escapes (and, if
// ReplaceInvalidUTF8, no invalid UTF-8), else a new slice.
func (r *Reader) String() ([]byte, error) {
	r.ws()
	s, decode, err := r.scan()
	if err != nil {
		return nil, err
	}
	if decode {
		s = r.decodeString(s)
	}
	return s, r.endIfTop()
}

// Number consumes the next value, which must be a number, and returns its
// text (RFC 8259 §6), which strconv.ParseFloat reads without error.
func (r *Reader) Number() ([]byte, error) {
	r.ws()
	num, err := r.number()
	if err != nil {
		return nil, err
	}
	return num, r.endIfTop()
}

// endIfTop checks, once the top-level value is read, that only white space
// follows it.
func (r *Reader) endIfTop() error {
	if r.depth > 0 {
		return nil
	}
	r.ws()
	if r.i != len(r.b) {
		return ErrSyntax
	}
	return nil
}

func (r *Reader) ws() {
	for r.i < len(r.b) && r.b[r.i] <= ' ' {
		switch r.b[r.i] {
		case ' ', '\t', '\n', '\r':
			r.i++
		default:
			return
		}
	}
}

// push opens the array or object whose bracket is at r.i.
func (r *Reader) push() error {
	limit := r.MaxDepth
	if limit <= 0 {
		limit = DefaultMaxDepth
	}
	if r.depth >= limit {
		return ErrDepth
	}
	f := int32(-1)
	if r.b[r.i] == '{' {
		f = int32(r.n)
	}
	r.i++
	if r.depth < inlineFrames {
		r.frames[r.depth] = f
	} else {
		if r.moreFrames == nil {
			more := make([]int32, 0, inlineFrames)
			r.moreFrames = &more
		}
		*r.moreFrames = append(*r.moreFrames, f)
	}
	r.depth++
	r.first = true
	return nil
}

// frame returns the frame of the d-th open container, outermost first.
func (r *Reader) frame(d int) int32 {
	if d < inlineFrames {
		return r.frames[d]
	}
	return (*r.moreFrames)[d-inlineFrames]
}

// pop closes the innermost container, whose closing bracket has just been
// consumed: ErrDuplicate if it is an object in which a name repeats.
func (r *Reader) pop() error {
	r.depth--
	f := r.frame(r.depth)
	if r.depth >= inlineFrames {
		*r.moreFrames = (*r.moreFrames)[:r.depth-inlineFrames]
	}
	r.first = false // its parent, if any, has it as a member or element
	if f < 0 {
		return nil
	}
	return r.closeObject(int(f))
}

// nextMember advances to the next member of the innermost container, an
// object: it records the name and returns it as written between its quotes,
// with r at its value. At the closing brace it closes the object and returns
// ok false.
func (r *Reader) nextMember() (name []byte, decode, ok bool, err error) {
	r.ws()
	if r.i >= len(r.b) {
		return nil, false, false, ErrSyntax
	}
	switch c := r.b[r.i]; {
	case c == '}':
		r.i++
		return nil, false, false, r.pop()
	case !r.first:
		if c != ',' {
			return nil, false, false, ErrSyntax
		}
		r.i++
		r.ws()
	}
	r.first = false
	if name, decode, err = r.name(); err != nil {
		return nil, false, false, err
	}
	r.ws()
	if r.i >= len(r.b) || r.b[r.i] != ':' {
		return nil, false, false, ErrSyntax
	}
	r.i++
	r.ws()
	return name, decode, true, nil
}

// nextElement advances to the next element of the innermost container, an
// array. At the closing bracket it closes the array and returns false.
func (r *Reader) nextElement() (bool, error) {
	r.ws()
	if r.i >= len(r.b) {
		return false, ErrSyntax
	}
	switch c := r.b[r.i]; {
	case c == ']':
		r.i++
		return false, r.pop()
	case !r.first:
		if c != ',' {
			return false, ErrSyntax
		}
		r.i++
		r.ws()
	}
	r.first = false
	return true, nil
}

// skip consumes the next value, without recursion: it ends where it started,
// at the same depth.
func (r *Reader) skip() error {
	base := r.depth
	for {
		// A value starts at r.i.
		r.ws()
		if r.i >= len(r.b) {
			return ErrSyntax
		}
		var err error
		switch r.b[r.i] {
		case '{', '[':
			err = r.push()
		case '"':
			_, _, err = r.scan()
		case 't':
			err = r.lit("true")
		case 'f':
			err = r.lit("false")
		case 'n':
			err = r.lit("null")
		default:
			_, err = r.number()
		}
		if err != nil {
			return err
		}
		// A value ended (or a container opened): move to the next value
		// inside the one skipped, closing the containers that end.
		for {
			if r.depth == base {
				return nil
			}
			var ok bool
			if r.frame(r.depth-1) >= 0 {
				_, _, ok, err = r.nextMember()
			} else {
				ok, err = r.nextElement()
			}
			if err != nil {
				return err
			}
			if ok {
				break
			}
		}
	}
}

func (r *Reader) lit(s string) error {
	if len(r.b)-r.i < len(s) || string(r.b[r.i:r.i+len(s)]) != s {
		return ErrSyntax
	}
	r.i += len(s)
	return nil
}

// name reads a member name, like scan, and records it for the duplicate
// check of its object.
func (r *Reader) name() ([]byte, bool, error) {
	start := r.i + 1
	s, decode, err := r.scan()
	if err != nil {
		return nil, false, err
	}
	ref := nameRef{start: int32(start), end: int32(start + len(s)), decode: decode}
	if !decode {
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
	return s, decode, nil
}

// nameKey packs the length and some of the bytes of a name that needs no
// decoding, so that most different names differ by an integer comparison.
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

func (r *Reader) nameAt(i int) nameRef {
	if i < len(r.small) {
		return r.small[i]
	}
	return (*r.more)[i-len(r.small)]
}

// closeObject ends the object whose first name is the base-th recorded,
// forgetting its names: ErrDuplicate if two of them are the same.
func (r *Reader) closeObject(base int) error {
	dup := r.repeats(base)
	r.n = base
	if r.more != nil {
		*r.more = (*r.more)[:max(0, base-len(r.small))]
	}
	if dup {
		return ErrDuplicate
	}
	return nil
}

// repeats reports whether a name repeats among those recorded from the
// base-th on. At most inlineNames names (nearly every object) are compared
// pairwise; more go through a hash table with a random seed, so that the
// check stays O(n) even for the thousands of tiny members an attacker fits
// in a token, and is run before its signature is checked.
func (r *Reader) repeats(base int) bool {
	n := r.n - base
	if r.n <= len(r.small) { // the common case, without nameAt's branch
		names := r.small[base:r.n]
		for i := 1; i < len(names); i++ {
			a := &names[i]
			for j := range i {
				if b := &names[j]; (a.key == b.key || a.decode || b.decode) && sameName(r.b, *a, *b) {
					return true
				}
			}
		}
		return false
	}
	if n <= inlineNames {
		for i := base + 1; i < r.n; i++ {
			a := r.nameAt(i)
			for j := base; j < i; j++ {
				if b := r.nameAt(j); (a.key == b.key || a.decode || b.decode) && sameName(r.b, a, b) {
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

// sameName reports whether two names of b are the same once decoded.
func sameName(b []byte, x, y nameRef) bool {
	if !x.decode && !y.decode {
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

// hashName hashes a name of b once decoded.
func hashName(seed maphash.Seed, b []byte, x nameRef) uint64 {
	s := b[x.start:x.end]
	if !x.decode {
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
	var high uint64 // every byte of the content ORed in: bit 7 of some byte set if not ASCII
	for {
		// Byte by byte for up to 16 bytes (where most names and values
		// end), then a word at a time.
		stop := min(len(b), i+16)
		for i < stop && b[i] >= 0x20 && b[i] != '"' && b[i] != '\\' {
			high |= uint64(b[i])
			i++
		}
		if i == stop && i < len(b) {
			var w uint64
			i, w = skipPlain(b, i)
			high |= w
			for i < len(b) && b[i] >= 0x20 && b[i] != '"' && b[i] != '\\' {
				high |= uint64(b[i])
				i++
			}
		}
		if i >= len(b) {
			return nil, false, ErrSyntax
		}
		switch b[i] {
		case '"':
			s := b[start:i]
			r.i = i + 1
			if high&highs != 0 && !utf8.Valid(s) {
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

const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// skipPlain skips whole 8-byte words of b from i that hold no '"', '\\' or
// control character, testing a word at a time: a byte-wise subtraction
// borrows into a byte's high bit exactly when some byte is below the
// subtrahend (Hacker's Delight 6-1, "find a zero byte"; bytes ≥ 0x80 are
// masked out by ^w). It returns where it stopped and the OR of the words
// skipped. The caller scans the remaining bytes one by one.
func skipPlain(b []byte, i int) (int, uint64) {
	var all uint64
	for i+8 <= len(b) {
		w := binary.LittleEndian.Uint64(b[i:])
		q := w ^ (ones * '"')
		s := w ^ (ones * '\\')
		if ((w-ones*0x20)&^w|(q-ones)&^q|(s-ones)&^s)&highs != 0 {
			break
		}
		all |= w
		i += 8
	}
	return i, all
}

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

// number reads a number (RFC 8259 §6) and returns its text. A number
// beyond ±math.MaxFloat64, which encoding/json cannot decode, is ErrRange;
// one that underflows (1e-400) is not, since encoding/json reads it as 0.
func (r *Reader) number() ([]byte, error) {
	start := r.i
	if r.i < len(r.b) && r.b[r.i] == '-' {
		r.i++
	}
	intStart := r.i
	switch {
	case r.i < len(r.b) && r.b[r.i] == '0':
		r.i++
	case r.i < len(r.b) && '1' <= r.b[r.i] && r.b[r.i] <= '9':
		r.digits()
	default:
		return nil, ErrSyntax
	}
	// Without an exponent, fewer than 309 integer digits cannot overflow.
	inRange := r.i-intStart < 309
	if r.i < len(r.b) && r.b[r.i] == '.' {
		r.i++
		if !r.digits() {
			return nil, ErrSyntax
		}
	}
	if r.i < len(r.b) && (r.b[r.i] == 'e' || r.b[r.i] == 'E') {
		inRange = false
		r.i++
		if r.i < len(r.b) && (r.b[r.i] == '+' || r.b[r.i] == '-') {
			r.i++
		}
		if !r.digits() {
			return nil, ErrSyntax
		}
	}
	num := r.b[start:r.i]
	if !inRange {
		if _, err := strconv.ParseFloat(string(num), 64); err != nil {
			return nil, ErrRange // syntax was checked above
		}
	}
	return num, nil
}

func (r *Reader) digits() bool {
	start := r.i
	for r.i < len(r.b) && '0' <= r.b[r.i] && r.b[r.i] <= '9' {
		r.i++
	}
	return r.i > start
}
