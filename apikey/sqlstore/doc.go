// Package sqlstore keeps API keys, their migration policy and their usage in
// PostgreSQL, through database/sql, for a fleet of replicas: a [Store] (an
// [apikey.Store] with a bounded local cache), a usage [Recorder] that writes
// counts in batches, [ReadUsage] for the migration report summed over every
// replica, and [ReadPolicy] for the per-client policy. It imports no
// driver: open the *sql.DB with the one you use (pgx's
// github.com/jackc/pgx/v5/stdlib, "pgx"; or lib/pq, "postgres"). The SQL is
// PostgreSQL's (12 or later).
//
//	db, err := sql.Open("pgx", os.Getenv("DATABASE_URL"))
//	err = sqlstore.Migrate(ctx, db)
//	store, err := sqlstore.New(sqlstore.Config{DB: db, Logger: logger})
//	rec, err := sqlstore.NewRecorder(sqlstore.RecorderConfig{DB: db, Logger: logger})
//	defer rec.Close(shutdownCtx) // on SIGTERM, after http.Server.Shutdown
//	auth, err := apikey.New(apikey.Config{Store: store, Prefix: "sk_live_",
//		Bearer: rec.Bearer(validator), OnUse: rec.OnUse})
//
// # Schema
//
// [Schema] holds the migration, three tables, each created only if it does
// not exist ([Migrate] runs it in a transaction, under an advisory lock, so
// replicas may all call it at start):
//
//	rsguard_api_keys         one row per key, primary key id (the key's public id),
//	                         hash bytea UNIQUE (the SHA-256 of the whole key, 32 bytes:
//	                         never the key), owner, client_id, tenant, scopes text[],
//	                         created, expires (NULL: never), revoked, state
//	                         ('', 'allowed', 'deprecated', 'blocked'): an apikey.Record
//	rsguard_api_key_clients  one row per client: state, deprecated, cutoff: the
//	                         apikey.ClientPolicy of Policy.Clients
//	rsguard_api_key_usage    one row per UTC day, kind ('api_key', 'oauth',
//	                         'anonymous'), client and key_id: accepted, refused,
//	                         policy_refused, first_seen, last_seen, last_accepted,
//	                         state
//
// Issue a key with [apikey.Generate] (or the apikeygen command) and write
// its record with [Put]; revoke it or change its state by updating its row
// (or Put). The Store reads a row by hash (the unique index) and checks it
// with [apikey.Record.Validate]: a row that fails (a scope that is not an
// RFC 6749 scope token, say) refuses its key with 503 and is logged by id.
//
// # Staleness
//
// The Store caches what it reads, by hash: at most [Config].MaxKeys records
// and, apart, [Config].MaxUnknown hashes the table does not have, least
// recently used first out. A cached record is served without a query until
// it is [Config].Refresh old (default 10 s), then read again. A key changed
// in the table (revoked, blocked, its scopes or expiry) is therefore seen by
// every replica within Refresh while the database answers, and never later
// than [Config].MaxStaleness (default 30 s) in any case: that is the bound
// to state to your users. [Store.Forget] drops one entry, for the replica
// that made the change. A hash the table does not have is answered as
// unknown (401) for [Config].UnknownTTL (default 5 s) without a query, so a
// client repeating a wrong key costs one query per UnknownTTL; a new key
// works at most UnknownTTL after its row is written. Concurrent lookups of
// one hash share one query, and at most [Config].MaxQueries (default 16)
// run at once. A flood of distinct invented keys (the checksum stops typos
// before the store, not a forger) still costs one query each: rate-limit
// unauthenticated clients in front of the server.
//
// The per-client policy is not cached by the Store: read it with
// [ReadPolicy] and give it to [apikey.Authenticator.SetPolicy] every
// MaxStaleness or so, and a client blocked in the table is refused within
// that bound too.
//
// # Faults
//
// No request waits for the database longer than [Config].QueryTimeout
// (default 2 s, the wait for a query slot included). When a query fails or
// times out:
//
//   - a key whose record is cached and younger than MaxStaleness is served
//     from the cache;
//   - any other key, unknown ones included (unless cached as unknown), is
//     refused with 503 store_unavailable (audit.ReasonStoreUnavailable,
//     with Retry-After): the error wraps [ErrUnavailable];
//   - for [Config].RetryInterval (default 1 s) lookups do not query the
//     database again: they are answered at once as above, so an outage
//     costs one query per interval, not one per request;
//   - one error line is logged per outage (at most one a minute), and one
//     info line when the database answers again. No line names a key, a
//     hash or a secret.
//
// The Store recovers by itself, without a restart, at the first query that
// succeeds. A database down when the server starts is an outage like any
// other: New does not connect.
//
// # Usage
//
// A [Recorder] counts in memory, per UTC day, credential kind, client and
// key id, accepted and refused requests, those the policy refused (blocked,
// retired), and the first, last and last accepted times, and adds them to
// rsguard_api_key_usage every [RecorderConfig].FlushInterval (default 10 s)
// or as soon as [RecorderConfig].FlushEvery requests (default 10000) are
// pending, in one transaction of upserts that sum (INSERT … ON CONFLICT DO
// UPDATE SET accepted = t.accepted + excluded.accepted), rows in key order
// so that replicas do not deadlock. Replicas add to the same rows, and
// [ReadUsage] reads the sums back as an [apikey.Snapshot] whose Source is
// [SourceDatabase], for [apikey.NewReport]: per client, every client with
// key requests and the [apikey.MaxActivityClients] most recently active
// OAuth-only clients (ActivityTruncated set when there were more), so that
// new OAuth clients cannot push a key client out. Hook it in with two
// fields of [apikey.Config]: OnUse ([Recorder.OnUse]) counts key requests,
// Bearer ([Recorder.Bearer] around your bearer Authenticator) counts OAuth
// and anonymous ones.
//
// The kinds: "api_key" for requests with an API key, under the key's id and
// its client, [apikey.Record.Client] (the client_id, or the owner); keys
// that matched no record go under an empty id and client, so that invented
// keys cannot grow the table. "oauth" for requests that Bearer decided,
// under the principal's ClientID (the token's client_id). "anonymous" for
// requests without a credential. A key's client and an OAuth client are the
// same client when their names are equal: issue a migrating client's keys
// with client_id set to its OAuth client_id, and the report shows its move
// from one to the other.
//
// On shutdown, call [Recorder.Close] after the server has stopped serving
// (http.Server.Shutdown on SIGTERM), with a deadline: it writes what is
// pending, trying again while the database does not answer, so SIGTERM
// loses no count as long as the database answers before that deadline. A
// SIGTERM during an outage that outlasts it loses what is pending (Close
// returns the error). A process killed without warning (SIGKILL, a crash)
// loses what was pending: at most one FlushInterval, and fewer than
// FlushEvery requests. While the database is down, counts are kept in memory (at most
// [RecorderConfig].MaxRows rows; beyond, new rows are dropped and counted in
// [RecorderStats].Dropped) and written once it answers. A write whose commit
// succeeded but whose answer was lost is written again: counts are at least
// once, not exactly once, across such a failure.
package sqlstore
