package redisstore_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/audit"
	"github.com/rsguard/rsguard/mcpguard"
	"github.com/rsguard/rsguard/redisstore"
	"github.com/rsguard/rsguard/validate"
)

func newSessionStore(t *testing.T, srv *server, prefix string, edit func(*redisstore.SessionStoreConfig)) *redisstore.SessionStore {
	t.Helper()
	cfg := redisstore.SessionStoreConfig{Client: srv.client(t), Prefix: prefix, Timeout: testTimeout}
	if edit != nil {
		edit(&cfg)
	}
	s, err := redisstore.NewSessionStore(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestSessionStoreSemantics: the mcpguard.SessionStore contract, step by
// step, on one store.
func TestSessionStoreSemantics(t *testing.T) {
	srv, prefix := sharedServer(t)
	s := newSessionStore(t, srv, prefix, func(c *redisstore.SessionStoreConfig) { c.MaxSessionsPerOwner = 2 })
	ctx := context.Background()
	now := time.Now()
	hour := now.Add(time.Hour)
	steps := []struct {
		name string
		call func() error
		want error // a reason, or nil
	}{
		{"use of an unknown id", func() error { return s.Use(ctx, "s1", "alice", now, hour) }, audit.ReasonUnknownSession},
		{"bind", func() error { return s.Bind(ctx, "s1", "alice", now, hour) }, nil},
		{"use by the owner", func() error { return s.Use(ctx, "s1", "alice", now, hour) }, nil},
		{"use by another", func() error { return s.Use(ctx, "s1", "bob", now, hour) }, audit.ReasonSessionNotOwned},
		{"bind by another", func() error { return s.Bind(ctx, "s1", "bob", now, hour) }, audit.ReasonSessionNotOwned},
		{"bind again by the owner (extends)", func() error { return s.Bind(ctx, "s1", "alice", now, hour) }, nil},
		{"second binding of the owner", func() error { return s.Bind(ctx, "s2", "alice", now, hour) }, nil},
		{"third binding: over MaxSessionsPerOwner", func() error { return s.Bind(ctx, "s3", "alice", now, hour) }, audit.ReasonTooManySessions},
		{"another owner is not affected", func() error { return s.Bind(ctx, "s3", "bob", now, hour) }, nil},
		{"delete", func() error { return s.Delete(ctx, "s2") }, nil},
		{"deleted id is unknown", func() error { return s.Use(ctx, "s2", "alice", now, hour) }, audit.ReasonUnknownSession},
		{"the owner has room again", func() error { return s.Bind(ctx, "s4", "alice", now, hour) }, nil},
		{"delete of an unknown id", func() error { return s.Delete(ctx, "nope") }, nil},
	}
	for _, st := range steps {
		err := st.call()
		if st.want == nil && err != nil || st.want != nil && !errors.Is(err, st.want) {
			t.Errorf("%s: %v, want %v", st.name, err, st.want)
		}
	}

	// The idle timeout is the key's TTL, extended (never shortened) by Use.
	client := srv.client(t)
	pttl := func(id string) time.Duration {
		d, err := client.PTTL(ctx, prefix+"{s}i:"+id).Result()
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	if err := s.Bind(ctx, "short", "carol", now, now.Add(10*time.Second)); err != nil {
		t.Fatal(err)
	}
	if d := pttl("short"); d <= 9*time.Second || d > 10*time.Second+time.Millisecond {
		t.Errorf("TTL after Bind for 10 s: %v", d)
	}
	if err := s.Use(ctx, "short", "carol", now, now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if d := pttl("short"); d <= 59*time.Second || d > time.Minute+time.Millisecond {
		t.Errorf("TTL after Use for 1 min: %v", d)
	}
	if err := s.Use(ctx, "short", "carol", now, now.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if d := pttl("short"); d <= 59*time.Second {
		t.Errorf("TTL after Use for 1 s shortened to %v", d)
	}

	// An expired binding is unknown, and its id free for anyone.
	if err := s.Bind(ctx, "brief", "carol", now, now.Add(20*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Second, "binding expired", func() bool { return pttl("brief") < 0 }) // a Use would extend it
	if err := s.Use(ctx, "brief", "carol", time.Now(), time.Now().Add(time.Hour)); !errors.Is(err, audit.ReasonUnknownSession) {
		t.Errorf("use of an expired binding: %v", err)
	}
	if err := s.Bind(ctx, "brief", "dave", time.Now(), time.Now().Add(time.Hour)); err != nil {
		t.Errorf("bind of an expired id: %v", err)
	}
}

// TestSessionStoreRace: replicas binding one id to different owners at
// once: exactly one wins, every other gets ReasonSessionNotOwned.
func TestSessionStoreRace(t *testing.T) {
	srv, prefix := sharedServer(t)
	const replicas = 8
	stores := make([]*redisstore.SessionStore, replicas)
	for i := range stores {
		stores[i] = newSessionStore(t, srv, prefix, nil)
	}
	for round := range 20 {
		id := fmt.Sprintf("race-%d", round)
		errs := make(chan error, replicas)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i, s := range stores {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				now := time.Now()
				errs <- s.Bind(context.Background(), id, fmt.Sprintf("owner-%d", i), now, now.Add(time.Minute))
			}()
		}
		close(start)
		wg.Wait()
		close(errs)
		won := 0
		for err := range errs {
			switch {
			case err == nil:
				won++
			case !errors.Is(err, audit.ReasonSessionNotOwned):
				t.Fatalf("round %d: %v", round, err)
			}
		}
		if won != 1 {
			t.Fatalf("round %d: %d replicas bound the id, want 1", round, won)
		}
	}
}

// TestSessionsReplicas: two replicas (two Validators, two mcpguard.Sessions
// on two SessionStores, served apart) sharing one Redis: a session opened
// on A is honoured on B for its owner and answered 404 for anyone else;
// deleted on B, it is unknown on A; Redis stopped, a session request gets
// 503 with Retry-After within the bound; Redis back (empty: it has no
// persistence), new sessions work without a restart.
func TestSessionsReplicas(t *testing.T) {
	srv := ownServer(t)
	is := newIssuerT(t)
	logger, logs := newLogger()
	newMCPReplica := func() *httptest.Server {
		v, err := validate.New(context.Background(), validate.Config{Issuer: is.URL, Resource: resource, Fetch: validate.FetchOptions{HTTPClient: is.Client()}})
		if err != nil {
			t.Fatal(err)
		}
		guard, err := rsguard.New(rsguard.Config{Authenticator: v, ResourceMetadata: "https://mcp.example.com/.well-known/oauth-protected-resource/mcp"})
		if err != nil {
			t.Fatal(err)
		}
		sessions, err := mcpguard.NewSessions(mcpguard.SessionConfig{Store: newSessionStore(t, srv, "", nil), Logger: logger})
		if err != nil {
			t.Fatal(err)
		}
		mcp := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPost && r.Header.Get("Mcp-Session-Id") == "" {
				var b [16]byte
				_, _ = rand.Read(b[:])
				w.Header().Set("Mcp-Session-Id", hex.EncodeToString(b[:]))
			}
			fmt.Fprint(w, `{"jsonrpc":"2.0","id":1,"result":{}}`)
		})
		hs := httptest.NewServer(guard.Middleware(sessions.Middleware(mcp)))
		t.Cleanup(hs.Close)
		return hs
	}
	a, b := newMCPReplica(), newMCPReplica()
	alice := "Bearer " + is.Token(map[string]any{"sub": "alice"})
	bob := "Bearer " + is.Token(map[string]any{"sub": "bob"})
	open := func(hs *httptest.Server, authz string) (string, int) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, hs.URL+"/mcp", nil)
		req.Header.Set("Authorization", authz)
		res, err := hs.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.Header.Get("Mcp-Session-Id"), res.StatusCode
	}
	call := func(hs *httptest.Server, method, authz, id string) answer {
		t.Helper()
		return do(t, hs.Client(), method, hs.URL+"/mcp", map[string]string{"Authorization": authz, "Mcp-Session-Id": id})
	}
	id, status := open(a, alice)
	if status != 200 || id == "" {
		t.Fatalf("initialize on A: %d, id %q", status, id)
	}
	if got := call(b, http.MethodPost, alice, id); got.status != 200 {
		t.Errorf("alice's session on B: %d, want 200", got.status)
	}
	if got := call(b, http.MethodPost, bob, id); got.status != 404 {
		t.Errorf("alice's session used by bob on B: %d, want 404", got.status)
	}
	if got := call(a, http.MethodPost, bob, id); got.status != 404 {
		t.Errorf("alice's session used by bob on A: %d, want 404", got.status)
	}
	if got := call(b, http.MethodDelete, alice, id); got.status != 200 {
		t.Errorf("DELETE on B: %d", got.status)
	}
	if got := call(a, http.MethodPost, alice, id); got.status != 404 {
		t.Errorf("deleted session on A: %d, want 404", got.status)
	}

	id, _ = open(a, alice)
	if err := srv.stop(); err != nil {
		t.Fatal(err)
	}
	for range 10 {
		got := call(b, http.MethodPost, alice, id)
		if got.status != 503 || got.retryAfter == "" || got.took > testTimeout+bound {
			t.Fatalf("Redis down: %d, Retry-After %q, after %v; want 503 with Retry-After within %v", got.status, got.retryAfter, got.took, testTimeout+bound)
		}
	}
	if _, status := open(a, alice); status != 503 {
		t.Errorf("initialize with Redis down: %d, want 503", status)
	}
	if n := len(logs.lines("ERROR")); n < 1 || n > 4 {
		// Per replica: the store's outage line, and mcpguard's own
		// rate-limited store-failure line (at most one a minute).
		t.Errorf("%d error lines over 11 failed requests on two replicas, want 1 to 4:\n%v", n, logs.lines("ERROR"))
	}
	if err := srv.start(); err != nil {
		t.Fatal(err)
	}
	var newID string
	took := eventually(t, 5*time.Second, "sessions after Redis is back", func() bool {
		var st int
		newID, st = open(a, alice)
		return st == 200
	})
	t.Logf("sessions recovered %v after redis-server answered PING", took)
	if got := call(b, http.MethodPost, alice, newID); got.status != 200 {
		t.Errorf("new session on B after recovery: %d", got.status)
	}
}
