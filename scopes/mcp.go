package scopes

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"time"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/audit"
	"github.com/rsguard/rsguard/internal/check"
)

// defaultMaxBodyBytes is the [MCPConfig.MaxBodyBytes] used when it is zero:
// 4 MiB, the message size limit of the MCP TypeScript SDK's Streamable HTTP
// server.
const defaultMaxBodyBytes = 4 << 20

// allowedMethods is the Allow header of the 405 for
// [audit.ReasonMethodNotAllowed]: the methods [MCP] passes on.
const allowedMethods = "GET, POST, DELETE, OPTIONS"

// MCPConfig configures the per-tool scope check of an MCP server: see [MCP].
type MCPConfig struct {
	// Tools maps a tool name (the "name" of tools/call params, compared
	// exactly) to the scopes a tools/call of it needs, all of them. A tool
	// mapped to no scopes needs only a principal (and the tools/call entry of
	// Methods). Unless AllowUnknownTools is set, a tool missing here cannot
	// be called at all. Names must be non-empty valid UTF-8; scopes must be
	// RFC 6749 §3.3 scope tokens. Required unless AllowUnknownTools is set:
	// [NewMCP] refuses an empty map, with which every tools/call would be
	// refused (a forgotten field, not a policy).
	Tools map[string][]string

	// Methods maps a JSON-RPC method, such as "resources/read",
	// "prompts/get" or "tools/list", to the scopes every message with that
	// method needs, all of them; an entry for "tools/call" applies to every
	// tool, in addition to its Tools entry. Methods not in the map need
	// only a principal: initialize, ping, notifications and the client's
	// responses must reach the server for the session to work at all.
	Methods map[string][]string

	// AllowUnknownTools, if true, lets a tools/call of a tool missing from
	// Tools through with only the scopes of Methods["tools/call"], if any.
	// If false (the default, fail closed), such a call is refused with a
	// plain 403 ([audit.ReasonUnknownTool]): a tool added to the server but
	// forgotten in Tools is not callable until someone decides its scopes.
	// To let any authenticated caller use a tool, map it to no scopes
	// rather than setting this. A server without tools (resources or
	// prompts only) sets it and leaves Tools empty.
	AllowUnknownTools bool

	// MaxBodyBytes bounds the POST body the middleware reads. A longer body
	// is refused with 413 ([audit.ReasonBodyTooLarge]) before the MCP
	// handler sees it, whatever it contains. If zero, 4 MiB; negative is
	// refused. Set it to at least the largest request your tools accept.
	MaxBodyBytes int64

	// Implies, if set, lets a granted scope satisfy a required scope it is
	// not equal to (see [Wildcard] and [Hierarchy.Implies]). If nil (the
	// default), only the identical scope does (RFC 6749 §3.3).
	Implies func(granted, required string) bool

	// FilterToolsList, if true, rewrites the server's answers to tools/list
	// so that they name only the tools the caller may call
	// ([MCP.AllowsTool]), for JSON and SSE (text/event-stream) responses: a
	// tool without a readable string "name" is removed too; everything else,
	// including nextCursor and ttlMs, is kept byte for byte. Such an answer
	// depends on who asks: its result is marked "cacheScope": "private" (MCP
	// 2026-07-28, caching; a cacheScope with another value, or a case
	// variant of the name, is set to "private"; clients of earlier
	// revisions ignore it), and its HTTP Cache-Control is made private
	// (RFC 9111 §5.2.2.7; no-store is left as it is), so that no shared
	// cache hands one caller's list to another. It is advisory: calls are
	// checked whether or not it is on. With an SDK that hands you the typed
	// result (the official Go SDK), filter it with [MCP.AllowsTool]
	// instead. If false (the default), answers pass untouched.
	FilterToolsList bool

	// ErrorHandler, if set, answers requests that fail the check, with the
	// error Check returned. If nil, [WriteError] answers, with the realm and
	// resource_metadata of the [rsguard.Guard] that authenticated the
	// request.
	ErrorHandler func(http.ResponseWriter, *http.Request, error)

	// ToolAuthentication maps a tool name to an RFC 9470 step-up
	// requirement on how the user authenticated (say, a recent multi-factor
	// login for a tool that moves money). It is checked after the tool's
	// scopes; a call that fails it gets 401 insufficient_user_authentication
	// with acr_values and max_age. Tools not in the map have none. Every
	// name must also be in Tools.
	ToolAuthentication map[string]AuthRequirement

	// Now returns the current time, for ToolAuthentication's MaxAge. If
	// nil, time.Now.
	Now func() time.Time

	// OnDecision, if set, receives one authorize-stage [audit.Decision] per
	// request, allowed or refused, naming the MCP method and tool. If nil
	// (the default), none is made, at no cost.
	OnDecision audit.Func
}

// MCP checks the scopes of MCP calls before the MCP server sees them. An MCP
// server has one endpoint (Streamable HTTP) and names the tool inside the
// JSON-RPC body ({"method":"tools/call","params":{"name":"…"}}), so MCP reads
// the body, decides, and restores the body intact for the server. Create it
// with [NewMCP]; it is safe for concurrent use.
//
// What it decides, request by request:
//
//   - No [rsguard.Principal] in the context (the [rsguard.Guard] did not
//     run): 401, for every request method. Never allowed.
//   - GET (the SSE stream), DELETE (ending a session) and OPTIONS (CORS
//     preflight, when it reaches MCP at all): passed on unread; they call no
//     tool.
//   - Any other method, HEAD and "post" included (methods are
//     case-sensitive, RFC 9110 §9.1): 405 with
//     Allow: GET, POST, DELETE, OPTIONS ([audit.ReasonMethodNotAllowed]),
//     unread and never passed on, whatever the principal. MCP Streamable HTTP defines only
//     POST, GET and DELETE, and this check reads only POST bodies: a server
//     that dispatched a PUT, a PATCH or a "post" on its body would otherwise
//     run a tool nobody checked.
//   - POST: the body is read up to MaxBodyBytes. Longer: 413, fail closed.
//     Not JSON, not a JSON-RPC message or batch, or ambiguous (a member
//     name given twice in any object, a lone surrogate escape, a number
//     beyond float64, a case-folded "method", "params" or params "name"):
//     400 with a JSON-RPC error, as Streamable HTTP prescribes for input a
//     server cannot accept; the server never sees it, so no decoder can
//     read into it a call this check did not see.
//   - Each message with a method: Methods[method] is required; for
//     tools/call also Tools[params.name]; a tool not in Tools is refused
//     unless AllowUnknownTools is set. Notifications (no id) are checked the
//     same way as requests; responses (no method) need nothing.
//   - A batch (MCP 2025-03-26) passes only if every message in it does.
//     Otherwise the whole batch is refused with one 403 whose scope= names
//     the union of the scopes all its messages need, so that one step-up
//     makes the batch succeed; a refused unknown tool makes it a plain 403
//     (audit.ReasonUnknownTool) instead.
//   - A JSON-RPC error answer (403 unknown_tool, 400 invalid_request) names
//     the id of the request it refuses, as the request wrote it; for a
//     batch, it is an array with one error per request in it (JSON-RPC 2.0
//     §5, §6). The id is null when the request had none, or when it could
//     not be read alike by every decoder (not a number or a UTF-8 string, a
//     case-variant "id", a body refused before its messages
//     were read: not JSON, ambiguous, too large, or a refused method).
//   - Scopes sufficient, but a called tool's ToolAuthentication not met
//     (RFC 9470): 401 insufficient_user_authentication with acr_values and
//     max_age.
//
// MCP never wraps the ResponseWriter unless FilterToolsList is on and the
// request contains a tools/list, so SSE streams and flushing are untouched.
type MCP struct {
	toolReq     map[string][]string // Methods["tools/call"] ∪ Tools[name]
	callReq     []string            // Methods["tools/call"], for allowed unknown tools
	methods     map[string][]string
	denyUnknown bool
	max         int64
	implies     func(granted, required string) bool
	filter      bool
	onError     func(http.ResponseWriter, *http.Request, error)
	toolAuth    map[string]*AuthRequirement
	now         func() time.Time
	onDecision  audit.Func
}

// NewMCP checks cfg and returns the [MCP] it describes. It refuses an empty
// Tools without AllowUnknownTools, empty or invalid tool and method names, scopes that are not RFC 6749 §3.3 scope
// tokens, a negative MaxBodyBytes, and a ToolAuthentication entry for a tool
// missing from Tools or with an invalid requirement, with an error wrapping
// [rsguard.ErrInvalidConfig]. The maps are copied: later changes to them
// have no effect.
func NewMCP(cfg MCPConfig) (*MCP, error) {
	m := &MCP{
		toolReq:     make(map[string][]string, len(cfg.Tools)),
		methods:     make(map[string][]string, len(cfg.Methods)),
		denyUnknown: !cfg.AllowUnknownTools,
		max:         cfg.MaxBodyBytes,
		implies:     cfg.Implies,
		filter:      cfg.FilterToolsList,
		onError:     cfg.ErrorHandler,
		onDecision:  cfg.OnDecision,
	}
	switch {
	case len(cfg.Tools) == 0 && !cfg.AllowUnknownTools:
		return nil, fmt.Errorf("%w: MCPConfig.Tools is empty, so every tools/call would be refused: "+
			"map each tool to the scopes it needs (nil for none), or set AllowUnknownTools to check only Methods", rsguard.ErrInvalidConfig)
	case m.max < 0:
		return nil, fmt.Errorf("%w: MCPConfig.MaxBodyBytes is negative", rsguard.ErrInvalidConfig)
	case m.max == 0:
		m.max = defaultMaxBodyBytes
	}
	for _, method := range sortedKeys(cfg.Methods) {
		if !validName(method) {
			return nil, fmt.Errorf("%w: MCPConfig.Methods: invalid method name %q", rsguard.ErrInvalidConfig, method)
		}
		if err := validScopes(cfg.Methods[method]); err != nil {
			return nil, fmt.Errorf("%w: MCPConfig.Methods[%q]: %w", rsguard.ErrInvalidConfig, method, err)
		}
		m.methods[method] = dedup(cfg.Methods[method])
	}
	m.callReq = m.methods[methodToolsCall]
	for _, tool := range sortedKeys(cfg.Tools) {
		if !validName(tool) {
			return nil, fmt.Errorf("%w: MCPConfig.Tools: invalid tool name %q", rsguard.ErrInvalidConfig, tool)
		}
		if err := validScopes(cfg.Tools[tool]); err != nil {
			return nil, fmt.Errorf("%w: MCPConfig.Tools[%q]: %w", rsguard.ErrInvalidConfig, tool, err)
		}
		m.toolReq[tool] = dedup(append(append([]string(nil), m.callReq...), cfg.Tools[tool]...))
	}
	if m.onError == nil {
		m.onError = WriteError
	}
	for tool, a := range cfg.ToolAuthentication {
		if _, ok := cfg.Tools[tool]; !ok {
			return nil, fmt.Errorf("%w: MCPConfig.ToolAuthentication[%q]: the tool is not in Tools", rsguard.ErrInvalidConfig, tool)
		}
		a.ACRValues = append([]string(nil), a.ACRValues...)
		if err := a.validate(); err != nil {
			return nil, fmt.Errorf("%w: MCPConfig.ToolAuthentication[%q]: %w", rsguard.ErrInvalidConfig, tool, err)
		}
		if m.toolAuth == nil {
			m.toolAuth = make(map[string]*AuthRequirement)
		}
		m.toolAuth[tool] = &a
	}
	m.now = cfg.Now
	if m.now == nil {
		m.now = time.Now
	}
	return m, nil
}

const (
	methodToolsCall = "tools/call"
	methodToolsList = "tools/list"
)

// Check decides r as described on [MCP]: nil if the MCP server may see it,
// else an error for [WriteError]: an [*Error] (match it with [errors.As]),
// or one wrapping [audit.ReasonInvalidRequest], [audit.ReasonBodyTooLarge]
// or [audit.ReasonMethodNotAllowed] (see the package documentation). For a
// POST it reads the body and replaces r.Body with one that yields the
// identical bytes (and still closes the original), even when it returns an
// error; r.ContentLength keeps matching the body. It reads no other method's
// body.
func (m *MCP) Check(r *http.Request) error {
	_, err := m.check(r, false, nil)
	return err
}

// Handler returns next guarded by m: a request that fails [MCP.Check] is
// answered by the ErrorHandler (by default [WriteError]) before next sees
// it. Mount it on the MCP endpoint only, after the [rsguard.Guard]; it is an
// ordinary func(http.Handler) http.Handler middleware.
func (m *MCP) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var start time.Time
		var d *audit.Decision
		if m.onDecision != nil {
			start, d = time.Now(), new(audit.Decision)
		}
		ids, err := m.check(r, m.filter, d)
		p, _ := rsguard.FromContext(r.Context())
		if d != nil {
			ad := authorizeDecision(r, p, start, err)
			ad.MCPMethod, ad.Tool, ad.Required = d.MCPMethod, d.Tool, slices.Clone(d.Required)
			ad.Latency = time.Since(start)
			m.onDecision(r.Context(), ad)
		}
		if err != nil {
			m.onError(w, r, err)
			return
		}
		if len(ids) == 0 {
			next.ServeHTTP(w, r)
			return
		}
		f := &listFilter{w: w, m: m, p: p, ids: ids}
		next.ServeHTTP(f, r)
		f.finish()
	})
}

// AllowsTool reports whether the caller p may call the tool name: the scope
// decision [MCP.Check] makes for a tools/call of it (a ToolAuthentication
// step-up requirement is not considered). A nil principal may call nothing.
// Use it to filter a tools/list answer in SDK code, for example in a go-sdk
// receiving middleware on "tools/list".
func (m *MCP) AllowsTool(p *rsguard.Principal, name string) bool {
	if p == nil {
		return false
	}
	req, ok := m.toolReq[name]
	if !ok {
		if m.denyUnknown {
			return false
		}
		req = m.callReq
	}
	return satisfiesAll(p, req, m.implies)
}

// check is Check; with wantIDs it also returns the ids of the tools/list
// requests r carries, for the tools/list filter. A non-nil d receives the
// MCP method, tool and required scopes.
func (m *MCP) check(r *http.Request, wantIDs bool, d *audit.Decision) ([][]byte, error) {
	p, ok := rsguard.FromContext(r.Context())
	if !ok {
		return nil, &Error{Err: audit.ReasonNoPrincipal}
	}
	switch r.Method { // exactly, RFC 9110 §9.1
	case http.MethodPost:
	case http.MethodGet, http.MethodDelete, http.MethodOptions:
		return nil, nil
	default:
		return nil, fmt.Errorf("%w: %q", audit.ReasonMethodNotAllowed, check.Text(r.Method))
	}
	body, err := readBody(r, m.max)
	if err != nil {
		return nil, err
	}
	var one [1]rpcMessage
	msgs, err := parseMessages(body, one[:0])
	if err != nil {
		return nil, err
	}
	ids, err := m.decide(p, msgs, wantIDs)
	if d != nil {
		m.describe(d, p, msgs, err != nil)
	}
	if err != nil && (errors.Is(err, audit.ReasonUnknownTool) || errors.Is(err, audit.ReasonInvalidRequest)) {
		err = withRequestIDs(err, body, msgs) // their answer is a JSON-RPC error
	}
	return ids, err
}

// need is what one message requires.
type need struct {
	scopes []string
	auth   *AuthRequirement // the tool's step-up requirement, if any
	denied bool             // an unknown tool, refused
	op     string           // for messages; set only when asked
	isList bool
}

// needOf returns what msg needs; with describe it names the operation.
func (m *MCP) needOf(msg *rpcMessage, describe bool) (need, error) {
	if msg.method == nil {
		return need{}, nil
	}
	method := unquote(msg.method)
	var n need
	if string(method) == methodToolsCall {
		if msg.nameErr != nil {
			return n, msg.nameErr
		}
		name := unquote(msg.name)
		req, ok := m.toolReq[string(name)]
		switch {
		case ok:
			n.scopes = req
			n.auth = m.toolAuth[string(name)]
			if describe {
				n.op = "tool " + string(name) // a configured name, not the client's text
			}
		case m.denyUnknown:
			n.denied = true
			if describe {
				n.op = "unknown tool"
			}
		default:
			n.scopes = m.callReq
			if describe {
				n.op = "unknown tool"
			}
		}
		return n, nil
	}
	if req, ok := m.methods[string(method)]; ok {
		n.scopes = req
		if describe {
			n.op = "method " + string(method)
		}
	}
	n.isList = string(method) == methodToolsList
	return n, nil
}

// decide checks every message of a request; the first pass allocates
// nothing, a failure is then described in a second pass.
func (m *MCP) decide(p *rsguard.Principal, msgs []rpcMessage, wantIDs bool) ([][]byte, error) {
	pass := true
	var ids [][]byte
	var stepUp *AuthRequirement // the first unmet step-up requirement
	for i := range msgs {
		n, err := m.needOf(&msgs[i], false)
		if err != nil {
			return nil, err
		}
		if n.denied || !satisfiesAll(p, n.scopes, m.implies) {
			pass = false
		}
		if n.auth != nil && stepUp == nil && !n.auth.met(p, m.now()) {
			stepUp = n.auth
		}
		if wantIDs && n.isList && msgs[i].id != nil {
			ids = append(ids, msgs[i].id)
		}
	}
	if pass && stepUp != nil {
		// Scopes suffice; the user's authentication does not (RFC 9470).
		return nil, stepUpError(p, stepUp, "")
	}
	if pass {
		return ids, nil
	}
	var union []string
	op := "batch"
	denied := false
	for i := range msgs {
		n, _ := m.needOf(&msgs[i], true)
		denied = denied || n.denied
		for _, s := range n.scopes {
			if !slices.Contains(union, s) {
				union = append(union, s)
			}
		}
		if len(msgs) == 1 {
			op = n.op
		}
	}
	if denied {
		return nil, &Error{Err: audit.ReasonUnknownTool, Granted: granted(p), Operation: op}
	}
	return nil, insufficient(p, union, m.implies, op)
}

// readBody reads r's body up to limit bytes and puts back a body that yields
// the same bytes: exactly those read on success, those read followed by the
// unread rest when the body is over the bound or failed.
func readBody(r *http.Request, limit int64) ([]byte, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	if r.ContentLength > limit {
		return nil, fmt.Errorf("%w: Content-Length %d exceeds %d", audit.ReasonBodyTooLarge, r.ContentLength, limit)
	}
	size := int64(512)
	if r.ContentLength >= 0 {
		size = r.ContentLength + 1 // +1: room to see EOF without growing
	}
	buf := make([]byte, 0, size)
	orig := r.Body
	var err error
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		room := buf[len(buf):cap(buf)]
		if allowed := limit + 1 - int64(len(buf)); int64(len(room)) > allowed {
			room = room[:allowed]
		}
		var n int
		n, err = orig.Read(room)
		buf = buf[:len(buf)+n]
		if int64(len(buf)) > limit {
			err = fmt.Errorf("%w: more than %d bytes", audit.ReasonBodyTooLarge, limit)
			break
		}
		if err != nil {
			break
		}
	}
	if err == io.EOF {
		rb := &replayBody{orig: orig}
		rb.Reset(buf)
		r.Body = rb
		if r.ContentLength >= 0 {
			r.ContentLength = int64(len(buf))
		}
		return buf, nil
	}
	r.Body = &partialBody{Reader: io.MultiReader(bytes.NewReader(buf), orig), orig: orig}
	var tooLarge *http.MaxBytesError
	switch {
	case errors.Is(err, audit.ReasonBodyTooLarge):
		return nil, err
	case errors.As(err, &tooLarge):
		return nil, fmt.Errorf("%w: %w", audit.ReasonBodyTooLarge, err)
	default:
		return nil, fmt.Errorf("%w: reading body: %w", audit.ReasonInvalidRequest, err)
	}
}

// replayBody is a request body restored from memory; Close closes the
// original.
type replayBody struct {
	bytes.Reader
	orig io.ReadCloser
}

func (b *replayBody) Close() error { return b.orig.Close() }

// partialBody is what was read followed by the rest of the original.
type partialBody struct {
	io.Reader
	orig io.ReadCloser
}

func (b *partialBody) Close() error { return b.orig.Close() }

func sortedKeys(m map[string][]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
