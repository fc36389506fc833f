package scopes

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/rsguard/rsguard/audit"
	"github.com/rsguard/rsguard/internal/strictjson"
)

// errNotJSON marks an [audit.ReasonInvalidRequest] refusal whose body is not
// JSON at all (JSON-RPC -32700, parse error, rather than -32600).
var errNotJSON = errors.New("not JSON")

// Why a tools/call has no readable tool name; each wraps
// audit.ReasonInvalidRequest.
var (
	errParamsNotObject = fmt.Errorf("%w: params is not an object", audit.ReasonInvalidRequest)
	errNoToolName      = fmt.Errorf("%w: tools/call without a tool name", audit.ReasonInvalidRequest)
	errToolNameType    = fmt.Errorf("%w: tool name is not a string", audit.ReasonInvalidRequest)
	errAmbiguousName   = fmt.Errorf("%w: ambiguous member name in params", audit.ReasonInvalidRequest)
)

// Why a body is not a JSON-RPC message or batch; each wraps
// audit.ReasonInvalidRequest.
var (
	errNotMessage     = fmt.Errorf("%w: not a JSON-RPC message", audit.ReasonInvalidRequest)
	errBatchElement   = fmt.Errorf("%w: batch element is not an object", audit.ReasonInvalidRequest)
	errEmptyBatch     = fmt.Errorf("%w: empty batch", audit.ReasonInvalidRequest)
	errMethodType     = fmt.Errorf("%w: method is not a string", audit.ReasonInvalidRequest)
	errAmbiguousField = fmt.Errorf("%w: ambiguous member name", audit.ReasonInvalidRequest)
)

// maxNestingDepth is encoding/json's limit on nested arrays and objects,
// which the body reader applies as json.Valid does.
const maxNestingDepth = 10000

// rpcMessage is what the scope check needs of one JSON-RPC message: the raw
// method string (with its quotes) and id value, each nil if absent, whether
// the id is ambiguous (a case-variant "id" member), and params' "name"
// string (raw, with its quotes) or why it has none; the latter matters only
// for tools/call. Each raw value aliases the body.
type rpcMessage struct {
	method      []byte
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

// rpcRefusal is a refusal answered by a JSON-RPC error (403 unknown_tool,
// 400 invalid_request) of a POST whose messages were read: it carries the
// ids of the requests it answers, so that [WriteError] can name them.
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
// messages, MCP 2025-03-26), appending its messages to msgs. It is a policy
// on the strict lexer of internal/strictjson, which checks all of the body
// in one pass: so that every JSON decoder a server may use reads the same
// methods and tool names as this one, it refuses duplicate member names at
// any depth, lone surrogates and numbers beyond float64, and any case-folded
// variant of the members "method" and "params" (and of params' "name", for
// tools/call). It accepts what json.Valid accepts otherwise, invalid UTF-8
// included (read as encoding/json reads it, as U+FFFD), and only an object or
// a non-empty array of objects at the top level. A body json.Valid refuses is
// errNotJSON, whatever else is wrong with it. It decodes nothing but member
// names.
func parseMessages(body []byte, msgs []rpcMessage) ([]rpcMessage, error) {
	r := strictjson.NewReader(body)
	r.MaxDepth, r.ReplaceInvalidUTF8 = maxNestingDepth, true
	msgs, err := readMessages(&r, msgs)
	switch {
	case err == nil:
		return msgs, nil
	case errors.Is(err, strictjson.ErrSyntax), errors.Is(err, strictjson.ErrDepth), !json.Valid(body):
		// The walk stopped at the first error; a later syntax error still
		// makes the body not JSON (-32700).
		return msgs, fmt.Errorf("%w: %w", audit.ReasonInvalidRequest, errNotJSON)
	case errors.Is(err, audit.ReasonInvalidRequest):
		return msgs, err
	default: // JSON that decoders read in different ways
		return msgs, fmt.Errorf("%w: %w", audit.ReasonInvalidRequest, err)
	}
}

// readMessages reads the top-level message or batch.
func readMessages(r *strictjson.Reader, msgs []rpcMessage) ([]rpcMessage, error) {
	switch r.Peek() {
	case '{':
		m, err := readMessage(r)
		if err != nil {
			return msgs, err
		}
		return append(msgs, m), nil
	case '[':
		if err := r.Open(); err != nil {
			return msgs, err
		}
		n := len(msgs)
		for {
			more, err := r.Element()
			if err != nil {
				return msgs, err
			}
			if !more {
				break
			}
			if r.Peek() != '{' {
				return msgs, errBatchElement
			}
			m, err := readMessage(r)
			if err != nil {
				return msgs, err
			}
			msgs = append(msgs, m)
		}
		if len(msgs) == n {
			return msgs, errEmptyBatch
		}
		return msgs, nil
	default:
		if err := r.Skip(); err != nil {
			return msgs, err
		}
		return msgs, errNotMessage
	}
}

// readMessage reads the message object that r is at.
func readMessage(r *strictjson.Reader) (rpcMessage, error) {
	var m rpcMessage
	if err := r.Open(); err != nil {
		return m, err
	}
	hasParams := false
	for {
		key, more, err := r.Member()
		if err != nil {
			return m, err
		}
		if !more {
			break
		}
		switch {
		case string(key) == "method":
			if r.Peek() != '"' {
				return m, errMethodType
			}
			m.method, err = r.Raw()
		case string(key) == "params":
			hasParams = true
			if r.Peek() == '{' {
				m.name, m.nameErr, err = readToolName(r)
			} else {
				m.nameErr, err = errParamsNotObject, r.Skip()
			}
		case string(key) == "id":
			m.id, err = r.Raw()
		case len(key) == 2 && bytes.EqualFold(key, []byte("id")): // "ID", "Id", "iD"
			m.idAmbiguous, err = true, r.Skip()
		case bytes.EqualFold(key, []byte("method")) || bytes.EqualFold(key, []byte("params")):
			return m, errAmbiguousField
		default:
			err = r.Skip()
		}
		if err != nil {
			return m, err
		}
	}
	if !hasParams {
		m.nameErr = errParamsNotObject
	}
	return m, nil
}

// readToolName reads the params object that r is at and returns its raw
// "name" string (with its quotes), or why there is none readable alike by
// every decoder (nameErr): no "name", a case-folded variant ("Name",
// "NAME"), or not a string. err is the reader's.
func readToolName(r *strictjson.Reader) (name []byte, nameErr, err error) {
	if err := r.Open(); err != nil {
		return nil, nil, err
	}
	ambiguous := false
	for {
		key, more, err := r.Member()
		if err != nil {
			return nil, nil, err
		}
		if !more {
			break
		}
		switch {
		case string(key) == "name":
			name, err = r.Raw()
		case bytes.EqualFold(key, []byte("name")):
			ambiguous, err = true, r.Skip()
		default:
			err = r.Skip()
		}
		if err != nil {
			return nil, nil, err
		}
	}
	switch {
	case ambiguous:
		return nil, errAmbiguousName, nil
	case name == nil:
		return nil, errNoToolName, nil
	case name[0] != '"':
		return nil, errToolNameType, nil
	}
	return name, nil, nil
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
