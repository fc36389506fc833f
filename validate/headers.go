package validate

import (
	"bytes"
	"sync"
	"sync/atomic"
)

// maxKnownHeaders bounds a Validator's known headers: an issuer signs the
// tokens of one key under one header, so a handful covers every issuer and
// key rotation; when more have been seen, the memo starts again.
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

// remember keeps h, read from seg, and its algorithm, copying h's slices.
func (k *knownHeaders) remember(seg string, h joseHeader, method sigAlg) {
	own := joseHeader{
		alg: bytes.Clone(h.alg), kid: bytes.Clone(h.kid), typ: bytes.Clone(h.typ),
		hasKid: h.hasKid, hasTyp: h.hasTyp, hasCrit: h.hasCrit, hasEnc: h.hasEnc,
	}
	kh := &knownHeader{h: own, method: method}
	if _, loaded := k.m.LoadOrStore(seg, kh); loaded {
		return
	}
	if k.n.Add(1) > maxKnownHeaders {
		k.m.Clear()
		k.n.Store(0)
	}
}
