package sqlstore_test

import (
	"context"
	"database/sql"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/apikey"
	"github.com/rsguard/rsguard/apikey/sqlstore"
)

// This example needs a PostgreSQL server and a driver (this package imports
// none), so it has no Output and is only compiled; examples/fleet runs the
// same wiring against a real server. It keeps API keys in PostgreSQL,
// records their usage with every replica's, and flushes the counts on
// SIGTERM.
func Example() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))

	// With pgx: import _ "github.com/jackc/pgx/v5/stdlib" and open "pgx".
	db, err := sql.Open("pgx", os.Getenv("DATABASE_URL"))
	if err != nil {
		logger.Error("open", "error", err)
		return
	}
	defer db.Close()
	if err := sqlstore.Migrate(ctx, db); err != nil {
		logger.Error("migrate", "error", err)
		return
	}
	store, err := sqlstore.New(sqlstore.Config{DB: db, MaxStaleness: 30 * time.Second, Logger: logger})
	if err != nil {
		logger.Error("store", "error", err)
		return
	}
	rec, err := sqlstore.NewRecorder(sqlstore.RecorderConfig{DB: db, FlushInterval: 10 * time.Second, Logger: logger})
	if err != nil {
		logger.Error("recorder", "error", err)
		return
	}
	var bearer rsguard.Authenticator // your *validate.Validator
	auth, err := apikey.New(apikey.Config{Store: store, Prefix: "sk_live_",
		Bearer: rec.Bearer(bearer), OnUse: rec.OnUse, Logger: logger})
	if err != nil {
		logger.Error("authenticator", "error", err)
		return
	}
	guard, err := rsguard.New(rsguard.Config{Authenticator: auth,
		ResourceMetadata: "https://api.example.com/.well-known/oauth-protected-resource"})
	if err != nil {
		logger.Error("guard", "error", err)
		return
	}

	// The per-client policy, from the table, every MaxStaleness.
	go func() {
		for t := time.NewTicker(30 * time.Second); ; {
			if p, err := sqlstore.ReadPolicy(ctx, db, apikey.Policy{}); err == nil {
				_ = auth.SetPolicy(p)
			}
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
	}()

	mux := http.NewServeMux()
	mux.Handle("/api/", guard.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})))
	srv := &http.Server{Addr: "127.0.0.1:8080", Handler: mux}
	go func() { _ = srv.ListenAndServe() }()

	<-ctx.Done() // SIGTERM: stop serving, then write the pending counts
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = srv.Shutdown(shutdown)
	if err := rec.Close(shutdown); err != nil {
		logger.Error("usage not written", "error", err)
	}
}

// ReadUsage gives the usage of every replica as one Snapshot, for the
// migration report.
func ExampleReadUsage() {
	var db *sql.DB // opened with your driver
	var auth *apikey.Authenticator
	if db == nil || auth == nil {
		return // this example needs a database: see examples/fleet
	}
	snap, err := sqlstore.ReadUsage(context.Background(), db, time.Now())
	if err != nil {
		return
	}
	report := apikey.NewReport(snap, auth.Policy(), time.Now(), 28)
	_ = report.Source // "database"
}
