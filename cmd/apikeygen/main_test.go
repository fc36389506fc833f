package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rsguard/rsguard/apikey"
)

var issued = time.Date(2026, 3, 1, 12, 0, 0, 500, time.UTC)

func fixedNow() time.Time { return issued }

// TestRun: the key is printed once, on a line of its own after a line that
// says to store it now; the record is one JSON line without the key, which
// apikey.ReadRecords reads back, and a MemoryStore loaded from it
// authenticates the key.
func TestRun(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run([]string{"-prefix", "sk_live_", "-client", "billing-cron", "-owner", "ops@example.com", "-tenant", "acme",
		"-scopes", "invoices:read, invoices:write", "-expires", "2027-03-01T00:00:00Z"}, &stdout, &stderr, fixedNow)
	require.Equal(t, 0, code, "stderr: %s", stderr.String())
	assert.Empty(t, stderr.String())

	lines := strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n")
	require.Len(t, lines, 5, "stdout:\n%s", stdout.String())
	assert.True(t, strings.HasPrefix(lines[0], "# ") && strings.Contains(lines[0], "Store it now"), "line 1: %s", lines[0])
	assert.Contains(t, lines[1], "shown only this once")
	assert.True(t, strings.HasPrefix(lines[3], "# "), "line 4: %s", lines[3])
	key, record := lines[2], lines[4]
	assert.Equal(t, 1, strings.Count(stdout.String(), key), "the key is printed once")
	id, err := apikey.Parse("sk_live_", key)
	require.NoError(t, err, "the key line is a key")
	assert.Contains(t, lines[0], id, "the comment names the key by id")
	assert.NotContains(t, record, key[len("sk_live_"):], "the record holds no part of the key")
	assert.True(t, strings.HasPrefix(record, "{") && strings.HasSuffix(record, "}"), "one JSON line: %s", record)

	recs, err := apikey.ReadRecords(strings.NewReader(record))
	require.NoError(t, err)
	require.Len(t, recs, 1)
	want := apikey.Record{
		ID: id, Hash: apikey.HashKey(key), Owner: "ops@example.com", ClientID: "billing-cron", Tenant: "acme",
		Scopes:  []string{"invoices:read", "invoices:write"},
		Created: issued.Truncate(time.Second), Expires: time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC),
	}
	assert.Equal(t, want, recs[0])

	store, err := apikey.NewMemoryStore(recs...)
	require.NoError(t, err)
	auth, err := apikey.New(apikey.Config{Store: store, Prefix: "sk_live_", Now: fixedNow})
	require.NoError(t, err)
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("X-API-Key", key)
	p, err := auth.Authenticate(r)
	require.NoError(t, err, "the printed key authenticates against the printed record")
	assert.Equal(t, "billing-cron", p.ClientID)
	assert.Equal(t, []string{"invoices:read", "invoices:write"}, p.Scopes)
}

func TestRunOwnerOnly(t *testing.T) {
	var stdout, stderr bytes.Buffer
	require.Equal(t, 0, run([]string{"-prefix", "acme_", "-owner", "alice"}, &stdout, &stderr, fixedNow), stderr.String())
	assert.Contains(t, stdout.String(), `# API key for owner "alice"`)
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	recs, err := apikey.ReadRecords(strings.NewReader(lines[len(lines)-1]))
	require.NoError(t, err)
	assert.Equal(t, "alice", recs[0].Owner)
	assert.Empty(t, recs[0].Scopes, "no -scopes, no scope")
	assert.True(t, recs[0].Expires.IsZero(), "no -expires, never")
}

// TestRunBadFlags: bad flags exit 2 with an error on stderr and nothing on
// stdout; -h prints the usage and exits 0.
func TestRunBadFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string // in stderr
	}{
		{"no flags", nil, "-prefix is required"},
		{"no client or owner", []string{"-prefix", "sk_live_"}, "-client or -owner is required"},
		{"unknown flag", []string{"-prefix", "sk_live_", "-client", "c", "-scope", "a"}, "flag provided but not defined: -scope"},
		{"positional argument", []string{"-prefix", "sk_live_", "-client", "c", "extra"}, `unexpected argument "extra"`},
		{"bad prefix", []string{"-prefix", "sk-live", "-client", "c"}, `key prefix "sk-live"`},
		{"JWT-like prefix", []string{"-prefix", "eyJ_", "-client", "c"}, `must not start with "ey"`},
		{"bad scope", []string{"-prefix", "sk_live_", "-client", "c", "-scopes", "a b"}, `scope "a b" is not an RFC 6749 scope token`},
		{"bad expiry", []string{"-prefix", "sk_live_", "-client", "c", "-expires", "2027-03-01"}, "not an RFC 3339 time"},
		{"past expiry", []string{"-prefix", "sk_live_", "-client", "c", "-expires", "2026-01-01T00:00:00Z"}, "not in the future"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			assert.Equal(t, 2, run(tt.args, &stdout, &stderr, fixedNow))
			assert.Empty(t, stdout.String(), "nothing on stdout")
			assert.Contains(t, stderr.String(), tt.want)
		})
	}
	var stdout, stderr bytes.Buffer
	assert.Equal(t, 0, run([]string{"-h"}, &stdout, &stderr, fixedNow))
	assert.Empty(t, stdout.String())
	assert.Contains(t, stderr.String(), "usage: apikeygen")
}
