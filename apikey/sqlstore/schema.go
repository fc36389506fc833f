package sqlstore

import (
	"context"
	"database/sql"
	_ "embed" // the schema
	"fmt"
	"strings"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/internal/check"
)

// Schema is the PostgreSQL schema of the store, its recorder and its
// policy: the tables rsguard_api_keys, rsguard_api_key_clients and
// rsguard_api_key_usage (see the package documentation). Every statement is
// idempotent (CREATE … IF NOT EXISTS): run it with your migration tool, or
// call [Migrate].
//
//go:embed schema.sql
var Schema string

// migrateLock is the transaction-scoped advisory lock Migrate holds, so
// that replicas starting at once do not race to create the same tables.
const migrateLock = 0x7273677561726401 // "rsguard" 01

// Migrate creates the tables of [Schema] that do not exist yet, in one
// transaction, under an advisory lock (replicas may call it at once). It is
// idempotent: on a database that has them, it changes nothing.
func Migrate(ctx context.Context, db *sql.DB) (err error) {
	if db == nil || check.IsNil(db) {
		return fmt.Errorf("%w: sqlstore: Migrate needs a *sql.DB", rsguard.ErrInvalidConfig)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlstore: migrate: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	if _, err = tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", int64(migrateLock)); err != nil {
		return fmt.Errorf("sqlstore: migrate: %w", err)
	}
	for _, stmt := range statements(Schema) {
		if _, err = tx.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("sqlstore: migrate: %w", err)
		}
	}
	if err = tx.Commit(); err != nil {
		return fmt.Errorf("sqlstore: migrate: %w", err)
	}
	return nil
}

// statements splits a schema into its statements, without the comment lines:
// one statement per Exec, so that any driver runs them (some run only one
// statement per call).
func statements(schema string) []string {
	var out []string
	var b strings.Builder
	for _, line := range strings.Split(schema, "\n") {
		if t := strings.TrimSpace(line); t == "" || strings.HasPrefix(t, "--") {
			continue
		}
		b.WriteString(line)
		b.WriteByte('\n')
		if strings.HasSuffix(strings.TrimSpace(line), ";") {
			out = append(out, strings.TrimSpace(b.String()))
			b.Reset()
		}
	}
	return out
}
