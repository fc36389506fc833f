package main

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rsguard/rsguard/apikey"
)

// TestMain runs main instead of the tests when the environment asks for it,
// so that a test can run the command as a process of its own.
func TestMain(m *testing.M) {
	if os.Getenv("APIKEYGEN_TEST_MAIN") == "1" {
		main()
	}
	os.Exit(m.Run())
}

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
		{"newline in client", []string{"-prefix", "sk_live_", "-client", "c\nforged"}, `-client "c\nforged" has a control`},
		{"escape in owner", []string{"-prefix", "sk_live_", "-owner", "a\x1b[31m"}, `-owner "a\x1b[31m" has a control`},
		{"NUL in tenant", []string{"-prefix", "sk_live_", "-client", "c", "-tenant", "t\x00"}, `-tenant "t\x00" has a control`},
		{"DEL in client", []string{"-prefix", "sk_live_", "-client", "c\x7f"}, "-client"},
		{"C1 control in owner", []string{"-prefix", "sk_live_", "-owner", "a\u0085b"}, "-owner"},
		{"bidi override in client", []string{"-prefix", "sk_live_", "-client", "c\u202egnp.exe"}, "-client"},
		{"not UTF-8 in tenant", []string{"-prefix", "sk_live_", "-client", "c", "-tenant", "\xff"}, "not UTF-8"},
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

// TestRunPrintableText: printable names, spaces and non-ASCII letters
// included, are kept as given.
func TestRunPrintableText(t *testing.T) {
	var stdout, stderr bytes.Buffer
	require.Equal(t, 0, run([]string{"-prefix", "sk_live_", "-client", "billing cron", "-owner", "José Müller", "-tenant", "東京"}, &stdout, &stderr, fixedNow), stderr.String())
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	recs, err := apikey.ReadRecords(strings.NewReader(lines[len(lines)-1]))
	require.NoError(t, err)
	assert.Equal(t, "billing cron", recs[0].ClientID)
	assert.Equal(t, "José Müller", recs[0].Owner)
	assert.Equal(t, "東京", recs[0].Tenant)
}

// failingWriter accepts n bytes, then fails.
type failingWriter struct {
	n   int
	got bytes.Buffer
}

var errClosed = errors.New("write |1: broken pipe")

func (w *failingWriter) Write(p []byte) (int, error) {
	if len(p) > w.n {
		w.got.Write(p[:w.n])
		n := w.n
		w.n = 0
		return n, errClosed
	}
	w.n -= len(p)
	return w.got.Write(p)
}

// TestRunWriteFails: a failed write to stdout, at any point, exits 1 and
// says on stderr that no key was issued.
func TestRunWriteFails(t *testing.T) {
	for _, n := range []int{0, 10, 200} {
		var stderr bytes.Buffer
		stdout := &failingWriter{n: n}
		assert.Equal(t, 1, run([]string{"-prefix", "sk_live_", "-client", "c"}, stdout, &stderr, fixedNow), "after %d bytes", n)
		assert.Contains(t, stderr.String(), "broken pipe")
		assert.Contains(t, stderr.String(), "no key was issued")
		assert.NotContains(t, stderr.String(), "sk_live_", "stderr shows no key")
	}
}

// TestMainClosedStdout runs the command with its standard output a pipe
// whose reader has gone: it exits 1 with the error on stderr, not 0 and
// not killed by SIGPIPE.
func TestMainClosedStdout(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("SIGPIPE is Unix")
	}
	r, w, err := os.Pipe()
	require.NoError(t, err)
	require.NoError(t, r.Close())
	defer w.Close()

	cmd := exec.Command(os.Args[0], "-prefix", "sk_live_", "-client", "c")
	cmd.Env = append(os.Environ(), "APIKEYGEN_TEST_MAIN=1")
	cmd.Stdout = w
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err = cmd.Run()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit, "stderr: %s", stderr.String())
	assert.Equal(t, 1, exit.ExitCode(), "%v; stderr: %s", exit, stderr.String())
	assert.Contains(t, stderr.String(), "no key was issued")
}
