package rsguard

import (
	"bytes"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/rsguard/rsguard/rsmeta"
)

// Refusals come from small fixed sets of templates (each authenticator's
// errors), and each one's answer — challenge, headers, JSON body — depends
// only on the Guard's configuration and the refusal's status, code and
// description. The Guard records an answer the first time it writes it and
// replays it after: a refused request then costs no challenge formatting and
// no header canonicalisation. At most maxAnswers are kept (an application's
// Check may make descriptions of its own); beyond, answers are written by
// rsmeta.WriteError each time. A refusal with headers of its own, or a
// response that already carries Access-Control-Expose-Headers (which must be
// merged, not replaced), is always written by rsmeta.WriteError.
const maxAnswers = 128

type answerKey struct {
	status     int
	code, desc string
	challenge  int // the index of the challenge that carries the error
}

type answer struct {
	status int
	keys   []string // canonical header names
	n      []int    // how many values each name has (several challenges)
	vals   []string // the values of every name, in order
	body   []byte
}

type answers struct {
	m sync.Map // answerKey → *answer
	n atomic.Int32
}

// replay writes e's recorded answer, its error on challenge at, if there is
// one and w has no Access-Control-Expose-Headers yet.
func (s *answers) replay(w http.ResponseWriter, e *Error, at int) bool {
	v, ok := s.m.Load(answerKey{e.Status, e.Code, e.Description, at})
	if !ok {
		return false
	}
	a := v.(*answer)
	h := w.Header()
	if _, set := h["Access-Control-Expose-Headers"]; set {
		return false // merge with what is there: the general path does it
	}
	// One fresh array for all values: a later in-place edit of this
	// response's headers cannot reach another response.
	vals := make([]string, len(a.vals))
	copy(vals, a.vals)
	j := 0
	for i, k := range a.keys {
		h[k] = vals[j : j+a.n[i] : j+a.n[i]]
		j += a.n[i]
	}
	w.WriteHeader(a.status)
	_, _ = w.Write(a.body)
	return true
}

// record keeps the answer to e, written with challenges cs (its error on
// cs[at]), unless enough are kept already.
func (s *answers) record(e *Error, at int, cs []rsmeta.Challenge) {
	key := answerKey{e.Status, e.Code, e.Description, at}
	if _, ok := s.m.Load(key); ok || s.n.Load() >= maxAnswers {
		return
	}
	var rec recorder
	rec.h = make(http.Header)
	rsmeta.WriteError(&rec, e.Status, e.Code, e.Description, cs...)
	a := &answer{status: rec.status, body: rec.body.Bytes()}
	for _, k := range []string{"Www-Authenticate", "Access-Control-Expose-Headers", "Cache-Control", "Content-Type", "Content-Length"} {
		if vals := rec.h[k]; len(vals) > 0 {
			a.keys = append(a.keys, k)
			a.vals = append(a.vals, vals...)
			a.n = append(a.n, len(vals))
			delete(rec.h, k)
		}
	}
	if len(rec.h) != 0 {
		return // WriteError set headers we do not replay: never record
	}
	if _, loaded := s.m.LoadOrStore(key, a); !loaded {
		s.n.Add(1)
	}
}

// recorder is the minimal ResponseWriter record needs.
type recorder struct {
	h      http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header         { return r.h }
func (r *recorder) WriteHeader(status int)      { r.status = status }
func (r *recorder) Write(b []byte) (int, error) { return r.body.Write(b) }
