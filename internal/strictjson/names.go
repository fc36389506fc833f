package strictjson

import (
	"hash/maphash"
	"unicode/utf8"
)

// The duplicate check: the names of the members of every open object are
// recorded as they are read, and compared when the object closes.

// nameRef locates a member name in Reader.b: the content between its
// quotes, and whether it must be decoded (escapes, or invalid UTF-8 read as
// U+FFFD) before it is compared.
type nameRef struct {
	key        uint64 // of a name as written: equal for equal names
	start, end int32
	decode     bool
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
