package scopes

import (
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/rsguard/rsguard/audit"
	"github.com/rsguard/rsguard/internal/reqctx"
	"github.com/rsguard/rsguard/rsmeta"
)

// defaultRealm is the realm of a 401 challenge that has no resource_metadata
// to carry: RFC 6750 §3 wants at least one auth-param.
const defaultRealm = "rsguard"

// WriteError answers r with the response err calls for, by err's class
// (the first [audit.Reason] in its chain), as the package documentation
// lists under Refusals: a Bearer challenge for no_principal,
// insufficient_scope and insufficient_user_authentication, a JSON-RPC error
// body for the refusals of [MCP] (unknown_tool, invalid_request,
// body_too_large, method_not_allowed), and 500 with no detail for anything
// else. It is the one place that maps this package's errors to HTTP.
//
// Its challenges carry the realm and resource_metadata (RFC 9728 §5.1) of
// the [rsguard.Guard] that authenticated r, as the Guard's own 401 did, so
// that the client finds the same protected resource metadata; without a
// Guard in front (a misordered chain) there is no resource_metadata URL to
// send, and a 401 challenge carries realm="rsguard" instead. Challenges are
// written by [rsmeta.WriteChallenge].
//
// A JSON-RPC error body names the id of the request refused, when
// [MCP.Check] read one, else null; for a refused batch it is an array of one
// error per request (JSON-RPC 2.0 §5, §6). Every error response carries
// Cache-Control: no-store. The client-facing text is chosen here, never
// err's message. A nil err writes nothing.
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	if err == nil {
		return
	}
	reason, status, se := classify(err)
	switch reason {
	case audit.ReasonNoPrincipal:
		c := guardChallenge(r)
		c.Scope = se.challengeScope()
		if c.ResourceMetadata == "" && c.Realm == "" {
			c.Realm = defaultRealm
		}
		rsmeta.WriteChallenge(w, status, c)
	case audit.ReasonInsufficientScope:
		c := guardChallenge(r)
		c.Scope = se.challengeScope()
		c.Error, c.ErrorDescription = rsmeta.ErrorInsufficientScope, describe(se)
		rsmeta.WriteChallenge(w, status, c)
	case audit.ReasonInsufficientUserAuthentication:
		c := guardChallenge(r)
		c.Error = "insufficient_user_authentication"
		c.ErrorDescription = "a stronger or more recent authentication is required"
		c.Params = append(c.Params, se.Authentication.params()...)
		rsmeta.WriteChallenge(w, status, c)
	case audit.ReasonUnknownTool:
		writeRPCError(w, err, status, rpcServerError, "not permitted")
	case audit.ReasonMethodNotAllowed:
		w.Header().Set("Allow", allowedMethods)
		writeRPCError(w, err, status, rpcServerError, "method not allowed")
	case audit.ReasonBodyTooLarge:
		writeRPCError(w, err, status, rpcInvalidRequest, "request body too large")
	case audit.ReasonInvalidRequest:
		if errors.Is(err, errNotJSON) {
			writeRPCError(w, err, status, rpcParseError, "parse error")
		} else {
			writeRPCError(w, err, status, rpcInvalidRequest, "invalid request")
		}
	default:
		h := w.Header()
		h.Set("Cache-Control", "no-store")
		h.Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte(`{"error":"server_error"}` + "\n"))
	}
}

// guardChallenge returns the challenge of the Guard that authenticated r —
// its scheme (Bearer, or DPoP for a DPoP request, with its algs), realm and
// resource_metadata — and nothing else (not the Guard's scope: a scope
// check names its own); the zero challenge (Bearer) when no Guard did.
func guardChallenge(r *http.Request) rsmeta.Challenge {
	if s := reqctx.From(r.Context()); s != nil && s.Challenge != nil {
		return rsmeta.Challenge{Scheme: s.Challenge.Scheme, Realm: s.Challenge.Realm, ResourceMetadata: s.Challenge.ResourceMetadata,
			Params: slices.Clone(s.Challenge.Params)}
	}
	return rsmeta.Challenge{}
}

// describe is the client-facing error_description of an insufficient-scope
// error. It stays within the RFC 6750 §3 character set for configured names
// made of it (rsmeta sanitises the rest). Like the scope auth-param, it
// never names offline_access.
func describe(e *Error) string {
	missing := make([]string, 0, len(e.Missing))
	for _, s := range e.Missing {
		if s != offlineAccess {
			missing = append(missing, s)
		}
	}
	var b strings.Builder
	switch {
	case len(missing) == 0:
		b.WriteString("the access token lacks a required scope")
	case e.Any:
		b.WriteString("the access token needs one of the scopes ")
		b.WriteString(strings.Join(missing, " "))
	default:
		b.WriteString("the access token lacks scope")
		if len(missing) > 1 {
			b.WriteString("s")
		}
		b.WriteString(" ")
		b.WriteString(strings.Join(missing, " "))
	}
	if e.Operation != "" {
		b.WriteString(" required for ")
		b.WriteString(e.Operation)
	}
	return b.String()
}

// JSON-RPC 2.0 error codes (§5.1).
const (
	rpcParseError     = -32700
	rpcInvalidRequest = -32600
	rpcServerError    = -32000
)

// writeRPCError writes the JSON-RPC error response to the request err
// refuses, the body MCP Streamable HTTP allows on an HTTP error status: with
// the request's id when err carries it ([rpcRefusal]), an array of one error
// per request for a batch, else one error with a null id. message must be
// plain ASCII without characters that need JSON escaping.
func writeRPCError(w http.ResponseWriter, err error, status, code int, message string) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Type", "application/json")
	w.WriteHeader(status)
	one := func(b, id []byte) []byte {
		b = append(b, `{"jsonrpc":"2.0","id":`...)
		b = append(b, id...)
		b = append(b, `,"error":{"code":`...)
		b = strconv.AppendInt(b, int64(code), 10)
		b = append(b, `,"message":"`...)
		b = append(b, message...)
		return append(b, `"}}`...)
	}
	b := make([]byte, 0, 96)
	var ref *rpcRefusal
	switch {
	case !errors.As(err, &ref):
		b = one(b, []byte("null"))
	case ref.batch:
		b = append(b, '[')
		for i, id := range ref.ids {
			if i > 0 {
				b = append(b, ',')
			}
			b = one(b, id)
		}
		b = append(b, ']')
	default:
		b = one(b, ref.ids[0])
	}
	_, _ = w.Write(append(b, '\n'))
}
