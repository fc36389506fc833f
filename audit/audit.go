package audit

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"time"
)

// Stage is the step of request handling that made a [Decision].
type Stage string

// The stages of a request's decisions: first the authenticating middleware
// (the rsguard middleware, whatever the credential), then the scope checks
// of package scopes.
const (
	// StageAuthenticate: a credential was looked for and checked.
	StageAuthenticate Stage = "authenticate"
	// StageAuthorize: the grant was checked against what the route or MCP
	// call requires.
	StageAuthorize Stage = "authorize"
)

// Reason is the stable code of why a [Decision] went the way it did: a
// short snake_case word fit for a metrics label, an alert rule or an audit
// query. The codes are a fixed, documented list (see [Reasons]); a code is
// never renamed or reused for another cause, and new ones may be added.
//
// A Reason is also the error class of a refusal: every refusal rsguard's
// packages return (an *rsguard.Error) matches its reason with [errors.Is],
// whatever the credential kind:
//
//	if errors.Is(err, audit.ReasonExpired) { … } // a JWT or an API key
//
// There are no other sentinel errors for refusals; an authenticator of a
// new credential kind refuses with these codes too.
type Reason string

// Error returns the code itself, so that a Reason prints as its code
// (with %v too) and can be wrapped and matched as an error.
func (r Reason) Error() string { return string(r) }

// The reason codes. Each names the HTTP status the default response has.
const (
	// ReasonOK: allowed.
	ReasonOK Reason = "ok"

	// ReasonNoCredential: the request carries no credential (401, no error
	// code, RFC 6750 §3.1).
	ReasonNoCredential Reason = "no_credential"
	// ReasonInvalidRequest: a malformed request (400 invalid_request): bad
	// Authorization header, a token in the query, two credentials; at the
	// authorize stage, a body that is not a JSON-RPC message or batch, or
	// more than one Mcp-Session-Id header.
	ReasonInvalidRequest Reason = "invalid_request"
	// ReasonMalformed: the credential is not well formed: not a JWS
	// compact serialisation, encrypted, too large; an API key of the wrong
	// shape or checksum (401 invalid_token).
	ReasonMalformed Reason = "malformed"
	// ReasonBadAlgorithm: the JWT "alg" is not allowed or does not match
	// its key (401).
	ReasonBadAlgorithm Reason = "bad_algorithm"
	// ReasonBadTokenType: the JWT "typ" is not an access-token type,
	// RFC 9068 §4 (401).
	ReasonBadTokenType Reason = "bad_token_type"
	// ReasonCriticalHeader: the JWT lists "crit" extensions, RFC 7515
	// §4.1.11 (401).
	ReasonCriticalHeader Reason = "critical_header"
	// ReasonUnknownKey: the JWT's signing key is not in its issuer's key
	// set (401).
	ReasonUnknownKey Reason = "unknown_key"
	// ReasonBadSignature: the JWT's signature does not verify (401).
	ReasonBadSignature Reason = "bad_signature"
	// ReasonBadIssuer: the JWT's issuer is not trusted, or its tenant is
	// not served by that issuer (401).
	ReasonBadIssuer Reason = "bad_issuer"
	// ReasonBadAudience: the JWT was not issued for this resource,
	// RFC 8707 (401).
	ReasonBadAudience Reason = "bad_audience"
	// ReasonExpired: the JWT or API key has expired (401).
	ReasonExpired Reason = "expired"
	// ReasonNotYetValid: the JWT's "nbf", "iat" or "auth_time" is in the
	// future (401).
	ReasonNotYetValid Reason = "not_yet_valid"
	// ReasonBadClaims: a required JWT claim is missing or mistyped (401).
	ReasonBadClaims Reason = "bad_claims"
	// ReasonKeysUnavailable: the issuer's keys could never be loaded (503).
	ReasonKeysUnavailable Reason = "keys_unavailable"
	// ReasonRevoked: the credential was revoked: a JWT found by the
	// validator's revocation list, or an API key whose record is marked
	// revoked (401).
	ReasonRevoked Reason = "revoked"
	// ReasonSenderConstrained: a sender-constrained token (one with a
	// "cnf" claim: DPoP, mTLS) presented as a plain bearer token, without
	// its proof of possession; a "cnf" binding rsguard cannot check; or,
	// with a DPoP proof, a token not bound to the proof's key (401).
	ReasonSenderConstrained Reason = "sender_constrained"
	// ReasonRevocationUnavailable: the revocation store failed and the
	// validator fails closed (503).
	ReasonRevocationUnavailable Reason = "revocation_unavailable"
	// ReasonInactive: the authorization server's introspection answered
	// that the token is not active (RFC 7662 §2.2): unknown, expired,
	// revoked, or issued to another client (401).
	ReasonInactive Reason = "inactive"
	// ReasonIntrospectionUnavailable: the token could not be introspected:
	// the authorization server is down, slow or answered nonsense, or the
	// rate limit on introspection requests is spent (503).
	ReasonIntrospectionUnavailable Reason = "introspection_unavailable"
	// ReasonBadDPoPProof: the DPoP proof (RFC 9449 §4.3) is missing,
	// malformed, signed badly, or made for another method, URL, token or
	// time (401 invalid_dpop_proof).
	ReasonBadDPoPProof Reason = "bad_dpop_proof"
	// ReasonDPoPReplay: a DPoP proof was presented a second time: its
	// "jti" was seen within the proof window (401 invalid_dpop_proof).
	ReasonDPoPReplay Reason = "dpop_replay"
	// ReasonUseDPoPNonce: the DPoP proof lacks the resource server's
	// current nonce (RFC 9449 §9; 401 use_dpop_nonce, with a DPoP-Nonce
	// header).
	ReasonUseDPoPNonce Reason = "use_dpop_nonce"
	// ReasonDPoPRequired: a bearer token where the resource accepts only
	// DPoP-bound tokens (401 with a DPoP challenge).
	ReasonDPoPRequired Reason = "dpop_required"
	// ReasonRejected: refused by the application's own check
	// (validate.Config.Check), or for a reason without a code of its own
	// (401).
	ReasonRejected Reason = "rejected"
	// ReasonUnknownAPIKey: a well-formed API key that no record has (401).
	ReasonUnknownAPIKey Reason = "unknown_api_key"
	// ReasonAPIKeyBlocked: API keys are blocked for the key's client by the
	// migration policy (401).
	ReasonAPIKeyBlocked Reason = "api_key_blocked"
	// ReasonAPIKeyRetired: the key's cutoff date has passed (401).
	ReasonAPIKeyRetired Reason = "api_key_retired"
	// ReasonAPIKeyAsBearer: an API key sent as a bearer token while that
	// is not accepted (401).
	ReasonAPIKeyAsBearer Reason = "api_key_as_bearer"
	// ReasonBearerNotAccepted: a bearer token sent where only API keys are
	// accepted (401).
	ReasonBearerNotAccepted Reason = "bearer_not_accepted"
	// ReasonStoreUnavailable: the API key store, or the MCP session store,
	// failed (503).
	ReasonStoreUnavailable Reason = "store_unavailable"

	// ReasonNoPrincipal: a scope check ran without an authenticated
	// principal: the middlewares are misordered (401).
	ReasonNoPrincipal Reason = "no_principal"
	// ReasonInsufficientScope: the principal lacks required scopes (403
	// insufficient_scope).
	ReasonInsufficientScope Reason = "insufficient_scope"
	// ReasonInsufficientUserAuthentication: the user's authentication is
	// not strong or recent enough, RFC 9470 (401).
	ReasonInsufficientUserAuthentication Reason = "insufficient_user_authentication"
	// ReasonUnknownTool: an MCP tools/call of a tool missing from
	// scopes.MCPConfig.Tools, denied by policy (403, without an insufficient_scope challenge).
	ReasonUnknownTool Reason = "unknown_tool"
	// ReasonBodyTooLarge: the MCP request body exceeds MaxBodyBytes (413).
	ReasonBodyTooLarge Reason = "body_too_large"
	// ReasonMethodNotAllowed: a request to the MCP endpoint whose method is
	// not exactly POST, GET, DELETE or OPTIONS (405).
	ReasonMethodNotAllowed Reason = "method_not_allowed"
	// ReasonUnknownSession: an MCP request names a session (its
	// Mcp-Session-Id header) that is not bound, has ended or expired, or is
	// not a valid session id (404: the client starts a new session).
	ReasonUnknownSession Reason = "unknown_session"
	// ReasonSessionNotOwned: an MCP request names a session bound to
	// another principal (404, answered exactly as [ReasonUnknownSession] so
	// that session ids cannot be probed); at the binding of a new session,
	// a session id the server reused (500).
	ReasonSessionNotOwned Reason = "session_not_owned"
	// ReasonTooManySessions: the session store is at capacity and a new
	// MCP session cannot be bound (503).
	ReasonTooManySessions Reason = "too_many_sessions"
	// ReasonInternalError: a configuration or programming error, such as
	// an invalid scope in handler code (500).
	ReasonInternalError Reason = "internal_error"
)

var allReasons = [...]Reason{
	ReasonOK,
	ReasonNoCredential, ReasonInvalidRequest, ReasonMalformed, ReasonBadAlgorithm, ReasonBadTokenType,
	ReasonCriticalHeader, ReasonUnknownKey, ReasonBadSignature, ReasonBadIssuer, ReasonBadAudience,
	ReasonExpired, ReasonNotYetValid, ReasonBadClaims, ReasonKeysUnavailable, ReasonRevoked,
	ReasonSenderConstrained, ReasonRevocationUnavailable, ReasonInactive, ReasonIntrospectionUnavailable,
	ReasonBadDPoPProof, ReasonDPoPReplay, ReasonUseDPoPNonce, ReasonDPoPRequired, ReasonRejected, ReasonUnknownAPIKey, ReasonAPIKeyBlocked,
	ReasonAPIKeyRetired, ReasonAPIKeyAsBearer, ReasonBearerNotAccepted, ReasonStoreUnavailable,
	ReasonNoPrincipal, ReasonInsufficientScope, ReasonInsufficientUserAuthentication, ReasonUnknownTool,
	ReasonBodyTooLarge, ReasonMethodNotAllowed, ReasonUnknownSession, ReasonSessionNotOwned,
	ReasonTooManySessions, ReasonInternalError,
}

// Reasons returns every reason code, in the order documented, in a new
// slice: for example to create a metric's series at zero before the first
// request.
func Reasons() []Reason { return append([]Reason(nil), allReasons[:]...) }

// Decision is one allow-or-deny decision about one request, made by an
// authenticating middleware (rsguard's, for any credential kind) or a scope
// check (scopes.Route, scopes.MCP): what an audit trail records and what metrics count. It is delivered
// to a [Func] configured as OnDecision.
//
// A Decision never holds a credential: no token, no API key, no hash or
// signature of one. Identity fields come from verified credentials only:
// they are empty when the credential was refused before it could be
// verified (an expired or forged token says nothing trustworthy about who
// sent it), and filled when it was refused after (revoked, rejected by the
// application, a blocked API key).
//
// Fields marked "request text" are copied from the request, bounded to
// 256 bytes of valid UTF-8, and otherwise as the client sent
// them: escape them when writing them out (log/slog's handlers do).
type Decision struct {
	// Time is when the deciding middleware took up the request: the real
	// clock (time.Now), even when the middleware's Config.Now is set for
	// token and step-up checks.
	Time time.Time

	// Stage is the step that decided: authenticate or authorize.
	Stage Stage

	// Allowed reports whether the request was let through to the next
	// handler.
	Allowed bool

	// Reason is the stable code of the outcome: [ReasonOK] when allowed.
	Reason Reason

	// Status is the HTTP status of the refusal as the default error
	// response answers it (401, 403, 400, 413, 503, …); 0 when allowed.
	Status int

	// Credential is the kind of credential presented; empty when none was.
	Credential Credential

	// Issuer is the JWT's "iss" (at the authorize stage, from
	// the principal's); empty for API keys.
	Issuer string

	// Subject is the stable principal, as rsguard.Principal.Subject: "user:…"
	// or "client:…" for a JWT (validate.Claims.Principal), "apikey:…" for an
	// API key.
	Subject string

	// ClientID is the OAuth client, or the client an API key was issued to.
	ClientID string

	// Tenant is the credential's tenant, when the authenticating middleware
	// extracts one.
	Tenant string

	// TokenID identifies the credential without revealing it: a JWT's "jti",
	// an API key's id (the public part of the key, never its secret). At
	// the authorize stage, taken from the principal.
	TokenID string

	// Method and Path are the request's HTTP method and URL path (request
	// text). The query is never included.
	Method, Path string

	// MCPSession is a tag of the request's Mcp-Session-Id header (MCP
	// Streamable HTTP), the key of a per-session audit trail: the base64url
	// form of the first 12 bytes of the id's SHA-256 (16 characters), never
	// the id itself, which a client presents to act in its session. Empty
	// when the header is absent or not 1–256 visible ASCII characters as
	// MCP requires.
	MCPSession string

	// MCPMethod and Tool are, at the authorize stage of an MCP request,
	// the JSON-RPC method and, for tools/call, the tool name (request text)
	// of its message; for a batch, of its first refused message, or its
	// first message when allowed.
	MCPMethod, Tool string

	// Required are the scopes the operation needs, as configured; for an
	// MCP batch, the union over its messages. Authorize stage only.
	Required []string

	// Granted are the scopes the credential carries.
	Granted []string

	// Latency is the time the deciding middleware spent on the request,
	// excluding the next handler.
	Latency time.Duration
}

// Func receives decisions: the OnDecision hook of rsguard.Config,
// scopes.RouteConfig and scopes.MCPConfig. It is called synchronously,
// once per decision, on the request's goroutine, after the decision and
// before the response is written or the next handler runs; ctx is the
// request's context. Keep it fast (hand slow work to a queue) and safe for
// concurrent use. The slices in d are shared with the request: do not
// modify them. A nil Func is never called, and costs nothing.
type Func func(ctx context.Context, d Decision)

// Multi returns a Func that calls each non-nil fn in turn
// (say, [Slog] and [Count]), or nil if there is none.
func Multi(fns ...Func) Func {
	var list []Func
	for _, fn := range fns {
		if fn != nil {
			list = append(list, fn)
		}
	}
	switch len(list) {
	case 0:
		return nil
	case 1:
		return list[0]
	}
	return func(ctx context.Context, d Decision) {
		for _, fn := range list {
			fn(ctx, d)
		}
	}
}

// Slog returns a Func that writes each decision to logger
// as one record at level Info with the message "rsguard decision", the
// record's time set to [Decision.Time], and these attributes, whose names
// are stable; empty ones are left out:
//
//	stage, outcome ("allow" or "deny"), reason, status (int),
//	credential, issuer, subject, client_id, tenant, token_id,
//	method, path, mcp_session, mcp_method, tool,
//	required, granted (space-separated scopes), latency (duration)
//
// No credential is ever logged: a Decision holds none. If logger is nil,
// Slog returns nil (no hook).
func Slog(logger *slog.Logger) Func {
	if logger == nil {
		return nil
	}
	h := logger.Handler()
	return func(ctx context.Context, d Decision) {
		if !h.Enabled(ctx, slog.LevelInfo) {
			return
		}
		var buf [18]slog.Attr // every attribute, added at once: one allocation in the Record
		attrs := append(buf[:0],
			slog.String("stage", string(d.Stage)),
			slog.String("outcome", outcome(d.Allowed)),
			slog.String("reason", string(d.Reason)),
		)
		if d.Status != 0 {
			attrs = append(attrs, slog.Int("status", d.Status))
		}
		for _, a := range [...]struct{ k, v string }{
			{"credential", string(d.Credential)}, {"issuer", d.Issuer}, {"subject", d.Subject},
			{"client_id", d.ClientID}, {"tenant", d.Tenant}, {"token_id", d.TokenID},
			{"method", d.Method}, {"path", d.Path}, {"mcp_session", d.MCPSession},
			{"mcp_method", d.MCPMethod}, {"tool", d.Tool},
		} {
			if a.v != "" {
				attrs = append(attrs, slog.String(a.k, a.v))
			}
		}
		if len(d.Required) > 0 {
			attrs = append(attrs, slog.String("required", strings.Join(d.Required, " ")))
		}
		if len(d.Granted) > 0 {
			attrs = append(attrs, slog.String("granted", strings.Join(d.Granted, " ")))
		}
		attrs = append(attrs, slog.Duration("latency", d.Latency))
		rec := slog.NewRecord(d.Time, slog.LevelInfo, "rsguard decision", 0)
		rec.AddAttrs(attrs...)
		_ = h.Handle(ctx, rec)
	}
}

// Metrics receives one observation per decision, for counters (by stage,
// outcome and reason) and a latency histogram. Implement it over your
// metrics library (Prometheus, OpenTelemetry; examples/metrics shows
// Prometheus) and wire it with [Count]: the core module depends on
// none. All three labels take values from small fixed sets ([Stage],
// "allow" and "deny", [Reasons]: Count reports a reason that is
// not on that list, such as an application's own, as [ReasonRejected]), so
// they are safe as metric labels; no identity is passed. Implementations
// must be safe for concurrent use.
type Metrics interface {
	ObserveDecision(stage, outcome, reason string, latency time.Duration)
}

// Count returns a Func that reports each decision to m,
// or nil if m is nil.
func Count(m Metrics) Func {
	if m == nil {
		return nil
	}
	return func(_ context.Context, d Decision) {
		reason := d.Reason
		if !slices.Contains(allReasons[:], reason) {
			reason = ReasonRejected // bounded label values, whatever an authenticator sets
		}
		m.ObserveDecision(string(d.Stage), outcome(d.Allowed), string(reason), d.Latency)
	}
}

// Credential names the kind of credential that authenticated a request.
type Credential string

// The credential kinds of rsguard's authenticators.
const (
	// CredentialJWT is a bearer JWT access token verified by package validate.
	CredentialJWT Credential = "jwt"
	// CredentialIntrospection is an access token, opaque or not, checked by
	// asking its authorization server (RFC 7662 token introspection, package
	// validate).
	CredentialIntrospection Credential = "introspection"
	// CredentialAPIKey is a legacy API key checked by package apikey.
	CredentialAPIKey Credential = "apikey"
)

// outcome names a decision's outcome as [Slog] and [Metrics] do: "allow" or
// "deny".
func outcome(allowed bool) string {
	if allowed {
		return "allow"
	}
	return "deny"
}
