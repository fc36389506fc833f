package strictjson

import (
	"errors"
	"math"
	"strconv"
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
	var err error
	switch c := r.Peek(); {
	case c == '"': // the common cases first, without skip's loop
		_, _, err = r.scan()
	case c == '-' || '0' <= c && c <= '9':
		_, err = r.number()
	default:
		err = r.skip()
	}
	if err != nil {
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
	r.i++ // each reader of a value skips the white space before it
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
