package redisstore_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rsguard/rsguard/redisstore"
	"github.com/rsguard/rsguard/validate"
)

// bound is what a test allows a request that meets a failing Redis,
// above the stores' Timeout (100 ms here): HTTP over loopback and
// scheduling under -race.
const (
	testTimeout = 100 * time.Millisecond
	bound       = time.Second
)

// TestDenyListOutage: a Validator on a redisstore DenyList, with Redis
// stopped mid-traffic (the real process), answers 503 with Retry-After to
// every request (never 200), within the bound, logging one line for the
// outage however many requests fail; RevocationFailOpen answers 200
// instead; Redis back on the same port, the same stores recover without a
// restart (one info line). A slow Redis (CLIENT PAUSE) is bounded by the
// Timeout. Redis without persistence forgets revocations when it restarts:
// the test revokes again.
func TestDenyListOutage(t *testing.T) {
	srv := ownServer(t)
	logger, logs := newLogger()
	d, err := redisstore.NewDenyList(redisstore.DenyListConfig{Client: srv.client(t), Timeout: testTimeout, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	is := newIssuerT(t)
	vlogger, vlogs := newLogger()
	closed := newReplica(t, is, func(c *validate.Config) { c.Revocations = d; c.Logger = vlogger })
	open := newReplica(t, is, func(c *validate.Config) { c.Revocations = d; c.RevocationFailOpen = true })
	tok := "Bearer " + is.Token(map[string]any{"sub": "alice"})
	revoked := "Bearer " + is.Token(map[string]any{"sub": "bob"})
	ctx := context.Background()
	if err := d.RevokeSubject(ctx, is.URL, "bob", time.Now()); err != nil {
		t.Fatal(err)
	}
	for _, r := range []*replica{closed, open} {
		if got := r.get(t, tok); got.status != 200 {
			t.Fatalf("up: %d", got.status)
		}
		if got := r.get(t, revoked); got.status != 401 {
			t.Fatalf("revoked, up: %d", got.status)
		}
	}

	if err := srv.stop(); err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		got := closed.get(t, tok)
		if got.status != 503 || got.retryAfter == "" || got.took > testTimeout+bound {
			t.Fatalf("request %d, Redis down: %d, Retry-After %q, took %v; want 503 with Retry-After within %v", i, got.status, got.retryAfter, got.took, testTimeout+bound)
		}
		if got := closed.get(t, revoked); got.status != 503 {
			t.Fatalf("revoked token, Redis down: %d, want 503", got.status)
		}
	}
	if got := open.get(t, tok); got.status != 200 {
		t.Errorf("RevocationFailOpen, Redis down: %d, want 200", got.status)
	}
	if n := len(vlogs.lines("ERROR")); n != 1 {
		t.Errorf("the Validator logged %d error lines for 40 refused requests, want 1 (rate-limited)", n)
	}
	if n := len(logs.lines("ERROR")); n != 1 {
		t.Errorf("%d error lines for one outage of 41 failed calls, want 1:\n%s", n, strings.Join(logs.lines("ERROR"), "\n"))
	}

	if err := srv.start(); err != nil {
		t.Fatal(err)
	}
	took := eventually(t, 5*time.Second, "recovery", func() bool { return closed.get(t, tok).status == 200 })
	t.Logf("recovered %v after redis-server answered PING", took)
	if n := len(logs.lines("INFO")); n != 1 {
		t.Errorf("%d info lines after the outage, want 1", n)
	}
	if err := d.RevokeSubject(ctx, is.URL, "bob", time.Now()); err != nil {
		t.Fatal(err)
	}
	if got := closed.get(t, revoked); got.status != 401 {
		t.Errorf("revoked again after the restart: %d, want 401", got.status)
	}

	// Slow: Redis answers nobody for 3 s; each request waits Timeout.
	srv.pause(t, 3*time.Second)
	for range 3 {
		got := closed.get(t, tok)
		if got.status != 503 || got.took > testTimeout+bound {
			t.Fatalf("Redis paused: %d after %v, want 503 within %v", got.status, got.took, testTimeout+bound)
		}
		t.Logf("Redis paused: 503 after %v", got.took)
	}
}

// TestDownAtStart: stores built while Redis is down answer errors wrapping
// ErrUnavailable (with a Retry-After) at once, and work as soon as Redis
// is there, without being built again.
func TestDownAtStart(t *testing.T) {
	srv := ownServer(t)
	if err := srv.stop(); err != nil {
		t.Fatal(err)
	}
	client := srv.client(t)
	logger, logs := newLogger()
	d, err := redisstore.NewDenyList(redisstore.DenyListConfig{Client: client, Timeout: testTimeout, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	s, err := redisstore.NewSessionStore(redisstore.SessionStoreConfig{Client: client, Timeout: testTimeout, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	r, err := redisstore.NewReplayStore(redisstore.ReplayStoreConfig{Client: client, Timeout: testTimeout, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	now := time.Now()
	calls := map[string]func() error{
		"revoked": func() error {
			_, err := d.Revoked(ctx, &validate.Claims{Issuer: "iss", Subject: "alice"})
			return err
		},
		"revoke": func() error { return d.RevokeToken(ctx, "iss", "j", now.Add(time.Hour)) },
		"bind":   func() error { return s.Bind(ctx, "id-1", "alice", now, now.Add(time.Hour)) },
		"use":    func() error { return s.Use(ctx, "id-1", "alice", now, now.Add(time.Hour)) },
		"delete": func() error { return s.Delete(ctx, "id-1") },
		"replay": func() error {
			_, err := r.Use(ctx, strings.Repeat("A", 43), now.Add(time.Minute))
			return err
		},
	}
	for name, call := range calls {
		start := time.Now()
		err := call()
		var ra interface{ RetryAfter() time.Duration }
		if !errors.Is(err, redisstore.ErrUnavailable) || !errors.As(err, &ra) || ra.RetryAfter() <= 0 {
			t.Errorf("%s, Redis down: %v, want ErrUnavailable with a Retry-After", name, err)
		}
		if took := time.Since(start); took > testTimeout+bound {
			t.Errorf("%s took %v", name, took)
		}
	}
	if n := len(logs.lines("ERROR")); n != 3 {
		t.Errorf("%d error lines, want 3 (one per store)", n)
	}
	if err := srv.start(); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"revoked", "revoke", "bind", "use", "delete", "replay"} {
		if err := calls[name](); err != nil {
			t.Errorf("%s, Redis up: %v", name, err)
		}
	}
}

// TestBlackHole: a Redis address that accepts connections and never
// answers: every call of every store ends within Timeout (plus the
// bound), with ErrUnavailable.
func TestBlackHole(t *testing.T) {
	client := blackHoleClient(t)
	d, _ := redisstore.NewDenyList(redisstore.DenyListConfig{Client: client, Timeout: testTimeout})
	s, _ := redisstore.NewSessionStore(redisstore.SessionStoreConfig{Client: client, Timeout: testTimeout})
	r, _ := redisstore.NewReplayStore(redisstore.ReplayStoreConfig{Client: client, Timeout: testTimeout})
	ctx := context.Background()
	now := time.Now()
	for name, call := range map[string]func() error{
		"revoked": func() error {
			_, err := d.Revoked(ctx, &validate.Claims{Issuer: "iss", ID: "j"})
			return err
		},
		"use": func() error { return s.Use(ctx, "id", "alice", now, now.Add(time.Hour)) },
		"replay": func() error {
			_, err := r.Use(ctx, "id", now.Add(time.Minute))
			return err
		},
	} {
		for range 3 {
			start := time.Now()
			err := call()
			took := time.Since(start)
			if !errors.Is(err, redisstore.ErrUnavailable) || took > testTimeout+bound {
				t.Errorf("%s: %v after %v, want ErrUnavailable within %v", name, err, took, testTimeout+bound)
			}
		}
	}
}

// blackHoleClient returns a Redis client of an address on 127.0.0.1 that
// accepts connections and never answers (they are closed at the test's
// end).
func blackHoleClient(t *testing.T) *redis.Client {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	held := make(chan net.Conn, 64)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			held <- c // kept open, never answered
		}
	}()
	t.Cleanup(func() {
		l.Close()
		for {
			select {
			case c := <-held:
				c.Close()
			default:
				return
			}
		}
	})
	client := redis.NewClient(&redis.Options{Addr: l.Addr().String(), ContextTimeoutEnabled: true})
	t.Cleanup(func() { client.Close() })
	return client
}
