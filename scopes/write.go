package scopes

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/rsguard/rsguard/internal/reqctx"
	"github.com/rsguard/rsguard/rsmeta"
)

// defaultRealm is the realm of a 401 challenge that has no resource_metadata
// to carry: RFC 6750 §3 wants at least one auth-param.
const defaultRealm = "rsguard"

// WriteError answers r with the response err calls for. It is the one place
// that maps this package's errors to HTTP. Its challenges carry the realm
// and resource_metadata (RFC 9728 §5.1) of the [rsguard.Guard] that
// authenticated r, as the Guard's own 401 did, so that the client finds the
// same protected resource metadata:
//
//   - [ErrNoPrincipal] (in an [*Error]): 401 with a Bearer challenge that carries
//     no error code (RFC 6750 §3.1: the request was not authenticated), plus
//     scope= when the required scopes are known. Without a Guard in front
//     (a misordered chain) there is no resource_metadata URL to send, and the
//     challenge carries realm="rsguard" instead.
//   - [ErrInsufficientScope]: 403 with
//     WWW-Authenticate: Bearer resource_metadata="…", scope="…",
//     error="insufficient_scope", error_description="…" (RFC 6750 §3.1, MCP
//     2025-11-25 step-up authorization). scope names every scope the
//     operation needs, granted ones included, so that the client can
//     re-authorize for exactly that in one step; for [RequireAny] the first
//     alternative. It never names offline_access.
//   - [ErrInsufficientUserAuthentication]: 401 with
//     WWW-Authenticate: Bearer resource_metadata="…",
//     error="insufficient_user_authentication", error_description="…",
//     acr_values="…", max_age="…" (RFC 9470 §3): the client must have the
//     user authenticate again, as [AuthRequirement] says.
//   - [ErrNotPermitted]: 403 without a challenge and a JSON-RPC error body
//     (code -32000): no token could do better.
//   - [ErrMalformed]: 400 with a JSON-RPC error body, -32700 (parse error)
//     or -32600 (invalid request), as MCP's Streamable HTTP transport
//     prescribes for input the server cannot accept.
//   - [ErrBodyTooLarge]: 413 with a JSON-RPC error body (-32600).
//   - [ErrMethodNotAllowed]: 405 with Allow: GET, POST, DELETE, OPTIONS
//     (RFC 9110 §15.5.6) and a JSON-RPC error body (-32000).
//   - [ErrInvalidScope] and any other error: 500, with no detail.
//
// A JSON-RPC error body names the id of the request refused, when
// [MCP.Check] read one, else null; for a refused batch it is an array of one
// error per request (JSON-RPC 2.0 §5, §6). Challenges are written by
// [rsmeta.WriteChallenge]. Every error response carries
// Cache-Control: no-store. The client-facing text is chosen here, never
// err's message. A nil err writes nothing.
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	if err == nil {
		return
	}
	var se *Error
	switch {
	case errors.As(err, &se) && errors.Is(se.Err, ErrNoPrincipal):
		c := guardChallenge(r)
		c.Scope = se.challengeScope()
		if c.ResourceMetadata == "" && c.Realm == "" {
			c.Realm = defaultRealm
		}
		rsmeta.WriteChallenge(w, http.StatusUnauthorized, c)
	case se != nil && errors.Is(se.Err, ErrInsufficientScope):
		c := guardChallenge(r)
		c.Scope = se.challengeScope()
		c.Error, c.ErrorDescription = rsmeta.ErrorInsufficientScope, describe(se)
		rsmeta.WriteChallenge(w, http.StatusForbidden, c)
	case se != nil && errors.Is(se.Err, ErrInsufficientUserAuthentication) && se.Authentication != nil:
		c := guardChallenge(r)
		c.Error = "insufficient_user_authentication"
		c.ErrorDescription = "a stronger or more recent authentication is required"
		c.Params = se.Authentication.params()
		rsmeta.WriteChallenge(w, http.StatusUnauthorized, c)
	case se != nil && errors.Is(se.Err, ErrNotPermitted):
		writeRPCError(w, err, http.StatusForbidden, rpcServerError, "not permitted")
	case errors.Is(err, ErrMethodNotAllowed):
		w.Header().Set("Allow", allowedMethods)
		writeRPCError(w, err, http.StatusMethodNotAllowed, rpcServerError, "method not allowed")
	case errors.Is(err, ErrBodyTooLarge):
		writeRPCError(w, err, http.StatusRequestEntityTooLarge, rpcInvalidRequest, "request body too large")
	case errors.Is(err, errNotJSON):
		writeRPCError(w, err, http.StatusBadRequest, rpcParseError, "parse error")
	case errors.Is(err, ErrMalformed):
		writeRPCError(w, err, http.StatusBadRequest, rpcInvalidRequest, "invalid request")
	default:
		h := w.Header()
		h.Set("Cache-Control", "no-store")
		h.Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte(`{"error":"server_error"}` + "\n"))
	}
}

// guardChallenge returns a Bearer challenge with the realm and
// resource_metadata of the Guard that authenticated r, and nothing else
// (not the Guard's scope: a scope check names its own); the zero challenge
// when no Guard did.
func guardChallenge(r *http.Request) rsmeta.Challenge {
	if s := reqctx.From(r.Context()); s != nil && s.Challenge != nil {
		return rsmeta.Challenge{Realm: s.Challenge.Realm, ResourceMetadata: s.Challenge.ResourceMetadata}
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
