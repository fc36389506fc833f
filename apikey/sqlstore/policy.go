package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"maps"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/apikey"
	"github.com/rsguard/rsguard/internal/check"
)

// selectClients reads the per-client migration policy.
const selectClients = `SELECT client, state, deprecated, cutoff FROM rsguard_api_key_clients`

// ReadPolicy returns base with the per-client policy of the
// rsguard_api_key_clients table: each row sets, in Clients, the state,
// deprecation date and cutoff of its client (NULL and ” mean "as the
// Policy says"), over base's own entry for that client. base gives the
// rest (Default, Deprecated, Cutoff, Link) and is not modified. Give the
// result to [apikey.Authenticator.SetPolicy]; read it again every
// MaxStaleness or so, so that a client blocked in the table is refused by
// every replica within that bound. An error (the database is down) leaves
// the policy in force as it is: keep it.
func ReadPolicy(ctx context.Context, db *sql.DB, base apikey.Policy) (apikey.Policy, error) {
	if db == nil || check.IsNil(db) {
		return apikey.Policy{}, fmt.Errorf("%w: sqlstore: ReadPolicy needs a *sql.DB", rsguard.ErrInvalidConfig)
	}
	rows, err := db.QueryContext(ctx, selectClients)
	if err != nil {
		return apikey.Policy{}, fmt.Errorf("%w: reading the policy: %w", ErrUnavailable, err)
	}
	defer rows.Close()
	p := base
	p.Clients = maps.Clone(base.Clients)
	if p.Clients == nil {
		p.Clients = map[string]apikey.ClientPolicy{}
	}
	for rows.Next() {
		var name, state string
		var deprecated, cutoff sql.NullTime
		if err := rows.Scan(&name, &state, &deprecated, &cutoff); err != nil {
			return apikey.Policy{}, fmt.Errorf("%w: reading the policy: %w", ErrUnavailable, err)
		}
		c := p.Clients[name]
		if state != "" {
			c.State = apikey.State(state)
		}
		if deprecated.Valid {
			c.Deprecated = deprecated.Time.UTC()
		}
		if cutoff.Valid {
			c.Cutoff = cutoff.Time.UTC()
		}
		p.Clients[name] = c
	}
	if err := rows.Err(); err != nil {
		return apikey.Policy{}, fmt.Errorf("%w: reading the policy: %w", ErrUnavailable, err)
	}
	return p, nil
}
