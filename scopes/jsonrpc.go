package scopes

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"
)

// ErrMalformed reports a request body the MCP middleware will not pass on
// because it cannot tell for sure what it asks for: not JSON, not a JSON-RPC
// message or batch of messages, a member that decoders could read in
// different ways (a duplicate, or a case variant such as "Method" or
// "paramſ", which Go's encoding/json folds onto "method" and "params"), or a
// body that could not be read. [WriteError] answers 400.
var ErrMalformed = errors.New("scopes: malformed JSON-RPC message")

// errNotJSON marks an ErrMalformed that is a JSON syntax error (JSON-RPC
// -32700 rather than -32600).
var errNotJSON = errors.New("not JSON")

// Why a tools/call has no readable tool name; each wraps ErrMalformed.
var (
	errParamsNotObject = fmt.Errorf("%w: params is not an object", ErrMalformed)
	errNoToolName      = fmt.Errorf("%w: tools/call without a tool name", ErrMalformed)
	errDupToolName     = fmt.Errorf("%w: duplicate member name in params", ErrMalformed)
	errToolNameType    = fmt.Errorf("%w: tool name is not a string", ErrMalformed)
	errAmbiguousName   = fmt.Errorf("%w: ambiguous member name in params", ErrMalformed)
)

// rpcMessage is what the scope check needs of one JSON-RPC message: the raw
// method string (with its quotes), params and id values, each nil if absent
// (id the last of several), whether the id is ambiguous (a duplicate or
// case-variant "id" member), and params' "name" string (raw, with its
// quotes) or why it has none; the latter matters only for tools/call.
type rpcMessage struct {
	method      []byte
	params      []byte
	id          []byte
	idAmbiguous bool
	name        []byte
	nameErr     error
}

// answerID returns the id a JSON-RPC answer to msg carries (JSON-RPC 2.0
// §5): its id exactly as the request wrote it when that is a number, or a
// string of valid UTF-8, read alike by every decoder; null otherwise. The
// result does not alias the request body.
func (msg *rpcMessage) answerID() []byte {
	if msg.id != nil && !msg.idAmbiguous {
		switch c := msg.id[0]; {
		case c == '"' && utf8.Valid(msg.id), c == '-', '0' <= c && c <= '9':
			return append([]byte(nil), msg.id...)
		}
	}
	return []byte("null")
}

// rpcRefusal is a refusal answered by a JSON-RPC error (403 ErrNotPermitted,
// 400 ErrMalformed) of a POST whose messages were read: it carries the ids
// of the requests it answers, so that [WriteError] can name them.
type rpcRefusal struct {
	err   error
	batch bool     // the body was a batch: answer with an array
	ids   [][]byte // one raw id (or null) per request, in order
}

func (e *rpcRefusal) Error() string { return e.err.Error() }
func (e *rpcRefusal) Unwrap() error { return e.err }

// withRequestIDs wraps err, the refusal of body's messages msgs, with the ids
// of the requests among them (messages with a method and an id member;
// notifications and responses get no answer, JSON-RPC 2.0 §4.1, §6). It
// returns err as it is when no id is to be named.
func withRequestIDs(err error, body []byte, msgs []rpcMessage) error {
	batch := body[skipSpace(body, 0)] == '['
	var ids [][]byte
	for i := range msgs {
		if msgs[i].method != nil && (msgs[i].id != nil || msgs[i].idAmbiguous) {
			ids = append(ids, msgs[i].answerID())
		}
	}
	if len(ids) == 0 || (!batch && string(ids[0]) == "null") {
		return err
	}
	return &rpcRefusal{err: err, batch: batch, ids: ids}
}

// parseMessages reads body, a JSON-RPC 2.0 message or batch (an array of
// messages, MCP 2025-03-26), appending its messages to msgs. It accepts only
// valid JSON whose top level is an object or a non-empty array of objects,
// and refuses any duplicate or case-folded variant of the members "method"
// and "params", so that every JSON decoder a server may use reads the same
// method as this one. It walks the body once after validating it, and
// decodes nothing but the method and params' name.
func parseMessages(body []byte, msgs []rpcMessage) ([]rpcMessage, error) {
	if !validJSON(body) {
		return msgs, fmt.Errorf("%w: %w", ErrMalformed, errNotJSON)
	}
	i := skipSpace(body, 0)
	switch body[i] {
	case '{':
		m, _, err := parseMessage(body, i)
		if err != nil {
			return msgs, err
		}
		return append(msgs, m), nil
	case '[':
		a := arrayReader{b: body, i: i + 1}
		for {
			j := a.start()
			if j < 0 {
				break
			}
			if body[j] != '{' {
				return msgs, fmt.Errorf("%w: batch element is not an object", ErrMalformed)
			}
			m, end, err := parseMessage(body, j)
			if err != nil {
				return msgs, err
			}
			msgs = append(msgs, m)
			a.i = end
		}
		if len(msgs) == 0 {
			return msgs, fmt.Errorf("%w: empty batch", ErrMalformed)
		}
		return msgs, nil
	default:
		return msgs, fmt.Errorf("%w: not a JSON-RPC message", ErrMalformed)
	}
}

// parseMessage reads the message object at b[start] and returns the index
// just past it.
func parseMessage(b []byte, start int) (rpcMessage, int, error) {
	var m rpcMessage
	o := objectReader{b: b, i: start + 1}
	for {
		k, ok := o.key()
		if !ok {
			break
		}
		key := unquote(k)
		vs := o.i
		switch {
		case string(key) == "method":
			if m.method != nil {
				return m, 0, fmt.Errorf("%w: duplicate member method", ErrMalformed)
			}
			if b[vs] != '"' {
				return m, 0, fmt.Errorf("%w: method is not a string", ErrMalformed)
			}
			o.i = skipString(b, vs)
			m.method = b[vs:o.i]
		case string(key) == "params":
			if m.params != nil {
				return m, 0, fmt.Errorf("%w: duplicate member params", ErrMalformed)
			}
			if b[vs] == '{' {
				p := objectReader{b: b, i: vs + 1}
				m.name, m.nameErr = readToolName(&p)
				o.i = p.i + 1
			} else {
				o.i = skipValue(b, vs)
				m.nameErr = errParamsNotObject
			}
			m.params = b[vs:o.i]
		case string(key) == "id":
			o.i = skipValue(b, vs)
			m.idAmbiguous = m.idAmbiguous || m.id != nil
			m.id = b[vs:o.i]
		case len(key) == 2 && bytes.EqualFold(key, []byte("id")): // "ID", "Id", "iD"
			o.i = skipValue(b, vs)
			m.idAmbiguous = true
		case bytes.EqualFold(key, []byte("method")) || bytes.EqualFold(key, []byte("params")):
			return m, 0, fmt.Errorf("%w: ambiguous member name", ErrMalformed)
		default:
			o.i = skipValue(b, vs)
		}
	}
	if m.params == nil {
		m.nameErr = errParamsNotObject
	}
	return m, o.i + 1, nil
}

// readToolName reads the members of a params object up to its closing brace
// (where it leaves p.i) and returns the raw "name" string (with its quotes),
// or why there is none readable alike by every decoder: no "name", more than
// one, a case-folded variant ("Name", "NAME"), or not a string.
func readToolName(p *objectReader) ([]byte, error) {
	var name []byte
	names, ambiguous := 0, false
	for {
		k, ok := p.key()
		if !ok {
			break
		}
		vs := p.i
		p.i = skipValue(p.b, vs)
		switch key := unquote(k); {
		case string(key) == "name":
			names++
			name = p.b[vs:p.i]
		case bytes.EqualFold(key, []byte("name")):
			ambiguous = true
		}
	}
	switch {
	case ambiguous:
		return nil, errAmbiguousName
	case names == 0:
		return nil, errNoToolName
	case names > 1:
		return nil, errDupToolName
	case name[0] != '"':
		return nil, errToolNameType
	}
	return name, nil
}

// unquote returns the value of the JSON string q (quotes included), decoded
// exactly as encoding/json decodes it: escapes resolved, invalid UTF-8 and
// lone surrogates replaced by U+FFFD. The common case, a plain string, costs
// no allocation and returns a sub-slice of q.
func unquote(q []byte) []byte {
	s := q[1 : len(q)-1]
	plain := true
	for _, c := range s {
		if c == '\\' || c >= utf8.RuneSelf {
			plain = false
			break
		}
	}
	if plain || (bytes.IndexByte(s, '\\') < 0 && utf8.Valid(s)) {
		return s
	}
	var v string
	if err := json.Unmarshal(q, &v); err != nil {
		// Unreachable for a string validJSON accepted; never match anything.
		return []byte{0xff}
	}
	return []byte(v)
}

// The readers below walk JSON that validJSON has accepted; they do not
// check syntax again.

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
