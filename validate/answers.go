package validate

import (
	"bytes"
	"net/http"

	"github.com/rsguard/rsguard/rsmeta"
)

// Refusals come from a fixed set of templates (errors.go), and each one's
// answer — challenge, headers, JSON body — depends only on the Validator's
// configuration. New records each answer once, by running
// rsmeta.WriteChallenge into a recorder, and WriteError replays it: a refused
// request costs no challenge formatting and no header canonicalisation. Any
// other error, or a response that already carries
// Access-Control-Expose-Headers (which must be merged, not replaced), is
// written by rsmeta.WriteChallenge as before.

type answerKey struct {
	status     int
	code, desc string
}

type answer struct {
	status int
	keys   []string // canonical header names
	vals   []string // one value per name
	body   []byte
}

// templates are the refusals the verification path produces.
var templates = []Error{
	errNoToken, errMultipleHeaders, errHeaderSyntax, errHeaderSize, errQueryToken, errMalformed,
	errTooLarge, errEncrypted, errAlgorithm, errKeyAlgorithm, errTokenType, errCritical,
	errUnknownKey, errAmbiguousKey, errUnusableKey, errSignature, errIssuer, errAudience,
	errTenant, errExpired, errNotYetValid, errIssuedInFuture, errClaimTypes, errMissingExp,
	errMissingIss, errMissingAud, errMissingRequired, errRejected, errRevoked,
	errAuthInFuture, errSenderConstrained, errNoPrincipal, errWeakKey,
}

// recordAnswers prepares the answers of every template.
func (v *Validator) recordAnswers(extra ...Error) {
	v.answers = make(map[answerKey]*answer, len(templates)+len(extra))
	for _, t := range append(append([]Error(nil), templates...), extra...) {
		c := v.challenge
		if t.Code != "" {
			c.Error, c.ErrorDescription = t.Code, t.Description
		}
		var rec recorder
		rec.h = make(http.Header)
		rsmeta.WriteChallenge(&rec, t.Status, c)
		a := &answer{status: rec.status, body: rec.body.Bytes()}
		for _, k := range []string{"Www-Authenticate", "Access-Control-Expose-Headers", "Cache-Control", "Content-Type", "Content-Length"} {
			if vals := rec.h[k]; len(vals) == 1 {
				a.keys = append(a.keys, k)
				a.vals = append(a.vals, vals[0])
				delete(rec.h, k)
			}
		}
		if len(rec.h) != 0 {
			continue // WriteChallenge set headers we do not replay: never pre-build
		}
		v.answers[answerKey{t.Status, t.Code, t.Description}] = a
	}
}

// replay writes e's recorded answer, if there is one and w has no
// Access-Control-Expose-Headers yet.
func (v *Validator) replay(w http.ResponseWriter, e *Error) bool {
	a := v.answers[answerKey{e.Status, e.Code, e.Description}]
	if a == nil {
		return false
	}
	h := w.Header()
	if _, set := h["Access-Control-Expose-Headers"]; set {
		return false // merge with what is there: the general path does it
	}
	// One fresh array for all values: a later in-place edit of this
	// response's headers cannot reach another response.
	vals := make([]string, len(a.vals))
	copy(vals, a.vals)
	for i, k := range a.keys {
		h[k] = vals[i : i+1 : i+1]
	}
	w.WriteHeader(a.status)
	_, _ = w.Write(a.body)
	return true
}

// recorder is the minimal ResponseWriter recordAnswers needs.
type recorder struct {
	h      http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header         { return r.h }
func (r *recorder) WriteHeader(status int)      { r.status = status }
func (r *recorder) Write(b []byte) (int, error) { return r.body.Write(b) }
