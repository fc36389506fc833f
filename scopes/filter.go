package scopes

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/audit"
)

// maxFilterBytes bounds the JSON tools/list answer the filter buffers; a
// longer one passes unfiltered (the filter is advisory, calls stay checked).
const maxFilterBytes = 16 << 20

// filterTools returns msg, a JSON-RPC response to tools/list or a batch
// (array) of responses, with every tool the caller p may not call
// ([MCP.AllowsTool]) removed from each response's result.tools array, as
// [MCPConfig.FilterToolsList] documents. msg itself is not modified, and
// when nothing changes msg is returned as is. An msg that is not valid JSON
// is an error wrapping [audit.ReasonInvalidRequest].
func (m *MCP) filterTools(p *rsguard.Principal, msg []byte) ([]byte, error) {
	if !json.Valid(msg) {
		return nil, fmt.Errorf("%w: %w", audit.ReasonInvalidRequest, errNotJSON)
	}
	return m.filterMessage(p, msg, nil), nil
}

// edit replaces b[start:end] with repl.
type edit struct {
	start, end int
	repl       []byte
}

// filterMessage filters valid JSON msg; with ids, only responses whose id is
// one of ids.
func (m *MCP) filterMessage(p *rsguard.Principal, msg []byte, ids [][]byte) []byte {
	var edits []edit
	i := skipSpace(msg, 0)
	switch msg[i] {
	case '{':
		edits = m.filterResponse(p, msg, i, ids, edits)
	case '[':
		a := arrayReader{b: msg, i: i + 1}
		for v, ok := a.next(); ok; v, ok = a.next() {
			if v[0] == '{' {
				edits = m.filterResponse(p, msg, a.i-len(v), ids, edits)
			}
		}
	}
	if len(edits) == 0 {
		return msg
	}
	out := make([]byte, 0, len(msg))
	last := 0
	for _, e := range edits {
		out = append(out, msg[last:e.start]...)
		out = append(out, e.repl...)
		last = e.end
	}
	return append(out, msg[last:]...)
}

// The cacheScope of a filtered tools/list result (MCP 2026-07-28, caching).
var (
	cacheScopePrivate    = []byte(`"private"`)
	cacheScopePrivateAdd = []byte(`,"cacheScope":"private"`)
)

// filterResponse appends the edits, if any, that filter the response object
// starting at msg[start]: the tools removed, and the result's cacheScope
// made "private".
func (m *MCP) filterResponse(p *rsguard.Principal, msg []byte, start int, ids [][]byte, edits []edit) []edit {
	end := skipValue(msg, start)
	o := objectReader{b: msg[:end], i: start + 1}
	var id []byte
	toolsStart, toolsEnd := -1, -1
	var scopeVals []edit // cacheScope values to make "private"
	hasScope := false    // an exact "cacheScope" member
	lastEnd := -1        // the end of the result's last member
	for k, v, ok := o.next(); ok; k, v, ok = o.next() {
		switch string(unquote(k)) {
		case "id":
			id = v
		case "result":
			if v[0] != '{' {
				continue
			}
			ro := objectReader{b: msg[:o.i], i: o.i - len(v) + 1}
			toolsStart, scopeVals, hasScope = -1, scopeVals[:0], false // the last result counts
			for rk, rv, ok := ro.next(); ok; rk, rv, ok = ro.next() {
				lastEnd = ro.i
				switch key := unquote(rk); {
				case string(key) == "tools" && rv[0] == '[':
					toolsStart, toolsEnd = ro.i-len(rv), ro.i
				case bytes.EqualFold(key, []byte("cacheScope")): // Go decoders fold case
					hasScope = hasScope || string(key) == "cacheScope"
					if rv[0] != '"' || string(unquote(rv)) != "private" {
						scopeVals = append(scopeVals, edit{start: ro.i - len(rv), end: ro.i, repl: cacheScopePrivate})
					}
				}
			}
		}
	}
	if toolsStart < 0 || (ids != nil && !hasID(ids, id)) {
		return edits
	}
	a := arrayReader{b: msg[:toolsEnd], i: toolsStart + 1}
	kept := make([]byte, 0, toolsEnd-toolsStart)
	kept = append(kept, '[')
	removed := false
	for v, ok := a.next(); ok; v, ok = a.next() {
		if !m.allowsListed(p, v) {
			removed = true
			continue
		}
		if len(kept) > 1 {
			kept = append(kept, ',')
		}
		kept = append(kept, v...)
	}
	n := len(edits)
	if removed {
		kept = append(kept, ']')
		edits = append(edits, edit{start: toolsStart, end: toolsEnd, repl: kept})
	}
	edits = append(edits, scopeVals...)
	if !hasScope {
		edits = append(edits, edit{start: lastEnd, end: lastEnd, repl: cacheScopePrivateAdd})
	}
	own := edits[n:]
	sort.Slice(own, func(i, j int) bool { return own[i].start < own[j].start })
	return edits
}

// allowsListed reports whether the tool object tool may stay in the list.
func (m *MCP) allowsListed(p *rsguard.Principal, tool []byte) bool {
	if tool[0] != '{' {
		return false
	}
	var name []byte
	o := objectReader{b: tool, i: 1}
	for k, v, ok := o.next(); ok; k, v, ok = o.next() {
		if string(unquote(k)) == "name" {
			if v[0] != '"' {
				return false
			}
			name = unquote(v)
		}
	}
	return name != nil && m.AllowsTool(p, string(name))
}

// hasID reports whether id (a raw JSON-RPC id) is one of ids; strings are
// compared by value, so that a server's re-encoding does not matter.
func hasID(ids [][]byte, id []byte) bool {
	if id == nil {
		return false
	}
	for _, x := range ids {
		if bytes.Equal(x, id) {
			return true
		}
		if x[0] == '"' && id[0] == '"' && bytes.Equal(unquote(x), unquote(id)) {
			return true
		}
	}
	return false
}

// listFilter is the ResponseWriter of a request that carries tools/list when
// FilterToolsList is on. It rewrites a 200 application/json answer after the
// handler returns, and a 200 text/event-stream answer event by event, as
// each event is complete (a client acts on an event only once it is
// complete, so holding back a partial one changes nothing). Both get a
// private Cache-Control ([privateCacheControl]). Every other answer passes
// through untouched.
type listFilter struct {
	w    http.ResponseWriter
	m    *MCP
	p    *rsguard.Principal
	ids  [][]byte
	mode int
	code int
	buf  []byte
}

const (
	modeUndecided = iota
	modePass
	modeJSON
	modeSSE
)

func (f *listFilter) Header() http.Header { return f.w.Header() }

// Unwrap lets http.ResponseController reach the underlying writer.
func (f *listFilter) Unwrap() http.ResponseWriter { return f.w }

func (f *listFilter) WriteHeader(code int) {
	if f.mode != modeUndecided {
		if f.mode == modePass {
			f.w.WriteHeader(code) // let net/http report a superfluous call
		}
		return
	}
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		f.w.WriteHeader(code)
		return
	}
	f.code = code
	mt, _, _ := mime.ParseMediaType(f.w.Header().Get("Content-Type"))
	switch {
	case code == http.StatusOK && mt == "application/json" && f.w.Header().Get("Content-Encoding") == "":
		f.mode = modeJSON // the header waits for the rewritten length
		privateCacheControl(f.w.Header())
	case code == http.StatusOK && mt == "text/event-stream" && f.w.Header().Get("Content-Encoding") == "":
		f.mode = modeSSE
		f.w.Header().Del("Content-Length")
		privateCacheControl(f.w.Header())
		f.w.WriteHeader(code)
	default:
		f.mode = modePass
		f.w.WriteHeader(code)
	}
}

func (f *listFilter) Write(p []byte) (int, error) {
	if f.mode == modeUndecided {
		f.WriteHeader(http.StatusOK)
	}
	switch f.mode {
	case modeJSON:
		if len(f.buf)+len(p) > maxFilterBytes {
			f.mode = modePass
			f.w.WriteHeader(f.code)
			if _, err := f.w.Write(f.buf); err != nil {
				return 0, err
			}
			f.buf = nil
			return f.w.Write(p)
		}
		f.buf = append(f.buf, p...)
		return len(p), nil
	case modeSSE:
		f.buf = append(f.buf, p...)
		return len(p), f.writeEvents(false)
	default:
		return f.w.Write(p)
	}
}

// Flush sends what is complete: whole SSE events, never half a JSON answer.
func (f *listFilter) Flush() {
	if f.mode == modeUndecided {
		f.WriteHeader(http.StatusOK)
	}
	if f.mode == modeJSON {
		return
	}
	if fl, ok := f.w.(http.Flusher); ok {
		fl.Flush()
	} else {
		_ = http.NewResponseController(f.w).Flush()
	}
}

// finish writes what the handler left buffered.
func (f *listFilter) finish() {
	switch f.mode {
	case modeJSON:
		out := f.buf
		if json.Valid(out) {
			out = f.m.filterMessage(f.p, out, f.ids)
		}
		f.w.Header().Set("Content-Length", strconv.Itoa(len(out)))
		f.w.WriteHeader(f.code)
		_, _ = f.w.Write(out)
	case modeSSE:
		_ = f.writeEvents(true)
	}
	f.buf = nil
}

// writeEvents writes every complete SSE event in f.buf, filtered, and keeps
// the rest; at the end it writes the rest as it is.
func (f *listFilter) writeEvents(end bool) error {
	done := 0
	for {
		n := eventLen(f.buf[done:])
		if n == 0 {
			break
		}
		if _, err := f.w.Write(f.filterEvent(f.buf[done : done+n])); err != nil {
			return err
		}
		done += n
	}
	if end && done < len(f.buf) {
		if _, err := f.w.Write(f.buf[done:]); err != nil {
			return err
		}
		done = len(f.buf)
	}
	f.buf = f.buf[:copy(f.buf, f.buf[done:])]
	return nil
}

// eventLen returns the length of the first complete SSE event in b (its
// lines and the blank line that ends it), or 0 if there is none yet. Lines
// end in CRLF, LF or CR (WHATWG HTML, server-sent events); a CR at the very
// end may be the first half of a CRLF and is not taken as a line end yet.
func eventLen(b []byte) int {
	lineStart := 0
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c != '\n' && c != '\r' {
			continue
		}
		if c == '\r' {
			if i+1 == len(b) {
				return 0
			}
			if b[i+1] == '\n' {
				i++
			}
		}
		if i-lineStart <= 1 && (i == lineStart || b[lineStart] == '\r') {
			return i + 1 // an empty line
		}
		lineStart = i + 1
	}
	return 0
}

// filterEvent returns ev, one complete SSE event, with the JSON of its data
// filtered; ev itself when nothing changes.
func (f *listFilter) filterEvent(ev []byte) []byte {
	var data []byte
	lines := 0
	for rest := ev; len(rest) > 0; {
		line, next := cutLine(rest)
		rest = next
		if v, ok := dataValue(line); ok {
			if lines > 0 {
				data = append(data, '\n')
			}
			data = append(data, v...)
			lines++
		}
	}
	if lines == 0 || !json.Valid(data) {
		return ev
	}
	filtered := f.m.filterMessage(f.p, data, f.ids)
	if len(filtered) == len(data) && bytes.Equal(filtered, data) {
		return ev
	}
	out := make([]byte, 0, len(ev)+len(filtered))
	wroteData := false
	for rest := ev; len(rest) > 0; {
		line, next := cutLine(rest)
		rest = next
		if _, ok := dataValue(line); ok {
			if !wroteData {
				for _, l := range bytes.Split(filtered, []byte("\n")) {
					out = append(out, "data: "...)
					out = append(out, l...)
					out = append(out, '\n')
				}
				wroteData = true
			}
			continue
		}
		if len(line) == 0 {
			break // the blank line that ends the event
		}
		out = append(out, line...)
		out = append(out, '\n')
	}
	return append(out, '\n')
}

// cutLine splits the first line (without its end) off b.
func cutLine(b []byte) (line, rest []byte) {
	for i, c := range b {
		switch c {
		case '\n':
			return b[:i], b[i+1:]
		case '\r':
			if i+1 < len(b) && b[i+1] == '\n' {
				return b[:i], b[i+2:]
			}
			return b[:i], b[i+1:]
		}
	}
	return b, nil
}

// dataValue returns the value of an SSE "data" field line.
func dataValue(line []byte) ([]byte, bool) {
	if !bytes.HasPrefix(line, []byte("data")) {
		return nil, false
	}
	v := line[4:]
	if len(v) == 0 {
		return v, true
	}
	if v[0] != ':' {
		return nil, false
	}
	v = v[1:]
	if len(v) > 0 && v[0] == ' ' {
		v = v[1:]
	}
	return v, true
}

// privateCacheControl keeps shared caches from storing a filtered answer,
// which depends on who asks (RFC 9111 §5.2.2.7): it leaves Cache-Control as
// it is when it says no-store, or private without field names and not
// public; otherwise it makes it "private" followed by the other directives,
// without public and without a qualified private="…" (which lets shared
// caches store the rest). Directive names are compared case-insensitively
// (RFC 9111 §5.2).
func privateCacheControl(h http.Header) {
	var keep []string
	private, rewrite := false, false
	for _, v := range h.Values("Cache-Control") {
		for _, d := range splitDirectives(v) {
			name, _, qualified := strings.Cut(d, "=")
			switch name = strings.TrimRight(name, " \t"); {
			case strings.EqualFold(name, "no-store"):
				return
			case strings.EqualFold(name, "private"):
				private = private || !qualified
				rewrite = rewrite || qualified
			case strings.EqualFold(name, "public"):
				rewrite = true
			default:
				keep = append(keep, d)
			}
		}
	}
	if private && !rewrite {
		return
	}
	h.Set("Cache-Control", strings.Join(append([]string{"private"}, keep...), ", "))
}

// splitDirectives splits a Cache-Control field value into its directives
// (RFC 9110 §5.6.1 list, commas inside quoted strings included), without
// the optional whitespace around them and without empty elements.
func splitDirectives(v string) []string {
	var out []string
	add := func(d string) {
		if d = strings.Trim(d, " \t"); d != "" {
			out = append(out, d)
		}
	}
	start, quoted := 0, false
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case quoted && c == '\\':
			i++
		case c == '"':
			quoted = !quoted
		case c == ',' && !quoted:
			add(v[start:i])
			start = i + 1
		}
	}
	add(v[start:])
	return out
}
