// Package fleet is where rsguard runs as a fleet of replicas on shared
// stores, tested against real servers (examples/internal/services starts
// them; .ci/services installs them): so far, the API keys of
// apikey/sqlstore in PostgreSQL through pgx's database/sql driver — lookups,
// states and policy from the table, the cache's staleness bound, the
// database stopped, slow and back, usage summed over two replicas, and no
// count lost on SIGTERM (at most one batch on SIGKILL). Its tests live here
// because they need a driver, which the library does not import.
package fleet
