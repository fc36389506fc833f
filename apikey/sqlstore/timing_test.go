package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/rsguard/rsguard/apikey"
)

// fakeClock is an injectable clock that moves only when told.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// hookDB returns a database whose every query calls query and fails with
// its error: a database that takes as long as query says, then fails.
func hookDB(t *testing.T, query func(context.Context) error) *sql.DB {
	db := sql.OpenDB(hookConnector{query})
	t.Cleanup(func() { db.Close() })
	return db
}

type hookConnector struct{ query func(context.Context) error }

func (c hookConnector) Connect(context.Context) (driver.Conn, error) { return hookConn(c), nil }
func (c hookConnector) Driver() driver.Driver                        { return nil }

type hookConn struct{ query func(context.Context) error }

func (hookConn) Prepare(string) (driver.Stmt, error) { return nil, errors.New("hookConn: no Prepare") }
func (hookConn) Close() error                        { return nil }
func (hookConn) Begin() (driver.Tx, error)           { return nil, errors.New("hookConn: no Begin") }

func (c hookConn) QueryContext(ctx context.Context, _ string, _ []driver.NamedValue) (driver.Rows, error) {
	return nil, c.query(ctx)
}

var errHung = errors.New("the database did not answer")

// TestRetryIntervalRunsFromTheFailure: a query that fails after
// QueryTimeout, longer than RetryInterval, still spares the database for
// RetryInterval after it failed: the next lookups are answered at once,
// without a query.
func TestRetryIntervalRunsFromTheFailure(t *testing.T) {
	clk := &fakeClock{t: time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)}
	var mu sync.Mutex
	queries := 0
	db := hookDB(t, func(context.Context) error {
		mu.Lock()
		queries++
		mu.Unlock()
		clk.Add(DefaultQueryTimeout) // the query hangs for the whole QueryTimeout
		return errHung
	})
	s, err := New(Config{DB: db, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := range 3 {
		if _, err := s.Lookup(ctx, apikey.Hash{1}); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("lookup %d: err = %v, want ErrUnavailable", i, err)
		}
		clk.Add(DefaultRetryInterval / 4)
	}
	mu.Lock()
	defer mu.Unlock()
	if queries != 1 {
		t.Fatalf("%d queries within RetryInterval after the failure, want 1", queries)
	}
	if st := s.Stats(); st.Queries != 1 || st.Unavailable != 3 || !st.Down {
		t.Fatalf("stats %+v", st)
	}
}

// TestStalenessJudgedAfterTheQuery: a cached record just under
// MaxStaleness old when the lookup begins is not served when the failing
// query took it past MaxStaleness.
func TestStalenessJudgedAfterTheQuery(t *testing.T) {
	clk := &fakeClock{t: time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)}
	const wait = 500 * time.Millisecond
	db := hookDB(t, func(context.Context) error {
		clk.Add(wait)
		return errHung
	})
	s, err := New(Config{DB: db, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	rec := &apikey.Record{ID: "3kTMd9QvB2xA", Hash: apikey.Hash{2}, ClientID: "billing-cron"}
	s.mu.Lock()
	s.keys.put(&entry{hash: rec.Hash, rec: rec, fetched: clk.Now()})
	s.mu.Unlock()

	// Past Refresh and within MaxStaleness when the lookup begins; past
	// MaxStaleness once the failing query has waited.
	clk.Add(DefaultMaxStaleness - wait/2)
	if got, err := s.Lookup(context.Background(), rec.Hash); !errors.Is(err, ErrUnavailable) || got != nil {
		t.Fatalf("past MaxStaleness after the query: %v, %v; want ErrUnavailable", got, err)
	}
	if st := s.Stats(); st.Queries != 1 || st.Stale != 0 {
		t.Fatalf("stats %+v", st)
	}

	// Still within the bound after the query: served from the cache.
	s.mu.Lock()
	s.down = false
	s.keys.put(&entry{hash: rec.Hash, rec: rec, fetched: clk.Now().Add(-DefaultMaxStaleness + 2*wait)})
	s.mu.Unlock()
	if got, err := s.Lookup(context.Background(), rec.Hash); err != nil || got != rec {
		t.Fatalf("within MaxStaleness after the query: %v, %v; want the cached record", got, err)
	}
}

// txDB returns a database whose transactions begin by calling begin, and
// whose statements and commits succeed: a database that is down while
// begin fails.
func txDB(t *testing.T, begin func(context.Context) error) *sql.DB {
	db := sql.OpenDB(txConnector{begin})
	t.Cleanup(func() { db.Close() })
	return db
}

type txConnector struct{ begin func(context.Context) error }

func (c txConnector) Connect(context.Context) (driver.Conn, error) { return txConn(c), nil }
func (c txConnector) Driver() driver.Driver                        { return nil }

type txConn struct{ begin func(context.Context) error }

func (txConn) Prepare(string) (driver.Stmt, error) { return nil, errors.New("txConn: no Prepare") }
func (txConn) Close() error                        { return nil }
func (txConn) Begin() (driver.Tx, error)           { return nil, errors.New("txConn: use BeginTx") }

func (c txConn) BeginTx(ctx context.Context, _ driver.TxOptions) (driver.Tx, error) {
	if err := c.begin(ctx); err != nil {
		return nil, err
	}
	return okTx{}, nil
}

func (txConn) ExecContext(context.Context, string, []driver.NamedValue) (driver.Result, error) {
	return driver.RowsAffected(1), nil
}

type okTx struct{}

func (okTx) Commit() error   { return nil }
func (okTx) Rollback() error { return nil }

// TestCloseRetriesUntilTheDatabaseAnswers: Close during an outage tries
// again until the write succeeds, within its ctx, and loses no count; with
// the database down past ctx's deadline it returns the write's error by
// the deadline, the counts still pending.
func TestCloseRetriesUntilTheDatabaseAnswers(t *testing.T) {
	var mu sync.Mutex
	attempts, failFirst := 0, 2
	db := txDB(t, func(context.Context) error {
		mu.Lock()
		defer mu.Unlock()
		attempts++
		if attempts <= failFirst {
			return errHung
		}
		return nil
	})
	r, err := NewRecorder(RecorderConfig{DB: db, FlushInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for range 3 {
		r.OnUse(nil, apikey.Use{ID: "3kTMd9QvB2xA", ClientID: "billing-cron", Time: now})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := r.Close(ctx); err != nil {
		t.Fatalf("Close: %v; want the counts written once the database answers", err)
	}
	mu.Lock()
	n := attempts
	mu.Unlock()
	if st := r.Stats(); n != 3 || st.Written != 3 || st.Recorded != 3 || st.Failing {
		t.Fatalf("%d attempts, stats %+v; want 3 attempts and every count written", n, st)
	}

	// Down for good: Close gives up at its deadline.
	down := txDB(t, func(ctx context.Context) error { return errHung })
	r, err = NewRecorder(RecorderConfig{DB: down, FlushInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	r.OnUse(nil, apikey.Use{ID: "3kTMd9QvB2xA", ClientID: "billing-cron", Time: now})
	const deadline = 300 * time.Millisecond
	ctx, cancel = context.WithTimeout(context.Background(), deadline)
	defer cancel()
	start := time.Now()
	err = r.Close(ctx)
	if took := time.Since(start); !errors.Is(err, ErrUnavailable) || took < deadline || took > deadline+5*time.Second {
		t.Fatalf("Close, database down: %v after %v; want ErrUnavailable at the deadline %v", err, took, deadline)
	}
	if st := r.Stats(); st.Written != 0 || st.Recorded != 1 || !st.Failing {
		t.Fatalf("stats %+v; want the count pending", st)
	}
}
