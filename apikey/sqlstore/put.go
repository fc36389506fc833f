package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/apikey"
	"github.com/rsguard/rsguard/internal/check"
)

// upsertKey writes one key row by id.
const upsertKey = `INSERT INTO rsguard_api_keys
  (id, hash, owner, client_id, tenant, scopes, created, expires, revoked, state)
VALUES ($1::text, $2::bytea, $3::text, $4::text, $5::text, string_to_array($6::text, ' '),
        $7::timestamptz, $8::timestamptz, $9::boolean, $10::text)
ON CONFLICT (id) DO UPDATE SET
  hash = excluded.hash, owner = excluded.owner, client_id = excluded.client_id,
  tenant = excluded.tenant, scopes = excluded.scopes, created = excluded.created,
  expires = excluded.expires, revoked = excluded.revoked, state = excluded.state`

// Put writes rec to the rsguard_api_keys table, replacing the row with the
// same id: issue a key with [apikey.Generate] and Put its record; revoke
// it, or change its state, by Putting it changed. rec must pass
// [apikey.Record.Validate] (errors wrap [rsguard.ErrInvalidConfig]). The
// Stores of other replicas see the change within their MaxStaleness; call
// [Store.Forget] on this one's to see it at once.
func Put(ctx context.Context, db *sql.DB, rec apikey.Record) error {
	if db == nil || check.IsNil(db) {
		return fmt.Errorf("%w: sqlstore: Put needs a *sql.DB", rsguard.ErrInvalidConfig)
	}
	if err := rec.Validate(); err != nil {
		return err
	}
	opt := func(t interface{ IsZero() bool }, v any) any {
		if t.IsZero() {
			return nil
		}
		return v
	}
	_, err := db.ExecContext(ctx, upsertKey, rec.ID, rec.Hash[:], rec.Owner, rec.ClientID, rec.Tenant,
		strings.Join(rec.Scopes, " "), opt(rec.Created, rec.Created), opt(rec.Expires, rec.Expires),
		rec.Revoked, string(rec.State))
	if err != nil {
		return fmt.Errorf("sqlstore: writing key %s: %w", rec.ID, err)
	}
	return nil
}
