package fleet

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver

	"github.com/rsguard/rsguard/apikey"
	"github.com/rsguard/rsguard/apikey/sqlstore"
	"github.com/rsguard/rsguard/examples/internal/runtest"
	"github.com/rsguard/rsguard/examples/internal/services"
)

// pg is the PostgreSQL server of this test binary, started once in
// TestMain; pgErr is why it is not there.
var (
	pg    *services.Postgres
	pgErr error
	dbSeq atomic.Int64
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(child())
	}
	start := time.Now()
	pg, pgErr = services.StartPostgres()
	if pgErr == nil {
		fmt.Fprintf(os.Stderr, "fleet: PostgreSQL on 127.0.0.1:%d started in %v\n", pg.Port, time.Since(start).Round(time.Millisecond))
	}
	code := m.Run()
	if pg != nil {
		_ = pg.Close()
	}
	os.Exit(code)
}

// newDB returns a new, migrated database of srv (pg when nil), and its
// connection URL.
func newDB(t *testing.T, srv *services.Postgres) (*sql.DB, string) {
	t.Helper()
	if srv == nil {
		services.Require(t, pgErr)
		srv = pg
	}
	admin, err := sql.Open("pgx", srv.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	name := fmt.Sprintf("fleet_%d", dbSeq.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	url := srv.URL(name)
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := sqlstore.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	return db, url
}

// clock is an injectable clock that moves only when told.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

const prefix = "sk_live_"

// issue generates a key for rec, writes its record to db, and returns the
// key and the record.
func issue(t *testing.T, db *sql.DB, rec apikey.Record) (string, apikey.Record) {
	t.Helper()
	key, rec, err := apikey.Generate(prefix, rec)
	if err != nil {
		t.Fatal(err)
	}
	if err := sqlstore.Put(context.Background(), db, rec); err != nil {
		t.Fatal(err)
	}
	return key, rec
}

// unknownKey returns a well-formed key that no table has.
func unknownKey(t *testing.T) string {
	t.Helper()
	key, _, err := apikey.Generate(prefix, apikey.Record{ClientID: "nobody"})
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// logger returns a logger writing text lines to a buffer safe for
// concurrent use.
func logger() (*slog.Logger, *runtest.Buffer) {
	buf := new(runtest.Buffer)
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})), buf
}

// assertNoSecrets fails t if text holds a key, its secret part or its hash.
func assertNoSecrets(t *testing.T, text string, keys ...string) {
	t.Helper()
	for _, k := range keys {
		h := apikey.HashKey(k)
		for _, s := range []string{k, k[len(prefix)+13:], h.String()} {
			if strings.Contains(text, s) {
				t.Fatalf("a key, secret or hash appears in:\n%s", text)
			}
		}
	}
}

// authenticate runs auth on a request carrying key in X-API-Key.
func authenticate(auth *apikey.Authenticator, key string) error {
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("X-API-Key", key)
	_, err := auth.Authenticate(r)
	return err
}
