package validate

import (
	"bytes"
	"strings"
	"sync"
	"sync/atomic"
)

// maxKnownHeaders bounds a Validator's known headers: an issuer signs the
// tokens of one key under one header, so a handful covers every issuer and
// many key rotations. Once it is full, later headers are read each time, as
// without the memo (an issuer that puts a value of its own in each token's
// header fills it, then costs what it did before).
const maxKnownHeaders = 64

// knownHeaders remembers, by its encoded segment, each protected header a
// token verified under: the header, read and checked (algorithm allowed, no
// "crit", no "enc", "typ" allowed), and its algorithm. A later token with
// the same header skips decoding and reading it, which is a pure function
// of the segment's bytes; everything else, the key lookup included, is done
// for every token. Only a header whose token's signature verified is
// remembered, so that no one can fill the memo without the issuer's keys.
// It is not a memo of tokens: CacheOptions.Disable leaves it on.
type knownHeaders struct {
	m sync.Map // string → *knownHeader
	n atomic.Int32
}

type knownHeader struct {
	h      joseHeader // its slices its own, never written
	method sigAlg
}

// get returns the header and algorithm remembered for seg, if any.
func (k *knownHeaders) get(seg string) (joseHeader, sigAlg, bool) {
	e, ok := k.m.Load(seg)
	if !ok {
		return joseHeader{}, sigAlg{}, false
	}
	kh := e.(*knownHeader)
	return kh.h, kh.method, true
}

// remember keeps h, read from seg, and its algorithm, copying seg (a slice
// of a token: the memo holds no token) and h's slices, unless the memo is
// full.
func (k *knownHeaders) remember(seg string, h joseHeader, method sigAlg) {
	if k.n.Load() >= maxKnownHeaders {
		return
	}
	own := joseHeader{
		alg: bytes.Clone(h.alg), kid: bytes.Clone(h.kid), typ: bytes.Clone(h.typ),
		hasKid: h.hasKid, hasTyp: h.hasTyp, hasCrit: h.hasCrit, hasEnc: h.hasEnc,
	}
	kh := &knownHeader{h: own, method: method}
	if _, loaded := k.m.LoadOrStore(strings.Clone(seg), kh); !loaded {
		k.n.Add(1) // concurrent first sights may pass the bound by a few
	}
}
