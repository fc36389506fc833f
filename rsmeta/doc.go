// Package rsmeta publishes what an OAuth 2.1 protected resource tells its
// clients: the protected resource metadata document (RFC 9728), the
// well-known URLs it lives at, and the WWW-Authenticate challenges of 401 and
// 403 responses (RFC 6750 §3, RFC 9110 §11.6.1). It depends on the standard
// library only.
//
// # Metadata
//
// [Metadata] is the RFC 9728 §2 document, with extension members in
// [Metadata].Extra. [Metadata.Validate] enforces the RFC and the MCP
// authorization rules (https resource and authorization servers, http only
// on loopback hosts; at least one authorization server; no
// "offline_access" in scopes_supported). [CanonicalResource] gives the
// RFC 8707 form of a resource identifier that tokens' audiences are compared
// with, and [WellKnownURL] the RFC 9728 §3.1 path-inserted URL of its
// metadata:
//
//	https://api.example.com/mcp
//	→ https://api.example.com/.well-known/oauth-protected-resource/mcp
//
// Plain http is allowed only on a loopback host: an IP literal in
// 127.0.0.0/8, ::1 or an IPv4-mapped form of one (::ffff:127.0.0.1), without
// a zone, or the name "localhost" in any case without a trailing dot. No
// other name or notation counts (127.0.0.1.nip.io, 127.attacker.example,
// localhost., foo.localhost, 127.1, 0x7f000001). The rule is the same for
// every URL rsmeta checks — the resource ([CanonicalResource],
// [WellKnownURL]), "authorization_servers" and "jwks_uri" — and in package
// validate.
//
// [NewHandler] validates and encodes a document once and returns a [Handler]
// that serves it (GET, HEAD, CORS preflight, ETag); [Register] mounts it on
// an [http.ServeMux] or any router with a Handle method, at the
// path-inserted path and at the root well-known path (see [Register] for the
// trade-off).
//
// # Behind a reverse proxy
//
// The resource identifier and the metadata URL are configuration: the
// public URLs clients use, given to [Metadata].Resource (and to the
// validating middleware). Nothing in rsguard derives a URL from a request:
// no code reads the Host header, X-Forwarded-Host, X-Forwarded-Proto,
// X-Forwarded-Prefix, Forwarded or the request's TLS state, and there is no
// option to. Such headers carry what the client chose: even
// [net/http/httputil.ReverseProxy] in its Rewrite mode sets X-Forwarded-Host
// from the client's Host and passes X-Forwarded-Prefix through. A resource
// server that trusted them would let a client choose the "resource" and
// resource_metadata it is sent (and a cache between them could hand that
// answer to everyone), and would accept tokens for whatever audience the
// headers named. The public URL is known when the server is deployed;
// configure it.
//
// Say the server listens on 127.0.0.1:8080 and serves /mcp, and a proxy
// publishes it as https://api.example.com/tools/mcp, removing "/tools".
// Resource is then "https://api.example.com/tools/mcp", a token's audience
// must be that URL (not http://127.0.0.1:8080/mcp), and clients fetch the
// metadata at
//
//	https://api.example.com/.well-known/oauth-protected-resource/tools/mcp
//
// What the server receives for that URL depends on the proxy. If it
// forwards /.well-known/ unchanged, the path is the same and [Register] is
// all you need. If it maps the URL elsewhere, mount the document at the
// path the server receives by passing it to [Register]; with nginx, for
// example,
//
//	location /tools/ { proxy_pass http://127.0.0.1:8080/; }
//	location = /.well-known/oauth-protected-resource/tools/mcp {
//	    proxy_pass http://127.0.0.1:8080/.well-known/oauth-protected-resource/mcp;
//	}
//
// goes with
//
//	rsmeta.Register(mux, m, "/.well-known/oauth-protected-resource/mcp")
//
// The document's "resource" and [Handler.URL] stay the public URLs either
// way. A server published under several public URLs serves one resource
// per URL, each with its own document and validator: have the proxy send
// each to paths (or a listener) of its own rather than telling them apart by
// Host.
//
// # Challenges
//
// [Challenge] builds a WWW-Authenticate challenge. Every 401 from an MCP
// server carries at least
//
//	Bearer resource_metadata="https://api.example.com/.well-known/oauth-protected-resource/mcp"
//
// plus scope where configured, error="invalid_token" when a token was sent
// and refused (none when there was no token, RFC 6750 §3.1), and a 403 for
// missing scopes carries error="insufficient_scope" and every scope the
// operation needs. [Challenge.Header] is strict: it refuses values outside
// the RFC 6750 §3 character sets, so configuration mistakes surface at
// start-up. [Challenge.String] never fails: it sanitises the same values
// (drops or replaces bad characters; it never escapes scope, error or
// error_description, which RFC 6750 forbids to hold '"' or '\'), and is what
// [WriteChallenge] sends. A Bearer challenge always carries at least one
// auth-param: String writes a bare one as `Bearer realm=""`.
//
// Every error response [WriteChallenge] and [WriteError] write has a short
// JSON body too, {"error":"invalid_token","error_description":"…"}: the
// challenge's code and description, or, where the challenge has no code (no
// credential, a 503), one chosen by status, such as
// {"error":"unauthorized","error_description":"authentication required"}.
//
// [ParseChallenges] is the inverse: it parses a full WWW-Authenticate value
// (several challenges, token68, quoted-pairs, any case) and is fuzzed
// against String so that ParseChallenges(c.String()) gives c back.
//
// # Errors
//
// Errors wrap [ErrInvalidMetadata], [ErrInvalidResource] or
// [ErrInvalidChallenge]; match them with [errors.Is].
package rsmeta
