package fleet

import (
	"context"
	"database/sql"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/apikey"
	"github.com/rsguard/rsguard/apikey/sqlstore"
	"github.com/rsguard/rsguard/audit"
	"github.com/rsguard/rsguard/examples/internal/services"
)

// TestMigrateIdempotent: Migrate runs again, and from several replicas at
// once, without error and without touching the rows.
func TestMigrateIdempotent(t *testing.T) {
	db, _ := newDB(t, nil)
	_, rec := issue(t, db, apikey.Record{ClientID: "billing-cron", Scopes: []string{"invoices:read"}})
	errs := make(chan error, 4)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- sqlstore.Migrate(context.Background(), db)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("Migrate again: %v", err)
		}
	}
	var n int
	if err := db.QueryRow("SELECT count(*) FROM rsguard_api_keys WHERE id = $1", rec.ID).Scan(&n); err != nil || n != 1 {
		t.Fatalf("rows after Migrate again: %d, %v", n, err)
	}
	var tables int
	if err := db.QueryRow(`SELECT count(*) FROM information_schema.tables
		WHERE table_name IN ('rsguard_api_keys', 'rsguard_api_key_clients', 'rsguard_api_key_usage')`).Scan(&tables); err != nil || tables != 3 {
		t.Fatalf("tables: %d, %v", tables, err)
	}
}

// TestLookupStatesAndPolicy: records, their states and the client policy
// come from the tables, through the Authenticator.
func TestLookupStatesAndPolicy(t *testing.T) {
	db, _ := newDB(t, nil)
	clk := newClock()
	now := clk.Now()
	good, goodRec := issue(t, db, apikey.Record{ClientID: "billing-cron", Owner: "ops", Tenant: "acme",
		Scopes: []string{"invoices:read", "invoices:write"}, Created: now.Add(-time.Hour)})
	ownerOnly, _ := issue(t, db, apikey.Record{Owner: "alice"})
	revoked, _ := issue(t, db, apikey.Record{ClientID: "billing-cron", Revoked: true})
	expired, _ := issue(t, db, apikey.Record{ClientID: "billing-cron", Expires: now.Add(-time.Minute)})
	blocked, _ := issue(t, db, apikey.Record{ClientID: "billing-cron", State: apikey.StateBlocked})
	deprecated, _ := issue(t, db, apikey.Record{ClientID: "billing-cron", State: apikey.StateDeprecated})
	blockedClient, _ := issue(t, db, apikey.Record{ClientID: "old-app"})
	retiredClient, _ := issue(t, db, apikey.Record{ClientID: "late-app"})
	if _, err := db.Exec(`INSERT INTO rsguard_api_key_clients (client, state, cutoff) VALUES
		('old-app', 'blocked', NULL), ('late-app', '', $1)`, now.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}

	store, err := sqlstore.New(sqlstore.Config{DB: db, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	got, err := store.Lookup(context.Background(), goodRec.Hash)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != goodRec.ID || got.Hash != goodRec.Hash || got.Owner != "ops" || got.ClientID != "billing-cron" ||
		got.Tenant != "acme" || !slices.Equal(got.Scopes, goodRec.Scopes) || !got.Created.Equal(goodRec.Created) ||
		!got.Expires.IsZero() || got.Revoked || got.State != "" {
		t.Fatalf("Lookup = %+v, want %+v", got, goodRec)
	}

	policy, err := sqlstore.ReadPolicy(context.Background(), db, apikey.Policy{Link: "https://docs.example.com/oauth"})
	if err != nil {
		t.Fatal(err)
	}
	if policy.Clients["old-app"].State != apikey.StateBlocked || !policy.Clients["late-app"].Cutoff.Equal(now.Add(-time.Hour)) {
		t.Fatalf("ReadPolicy = %+v", policy)
	}
	auth, err := apikey.New(apikey.Config{Store: store, Prefix: prefix, Policy: policy, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, key string
		want      audit.Reason // "" = accepted
	}{
		{"allowed", good, ""},
		{"owner only", ownerOnly, ""},
		{"deprecated", deprecated, ""},
		{"revoked", revoked, audit.ReasonRevoked},
		{"expired", expired, audit.ReasonExpired},
		{"blocked key", blocked, audit.ReasonAPIKeyBlocked},
		{"blocked client", blockedClient, audit.ReasonAPIKeyBlocked},
		{"client past its cutoff", retiredClient, audit.ReasonAPIKeyRetired},
		{"unknown", unknownKey(t), audit.ReasonUnknownAPIKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := authenticate(auth, tc.key)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && !errors.Is(err, tc.want):
				t.Fatalf("err = %v, want %s", err, tc.want)
			}
		})
	}
	p, err := func() (*rsguard.Principal, error) {
		r, _ := http.NewRequest("GET", "/", nil)
		r.Header.Set("X-API-Key", good)
		return auth.Authenticate(r)
	}()
	if err != nil || p.Subject != "apikey:owner:ops" || !slices.Equal(p.Scopes, []string{"invoices:read", "invoices:write"}) {
		t.Fatalf("principal %+v, %v", p, err)
	}
}

// TestCorruptRow: a row that makes no valid record is refused with 503 and
// named by id only; it is not an outage.
func TestCorruptRow(t *testing.T) {
	db, _ := newDB(t, nil)
	key, rec := issue(t, db, apikey.Record{ClientID: "c"})
	if _, err := db.Exec(`UPDATE rsguard_api_keys SET scopes = '{"bad\"scope"}' WHERE id = $1`, rec.ID); err != nil {
		t.Fatal(err)
	}
	log, buf := logger()
	store, err := sqlstore.New(sqlstore.Config{DB: db})
	if err != nil {
		t.Fatal(err)
	}
	auth, err := apikey.New(apikey.Config{Store: store, Prefix: prefix, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	if err := authenticate(auth, key); !errors.Is(err, audit.ReasonStoreUnavailable) {
		t.Fatalf("err = %v, want store_unavailable", err)
	}
	if store.Stats().Down {
		t.Fatal("a corrupt row marked the database down")
	}
	if !strings.Contains(buf.String(), rec.ID) {
		t.Fatalf("the log does not name the key's id:\n%s", buf)
	}
	assertNoSecrets(t, buf.String(), key)
}

// TestStalenessBound: a key blocked (or revoked) in the table is refused by
// every replica at most Refresh after the change, and never later than
// MaxStaleness; until then the cached record is served without a query.
func TestStalenessBound(t *testing.T) {
	db, _ := newDB(t, nil)
	clk := newClock()
	const maxStale, refresh = 30 * time.Second, 10 * time.Second
	key, rec := issue(t, db, apikey.Record{ClientID: "billing-cron"})
	var stores [2]*sqlstore.Store
	var auths [2]*apikey.Authenticator
	for i := range stores {
		var err error
		if stores[i], err = sqlstore.New(sqlstore.Config{DB: db, MaxStaleness: maxStale, Refresh: refresh, Now: clk.Now}); err != nil {
			t.Fatal(err)
		}
		if auths[i], err = apikey.New(apikey.Config{Store: stores[i], Prefix: prefix, Now: clk.Now}); err != nil {
			t.Fatal(err)
		}
		if err := authenticate(auths[i], key); err != nil {
			t.Fatalf("replica %d: %v", i, err)
		}
	}
	// Replica 1 read the key 4 s after replica 0: their caches age apart.
	clk.Add(4 * time.Second)
	stores[1].Forget(rec.Hash)
	if err := authenticate(auths[1], key); err != nil {
		t.Fatal(err)
	}
	rec.State = apikey.StateBlocked
	if err := sqlstore.Put(context.Background(), db, rec); err != nil {
		t.Fatal(err)
	}
	blockedAt := clk.Now()
	refusedAt := [2]time.Duration{-1, -1}
	for step := time.Duration(0); step <= maxStale; step += time.Second {
		for i, a := range auths {
			if refusedAt[i] >= 0 {
				continue
			}
			err := authenticate(a, key)
			switch {
			case errors.Is(err, audit.ReasonAPIKeyBlocked):
				refusedAt[i] = clk.Now().Sub(blockedAt)
			case err != nil:
				t.Fatalf("replica %d at +%v: %v", i, step, err)
			}
		}
		clk.Add(time.Second)
	}
	for i, d := range refusedAt {
		if d < 0 || d > refresh || d > maxStale {
			t.Fatalf("replica %d refused the blocked key %v after the change; bound: Refresh %v ≤ MaxStaleness %v", i, d, refresh, maxStale)
		}
	}
	// Between reads, the cache answered: one query per Refresh per replica.
	if q := stores[0].Stats().Queries; q > 2 {
		t.Fatalf("replica 0 sent %d queries for one key in %v", q, refresh)
	}
	t.Logf("blocked key refused %v (replica 0) and %v (replica 1) after the change; Refresh %v, MaxStaleness %v", refusedAt[0], refusedAt[1], refresh, maxStale)
}

// TestUnknownKeysCached: a repeated unknown key costs one query per
// UnknownTTL, concurrent lookups of one key share one query, and a key
// inserted since is found after UnknownTTL.
func TestUnknownKeysCached(t *testing.T) {
	db, _ := newDB(t, nil)
	clk := newClock()
	store, err := sqlstore.New(sqlstore.Config{DB: db, UnknownTTL: 5 * time.Second, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	auth, err := apikey.New(apikey.Config{Store: store, Prefix: prefix, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	key, rec, err := apikey.Generate(prefix, apikey.Record{ClientID: "late"})
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 64)
	var wg sync.WaitGroup
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- authenticate(auth, key)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if !errors.Is(err, audit.ReasonUnknownAPIKey) {
			t.Fatalf("err = %v, want unknown_api_key", err)
		}
	}
	for range 1000 {
		if err := authenticate(auth, key); !errors.Is(err, audit.ReasonUnknownAPIKey) {
			t.Fatalf("err = %v", err)
		}
	}
	// 64 concurrent lookups share at most a few queries (those that
	// missed the first one's result), and 1000 more cost none.
	if q := store.Stats().Queries; q > 4 {
		t.Fatalf("%d queries for one unknown key", q)
	}
	if err := sqlstore.Put(context.Background(), db, rec); err != nil {
		t.Fatal(err)
	}
	clk.Add(5 * time.Second)
	if err := authenticate(auth, key); err != nil {
		t.Fatalf("a key inserted UnknownTTL ago: %v", err)
	}
}

// TestDatabaseStopped stops the real PostgreSQL process mid-run: cached
// keys are served until they are MaxStaleness old, then refused with 503;
// unknown keys get 503 at once; no lookup waits past QueryTimeout; the
// database gets one query per RetryInterval, the log one line per outage,
// without a key or hash; the Recorder keeps its counts; and when the
// database is back, everything recovers without a restart.
func TestDatabaseStopped(t *testing.T) {
	services.Require(t, pgErr)
	srv, err := services.StartPostgres() // its own server: this test stops it
	services.Require(t, err)
	t.Cleanup(func() { _ = srv.Close() })
	db, _ := newDB(t, srv)
	clk := newClock()
	const maxStale, refresh, timeout, retry = 30 * time.Second, 10 * time.Second, 2 * time.Second, time.Second
	key, _ := issue(t, db, apikey.Record{ClientID: "billing-cron"})
	other, _ := issue(t, db, apikey.Record{ClientID: "billing-cron"})
	log, buf := logger()
	store, err := sqlstore.New(sqlstore.Config{DB: db, MaxStaleness: maxStale, Refresh: refresh,
		QueryTimeout: timeout, RetryInterval: retry, Now: clk.Now, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	rec, err := sqlstore.NewRecorder(sqlstore.RecorderConfig{DB: db, FlushInterval: time.Hour, Now: clk.Now, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rec.Close(context.Background()) })
	auth, err := apikey.New(apikey.Config{Store: store, Prefix: prefix, Now: clk.Now, OnUse: rec.OnUse, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	if err := authenticate(auth, key); err != nil { // cached from now on
		t.Fatal(err)
	}
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	stoppedAt := clk.Now()
	check := func(k string, want audit.Reason) {
		t.Helper()
		start := time.Now()
		err := authenticate(auth, k)
		if took := time.Since(start); took > timeout+time.Second {
			t.Fatalf("a lookup took %v; bound: QueryTimeout %v", took, timeout)
		}
		switch {
		case want == "" && err != nil:
			t.Fatalf("at +%v: refused: %v", clk.Now().Sub(stoppedAt), err)
		case want != "" && !errors.Is(err, want):
			t.Fatalf("at +%v: err = %v, want %s", clk.Now().Sub(stoppedAt), err, want)
		}
		if want == audit.ReasonStoreUnavailable {
			var e *rsguard.Error
			if !errors.As(err, &e) || e.Status != http.StatusServiceUnavailable {
				t.Fatalf("err = %#v, want a 503", err)
			}
		}
	}
	check(key, "")                             // fresh in the cache
	check(other, audit.ReasonStoreUnavailable) // never read: 503
	check(unknownKey(t), audit.ReasonStoreUnavailable)
	queries := store.Stats().Queries
	for range 100 { // within one RetryInterval: no query at all
		check(other, audit.ReasonStoreUnavailable)
	}
	if q := store.Stats().Queries; q != queries {
		t.Fatalf("%d queries within one RetryInterval of an outage", q-queries)
	}
	// The cached key is served while younger than MaxStaleness, then
	// refused.
	var servedUntil time.Duration
	for clk.Now().Sub(stoppedAt) < 2*maxStale {
		clk.Add(time.Second)
		err := authenticate(auth, key)
		if err == nil {
			servedUntil = clk.Now().Sub(stoppedAt)
			continue
		}
		if !errors.Is(err, audit.ReasonStoreUnavailable) {
			t.Fatalf("err = %v", err)
		}
	}
	if servedUntil >= maxStale || servedUntil < maxStale-2*time.Second {
		t.Fatalf("the cached key was served until +%v of the outage; want just under MaxStaleness %v", servedUntil, maxStale)
	}
	if err := rec.Flush(context.Background()); err == nil {
		t.Fatal("Flush succeeded with the database stopped")
	}
	if st := rec.Stats(); st.Written != 0 || st.Recorded == 0 || st.Dropped != 0 {
		t.Fatalf("recorder stats during the outage: %+v", st)
	}
	// One line per outage from the store, one from the Authenticator (its
	// first failed lookup; the others at debug level) and one from the
	// recorder: not one per request.
	if n := strings.Count(buf.String(), `msg="apikey/sqlstore: database unavailable`); n != 1 {
		t.Fatalf("%d outage lines from the store for one outage, want 1:\n%s", n, buf)
	}
	if n := strings.Count(buf.String(), "level=ERROR"); n > 3 {
		t.Fatalf("%d error lines for one outage of %d requests:\n%s", n, 100+maxStale/time.Second, buf)
	}

	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	clk.Add(retry)
	check(key, "")
	check(other, "")
	if !strings.Contains(buf.String(), "database available again") {
		t.Fatalf("no recovery line:\n%s", buf)
	}
	if err := rec.Flush(context.Background()); err != nil {
		t.Fatalf("Flush after the outage: %v", err)
	}
	st := rec.Stats()
	var total int64
	if err := db.QueryRow("SELECT coalesce(sum(accepted + refused), 0) FROM rsguard_api_key_usage").Scan(&total); err != nil {
		t.Fatal(err)
	}
	if st.Written != st.Recorded || uint64(total) != st.Recorded {
		t.Fatalf("after the outage: %+v, %d in the table", st, total)
	}
	assertNoSecrets(t, buf.String(), key, other)
}

// TestSlowDatabase: a lookup blocked by a lock the test holds returns 503
// within QueryTimeout.
func TestSlowDatabase(t *testing.T) {
	db, _ := newDB(t, nil)
	clk := newClock()
	const timeout = 500 * time.Millisecond
	key, _ := issue(t, db, apikey.Record{ClientID: "billing-cron"})
	store, err := sqlstore.New(sqlstore.Config{DB: db, QueryTimeout: timeout, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	auth, err := apikey.New(apikey.Config{Store: store, Prefix: prefix, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec("LOCK TABLE rsguard_api_keys IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = authenticate(auth, key)
	took := time.Since(start)
	if !errors.Is(err, audit.ReasonStoreUnavailable) {
		t.Fatalf("err = %v, want store_unavailable", err)
	}
	if took < timeout || took > timeout+time.Second {
		t.Fatalf("the lookup took %v; want QueryTimeout %v (plus under a second)", took, timeout)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	clk.Add(sqlstore.DefaultRetryInterval)
	if err := authenticate(auth, key); err != nil {
		t.Fatalf("after the lock: %v", err)
	}
	t.Logf("a lookup under a held lock returned 503 after %v (QueryTimeout %v)", took, timeout)
}

// TestSlowDatabaseRetryInterval: with a QueryTimeout longer than the
// RetryInterval (as the defaults are, 2 s and 1 s), a hung database costs
// one query and one wait of QueryTimeout: the lookups within RetryInterval
// after the failure are answered at once without a query. On the real
// clock, with generous bounds.
func TestSlowDatabaseRetryInterval(t *testing.T) {
	db, _ := newDB(t, nil)
	const timeout, retry = 1500 * time.Millisecond, time.Second
	key, _ := issue(t, db, apikey.Record{ClientID: "billing-cron"})
	store, err := sqlstore.New(sqlstore.Config{DB: db, QueryTimeout: timeout, RetryInterval: retry})
	if err != nil {
		t.Fatal(err)
	}
	auth, err := apikey.New(apikey.Config{Store: store, Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	tx, err := db.BeginTx(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.Exec("LOCK TABLE rsguard_api_keys IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	first := time.Now()
	if err := authenticate(auth, key); !errors.Is(err, audit.ReasonStoreUnavailable) {
		t.Fatalf("err = %v, want store_unavailable", err)
	}
	if took := time.Since(first); took < timeout || took > timeout+time.Second {
		t.Fatalf("the first lookup took %v; want QueryTimeout %v (plus under a second)", took, timeout)
	}
	// The query failed no earlier than first+timeout, so the database is
	// skipped until at least first+timeout+retry: lookups that begin before
	// then (less a margin) must not query it.
	skipUntil := first.Add(timeout + retry - 200*time.Millisecond)
	n := 0
	for ; n < 5 && time.Now().Before(skipUntil); n++ {
		start := time.Now()
		err := authenticate(auth, key)
		took := time.Since(start)
		if !errors.Is(err, audit.ReasonStoreUnavailable) {
			t.Fatalf("lookup %d: err = %v, want store_unavailable", n+2, err)
		}
		if took > timeout/2 {
			t.Fatalf("lookup %d within RetryInterval of the failure took %v; want at once", n+2, took)
		}
	}
	if n == 0 {
		t.Skip("no lookup could begin within RetryInterval after the first (machine too slow)")
	}
	if st := store.Stats(); st.Queries != 1 {
		t.Fatalf("%d queries for %d lookups within RetryInterval of a failure, want 1", st.Queries, n+1)
	}
	t.Logf("one query, then %d lookups answered at once within RetryInterval", n)
}

// countRows returns sum(accepted), sum(refused) of the usage table.
func countRows(t *testing.T, db *sql.DB, where string, args ...any) (acc, ref int64) {
	t.Helper()
	q := "SELECT coalesce(sum(accepted), 0), coalesce(sum(refused), 0) FROM rsguard_api_key_usage"
	if where != "" {
		q += " WHERE " + where
	}
	if err := db.QueryRow(q, args...).Scan(&acc, &ref); err != nil {
		t.Fatal(err)
	}
	return acc, ref
}

// TestDatabaseDownAtStart: the Store and the Recorder are built while
// PostgreSQL is down (New does not connect): lookups get 503 within
// QueryTimeout, the Recorder keeps its counts, and both work once the server
// is up, without being rebuilt.
func TestDatabaseDownAtStart(t *testing.T) {
	services.Require(t, pgErr)
	srv, err := services.StartPostgres() // its own server: this test stops it
	services.Require(t, err)
	t.Cleanup(func() { _ = srv.Close() })
	db, _ := newDB(t, srv)
	key, _ := issue(t, db, apikey.Record{ClientID: "billing-cron"})
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	const timeout, retry = time.Second, 100 * time.Millisecond
	log, buf := logger()
	store, err := sqlstore.New(sqlstore.Config{DB: db, QueryTimeout: timeout, RetryInterval: retry, Logger: log})
	if err != nil {
		t.Fatalf("New with the database down: %v (it must not connect)", err)
	}
	rec, err := sqlstore.NewRecorder(sqlstore.RecorderConfig{DB: db, FlushInterval: time.Hour, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rec.Close(context.Background()) })
	auth, err := apikey.New(apikey.Config{Store: store, Prefix: prefix, OnUse: rec.OnUse, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		start := time.Now()
		err := authenticate(auth, key)
		if took := time.Since(start); took > timeout+time.Second {
			t.Fatalf("a lookup took %v with the database down; bound: QueryTimeout %v + 1 s", took, timeout)
		}
		var e *rsguard.Error
		if !errors.Is(err, audit.ReasonStoreUnavailable) || !errors.As(err, &e) || e.Status != http.StatusServiceUnavailable {
			t.Fatalf("database down at start: err = %v, want 503 store_unavailable", err)
		}
	}
	if err := rec.Flush(context.Background()); err == nil {
		t.Fatal("Flush succeeded with the database down")
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(10 * time.Second)
	tick := time.NewTicker(retry) // the store retries once per RetryInterval: poll at that pace
	defer tick.Stop()
	for err := authenticate(auth, key); err != nil; err = authenticate(auth, key) {
		select {
		case <-deadline:
			t.Fatalf("still refused 10 s after the database started: %v", err)
		case <-tick.C:
		}
	}
	if err := rec.Flush(context.Background()); err != nil {
		t.Fatalf("Flush after the database started: %v", err)
	}
	// A key the store could not look up was never identified: only the
	// success is counted against it.
	if acc, _ := countRows(t, db, "kind = $1", sqlstore.KindAPIKey); acc != 1 {
		t.Fatalf("usage rows: %d accepted API key requests; want 1", acc)
	}
	assertNoSecrets(t, buf.String(), key)
}
