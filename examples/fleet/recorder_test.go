package fleet

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/apikey"
	"github.com/rsguard/rsguard/apikey/sqlstore"
	"github.com/rsguard/rsguard/audit"
	"github.com/rsguard/rsguard/rsmeta"
)

// bearerByName is a bearer Authenticator for these tests: "Bearer <client>"
// is accepted as a principal of that OAuth client, "Bearer bad" refused.
type bearerByName struct{}

func (bearerByName) Authenticate(r *http.Request) (*rsguard.Principal, error) {
	tok, err := rsguard.BearerToken(r)
	if err != nil {
		return nil, err
	}
	if tok == "bad" {
		return nil, &rsguard.Error{Status: http.StatusUnauthorized, Code: rsmeta.ErrorInvalidToken,
			Reason: audit.ReasonRejected, Credential: audit.CredentialJWT}
	}
	return &rsguard.Principal{Subject: "client:" + tok, Credential: audit.CredentialJWT, ClientID: tok}, nil
}

// TestUsageSummedAcrossReplicas: two replicas, each with its Authenticator
// and Recorder, write to one table; ReadUsage gives the sum of their own
// Snapshots, and the migration report says the data is the database's.
func TestUsageSummedAcrossReplicas(t *testing.T) {
	db, _ := newDB(t, nil)
	clk := newClock()
	key, _ := issue(t, db, apikey.Record{ClientID: "billing-cron"})
	ownerKey, _ := issue(t, db, apikey.Record{Owner: "alice"})
	blocked, _ := issue(t, db, apikey.Record{ClientID: "billing-cron", State: apikey.StateBlocked})
	var auths [2]*apikey.Authenticator
	var recs [2]*sqlstore.Recorder
	for i := range auths {
		store, err := sqlstore.New(sqlstore.Config{DB: db, Now: clk.Now})
		if err != nil {
			t.Fatal(err)
		}
		if recs[i], err = sqlstore.NewRecorder(sqlstore.RecorderConfig{DB: db, FlushInterval: time.Hour, Now: clk.Now}); err != nil {
			t.Fatal(err)
		}
		if auths[i], err = apikey.New(apikey.Config{Store: store, Prefix: prefix, Now: clk.Now,
			OnUse: recs[i].OnUse, Bearer: recs[i].Bearer(bearerByName{})}); err != nil {
			t.Fatal(err)
		}
	}
	do := func(a *apikey.Authenticator, header, value string) {
		r := httptest.NewRequest("GET", "/", nil)
		if header != "" {
			r.Header.Set(header, value)
		}
		_, _ = a.Authenticate(r)
	}
	for day := 0; day < 3; day++ {
		for i, a := range auths {
			for n := 0; n < 5+i+day; n++ {
				do(a, "X-API-Key", key)
			}
			do(a, "X-API-Key", ownerKey)
			do(a, "X-API-Key", blocked)
			do(a, "X-API-Key", unknownKey(t))
			do(a, "X-API-Key", "sk_live_garbage")
			for n := 0; n < 3+day; n++ {
				do(a, "Authorization", "Bearer billing-cron")
			}
			do(a, "Authorization", "Bearer mobile-app")
			do(a, "Authorization", "Bearer bad")
			do(a, "", "")
		}
		clk.Add(24 * time.Hour)
	}
	for _, r := range recs {
		if err := r.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	got, err := sqlstore.ReadUsage(context.Background(), db, clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	a, b := auths[0].Usage(), auths[1].Usage()
	if got.Source != sqlstore.SourceDatabase {
		t.Fatalf("Source = %q", got.Source)
	}
	sum := func(x, y apikey.Counts) apikey.Counts {
		return apikey.Counts{Accepted: x.Accepted + y.Accepted, Rejected: x.Rejected + y.Rejected}
	}
	if want := sum(a.APIKey, b.APIKey); got.APIKey != want {
		t.Fatalf("APIKey = %+v, want %+v", got.APIKey, want)
	}
	if want := sum(a.Bearer, b.Bearer); got.Bearer != want {
		t.Fatalf("Bearer = %+v, want %+v", got.Bearer, want)
	}
	if want := a.Anonymous + b.Anonymous; got.Anonymous != want {
		t.Fatalf("Anonymous = %d, want %d", got.Anonymous, want)
	}
	if !got.Since.Equal(a.Since) {
		t.Fatalf("Since = %v, want %v", got.Since, a.Since)
	}
	if len(got.Keys) != len(a.Keys) {
		t.Fatalf("Keys = %+v, want %+v", got.Keys, a.Keys)
	}
	for i, k := range got.Keys {
		ka, kb := a.Keys[i], b.Keys[i]
		if k.ID != ka.ID || k.Client != ka.Client || k.Counts != sum(ka.Counts, kb.Counts) ||
			!k.FirstSeen.Equal(ka.FirstSeen) || !k.LastSeen.Equal(kb.LastSeen) || k.State != ka.State {
			t.Fatalf("Keys[%d] = %+v, want the sum of %+v and %+v", i, k, ka, kb)
		}
	}
	if len(got.Days) != 3 || len(got.Days) != len(a.Days) {
		t.Fatalf("Days = %+v, want %+v", got.Days, a.Days)
	}
	for i, d := range got.Days {
		da, db := a.Days[i], b.Days[i]
		if !d.Day.Equal(da.Day) || d.APIKey != sum(da.APIKey, db.APIKey) || d.Bearer != da.Bearer+db.Bearer {
			t.Fatalf("Days[%d] = %+v, want the sum of %+v and %+v", i, d, da, db)
		}
	}
	if len(got.Activity) != len(a.Activity) {
		t.Fatalf("Activity = %+v, want %+v", got.Activity, a.Activity)
	}
	for i, c := range got.Activity {
		ca, cb := a.Activity[i], b.Activity[i]
		if c.Client != ca.Client || c.PolicyRefused != ca.PolicyRefused+cb.PolicyRefused ||
			!c.LastAPIKey.Equal(cb.LastAPIKey) || !c.LastBearer.Equal(cb.LastBearer) || len(c.Days) != len(ca.Days) {
			t.Fatalf("Activity[%d] = %+v, want the sum of %+v and %+v", i, c, ca, cb)
		}
		for j, d := range c.Days {
			if d.APIKey != sum(ca.Days[j].APIKey, cb.Days[j].APIKey) || d.Bearer != ca.Days[j].Bearer+cb.Days[j].Bearer {
				t.Fatalf("Activity[%d].Days[%d] = %+v", i, j, d)
			}
		}
	}
	// The OAuth client and the key's client are one client in the report:
	// equal names.
	report := apikey.NewReport(got, auths[0].Policy(), clk.Now(), 7)
	if report.Source != sqlstore.SourceDatabase {
		t.Fatalf("report Source = %q", report.Source)
	}
	for _, c := range report.Clients {
		if c.Client == "billing-cron" && (c.APIKey.Accepted == 0 || c.Bearer == 0) {
			t.Fatalf("billing-cron in the report: %+v", c)
		}
	}
	for _, r := range recs {
		if err := r.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}

// TestReportKeyClientAfterOAuthFlood: more new OAuth clients than
// apikey.MaxActivityClients, each making one request before or after a key
// client's key requests, are written to the usage table; ReadUsage still
// gives the key client's activity, and the report shows it breaking at the
// cutoff with its key requests (found by an audit: with the flood after the
// key requests, ReadUsage kept only the most recent clients and the report
// showed the key client idle, with no key request).
func TestReportKeyClientAfterOAuthFlood(t *testing.T) {
	for _, floodFirst := range []bool{false, true} {
		t.Run(fmt.Sprintf("flood first %v", floodFirst), func(t *testing.T) {
			db, _ := newDB(t, nil)
			clk := newClock()
			key, _ := issue(t, db, apikey.Record{ClientID: "legacy-pos"})
			store, err := sqlstore.New(sqlstore.Config{DB: db, Now: clk.Now})
			if err != nil {
				t.Fatal(err)
			}
			rec, err := sqlstore.NewRecorder(sqlstore.RecorderConfig{DB: db, FlushInterval: time.Hour, Now: clk.Now})
			if err != nil {
				t.Fatal(err)
			}
			defer rec.Close(context.Background())
			policy := apikey.Policy{Cutoff: clk.Now().Add(30 * 24 * time.Hour)}
			auth, err := apikey.New(apikey.Config{Store: store, Prefix: prefix, Now: clk.Now, Policy: policy,
				OnUse: rec.OnUse, Bearer: rec.Bearer(bearerByName{})})
			if err != nil {
				t.Fatal(err)
			}
			const flood = apikey.MaxActivityClients + 10
			steps := []func(){
				func() {
					for range 5 {
						if err := authenticate(auth, key); err != nil {
							t.Fatal(err)
						}
					}
				},
				func() {
					for i := range flood {
						clk.Add(time.Millisecond) // each OAuth client more recent than the last
						r := httptest.NewRequest("GET", "/", nil)
						r.Header.Set("Authorization", "Bearer dcr-"+strconv.Itoa(i))
						if _, err := auth.Authenticate(r); err != nil {
							t.Fatal(err)
						}
					}
				},
			}
			if floodFirst {
				steps[0], steps[1] = steps[1], steps[0]
			}
			for _, step := range steps {
				step()
			}
			if err := rec.Flush(context.Background()); err != nil {
				t.Fatal(err)
			}
			s, err := sqlstore.ReadUsage(context.Background(), db, clk.Now())
			if err != nil {
				t.Fatal(err)
			}
			if !s.ActivityTruncated || len(s.Activity) != apikey.MaxActivityClients+1 {
				t.Fatalf("Activity: %d clients, truncated %v; want %d, true", len(s.Activity), s.ActivityTruncated, apikey.MaxActivityClients+1)
			}
			report := apikey.NewReport(s, policy, clk.Now(), 7)
			if report.Totals.ClientsBreakingAtCutoff != 1 || report.Totals.APIKey.Accepted != 5 || report.Totals.Bearer != flood {
				t.Fatalf("report totals: %+v", report.Totals)
			}
			var found bool
			for _, c := range report.Clients {
				if c.Client == "legacy-pos" {
					found = true
					if c.Status != apikey.StatusBreaksAtCutoff || c.APIKey.Accepted != 5 || c.Days[len(c.Days)-1].APIKey.Accepted != 5 {
						t.Fatalf("legacy-pos in the report: %+v", c)
					}
				}
			}
			if !found {
				t.Fatal("legacy-pos not in the report")
			}
		})
	}
}

// The child process of the SIGTERM and SIGKILL tests: this test binary run
// again with these variables set.
const (
	childEnv      = "FLEET_RECORDER_CHILD" // the number of uses to record
	childDSNEnv   = "FLEET_RECORDER_DSN"
	childEveryEnv = "FLEET_RECORDER_EVERY"
)

// child records the uses it is told to, prints "ready <written>", and on
// SIGTERM closes its Recorder (writing what is pending) and exits 0.
func child() int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	n, _ := strconv.Atoi(os.Getenv(childEnv))
	every, _ := strconv.Atoi(os.Getenv(childEveryEnv))
	db, err := sql.Open("pgx", os.Getenv(childDSNEnv))
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	defer db.Close()
	rec, err := sqlstore.NewRecorder(sqlstore.RecorderConfig{DB: db, FlushInterval: time.Hour, FlushEvery: every})
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	// Uses go in batches of FlushEvery; after each, the child waits
	// (bounded) for the write it triggers, so that what is pending at the
	// end is exactly n % FlushEvery: deterministic, whatever the speed of
	// the database.
	now := time.Now()
	for i := 1; i <= n; i++ {
		rec.OnUse(nil, apikey.Use{Time: now, ID: "3kTMd9QvB2xA", ClientID: "billing-cron"})
		if i%every != 0 {
			continue
		}
		for deadline := time.Now().Add(30 * time.Second); rec.Stats().Written < uint64(i); {
			if time.Now().After(deadline) {
				fmt.Println("error: a triggered write did not happen within 30 s")
				return 1
			}
			time.Sleep(time.Millisecond) // a poll interval in the child, not the test's synchronisation
		}
	}
	fmt.Println("ready", rec.Stats().Written)
	<-ctx.Done()
	cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := rec.Close(cctx); err != nil {
		fmt.Println("error", err)
		return 1
	}
	return 0
}

// runChild starts the child recording n uses with FlushEvery every, waits
// for its "ready" line, sends it sig, and returns the written count it
// reported and how it exited.
func runChild(t *testing.T, url string, n, every int, sig syscall.Signal) (written int, waitErr error) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+strconv.Itoa(n), childDSNEnv+"="+url, childEveryEnv+"="+strconv.Itoa(every))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 1)
	go func() {
		s := bufio.NewScanner(out)
		for s.Scan() {
			lines <- s.Text()
		}
		close(lines)
	}()
	select {
	case line := <-lines:
		var ok bool
		if line, ok = strings.CutPrefix(line, "ready "); !ok {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			t.Fatalf("child: %s", line)
		}
		written, _ = strconv.Atoi(line)
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatal("the child did not get ready within 60 s")
	}
	if err := cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	for range lines { // drain until the child closes its stdout
	}
	return written, cmd.Wait()
}

// TestRecorderSIGTERM: a process that records N uses and gets SIGTERM
// writes all N before it exits, though none was written before.
func TestRecorderSIGTERM(t *testing.T) {
	db, url := newDB(t, nil)
	const n = 5000
	written, err := runChild(t, url, n, 1_000_000, syscall.SIGTERM)
	if err != nil {
		t.Fatalf("the child did not exit cleanly on SIGTERM: %v", err)
	}
	if written != 0 {
		t.Fatalf("%d uses were written before SIGTERM; the test wants them all pending", written)
	}
	if acc, _ := countRows(t, db, ""); acc != n {
		t.Fatalf("%d uses in the table after SIGTERM, want all %d", acc, n)
	}
}

// TestRecorderSIGKILL: a process killed without warning loses at most one
// batch: with writes triggered every FlushEvery uses, at least N −
// (FlushEvery − 1) of N uses are in the table.
func TestRecorderSIGKILL(t *testing.T) {
	db, url := newDB(t, nil)
	const n, every = 5050, 500
	written, err := runChild(t, url, n, every, syscall.SIGKILL)
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		t.Fatalf("the child was not killed: %v", err)
	}
	acc, _ := countRows(t, db, "")
	if acc < n-(every-1) || acc != int64(written) || acc != n-n%every {
		t.Fatalf("%d of %d uses in the table after SIGKILL (the child reported %d written); want at least %d", acc, n, written, n-(every-1))
	}
	t.Logf("SIGKILL: %d of %d uses written, %d lost (bound: FlushEvery − 1 = %d)", acc, n, n-int(acc), every-1)
}
