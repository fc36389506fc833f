package conformance

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"reflect"
)

// Reading a JSON-RPC response from an SSE stream (MCP transport, Streamable
// HTTP): the server answers a POSTed request with text/event-stream, sends
// the response among other messages, and SHOULD close the stream after it,
// but need not. So the stream is read one event at a time, and no further
// than the event that carries the response.

// maxBody bounds what the kit reads of an answer's body, a stream
// included.
const maxBody = 1 << 20

// sseAnswer is what readSSE read of a stream.
type sseAnswer struct {
	body  []byte // every byte read, up to the end of event
	event []byte // the data of the event carrying the response; nil if none did
	// cut: the stream reached maxBody bytes before such an event.
	cut bool
}

// readSSE reads an SSE stream (HTML Living Standard, server-sent events,
// "Parsing an event stream") from body until an event whose data is the
// JSON-RPC response to the request whose id is id (JSON; nil: to any
// request), the end of the stream, or maxBody bytes. Notifications and
// requests of the server, and responses to other ids, are skipped. An
// event left unfinished by the end of the stream is not dispatched, as the
// standard says. An error reading the stream before that event (a timeout,
// a reset connection) is returned.
func readSSE(body io.Reader, id json.RawMessage) (sseAnswer, error) {
	var read bytes.Buffer
	lr := &io.LimitedReader{R: body, N: maxBody}
	s := sseScanner{r: bufio.NewReader(io.TeeReader(lr, &read))}
	for {
		data, err := s.event()
		if err == io.EOF {
			return sseAnswer{body: read.Bytes(), cut: lr.N == 0}, nil
		}
		if err != nil {
			return sseAnswer{body: read.Bytes()}, err
		}
		if isResponseTo(data, id) {
			return sseAnswer{body: read.Bytes(), event: data}, nil
		}
	}
}

// isResponseTo reports whether data is a JSON-RPC response (a result or an
// error, no method) to the request id (nil: to any).
func isResponseTo(data []byte, id json.RawMessage) bool {
	var m struct {
		ID     json.RawMessage `json:"id"`
		Method json.RawMessage `json:"method"`
		Result json.RawMessage `json:"result"`
		Error  json.RawMessage `json:"error"`
	}
	if json.Unmarshal(data, &m) != nil || m.Method != nil || (m.Result == nil && m.Error == nil) {
		return false
	}
	return id == nil || sameID(m.ID, id)
}

// sameID reports whether two JSON-RPC ids are the same: the same string,
// or the same number however written.
func sameID(a, b json.RawMessage) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil || x == nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

// requestID returns the id of the JSON-RPC request req carries (read from
// a copy of its body), or nil if its body is not one the kit can read
// again or has no id.
func requestID(req *http.Request) json.RawMessage {
	if req.GetBody == nil {
		return nil
	}
	body, err := req.GetBody()
	if err != nil {
		return nil
	}
	defer body.Close()
	var m struct {
		ID json.RawMessage `json:"id"`
	}
	if json.NewDecoder(io.LimitReader(body, maxBody)).Decode(&m) != nil || string(m.ID) == "null" {
		return nil
	}
	return m.ID
}

// sseScanner splits an event stream into events.
type sseScanner struct {
	r       *bufio.Reader
	started bool // the byte order mark, if any, is behind
	afterCR bool // the last line ended with CR: a LF right after it ends nothing
}

// event returns the data of the next event that has some: its data lines'
// values joined by LF (comments and the other fields are ignored); io.EOF
// at the end of the stream, an unfinished event discarded.
func (s *sseScanner) event() ([]byte, error) {
	var data []byte
	has := false
	for {
		line, err := s.line()
		if err != nil {
			return nil, err
		}
		if len(line) == 0 {
			if has {
				return data, nil
			}
			continue
		}
		field, value, found := bytes.Cut(line, []byte(":"))
		if found {
			value = bytes.TrimPrefix(value, []byte(" "))
		}
		switch {
		case len(field) == 0: // a comment
		case string(field) == "data":
			if has {
				data = append(data, '\n')
			}
			data, has = append(data, value...), true
		}
	}
}

// line returns the next line, without its end (CRLF, LF or CR); io.EOF
// if the stream ends before one ends. A CR ends a line at once, so that a
// stream that pauses after it is not waited for.
func (s *sseScanner) line() ([]byte, error) {
	var line []byte
	for {
		b, err := s.r.ReadByte()
		if err != nil {
			return nil, err
		}
		if s.afterCR {
			s.afterCR = false
			if b == '\n' {
				continue
			}
		}
		if b == '\n' || b == '\r' {
			s.afterCR = b == '\r'
			if !s.started {
				s.started = true
				line = bytes.TrimPrefix(line, []byte("\uFEFF"))
			}
			return line, nil
		}
		line = append(line, b)
	}
}
