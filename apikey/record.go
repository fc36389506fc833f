package apikey

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/internal/check"
)

// State is the migration state of an API key or of its client.
type State string

// The migration states. The zero State means "not set here": a record
// without a state takes its client's, and a client without one takes
// [Policy].Default.
const (
	// StateAllowed: the key works as it always did.
	StateAllowed State = "allowed"
	// StateDeprecated: the key works, and every response to it carries
	// Deprecation (RFC 9745), Sunset (RFC 8594, when a cutoff is known) and
	// Link headers pointing the client to the migration documentation.
	StateDeprecated State = "deprecated"
	// StateBlocked: the key is refused with a 401 challenge that sends the
	// client to OAuth, whatever the cutoff date.
	StateBlocked State = "blocked"
)

// valid reports whether s is the zero State or one of the named states.
func (s State) valid() bool {
	switch s {
	case "", StateAllowed, StateDeprecated, StateBlocked:
		return true
	}
	return false
}

// Record is what a [Store] keeps about one key. It never holds the key
// itself, only its [Hash].
//
// Its JSON form (the form [ReadRecords] reads) has the
// members named in the field docs; times are RFC 3339 strings and zero
// values are omitted.
//
// Records returned by a Store are shared: treat them as read-only.
type Record struct {
	// ID is the key's id ("id"): the 12 base62 characters after the
	// prefix. Required. Not secret; it names the key in logs and reports.
	ID string

	// Hash is the SHA-256 of the whole key ("hash", 64 hex digits), see
	// [HashKey]. Required.
	Hash Hash

	// Owner is the principal the key acts for ("owner"), named in the
	// Subject of the [rsguard.Principal] it produces. If empty, ClientID is
	// used. At least one of Owner and ClientID is required.
	Owner string

	// ClientID is the client (application, integration) the key was issued
	// to ("client_id"). Migration policy and usage reports are per client:
	// see [Record.Client].
	ClientID string

	// Tenant is the tenant or organisation the key belongs to ("tenant"),
	// copied into the Principal. Optional.
	Tenant string

	// Scopes are the scopes the key grants ("scopes", an array of RFC 6749
	// §3.3 scope tokens). An empty list grants no scope: the key
	// authenticates but passes no scopes.Require check.
	Scopes []string

	// Created is when the key was issued ("created"). Informational.
	Created time.Time

	// Expires is when the key stops working ("expires"). Zero means never.
	Expires time.Time

	// Revoked marks the key as revoked ("revoked"): it is refused at once.
	// To revoke a key kept in a [MemoryStore], Put its record with Revoked
	// set.
	Revoked bool

	// State is this key's migration state ("state": "allowed",
	// "deprecated" or "blocked"). If empty, the state of its client in the
	// [Policy] applies, then Policy.Default.
	State State
}

// Client returns the name under which the key's migration policy and usage
// are kept: ClientID, or Owner when ClientID is empty.
func (r *Record) Client() string {
	if r.ClientID != "" {
		return r.ClientID
	}
	return r.Owner
}

// subject returns the Principal's Subject: "apikey:owner:"
// and Owner, or "apikey:client:" and ClientID when Owner is empty. The
// prefixes keep it apart from every JWT principal ("user:…", "client:…", see
// validate.Claims.Principal) and an owner's key apart from a client-only key
// of the same name.
func (r *Record) subject() string {
	if r.Owner != "" {
		return "apikey:owner:" + r.Owner
	}
	return "apikey:client:" + r.ClientID
}

// Validate checks that r is usable: a well-formed ID, a non-zero Hash, an
// Owner or ClientID, scopes that are RFC 6749 §3.3 scope tokens, and a known
// State. A record is configuration: errors wrap [rsguard.ErrInvalidConfig]
// and name the record only by its id, and the field at fault.
func (r *Record) Validate() error {
	if !validID(r.ID) {
		return invalidRecord("key record: id must be %d base62 characters", idLen)
	}
	if r.Hash == (Hash{}) {
		return invalidRecord("key record %s: hash missing", r.ID)
	}
	if r.Owner == "" && r.ClientID == "" {
		return invalidRecord("key record %s: owner or client_id required", r.ID)
	}
	for _, s := range r.Scopes {
		if !check.IsScopeToken(s) {
			return invalidRecord("key record %s: scope %q is not an RFC 6749 scope token", r.ID, s)
		}
	}
	if !r.State.valid() {
		return invalidRecord("key record %s: unknown state %q", r.ID, r.State)
	}
	return nil
}

// invalidRecord returns an error about key records, which are
// configuration: it wraps rsguard.ErrInvalidConfig. The message must name
// records by id or position only, never by key or hash.
func invalidRecord(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{rsguard.ErrInvalidConfig}, args...)...)
}

// LogValue implements [slog.LogValuer]: a Record logs as its id, client,
// owner, tenant and state, never its hash.
func (r Record) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("id", r.ID),
		slog.String("client_id", r.ClientID),
		slog.String("owner", r.Owner),
		slog.String("tenant", r.Tenant),
		slog.String("state", string(r.State)),
	)
}

func validID(id string) bool {
	if len(id) != idLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if base62Value(id[i]) < 0 {
			return false
		}
	}
	return true
}

// recordJSON is the wire form of a Record.
type recordJSON struct {
	ID       string     `json:"id"`
	Hash     Hash       `json:"hash"`
	Owner    string     `json:"owner,omitempty"`
	ClientID string     `json:"client_id,omitempty"`
	Tenant   string     `json:"tenant,omitempty"`
	Scopes   []string   `json:"scopes,omitempty"`
	Created  *time.Time `json:"created,omitempty"`
	Expires  *time.Time `json:"expires,omitempty"`
	Revoked  bool       `json:"revoked,omitempty"`
	State    State      `json:"state,omitempty"`
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func timeVal(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}

// MarshalJSON implements [json.Marshaler].
func (r Record) MarshalJSON() ([]byte, error) {
	return json.Marshal(recordJSON{
		ID: r.ID, Hash: r.Hash, Owner: r.Owner, ClientID: r.ClientID, Tenant: r.Tenant,
		Scopes: r.Scopes, Created: timePtr(r.Created), Expires: timePtr(r.Expires),
		Revoked: r.Revoked, State: r.State,
	})
}

// UnmarshalJSON implements [json.Unmarshaler]. Unknown members are refused,
// so a misspelt "expires" cannot silently make a key immortal. It does not
// call Validate.
func (r *Record) UnmarshalJSON(b []byte) error {
	var j recordJSON
	if err := decodeStrict(b, &j); err != nil {
		return err
	}
	*r = Record{
		ID: j.ID, Hash: j.Hash, Owner: j.Owner, ClientID: j.ClientID, Tenant: j.Tenant,
		Scopes: j.Scopes, Created: timeVal(j.Created), Expires: timeVal(j.Expires),
		Revoked: j.Revoked, State: j.State,
	}
	return nil
}
