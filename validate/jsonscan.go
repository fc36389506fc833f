package validate

import (
	"errors"
	"strconv"

	"github.com/rsguard/rsguard/internal/strictjson"
)

// This file holds the typed readers of the registered claims and header
// members, a thin policy on the strict lexer of internal/strictjson: it
// checks the whole header and claims set, so that whatever verification
// accepts, encoding/json (which Claims.Get and Claims.Decode use) reads whole
// and in the same way. Member names match exactly (encoding/json also
// accepts "ALG" for "alg").

var (
	errType      = errors.New("claim of the wrong JSON type")
	errNotObject = errors.New("not a JSON object")
)

// stringValue reads a string value; any other type is errType. null yields
// (nil, false).
func stringValue(r *strictjson.Reader) ([]byte, bool, error) {
	switch r.Peek() {
	case '"':
		s, err := r.String()
		return s, true, err
	case 'n':
		return nil, false, r.Skip()
	}
	if err := r.Skip(); err != nil {
		return nil, false, err
	}
	return nil, false, errType
}

// date reads an RFC 7519 §2 NumericDate into d and reports whether one was
// present (null is absent).
func date(r *strictjson.Reader, d *numericDate) (bool, error) {
	switch c := r.Peek(); {
	case c == 'n':
		return false, r.Skip()
	case c != '-' && (c < '0' || c > '9'):
		if err := r.Skip(); err != nil {
			return false, err
		}
		return false, errType
	}
	num, err := r.Number()
	if err != nil {
		return false, err
	}
	if err := d.parse(num); err != nil {
		return false, errType
	}
	return true, nil
}

// stringOrList reads a string or an array of strings (the "aud" and "scp"
// claims); null yields nil. A string is returned as a one-element list, an
// empty array as an empty, non-nil one ("aud": [] is present).
func stringOrList(r *strictjson.Reader) ([][]byte, error) {
	switch r.Peek() {
	case 'n':
		return nil, r.Skip()
	case '"':
		s, err := r.String()
		if err != nil {
			return nil, err
		}
		return [][]byte{s}, nil
	case '[':
	default:
		if err := r.Skip(); err != nil {
			return nil, err
		}
		return nil, errType
	}
	if err := r.Open(); err != nil {
		return nil, err
	}
	list := [][]byte{}
	for {
		more, err := r.Element()
		if err != nil || !more {
			return list, err
		}
		if r.Peek() != '"' {
			if err := r.Skip(); err != nil {
				return nil, err
			}
			return nil, errType
		}
		s, err := r.String()
		if err != nil {
			return nil, err
		}
		list = append(list, s)
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
