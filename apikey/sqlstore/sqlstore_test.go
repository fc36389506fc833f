package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/apikey"
)

// These tests need no database; the tests against a real PostgreSQL are in
// the examples module (examples/fleet), which brings a driver.

func TestNewChecksConfig(t *testing.T) {
	db := sql.OpenDB(nil) // never used: New does not touch the database
	defer db.Close()
	for _, tc := range []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{"no DB", Config{}, "DB is required"},
		{"negative", Config{DB: db, QueryTimeout: -1}, "QueryTimeout is negative"},
		{"refresh over staleness", Config{DB: db, MaxStaleness: time.Second, Refresh: 2 * time.Second}, "Refresh"},
		{"unknown TTL over staleness", Config{DB: db, MaxStaleness: time.Second, UnknownTTL: 2 * time.Second}, "UnknownTTL"},
		{"default unknown TTL within a short staleness", Config{DB: db, MaxStaleness: time.Second}, ""},
		{"defaults", Config{DB: db}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.cfg)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatal(err)
			case tc.wantErr != "" && (!errors.Is(err, rsguard.ErrInvalidConfig) || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("err = %v, want ErrInvalidConfig about %s", err, tc.wantErr)
			}
		})
	}
	if _, err := NewRecorder(RecorderConfig{}); !errors.Is(err, rsguard.ErrInvalidConfig) {
		t.Fatalf("NewRecorder without DB: %v", err)
	}
	if err := Migrate(context.Background(), nil); !errors.Is(err, rsguard.ErrInvalidConfig) {
		t.Fatalf("Migrate without DB: %v", err)
	}
}

func TestStatements(t *testing.T) {
	st := statements(Schema)
	if len(st) != 3 {
		t.Fatalf("%d statements, want 3", len(st))
	}
	for _, s := range st {
		if !strings.HasPrefix(s, "CREATE TABLE IF NOT EXISTS ") || !strings.HasSuffix(s, ";") {
			t.Fatalf("statement not idempotent or not whole: %q", s)
		}
	}
}

func TestLRUEvictsLeastRecentlyUsed(t *testing.T) {
	c := newLRU(2)
	h := func(b byte) apikey.Hash { return apikey.Hash{b} }
	c.put(&entry{hash: h(1)})
	c.put(&entry{hash: h(2)})
	c.get(h(1))
	c.put(&entry{hash: h(3)}) // evicts 2
	if c.get(h(2)) != nil || c.get(h(1)) == nil || c.get(h(3)) == nil || c.len() != 2 {
		t.Fatal("wrong eviction")
	}
	c.remove(h(1))
	if c.get(h(1)) != nil || c.len() != 1 {
		t.Fatal("remove")
	}
}

func TestSnapshotOf(t *testing.T) {
	now := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	at := func(h int) time.Time { return now.Add(time.Duration(h) * time.Hour) }
	rows := []usageRow{
		{usageKey{"2026-03-01", KindAPIKey, "c", "k1"}, usageCounts{accepted: 2, refused: 1, policyRefused: 1, first: at(-30), last: at(-26), lastAccepted: at(-27), state: apikey.StateBlocked}},
		{usageKey{"2026-03-02", KindAPIKey, "c", "k1"}, usageCounts{accepted: 3, first: at(-2), last: at(-1), lastAccepted: at(-1), state: apikey.StateDeprecated}},
		{usageKey{"2026-03-02", KindAPIKey, "", ""}, usageCounts{refused: 7, first: at(-3), last: at(-1)}},
		{usageKey{"2026-03-02", KindOAuth, "c", ""}, usageCounts{accepted: 4, first: at(-5), last: at(-1), lastAccepted: at(-1)}},
		{usageKey{"2026-03-02", KindOAuth, "", ""}, usageCounts{refused: 2, first: at(-5), last: at(-1)}},
		{usageKey{"2026-03-02", KindAnonymous, "", ""}, usageCounts{refused: 9, first: at(-5), last: at(-1)}},
		{usageKey{"not a day", KindAPIKey, "c", "k1"}, usageCounts{accepted: 100, first: at(-99), last: at(-1)}},
		{usageKey{"2026-03-02", "other", "c", "k1"}, usageCounts{accepted: 100, first: at(-99), last: at(-1)}},
	}
	s := snapshotOf(rows, now)
	if s.Source != SourceDatabase || !s.Since.Equal(at(-30)) || s.Anonymous != 9 ||
		s.APIKey != (apikey.Counts{Accepted: 5, Rejected: 8}) || s.Bearer != (apikey.Counts{Accepted: 4, Rejected: 2}) {
		t.Fatalf("totals: %+v", s)
	}
	if len(s.Keys) != 1 || s.Keys[0].Counts != (apikey.Counts{Accepted: 5, Rejected: 1}) ||
		!s.Keys[0].FirstSeen.Equal(at(-30)) || !s.Keys[0].LastSeen.Equal(at(-1)) || s.Keys[0].State != apikey.StateDeprecated {
		t.Fatalf("keys: %+v", s.Keys)
	}
	if len(s.Days) != 2 || s.Days[1].APIKey.Accepted != 3 || s.Days[1].APIKey.Rejected != 0 || s.Days[1].Bearer != 4 {
		t.Fatalf("days: %+v", s.Days)
	}
	if len(s.Activity) != 1 || s.Activity[0].PolicyRefused != 1 || !s.Activity[0].LastBearer.Equal(at(-1)) || len(s.Activity[0].Days) != 2 {
		t.Fatalf("activity: %+v", s.Activity)
	}
}

// TestSnapshotOfKeepsKeyClients: more than MaxActivityClients OAuth-only
// clients, more recent than a key client's key use, before it or on both
// sides of it, cannot push the key client out of Activity (found by an
// audit: it was pushed out, and the report showed it idle with no key
// request); the most recent OAuth-only clients are kept, and
// ActivityTruncated says some were left out.
func TestSnapshotOfKeepsKeyClients(t *testing.T) {
	now := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	const flood = apikey.MaxActivityClients + 10
	oauth := func(i int, at time.Time) usageRow {
		return usageRow{usageKey{at.Format(time.DateOnly), KindOAuth, "dcr-" + strconv.Itoa(i), ""},
			usageCounts{accepted: 1, first: at, last: at, lastAccepted: at}}
	}
	for _, tc := range []struct {
		name   string
		keyAt  time.Time
		floodT func(i int) time.Time
	}{
		{"flood after the key use", now.Add(-2 * time.Hour), func(i int) time.Time { return now.Add(-time.Hour + time.Duration(i)*time.Millisecond) }},
		{"flood before the key use", now.Add(-time.Minute), func(i int) time.Time { return now.Add(-2*time.Hour + time.Duration(i)*time.Millisecond) }},
		{"flood around the key use", now.Add(-time.Hour), func(i int) time.Time { return now.Add(-2*time.Hour + time.Duration(i)*time.Second) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rows := []usageRow{
				{usageKey{tc.keyAt.Format(time.DateOnly), KindAPIKey, "legacy-pos", "k1"},
					usageCounts{accepted: 5, first: tc.keyAt, last: tc.keyAt, lastAccepted: tc.keyAt, state: apikey.StateAllowed}},
			}
			for i := range flood {
				rows = append(rows, oauth(i, tc.floodT(i)))
			}
			s := snapshotOf(rows, now)
			var pos *apikey.ClientActivity
			names := map[string]bool{}
			for i, a := range s.Activity {
				names[a.Client] = true
				if a.Client == "legacy-pos" {
					pos = &s.Activity[i]
				}
			}
			if pos == nil || len(pos.Days) != 1 || pos.Days[0].APIKey.Accepted != 5 || !pos.LastAPIKey.Equal(tc.keyAt) {
				t.Fatalf("legacy-pos in Activity: %+v", pos)
			}
			if !s.ActivityTruncated {
				t.Fatal("ActivityTruncated not set")
			}
			if len(s.Activity) != apikey.MaxActivityClients+1 {
				t.Fatalf("%d clients in Activity, want %d", len(s.Activity), apikey.MaxActivityClients+1)
			}
			for i := range 10 { // the least recent OAuth-only clients are left out
				if names["dcr-"+strconv.Itoa(i)] || !names["dcr-"+strconv.Itoa(flood-1-i)] {
					t.Fatalf("not the most recent OAuth-only clients kept (dcr-%d)", i)
				}
			}
			r := apikey.NewReport(s, apikey.Policy{Cutoff: now.Add(30 * 24 * time.Hour)}, now, 7)
			if r.Totals.ClientsBreakingAtCutoff != 1 || !r.ActivityTruncated {
				t.Fatalf("report totals: %+v, truncated %v", r.Totals, r.ActivityTruncated)
			}
			for _, c := range r.Clients {
				if c.Client == "legacy-pos" && (c.Status != apikey.StatusBreaksAtCutoff || c.APIKey.Accepted != 5) {
					t.Fatalf("legacy-pos in the report: %+v", c)
				}
			}
		})
	}
	s := snapshotOf([]usageRow{oauth(0, now)}, now)
	if s.ActivityTruncated || len(s.Activity) != 1 {
		t.Fatalf("under the bound: %+v", s)
	}
}

// FuzzRowRecord: any row either makes a record that passes Validate, with
// the row's hash, or an error that does not quote a malformed id.
func FuzzRowRecord(f *testing.F) {
	f.Add("3kTMd9QvB2xA", make([]byte, 32), "ops", "billing-cron", "acme", "invoices:read invoices:write", false, "deprecated")
	f.Add("3kTMd9QvB2xA", []byte{1}, "", "", "", "", true, "")
	f.Add("bad id\n", make([]byte, 32), "", "c", "", "a\"b", false, "nonsense")
	f.Fuzz(func(t *testing.T, id string, hash []byte, owner, client, tenant, scopes string, revoked bool, state string) {
		r := row{id: id, hash: hash, owner: owner, clientID: client, tenant: tenant, scopes: scopes, revoked: revoked, state: state}
		rec, err := r.record()
		if err != nil {
			if rec != nil {
				t.Fatal("a record and an error")
			}
			if safeID(id) != id && !strings.Contains(err.Error(), "(invalid id)") && len(hash) != 32 {
				t.Fatalf("the error names a malformed id: %v", err)
			}
			return
		}
		if err := rec.Validate(); err != nil {
			t.Fatalf("record does not validate: %v", err)
		}
		if string(rec.Hash[:]) != string(hash) || rec.ID != id || rec.Revoked != revoked {
			t.Fatal("record differs from its row")
		}
	})
}
