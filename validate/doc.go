// Package validate verifies bearer JWT access tokens, the resource-server
// half of OAuth 2.1 as the MCP authorization specification asks of an MCP
// server: its [Validator] is the [rsguard.Authenticator] of JWTs, which an
// [rsguard.Guard] puts in front of [net/http] handlers.
//
// A [Validator] is built once with [New] from a [Config] naming the trusted
// issuer (or several, [Config.Issuers]) and this resource. It finds each
// issuer's keys (the JWK Set URL given, or discovered from RFC 8414 metadata,
// then OpenID Connect Discovery; or a [KeySet] given), keeps them cached and
// refreshed, and verifies tokens with [Validator.Verify]:
//
//   - the signature, with a key of the issuer's set chosen by "kid" and
//     consistent with the header "alg", which must be on the allow-list
//     (default RS256, PS256, ES256, EdDSA; never "none", never HMAC);
//   - "iss" equal to a trusted issuer, whose keys alone can verify the token,
//     "aud" containing the resource (or one of that issuer's
//     [IssuerConfig].Audiences; RFC 8707: tokens issued for another server
//     are refused — no token passthrough);
//   - "exp" required, "nbf", "iat" and "auth_time" not in the future (a
//     future "auth_time" would satisfy every RFC 9470 max_age), with a
//     bounded leeway;
//   - a subject or a client: a token with none of "sub", "client_id" and
//     "azp" names no principal and is refused;
//   - no "cnf" claim on the bearer path; a DPoP-bound token ("cnf" "jkt")
//     only with the proof of its key (see Sender-constrained tokens and DPoP
//     below);
//   - RFC 9068: "typ" an access-token type, and optionally all RFC 9068
//     claims ([Config.RequireAccessTokenType]);
//   - no "crit" extensions; key parameters that forbid signature use
//     ("use": "enc", "key_ops" without "verify", RSA under 2048 bits) honoured,
//     and a key published with its private part never used. Degenerate keys
//     are refused when the key set is loaded: Ed25519 keys of small order
//     (under which anyone can forge a signature) or not canonically encoded,
//     and EC keys whose point is not on the curve.
//
// [Validator.Authenticate] reads the bearer token of a request
// ([rsguard.BearerToken]), verifies it, and returns the caller as an
// [rsguard.Principal] whose Details are the request's [Claims]. Give the
// Validator to [rsguard.New] (rsguard.Config.Authenticator, with the URL of
// the RFC 9728 protected resource metadata of package rsmeta as
// ResourceMetadata), and the Guard's Middleware wraps any [http.Handler]: a
// request without a token gets 401 with a WWW-Authenticate challenge carrying
// resource_metadata, from which an MCP client discovers where to get a
// token; a bad token gets 401 invalid_token; a malformed request 400
// invalid_request. A verified request carries its Principal
// (rsguard.FromContext) and its [Claims] ([ClaimsFromContext]), so that
// package scopes can check scopes per route, per MCP tool or in handler code.
// The example of Validator.Authenticate shows the wiring.
//
// # Strict JSON
//
// The protected header and the claims set are read by a strict reader, not
// encoding/json: member names match exactly; a member name given twice in any
// object, at any depth, compared after unescaping ("tid" and "\u0074id" are
// the same name), refuses the token (RFC 7519 §4 allows it; a gateway that
// reads the first of two "tid" members and rsguard the last would disagree
// about the tenant); so do invalid UTF-8, lone UTF-16 surrogate escapes
// (which decode to U+FFFD and would make "u\ud800" and "u\udbff" the same
// identity), numbers encoding/json cannot hold (1e400), and nesting deeper
// than 32 levels. So whatever verifies, [Claims.Get] and [Claims.Decode] read
// whole and the same way.
//
// # Principals
//
// [Claims.Principal] names who a token speaks for, stable across refreshes:
// "user:" + iss + "#" + sub for a user (a "sub" present and different from
// the client id), "client:" + iss + "#" + client id for a client acting on its
// own behalf (no "sub", or "sub" equal to "client_id", RFC 9068 §2.2). An
// issuer has no "#", so the form is unambiguous, and principals of different
// kinds — users, clients, API keys ("apikey:…", package apikey) — are never
// equal, whatever ids an attacker picks. Bind MCP sessions to it.
//
// # Scopes
//
// The granted scopes come from "scope" (a string) or else "scp" (a string or
// an array), read by one rule ([rsguard.ParseScopes],
// [rsguard.ParseScopeList]), the same for API keys: a string is split on single spaces only, an array element is never
// split, and a token outside the RFC 6749 §3.3 character set (a space, '"',
// '\', a control or non-ASCII character, the empty token) is never granted:
// it is dropped, the others are granted, and the drop is logged at debug
// level.
//
// # Sender-constrained tokens
//
// A token with a "cnf" claim (RFC 7800) is bound to a key of its client —
// DPoP (RFC 9449 "jkt") or mutual TLS (RFC 8705 "x5t#S256") — and is only
// valid with the proof of that key. Presented as a plain bearer token
// ([Validator.Verify], `Authorization: Bearer`) it is always refused (reason
// [audit.ReasonSenderConstrained]), cache hits included, whatever
// [Config].DPoP says: accepting it would make a stolen bound token usable.
// There is no option to accept it as Bearer. A DPoP-bound token — a "cnf"
// whose one member is "jkt", a SHA-256 thumbprint — is accepted with its
// DPoP proof when DPoP is on ([Claims].KeyThumbprint); any other "cnf"
// (mTLS, an empty object, null) is a binding this package cannot verify,
// refused on every path.
//
// # DPoP
//
// [Config].DPoP turns on DPoP (RFC 9449) for the resource: [DPoPAllowed]
// accepts bearer tokens and DPoP-bound tokens, [DPoPRequired] DPoP-bound
// tokens only. A request `Authorization: DPoP <token>` with one DPoP header
// is checked by [Validator.Authenticate] as RFC 9449 §4.3 and §7.1 say,
// cheapest checks first:
//
//   - exactly one DPoP field and one proof in it, a compact JWS of at most
//     8 KiB, whose header has "typ" dpop+jwt, an "alg" of
//     [DPoPConfig].Algorithms (asymmetric only), and a "jwk" of at most
//     2 KiB that is a public key fit for that alg (EC on its curve; RSA of
//     2048 to 4096 bits with the exponent 65537, as the signature is checked
//     before the token and must stay cheap; Ed25519 not of small order; no
//     private member; its "alg" and "use", if present, consistent, "EdDSA"
//     and "Ed25519" being one algorithm) and no "crit", "jku", "x5u" or
//     "x5c";
//   - its claims, read strictly (duplicate members refused): "htm" the
//     request method, exactly; "htu" the origin of [Config].Resource and
//     the request's path as the client sent it (from the request line,
//     http.Request.RequestURI, which http.StripPrefix and routers that
//     rewrite r.URL leave alone) — never the Host header nor X-Forwarded-* —
//     compared after RFC 3986 normalisation (scheme and host case, default
//     port, percent-encoding, dot segments) and without htu's query and
//     fragment, a trailing slash significant; "iat" within
//     [DPoPConfig].ProofLifetime (default 60 s) and the leeway; a "jti" of
//     at most 256 bytes; "ath" the hash of the token;
//   - with [DPoPConfig].Nonce, "nonce" a nonce this resource gave (see
//     below); then the proof's signature;
//   - the token, verified as the bearer path verifies it (a JWT, or
//     introspected; the verified-token cache applies), which must be bound
//     to the proof's key: its "cnf" "jkt" equal to the key's RFC 7638
//     thumbprint;
//   - last, the proof's "jti" in the replay store ([DPoPConfig].Replay,
//     default in memory), keyed by the key's thumbprint and the jti,
//     remembered until one second after the proof's window ends (the window
//     includes its end; see [ReplayStore]): a proof is accepted once.
//     Only a proof that passed everything else is recorded, so refused
//     requests cannot fill the store; the in-memory store never forgets a
//     live proof, and refuses new ones with 503 when full of them.
//
// Refusals of a DPoP request go on the DPoP challenge (rsguard.Error.Scheme),
// with the Credential of the token's kind ("jwt", or "introspection" for a
// token this Validator introspects):
// a bad proof 401 error="invalid_dpop_proof" (reason bad_dpop_proof, or
// dpop_replay), a missing or stale nonce 401 error="use_dpop_nonce" with a
// DPoP-Nonce header; a token refused 401 invalid_token as on the bearer
// path, and a token that is not bound to the proof's key (an unbound token,
// or one bound to another key) 401 invalid_token, reason sender_constrained
// (RFC 9449 §7.1: the binding is the resource server's to check). Under
// DPoPRequired a bearer token gets 401 without an error code (RFC 6750 §3.1:
// a scheme the resource does not accept), reason dpop_required, and only
// the DPoP challenge. With DPoP off (the default), `Authorization: DPoP` is
// not read at all: no_credential, with the Bearer challenge.
//
// The Validator is an rsguard.Challenger ([Validator.Challenges]): a Guard
// over it sends `Bearer …` and `DPoP algs="…"` (DPoPAllowed) or the DPoP
// challenge alone (DPoPRequired), each with its realm, resource_metadata
// and scope, and package scopes answers a DPoP request's 403 on the DPoP
// challenge. Package mcpguard publishes dpop_signing_alg_values_supported
// ([DPoPConfig.SigningAlgorithms]) and dpop_bound_access_tokens_required.
//
// Server nonces (RFC 9449 §9) are stateless: the HMAC, under
// [DPoPConfig].NonceSecret, of a time slot of one ProofLifetime; the
// current and the previous slot's are accepted, so a nonce is good for one
// to two ProofLifetimes, and a successful answer carries the current one
// (rsguard.Principal.Header, DPoP-Nonce) when the one used is the previous
// slot's. Replicas that share the secret accept each other's nonces.
//
// Parsed proof keys are cached (a client signs every proof with one key), so
// a proof costs about one signature verification on top of the token's
// check (BenchmarkDPoP). The proof key cache is keyed by a hash of the jwk,
// bounded in entries. A Validator mounted under http.StripPrefix("/mcp")
// with Resource https://mcp.example.com/mcp checks htu against the path
// the client sent, /mcp/x, not the /x its handler sees. Behind a proxy that
// rewrites paths before the request reaches this server, the request line
// is not the one the client signed: serve DPoP where the path the client
// sees reaches the server unchanged.
//
// # Per-request values
//
// Each request gets [Claims] and an [rsguard.Principal] of its own, also when
// the token came from the cache: a handler that changes them (appends a scope,
// changes a value [Claims.Get] or [Claims.Decode] returned) changes nothing
// another request sees.
//
// # Key sets: rotation and denial of service
//
// By default an issuer's keys are its JWK Set, fetched with bounded time and
// size ([FetchOptions]), parsed one by one (through keyfunc), and held in an
// immutable snapshot read without locks. A token naming an unknown "kid"
// triggers at most one refetch per [FetchOptions.MinRefreshInterval]
// (default 10 s), shared by all concurrent requests, so a key rotated in is
// accepted within seconds while a flood of forged kids costs the issuer one
// fetch per interval. When the issuer is down the cached keys keep
// verifying. Claims are checked before the key is looked up, so a token that
// would be refused anyway never causes a fetch.
//
// [Config.Keys] (or [IssuerConfig.Keys]) replaces the fetched set:
// [NewStaticKeySet] pins a JWK Set, with the same checks of each key; a
// [KeySet] of your own (a KMS, keys shared between replicas) answers "the key
// for this kid and alg", and the Validator guards it as it guards an issuer:
// one question per interval about kids it does not know, whatever the flood,
// and the same checks of every key it returns (no RSA under 2048 bits, no EC
// point off its curve, no Ed25519 key of small order, a key type that fits
// the token's alg).
//
// # Verified-token cache
//
// Agents call tools in tight loops with the same token. By default a token
// that passed verification is remembered (bounded by [CacheOptions.MaxEntries]
// and [CacheOptions.MaxBytes]; [CacheOptions.Disable] turns it off), so a
// repeated token costs a hash, a map read and a copy of the claims instead of
// a signature verification. MaxBytes counts all an entry keeps: the token,
// the payload, the claims' strings and slices.
//
// On every request, cached or not: "exp" and "nbf" are checked against the
// clock with the leeway (an entry is never used past the token's expiry), the
// key that verified the token must still be in the issuer's current key set
// (a key withdrawn from the JWKS invalidates its tokens at the next refresh;
// a KeySet of yours is asked again), and [Config.Revocations] and
// [Config.Check] run (so revocation and tenant policy changes apply at once).
//
// Not repeated on a hit: the signature, and the checks that depend only on
// the token's bytes and the Validator's fixed configuration — header "alg",
// "typ" and "crit", "iss", "aud", claim types. A hit requires the very same
// bytes (the entry stores the token and compares it in full; the hash that
// finds it is seeded randomly per Validator), so the cache cannot let in
// anything verification would refuse. [Validator.Authenticate] asks the
// cache as soon as it has read the Authorization header (with introspection
// on, for a token shaped as a JWS: the cache holds nothing else), before
// checking that the token is an RFC 6750 b64token: a token equal to one
// verified before is one. On a miss, verification's strict base64url decoding checks
// the characters of what it accepts; only a token it refuses has the rest
// of its characters checked, and a character outside b64token is then
// answered as [rsguard.BearerToken] answers it (400 invalid_request), as if
// checked first.
//
// Apart from the cache, and also with it disabled, a Validator remembers the
// protected headers (the first 64, by their encoded bytes) that tokens
// verified under, read and checked: an issuer signs every token of a key
// under one header, so a token seen for the first time skips decoding and
// reading it. Only a header whose token's signature verified is remembered,
// and its checks depend on nothing but its bytes and the configuration, so
// no answer changes; the key is still looked up for every token.
//
// # Revocation
//
// A JWT is valid until it expires; [Config.Revocations] refuses chosen ones
// before that. It is asked on every request once the token is verified,
// cache hits included, and a revoked token gets 401 invalid_token, "the
// access token was revoked" (reason revoked). [DenyList] is a ready in-memory
// store: revoke a token by "jti", or every token of a client, subject or
// session issued before a time; each entry is scoped to one issuer and
// expires when the longest token it can match would have. When the store
// fails, the request gets 503 (fail closed), unless
// [Config.RevocationFailOpen]. For several replicas implement [Revocations]
// over a shared store; its documentation weighs that against one DenyList
// per replica.
//
// # Introspection
//
// An issuer configured with an [Introspection] ([Config.Introspection],
// [IssuerConfig.Introspection]) has its opaque access tokens checked by OAuth
// 2.0 Token Introspection (RFC 7662): the Validator POSTs the token to the
// issuer's introspection endpoint (given, or discovered from its RFC 8414
// metadata "introspection_endpoint"), authenticated as the resource server's
// own client (client_secret_basic, client_secret_post or private_key_jwt),
// each request bounded by Introspection.Timeout and the answer by
// Introspection.MaxBytes. With Introspection.JWTs, the issuer's JWTs are
// introspected too rather than verified locally, so that a token revoked at
// the authorization server stops working at once (within CacheTTL).
//
// Routing. A token that is not a JWS compact serialisation (three
// dot-separated segments, the first the base64url encoding of a JSON
// object: a token with two dots can be opaque) goes to the issuer whose
// TokenPrefix it starts with, else to the one introspecting issuer without
// a TokenPrefix, else it is refused (bad_issuer): an opaque token is never
// sent to several authorization servers in turn, which would hand it to
// servers that did not issue it. A JWS goes to the issuer its "iss" names: introspected there if
// that issuer's JWTs are, verified locally otherwise. A token that could not
// come in an Authorization header (not an RFC 6750 b64token) is refused
// without a request. A JWE (five segments) is not a JWS: it goes to the
// introspecting issuer as an opaque token does, on purpose — an
// authorization server may issue encrypted access tokens only it can read.
//
// The answer is checked as strictly as a JWT. It must be a JSON object read
// whole by the strict reader (see Strict JSON) with a boolean "active", sent
// with status 200 and Content-Type application/json — anything else is a
// failure of the endpoint (503). Then: "active" true (else 401 inactive);
// "iss" equal to the issuer (bad_issuer); "aud" containing this resource, as
// for JWTs (absent: bad_claims); "exp" present and not past, "nbf", "iat" and
// "auth_time" not in the future, with the leeway; a subject or a client;
// registered members of the right JSON types (bad_claims). And it must be
// about an access token: "token_type" "Bearer" or "DPoP" (in any case), or,
// without "token_type", a "token_use" of "access_token" (a member some
// servers send) — an answer without either, or with any other value
// ("refresh_token", "N_A", …), is refused (bad_token_type), and so is an
// answer with a "typ" of "Refresh", "Offline" or "ID" in any case, whatever
// its "token_type" (Keycloak marks its refresh tokens so, with a
// "token_type" of "Bearer"). oidc-provider omits "token_type" exactly for
// refresh tokens, and other servers say nothing either way: an answer that
// does not say it is about an access token could be about a refresh token,
// which must never pass as one. Some servers have answered "token_type"
// "Bearer" for refresh tokens too (WSO2, wso2/product-is#3840): the "aud"
// check stops those whose audience is not this resource, which a refresh
// token's seldom is, and nothing in such an answer tells them apart. A
// "cnf" {"jkt": …} makes the token DPoP-bound ([Claims].KeyThumbprint,
// refused as Bearer: see Sender-constrained tokens), as does a "token_type"
// of "DPoP", which must come with it; any other "cnf" is refused. Scopes,
// client id, principal and tenant are read from the answer by the rules of
// JWT claims; [Claims.Get] and [Claims.Decode] read the answer's members,
// but any top-level member whose value is the token itself (an endpoint
// that gives an opaque token as its own "jti"), which is dropped before the
// answer is read, cached or logged.
// The Principal's Credential, and that of every refusal, is "introspection".
// [Config.Revocations] and [Config.Check] then run as for JWTs, on every
// request. [Config.RequireAccessTokenType] concerns JWTs only.
//
// Caching. Answers are cached per Validator, keyed by the SHA-256 of the
// token, within bounds of their own equal to [CacheOptions.MaxEntries] and
// [CacheOptions.MaxBytes]: an answer that passed the checks until its "exp"
// or Introspection.CacheTTL after it came (default 1 min), whichever is
// first — so a token revoked at the authorization server is refused here
// CacheTTL later at most; a refusing answer (inactive, or refused by the
// checks) for Introspection.NegativeTTL (default 10 s). Failures of the
// endpoint are never cached. A positive answer past CacheTTL is kept, stale,
// until the token's "exp": it does not accept the token (but with
// FailOpen), it marks it as known, to be re-checked from the reserved
// budget (see Faults). On a hit, "exp" and "nbf" are checked against
// the clock and Revocations and Check run. Concurrent requests with one
// uncached token make one introspection request (single flight), for which
// each waits no longer than its context lets it. [CacheOptions.Disable]
// turns this cache off too: then every request with an introspected token
// makes a request to the authorization server, every one from the budget
// made-up tokens share.
//
// Faults. When the endpoint cannot answer — unreachable, slower than
// Timeout, answering an error status, a redirect (never followed: the token
// and the client's credentials would go with it) or garbage — a token whose
// answer is not fresh in the cache gets 503 with Retry-After (reason
// introspection_unavailable), and the outage is logged at warning level
// once (never the token nor the client's secret). An endpoint that refuses
// the resource server's own client authentication (401, or 400
// invalid_client) is a configuration failure: logged at error level once
// per outage, every token 503. Introspection.RateLimit (default 50
// requests a second per endpoint) turns a flood of made-up tokens into at
// most that many requests, the others 503; fresh cached answers, positive
// and negative, keep serving, and a second budget of the same size is
// reserved for re-checking known tokens (a stale positive answer), so
// that made-up tokens cannot lock out the users the endpoint already
// accepted. Introspection.FailOpen trades safety for availability: while
// the endpoint cannot answer, a token whose positive answer is cached past
// its CacheTTL is accepted until its "exp", so that tokens revoked at the
// authorization server meanwhile keep working here. It never applies to a
// spent rate limit (which anyone can spend) nor to refused client
// credentials, and [New] refuses it with [CacheOptions].Disable.
//
// # Decision events
//
// The Guard's rsguard.Config.OnDecision receives one audit.Decision per
// request: allowed or refused, the stable reason code of the refusal
// (rsguard.Error.Reason: "expired", "bad_audience", "revoked", …; see
// Refusals below), the credential kind ("jwt", or "introspection" for a
// token checked by introspection), issuer, principal, client id,
// tenant and token id from verified claims (never the token; also for a
// token refused after verification, such as a revoked one), the route and
// MCP session, and the latency. Feed an audit log with audit.Slog and
// metrics with audit.Count. Unset, it costs nothing.
//
// # Plain http: loopback hosts only
//
// Every URL the Validator fetches, and Resource, must use https, or http on
// a loopback host: an IP literal in 127.0.0.0/8, ::1 or an IPv4-mapped form
// of one (::ffff:127.0.0.1), without a zone, or the name "localhost" in any
// case without a trailing dot. Nothing else counts, however it looks:
// 127.0.0.1.nip.io, 127.attacker.example, localhost., foo.localhost, 127.1,
// 0x7f000001. The rule holds for Issuer (when its keys are discovered),
// JWKSURL, the same fields of [Config.Issuers], Resource, a jwks_uri found
// by discovery, and every redirect followed while fetching metadata or keys.
// A configured URL that breaks it fails [New] with rsguard.ErrInvalidConfig;
// a discovered URL or a redirect fails the fetch before anything is sent.
// Package rsmeta applies the same rule.
//
// # Start-up
//
// By default [New] fetches the keys before returning and fails if the issuer
// cannot be reached. With [FetchOptions.Lazy] it returns at once, fetches in
// the background with backoff, and refuses tokens (reason keys_unavailable)
// until keys are loaded: the Guard answers 503 with Retry-After. Keys given
// as a KeySet ([Config.Keys]) are not loaded at start-up.
//
// # Refusals
//
// Every refusal is an [*rsguard.Error] carrying the HTTP status, the
// RFC 6750 error code, a client-safe description, the credential kind
// ("jwt", "introspection" for a token this Validator introspects; none
// before a token was read) and its reason, a code of package
// audit that is the refusal's class: match it with errors.Is(err,
// audit.ReasonExpired), which holds for the *rsguard.Error and for the
// error it wraps. A token refused after it was verified (revoked, refused
// by [Config.Check]) also names the Principal it proved, for the audit
// trail. Descriptions never contain the token. The reasons, with status and
// code:
//
//   - no_credential, 401, no code: the request has no bearer token
//     ([Validator.Authenticate], from [rsguard.BearerToken]).
//   - invalid_request, 400 invalid_request: a malformed Authorization
//     header, a token in the URL ([rsguard.BearerToken]).
//   - malformed, 401 invalid_token: the token is not a well-formed JWS
//     compact serialisation (segments, base64url, JSON objects), is
//     encrypted, or is larger than [Config.MaxTokenBytes].
//   - bad_algorithm, 401 invalid_token: the header "alg" is not on the
//     allow-list of the token's issuer, or disagrees with the key.
//   - bad_token_type, 401 invalid_token: the header "typ" is not an
//     access-token type (RFC 9068 §2.1, §4), or an introspection answer
//     does not say it is about an access token (see Introspection).
//   - inactive, 401 invalid_token: the introspection answer says the token
//     is not active (RFC 7662 §2.2): unknown, expired, revoked, or not for
//     this client to see.
//   - critical_header, 401 invalid_token: the header lists "crit"
//     extensions (RFC 7515 §4.1.11), none of which this package
//     understands.
//   - unknown_key, 401 invalid_token: no usable key of the issuer's set has
//     the token's "kid" (after a rate-limited refresh), or the token names
//     no key and the set has several candidates, or the key may not verify
//     tokens (its use, a weak or degenerate key).
//   - bad_signature, 401 invalid_token: the signature does not verify.
//   - bad_issuer, 401 invalid_token: "iss" is not a trusted issuer (or,
//     in an introspection answer, not the issuer asked), an opaque token's
//     issuer cannot be determined (see Introspection), or
//     [Config.Check] refused the token with an error wrapping
//     [audit.ReasonBadIssuer] (its tenant is not one its issuer may serve).
//   - bad_audience, 401 invalid_token: "aud" does not contain this resource
//     (or one of the issuer's [IssuerConfig].Audiences; RFC 8707).
//   - expired, 401 invalid_token: "exp" is past, beyond the leeway.
//   - not_yet_valid, 401 invalid_token: "nbf", "iat" or "auth_time" is in
//     the future, beyond the leeway.
//   - bad_claims, 401 invalid_token: a required claim is missing; a claim
//     has the wrong JSON type ("exp" as a string, a non-string
//     [Config.TenantClaim]); the token names neither a subject nor a client
//     ("sub", "client_id", "azp"); the claims set cannot be read whole
//     (duplicate member names, numbers out of range).
//   - sender_constrained, 401 invalid_token: the token has a "cnf" claim
//     and came as Bearer, or a "cnf" this package cannot verify, or, with
//     DPoP, is not bound to the proof's key (see Sender-constrained tokens,
//     DPoP).
//   - bad_dpop_proof, 401 invalid_dpop_proof on the DPoP challenge: the
//     DPoP proof is missing, malformed, signed badly, or made for another
//     method, URL, token or time (see DPoP).
//   - dpop_replay, 401 invalid_dpop_proof: the proof was already used.
//   - use_dpop_nonce, 401 use_dpop_nonce, with a DPoP-Nonce header: the
//     proof lacks a current nonce ([DPoPConfig].Nonce).
//   - dpop_required, 401, no code, DPoP challenge only: a bearer token where
//     [DPoPRequired] accepts only DPoP.
//   - revoked, 401 invalid_token: [Config.Revocations] reports the token
//     revoked.
//   - rejected, 401 invalid_token: [Config.Check] refused the token with an
//     error that wraps no reason, or a reason this package does not refuse
//     tokens with.
//   - keys_unavailable, 503 with Retry-After, no code: the issuer's key set
//     has never been loaded (the issuer is unreachable and no keys are
//     cached), or the issuer's [KeySet] failed to answer.
//   - revocation_unavailable, 503 with Retry-After, no code:
//     [Config.Revocations] failed, and [Config.RevocationFailOpen] is off.
//   - introspection_unavailable, 503 with Retry-After, no code: the
//     introspection endpoint could not answer, refused the resource
//     server's client credentials, or its rate limit is spent (see
//     Introspection).
//   - store_unavailable, 503 with Retry-After, no code: the DPoP replay
//     store failed, or the in-memory one is full of live proofs.
//   - internal_error, 500: the Validator was not built by [New].
//
// A [Config.Check] error wrapping one of these reasons is answered and
// audited as that class (see Config.Check).
//
// # Tenants
//
// With [Config.TenantClaim] ("tid", "org_id", …) each token's tenant is read
// at verification ([Claims.Tenant], rsguard.Principal.Tenant). Which tenants
// an issuer may serve is a [Config.Check]: refuse with an error wrapping
// [audit.ReasonBadIssuer], and the token is answered and audited as one from an
// untrusted issuer (reason "bad_issuer"), on every request, cache hits
// included.
//
// # Behind a reverse proxy
//
// [Config].Resource is the public URL clients connect to, and the audience
// tokens must carry (unless [IssuerConfig].Audiences names others); the
// Guard's rsguard.Config.ResourceMetadata is the public URL of its metadata
// (rsmeta.Handler.URL: the well-known URL of Resource). Neither is ever
// taken from a request: the Host header, X-Forwarded-* and Forwarded are not
// read, whoever sent them, since even a trusted proxy relays values the
// client chose. For a server on 127.0.0.1:8080 serving /mcp, published by a
// proxy that removes "/tools" as https://api.example.com/tools/mcp:
//
//	validate.Config{Issuer: "https://auth.example.com", Resource: "https://api.example.com/tools/mcp"}
//
// with rsmeta.Metadata.Resource the same URL. Challenges then carry
// resource_metadata="https://api.example.com/.well-known/oauth-protected-resource/tools/mcp",
// tokens must name https://api.example.com/tools/mcp in "aud" (one for
// http://127.0.0.1:8080/mcp is refused), and the metadata document is
// mounted where the proxy forwards that URL (rsmeta.Register, given the
// path the proxy forwards to when it rewrites paths; see package rsmeta).
//
// # Browser-based clients (CORS)
//
// Challenges expose WWW-Authenticate to scripts (Access-Control-Expose-Headers),
// and the metadata handler answers CORS preflights itself. For the protected
// endpoint, put your CORS middleware outside (before) the Guard's Middleware:
// a preflight OPTIONS request carries no credentials, so behind the Guard it
// would get a 401 and the browser would never send the real
// request. Which origins may call your server is your policy; rsguard does not
// guess it.
//
// # With the official Go MCP SDK
//
// Put the Guard (and per-tool scopes) in front of the SDK's Streamable HTTP
// handler. Inside tool handlers, do not read [ClaimsFromContext] or
// rsguard.FromContext from the tool's context: in a stateful session the SDK
// runs handlers with the context of the request that opened the session, so
// they would see the first token's claims, not the current request's (after a
// step-up or a down-scoped token). Module github.com/rsguard/rsguard/gosdk
// passes the current request's identity through the SDK's own channel
// (req.Extra.TokenInfo): serve the SDK through gosdk.Handler, wrapped by
// mcpguard.Endpoint.Handler (the Guard, the session binder and the per-tool
// scopes, in that order), and read gosdk.Principal(req), or
// ClaimsFromContext(gosdk.Context(ctx, req)). Expiry is decided by the
// Guard, with this package's [Config.Leeway] and [Config.Now]; the SDK does
// not check it again. The SDK's session-to-user binding uses the principal's
// Subject, [Claims.Principal], which is stable across token refreshes.
//
// Tests can use package validatetest, an in-process authorization server that
// serves metadata and keys and mints tokens, good and bad.
package validate
