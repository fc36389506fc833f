// Package apikey lets an OAuth 2.1 resource server keep accepting legacy API
// keys while its clients move to OAuth access tokens, one client at a time,
// with a report of who still uses keys and a hard cutoff at the end.
//
// It has four parts:
//
//   - a key format with a recognisable prefix, ≥128 random bits and a
//     checksum ([Generate], [Parse], [Pattern]), stored only as a SHA-256
//     [Hash] ([HashKey]);
//   - a [Store] interface, looked up by hash, with a concurrency-safe
//     [MemoryStore] and a reader of key files for small deployments
//     ([ReadRecords]);
//   - the [Authenticator], an [rsguard.Authenticator] that composes any
//     other: an API key goes to the Store, every other request to
//     [Config].Bearer (a validate.Validator for bearer JWTs, or a credential
//     kind of your own), and both return the same [rsguard.Principal], so
//     scopes.Require and per-tool scope checks do not care which credential
//     was used (the Principal's Credential says which; [FromContext] gives
//     the key's [Use]). One rsguard.Guard runs it and answers for both;
//   - the migration [Policy]: per client (or per key) allowed, deprecated
//     or blocked, plus cutoff dates; usage counters ([Authenticator.Usage])
//     and a hook on every key use ([Config].OnUse); and a migration report
//     to look at ([NewReportHandler]).
//
// # Key format
//
// A key is
//
//	<prefix><id>_<secret><checksum>
//	sk_live_0123456789AB_CDEFGHIJKLMNOPQRSTUVWXYZabcdefgh0XmZgl
//
// (a real key's id and secret are random, of course):
//
//   - prefix: chosen by the deployment, such as "sk_live_" (2–32 ASCII
//     letters, digits and "_", starting with a letter but not "ey", ending with "_").
//     It tells people, secret scanners and the Authenticator what the string is.
//   - id: 12 base62 characters, random. Not secret: it names the
//     key in logs, usage reports and the OnUse hook, and a person can read
//     it off the key.
//   - secret: 32 base62 characters from crypto/rand, about
//     190 bits (at least 128 are needed).
//   - checksum: the CRC-32 (IEEE) of everything before it, as 6
//     fixed-width base62 digits, as in GitHub's token format. A typo or
//     an invented string fails [Parse] without a store lookup, and a secret
//     scanner can confirm a match offline. It is not a MAC.
//
// Base62 (0-9, A-Z, a-z) survives URLs, shells, headers and double-click
// selection. [Pattern] gives the regular expression for scanners, e.g.
// `sk_live_[0-9A-Za-z]{12}_[0-9A-Za-z]{38}`.
//
// # Storage
//
// Only the SHA-256 of the whole key is stored. A slow password hash (bcrypt,
// scrypt, Argon2) would add nothing: it protects low-entropy secrets from
// offline guessing, and a 190-bit random secret cannot be guessed at any hash
// speed. It would cost a lot: tens of milliseconds of CPU per request (a
// denial-of-service lever), and, being salted, no lookup by hash. The
// Authenticator looks the hash up, then compares the record's hash with the
// computed one in constant time ([crypto/subtle]) and checks the id.
//
// A key never appears in a log line, an error, a response or a usage report:
// only its id. [Hash] and [Record] implement [log/slog.LogValuer] and redact
// the hash, should one be logged by mistake.
//
// # The principal of a key
//
// A key's [rsguard.Principal] is the request's own: its scopes are read
// from [Record].Scopes by the rule JWT scopes follow
// (rsguard.ParseScopeList: an element is one scope token, never split; an
// element outside the RFC 6749 §3.3 character set is not granted, and the
// drop is logged at debug level — records from a store of your own may
// hold anything). Its TokenID is the key's id and its Details the
// request's [*Use]. Its Subject, the
// principal, is "apikey:owner:" and the Owner, or "apikey:client:" and the
// ClientID when Owner is empty: never equal to a JWT's principal ("user:…",
// "client:…"), nor a client-only key's to an owner's of the same name, so an
// MCP session opened with a key cannot be driven by a token, or the reverse.
//
// # Credentials on the wire
//
// By default keys travel in their own header, X-API-Key ([Config].Header),
// apart from OAuth bearer tokens, and [Authenticator.Authenticate] removes
// the header from the request once the key is accepted, so a key never
// reaches the next handler and is never forwarded upstream. Keys are never
// listed in the resource metadata's bearer_methods_supported.
// [Config].AcceptBearerKeys also accepts "Authorization: Bearer <key>",
// recognised by the prefix, for clients that cannot change their header;
// see its caveat (the MCP specification says servers must not accept tokens
// not issued for them). [Config].AdvertiseKeyChallenge adds a second
// challenge, `APIKey header="X-API-Key"`, to 401 responses.
//
// # Refusals
//
// [Authenticator.Authenticate] refuses with an [*rsguard.Error] whose Reason
// is the refusal's class, the same for every credential kind: match it with
// errors.Is(err, audit.ReasonX), whatever wraps it. There is no other error
// value to match. The Guard answers them so (every 401 carries
// `WWW-Authenticate: Bearer resource_metadata="…"`, RFC 9728 §5.1, so the
// client learns where to get a token):
//
//	reason               status, code          when
//	no_credential        401, no error code    no credential at all (Bearer's answer, or rsguard.BearerToken's)
//	invalid_request      400 invalid_request   a key and a bearer token (Bearer or DPoP scheme); the key
//	                                           header twice; with the key header, a malformed Authorization
//	                                           header or an access_token query parameter
//	malformed            401 invalid_token     a key of the wrong shape, or a bad checksum; a key without
//	                                           Config.Prefix: "the API key must start with sk_live_"
//	unknown_api_key      401 invalid_token     a well-formed key that no record has
//	expired              401 invalid_token     the record's Expires has passed
//	revoked              401 invalid_token     the record is Revoked
//	api_key_blocked      401 invalid_token     the Policy blocks keys for the key's client
//	api_key_retired      401 invalid_token     the key's cutoff has passed: "API keys were retired … on <date>"
//	api_key_as_bearer    401 invalid_token     a key sent as a bearer token, Config.AcceptBearerKeys off; a key
//	                                           sent as "Authorization: DPoP <key>", always
//	bearer_not_accepted  401 invalid_token     a bearer token, and no Config.Bearer (Credential "jwt")
//	store_unavailable    503, Retry-After 5s   the Store failed; the refusal wraps the Store's error too
//	internal_error       500                   an Authenticator not built by New
//
// Their descriptions are fixed texts; none names the key, no part of a
// presented key appears in any error, and a wrong prefix is answered with
// the expected one. The refusals about a key have Credential
// audit.CredentialAPIKey. Every other request gets what [Config].Bearer
// returns, its refusals included; a valid key goes to the next handler with
// its Principal in the context, and a deprecated one adds the Deprecation,
// Sunset and Link headers to the response (see Migration).
//
// # Migration
//
// A [Policy] gives each client (by [Record.Client]) a [State], allowed,
// deprecated or blocked, and a cutoff, with a global default and a global
// cutoff; a [Record] may override its client's state. A deprecated key keeps
// working, and every response to it carries (Deprecation only when a
// deprecation date is set: RFC 9745 has no header without one)
//
//	Deprecation: @1772323200                          (RFC 9745 §2: a structured-field Date)
//	Sunset: Tue, 01 Sep 2026 00:00:00 GMT             (RFC 8594 §3: an HTTP-date, the cutoff)
//	Link: <https://docs.example.com/oauth>; rel="deprecation"   (RFC 9745 §3)
//	Link: <https://docs.example.com/oauth>; rel="sunset"        (RFC 8594 §6)
//
// After the cutoff the key gets a 401 whose error_description says keys are
// retired for its client. Change the policy at run time with
// [Authenticator.SetPolicy]; watch progress with [Authenticator.Usage] (per
// credential type, key and client: totals and last seen) or feed your own
// metrics from [Config].OnUse.
//
// # Migration report
//
// [NewReportHandler] serves the migration as a page to look at, and as JSON
// and CSV (?format=json, ?format=csv): per client, API key against OAuth
// requests per day as a small SVG chart, the keys in use by id, the state,
// the last key and OAuth use, the key requests the policy refused; the
// global and per-client cutoffs with a countdown; the clients that break at
// the cutoff, highlighted; and the share of traffic still on keys, its
// trend, and the clients fully on OAuth. Mount it on an admin mux, as
// net/http/pprof is, behind the Guard:
//
//	report, err := apikey.NewReportHandler(apikey.ReportConfig{Source: auth, Scope: "admin:read"})
//	admin.Handle("GET /debug/apikeys", guard.Middleware(report))
//
// It refuses to be built without an authorization rule (a scope, or a
// check of your own), shows key ids only, never a key, a hash or a token,
// escapes every name, and sends the page with a Content-Security-Policy
// that allows no script (it has none: the countdown is rendered by the
// server, from [ReportConfig].Now). Its data is the Authenticator's
// [Snapshot]: this process's counters, kept per UTC day for
// [ActivityDays] days, for every client that used a key and at most
// [MaxActivityClients] clients that only used bearer tokens (a flood of
// new OAuth clients cannot hide a key client; the page says when some
// token-only clients were left out); the page says where its data comes
// from ([Snapshot].Source). [NewReport] builds the same report from any
// Snapshot, such as counts summed over replicas.
//
// For an audit trail and metrics over both credentials, set the Guard's
// rsguard.Config.OnDecision: one audit.Decision per request, with a stable
// reason code (the Reason of each refusal: "unknown_api_key",
// "api_key_retired", … for keys, Bearer's codes for its credentials), and
// the identity proved: a key's id, owner, client and tenant, or the bearer
// credential's; never a key or a hash.
//
// # Keys in your own database
//
// Implement [Store] over a table indexed by the hash; Lookup returns
// audit.ReasonUnknownAPIKey when no row matches. With database/sql (this is
// the code of the Store example, which compiles):
//
//	type sqlStore struct{ db *sql.DB }
//
//	func (s sqlStore) Lookup(ctx context.Context, h apikey.Hash) (*apikey.Record, error) {
//		rec := apikey.Record{Hash: h}
//		var scopeList string // space-separated
//		var expires sql.NullTime
//		err := s.db.QueryRowContext(ctx,
//			`SELECT id, owner, client_id, tenant, scopes, created, expires, revoked, state
//			   FROM api_keys WHERE hash = $1`, h.String(),
//		).Scan(&rec.ID, &rec.Owner, &rec.ClientID, &rec.Tenant, &scopeList,
//			&rec.Created, &expires, &rec.Revoked, &rec.State)
//		if errors.Is(err, sql.ErrNoRows) {
//			return nil, audit.ReasonUnknownAPIKey
//		}
//		if err != nil {
//			return nil, err // logged by id only; never put the hash in it
//		}
//		rec.Scopes, _ = rsguard.ParseScopes(scopeList) // the one scope rule
//		rec.Expires = expires.Time
//		return &rec, nil
//	}
//
// Store the hash as the 64-hex-digit [Hash.String] (or the 32 raw bytes),
// with a unique index. Issue keys with [Generate] and insert the returned
// Record; show the plaintext key to its owner once. From a shell, the
// apikeygen command does both:
//
//	go run github.com/rsguard/rsguard/cmd/apikeygen -prefix sk_live_ -client billing-cron -scopes invoices:read
//
// prints the key once, to store now, and the record as one JSON line, for
// a key file or your table.
//
// # Small deployments
//
// [ReadRecords] reads records, from a file or an environment variable, as a
// JSON array or JSON lines, for [NewMemoryStore] or [MemoryStore.Replace];
// the JSON form of the Record that [Generate] returns is exactly one such
// entry, hash included, key excluded. A record is configuration: an invalid
// one is refused with an error wrapping [rsguard.ErrInvalidConfig] that
// names it by id or position, never by key or hash.
package apikey
