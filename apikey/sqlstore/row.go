package sqlstore

import (
	"database/sql"
	"fmt"
	"strings"

	"github.com/rsguard/rsguard/apikey"
)

// selectKey is the lookup query: one row of rsguard_api_keys by hash (a
// unique index). The scopes come back as one space-separated string, which
// every driver scans (scope tokens hold no space, RFC 6749 §3.3).
const selectKey = `SELECT id, hash, owner, client_id, tenant, array_to_string(scopes, ' '),
       created, expires, revoked, state
  FROM rsguard_api_keys WHERE hash = $1`

// row is one row of rsguard_api_keys as the lookup query returns it.
type row struct {
	id, owner, clientID, tenant, scopes, state string
	hash                                       []byte
	created, expires                           sql.NullTime
	revoked                                    bool
}

// record turns r into an apikey.Record, checked by Record.Validate: a row
// the database accepted may still not make a usable record (a scope that is
// no RFC 6749 scope token, say). Its errors name the row by id only.
func (r *row) record() (*apikey.Record, error) {
	rec := &apikey.Record{
		ID: r.id, Owner: r.owner, ClientID: r.clientID, Tenant: r.tenant,
		Scopes:  strings.Fields(r.scopes),
		Revoked: r.revoked, State: apikey.State(r.state),
	}
	if len(r.hash) != len(rec.Hash) {
		return nil, fmt.Errorf("sqlstore: key %s: hash is %d bytes, not %d", safeID(r.id), len(r.hash), len(rec.Hash))
	}
	copy(rec.Hash[:], r.hash)
	if r.created.Valid {
		rec.Created = r.created.Time.UTC()
	}
	if r.expires.Valid {
		rec.Expires = r.expires.Time.UTC()
	}
	if err := rec.Validate(); err != nil {
		return nil, fmt.Errorf("sqlstore: key %s: unusable row: %w", safeID(r.id), err)
	}
	return rec, nil
}

// safeID returns id for a message when it looks like a key id (12 base62
// characters), else a placeholder: a corrupt row must not put arbitrary
// text in a log line.
func safeID(id string) string {
	if len(id) != 12 {
		return "(invalid id)"
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('0' <= c && c <= '9' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z') {
			return "(invalid id)"
		}
	}
	return id
}
