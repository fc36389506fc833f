// Package validatetest runs an OAuth 2.1 authorization server inside a
// test, the way [net/http/httptest] runs an HTTP server: real HTTP over
// loopback, real keys, real JWTs, and no outside service.
//
// [NewIssuer] starts an [Issuer] on 127.0.0.1 (HTTPS by default) that the
// test's cleanup shuts down. It serves
//
//   - RFC 8414 authorization server metadata at the path-inserted
//     well-known URL ([Issuer.MetadataURL]) and OpenID Connect Discovery at
//     the issuer plus "/.well-known/openid-configuration"
//     ([Issuer.OpenIDConfigurationURL]), advertising only what it serves
//     (no authorization endpoint, so no response types and no PKCE method;
//     add them with [Options].Metadata for a client that insists);
//   - its JWK Set (RFC 7517 §5) at [Issuer.JWKSURL];
//   - a token endpoint for the client_credentials grant (RFC 6749 §4.4) with
//     resource indicators (RFC 8707) at [Issuer.TokenURL], for the clients
//     in [Options].Clients;
//   - a token introspection endpoint (RFC 7662) at [Issuer.IntrospectionURL],
//     for the same clients: a resource server introspects as a client of
//     its own.
//
// Its access tokens are RFC 9068 JWTs ("typ": "at+jwt"). A test mints one
// directly with [Issuer.Token], or a broken one with [Issuer.TokenWith]:
// another algorithm, "none", an unpublished key, HMAC keyed with a public
// key, odd headers ("crit", "jku", "jwk"…), a stripped signature, raw
// payload bytes. [Issuer.OpaqueToken] mints an opaque token instead, whose
// introspection answer is the claims the test chooses ({"active": false},
// no "token_type", another "iss"…).
//
// # DPoP
//
// [NewDPoPKey] is a DPoP client's key (RFC 9449): a token bound to it
// carries its [DPoPKey.Thumbprint] in "cnf" ("jkt"), from [Issuer.Token] or
// [Issuer.OpaqueToken], and each request carries `Authorization: DPoP
// <token>` and a proof from [DPoPKey.Proof]. [DPoPKey.ProofWith] makes the
// proofs a server must refuse: another "htm" or "htu", an old "iat", a
// reused "jti", another key's "jwk", a wrong "typ"…
//
// # Plugging it into your tests
//
// Point the code under test at the issuer the way it will point at the real
// one: the issuer identifier is [Issuer.URL], the HTTP client that trusts
// the issuer's certificate is [Issuer.Client]. With rsguard's validate
// package that means a validate.Config whose Issuer is iss.URL, whose
// Resource is your server's canonical URL, and whose Fetch.HTTPClient is
// iss.Client(); then send requests carrying
//
//	"Bearer " + iss.Token(map[string]any{"aud": resource, "scope": "tools:read"})
//
// An [Options].Audience set to the resource makes "aud" the default.
//
// To test key handling and outages, rotate and retire keys
// ([Issuer.Rotate], [Issuer.Retire]), publish dubious ones ([Issuer.AddKey]),
// take the issuer down ([Issuer.SetDown]), replace the answers of any of
// its endpoints ([Issuer.Handle]), and count how often the code under test
// asked each ([Issuer.Requests]): iss.Handle(iss.JWKSURL, h),
// iss.Requests(iss.JWKSURL). Options.Now controls the times put in tokens.
//
// Every method may be called from any goroutine. Mistakes in the test's
// use of the issuer (an unknown kid, say) are reported with tb.Errorf, never
// tb.Fatal, except by [NewIssuer] itself. The issuer never logs a token or
// a key.
//
// # Conformance kit
//
// [Conformance] proves, in one test, that a server is wired as an OAuth 2.1
// resource server should be: point the server at an issuer from
// [NewIssuer], hand its http.Handler (or its URL) to Conformance with a
// [ConformanceConfig], and it runs as subtests the checks no public suite
// makes of the resource-server side of MCP: the RFC 9728 metadata, the
// metadata of the authorization servers it names, its CORS headers, the 401 challenge with resource_metadata and scope, a valid
// token let through, an MCP session that serves its owner (even with a
// renewed token, until the owner's DELETE ends it) and nobody else (not
// another user, nor a client whose client_id is the owner's sub), answering
// their POST, GET and DELETE with 404, the same status as a session never
// issued gets (the kit compares statuses, not headers or bodies), the
// MCP step-up (403 insufficient_scope naming scopes that then work), and
// over seventy attacks that must be refused with the right status and
// challenge and without echoing the token (algorithm confusion, foreign keys,
// crit, wrong typ, expired and look-alike claims, "cnf"-bound tokens as
// Bearer, a future "auth_time", malformed tokens, duplicate claim names, lone
// surrogates and out-of-range numbers, tokens in the wrong place, and MCP
// tool calls sent with methods other than POST). With
// [ConformanceConfig].DPoP it checks DPoP proofs (over sixty cases: the
// proof's form and key, where the proof travels, replays, its "iat", "htm",
// "htu" and "ath", and bound tokens presented without their proof — the
// last also for a server that accepts bearer tokens only; against a server
// that requires DPoP, the other subtests send their tokens DPoP-bound, with
// proofs), and with
// [ConformanceConfig].Introspection how the server treats its introspection
// answers (sixty cases: wrong "iss", "aud", "active", "token_type", "exp";
// an endpoint that is slow, or answers huge or malformed responses; floods
// of made-up tokens). It depends only on HTTP:
// an rsguard.Guard, another library, or your own code can be under
// test, and MCP is spoken as JSON-RPC over Streamable HTTP, without an SDK.
// See [ExampleConformance]. The mcpcheck command (cmd/mcpcheck) runs the
// same checks, from the same code, against a deployed server: those that
// need nothing but the server black-box, those that need a real token with
// client credentials at its authorization server.
package validatetest
