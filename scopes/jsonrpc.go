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

// rpcMessage is what the scope check needs of one JSON-RPC message: the raw
// method string (with its quotes), params and id values, each nil if absent.
type rpcMessage struct {
	method []byte
	params []byte
	id     []byte
}

// parseMessages reads body, a JSON-RPC 2.0 message or batch (an array of
// messages, MCP 2025-03-26), appending its messages to msgs. It accepts only
// valid JSON whose top level is an object or a non-empty array of objects,
// and refuses any duplicate or case-folded variant of the members "method"
// and "params", so that every JSON decoder a server may use reads the same
// method as this one. It does not look inside params.
func parseMessages(body []byte, msgs []rpcMessage) ([]rpcMessage, error) {
	if !json.Valid(body) {
		return msgs, fmt.Errorf("%w: %w", ErrMalformed, errNotJSON)
	}
	i := skipSpace(body, 0)
	switch body[i] {
	case '{':
		m, err := parseMessage(body[i:skipValue(body, i)])
		if err != nil {
			return msgs, err
		}
		return append(msgs, m), nil
	case '[':
		a := arrayReader{b: body[i:skipValue(body, i)], i: 1}
		n := 0
		for v, ok := a.next(); ok; v, ok = a.next() {
			if v[0] != '{' {
				return msgs, fmt.Errorf("%w: batch element is not an object", ErrMalformed)
			}
			m, err := parseMessage(v)
			if err != nil {
				return msgs, err
			}
			msgs = append(msgs, m)
			n++
		}
		if n == 0 {
			return msgs, fmt.Errorf("%w: empty batch", ErrMalformed)
		}
		return msgs, nil
	default:
		return msgs, fmt.Errorf("%w: not a JSON-RPC message", ErrMalformed)
	}
}

// parseMessage reads one JSON-RPC message object.
func parseMessage(obj []byte) (rpcMessage, error) {
	var m rpcMessage
	o := objectReader{b: obj, i: 1}
	for k, v, ok := o.next(); ok; k, v, ok = o.next() {
		key := unquote(k)
		switch {
		case string(key) == "method":
			if m.method != nil {
				return m, fmt.Errorf("%w: duplicate member method", ErrMalformed)
			}
			if v[0] != '"' {
				return m, fmt.Errorf("%w: method is not a string", ErrMalformed)
			}
			m.method = v
		case string(key) == "params":
			if m.params != nil {
				return m, fmt.Errorf("%w: duplicate member params", ErrMalformed)
			}
			m.params = v
		case string(key) == "id":
			m.id = v
		case bytes.EqualFold(key, []byte("method")) || bytes.EqualFold(key, []byte("params")):
			return m, fmt.Errorf("%w: ambiguous member name", ErrMalformed)
		}
	}
	return m, nil
}

// toolName returns the raw "name" string (with its quotes) of tools/call
// params, which must be an object with exactly one member "name", a string,
// and no case-folded variant of it.
func toolName(params []byte) ([]byte, error) {
	if len(params) == 0 || params[0] != '{' {
		return nil, fmt.Errorf("%w: tools/call params is not an object", ErrMalformed)
	}
	var name []byte
	o := objectReader{b: params, i: 1}
	for k, v, ok := o.next(); ok; k, v, ok = o.next() {
		key := unquote(k)
		switch {
		case string(key) == "name":
			if name != nil {
				return nil, fmt.Errorf("%w: duplicate member name", ErrMalformed)
			}
			if v[0] != '"' {
				return nil, fmt.Errorf("%w: tool name is not a string", ErrMalformed)
			}
			name = v
		case bytes.EqualFold(key, []byte("name")):
			return nil, fmt.Errorf("%w: ambiguous member name", ErrMalformed)
		}
	}
	if name == nil {
		return nil, fmt.Errorf("%w: tools/call without a tool name", ErrMalformed)
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
		// Unreachable for a string json.Valid accepted; never match anything.
		return []byte{0xff}
	}
	return []byte(v)
}

// The readers below walk JSON that json.Valid has accepted; they do not
// check syntax again.

// objectReader iterates the members of a JSON object; b is the object and i
// starts at 1, just past the '{'.
type objectReader struct {
	b []byte
	i int
}

// next returns the next member's raw key (quotes included) and raw value.
func (o *objectReader) next() (key, val []byte, ok bool) {
	b := o.b
	i := skipSpace(b, o.i)
	if b[i] == ',' {
		i = skipSpace(b, i+1)
	}
	if b[i] != '"' {
		return nil, nil, false // '}'
	}
	ks := i
	i = skipString(b, i)
	key = b[ks:i]
	i = skipSpace(b, i)   // at ':'
	i = skipSpace(b, i+1) // at the value
	vs := i
	i = skipValue(b, i)
	o.i = i
	return key, b[vs:i], true
}

// arrayReader iterates the elements of a JSON array; b is the array and i
// starts at 1, just past the '['.
type arrayReader struct {
	b []byte
	i int
}

// next returns the next element's raw value.
func (a *arrayReader) next() (val []byte, ok bool) {
	b := a.b
	i := skipSpace(b, a.i)
	if b[i] == ',' {
		i = skipSpace(b, i+1)
	}
	if b[i] == ']' {
		return nil, false
	}
	vs := i
	i = skipValue(b, i)
	a.i = i
	return b[vs:i], true
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
func skipString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return i
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
