// Package fleet is where rsguard runs as a fleet of replicas on shared
// stores, tested against real servers (examples/internal/services starts
// them; .ci/services installs them): the API keys of apikey/sqlstore in
// PostgreSQL through pgx's database/sql driver — lookups, states and policy
// from the table, the cache's staleness bound, the database stopped, slow
// and back, usage summed over two replicas, and no count lost on SIGTERM
// (at most one batch on SIGKILL) — and, in TestTwoReplicas, two processes
// of the example program ./replica behind a reverse proxy of the test's, on
// one PostgreSQL and one Redis (redisstore): a token revoked through one
// replica is refused by the other at its next request (bound: 1 s); an MCP
// session opened through one is honoured through the other for its owner
// and answered 404 for anyone else; a key blocked in its row and a client
// blocked in the clients table are refused by both within the replicas'
// -max-staleness, 2 s, plus 1 s; the usage both counted is in the
// database once, summed, after SIGTERM, equal by kind and client to the
// requests the test made; Redis stopped gives 503 with Retry-After (never
// 200) to every token and MCP request on both, each within 1.25 s, while
// API keys still work; Redis started again on its port, both serve again
// within 10 s without a restart. Its tests live here because they need a
// driver, which the library does not import.
package fleet
