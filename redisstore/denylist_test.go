package redisstore_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/redisstore"
	"github.com/rsguard/rsguard/validate"
)

func TestNewConfig(t *testing.T) {
	good := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", ContextTimeoutEnabled: true})
	defer good.Close()
	noCtx := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer noCtx.Close()
	var typedNil *redis.Client
	for _, tc := range []struct {
		name    string
		client  redis.UniversalClient
		prefix  string
		timeout time.Duration
		logger  *slog.Logger
		wantErr bool
	}{
		{name: "zero but client", client: good},
		{name: "all set", client: good, prefix: "app:", timeout: time.Second, logger: slog.New(slog.NewTextHandler(io.Discard, nil))},
		{name: "no client", wantErr: true},
		{name: "typed nil client", client: typedNil, wantErr: true},
		{name: "no context timeouts", client: noCtx, wantErr: true},
		{name: "brace in prefix", client: good, prefix: "a{b}:", wantErr: true},
		{name: "negative timeout", client: good, timeout: -time.Second, wantErr: true},
		{name: "logger without handler", client: good, logger: &slog.Logger{}, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err1 := redisstore.NewDenyList(redisstore.DenyListConfig{Client: tc.client, Prefix: tc.prefix, Timeout: tc.timeout, Logger: tc.logger})
			_, err2 := redisstore.NewSessionStore(redisstore.SessionStoreConfig{Client: tc.client, Prefix: tc.prefix, Timeout: tc.timeout, Logger: tc.logger})
			_, err3 := redisstore.NewReplayStore(redisstore.ReplayStoreConfig{Client: tc.client, Prefix: tc.prefix, Timeout: tc.timeout, Logger: tc.logger})
			for i, err := range []error{err1, err2, err3} {
				if tc.wantErr != (err != nil) || err != nil && !errors.Is(err, rsguard.ErrInvalidConfig) {
					t.Errorf("store %d: err = %v, want an error: %v", i, err, tc.wantErr)
				}
			}
		})
	}
	if _, err := redisstore.NewDenyList(redisstore.DenyListConfig{Client: good, MaxTokenLifetime: -1}); !errors.Is(err, rsguard.ErrInvalidConfig) {
		t.Errorf("negative MaxTokenLifetime: %v", err)
	}
	if _, err := redisstore.NewSessionStore(redisstore.SessionStoreConfig{Client: good, MaxSessionsPerOwner: -1}); !errors.Is(err, rsguard.ErrInvalidConfig) {
		t.Errorf("negative MaxSessionsPerOwner: %v", err)
	}
}

// TestDenyListSemantics: the same revocations, written to a redisstore
// DenyList and to validate's in-memory one, give the same answers about
// every token, over two issuers.
func TestDenyListSemantics(t *testing.T) {
	srv, prefix := sharedServer(t)
	ctx := context.Background()
	d, err := redisstore.NewDenyList(redisstore.DenyListConfig{Client: srv.client(t), Prefix: prefix, MaxTokenLifetime: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	mem, err := validate.NewDenyList(validate.DenyListConfig{MaxTokenLifetime: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().Truncate(time.Second)
	const a, b = "https://a.example", "https://b.example"
	revoke := func(name string, fr func() error, fm func() error) {
		t.Helper()
		if err, errMem := fr(), fm(); (err == nil) != (errMem == nil) {
			t.Fatalf("%s: redis %v, memory %v", name, err, errMem)
		}
	}
	revoke("token", func() error { return d.RevokeToken(ctx, a, "jti-1", now.Add(time.Hour)) },
		func() error { return mem.RevokeToken(a, "jti-1", now.Add(time.Hour)) })
	revoke("token, no exp", func() error { return d.RevokeToken(ctx, a, "jti-2", time.Time{}) },
		func() error { return mem.RevokeToken(a, "jti-2", time.Time{}) })
	revoke("client", func() error { return d.RevokeClient(ctx, a, "app", now) },
		func() error { return mem.RevokeClient(a, "app", now) })
	revoke("subject", func() error { return d.RevokeSubject(ctx, a, "alice", now) },
		func() error { return mem.RevokeSubject(a, "alice", now) })
	revoke("subject, earlier: the later cut-off stays", func() error { return d.RevokeSubject(ctx, a, "alice", now.Add(-time.Hour)) },
		func() error { return mem.RevokeSubject(a, "alice", now.Add(-time.Hour)) })
	revoke("session", func() error { return d.RevokeSession(ctx, b, "sid-9", now.Add(500*time.Millisecond)) },
		func() error { return mem.RevokeSession(b, "sid-9", now.Add(500*time.Millisecond)) })
	revoke("empty issuer", func() error { return d.RevokeToken(ctx, "", "x", now) },
		func() error { return mem.RevokeToken("", "x", now) })
	revoke("empty value", func() error { return d.RevokeSubject(ctx, a, "", now) },
		func() error { return mem.RevokeSubject(a, "", now) })
	revoke("no cut-off", func() error { return d.RevokeClient(ctx, a, "app", time.Time{}) },
		func() error { return mem.RevokeClient(a, "app", time.Time{}) })
	revoke("already expired token", func() error { return d.RevokeToken(ctx, a, "old", now.Add(-time.Hour)) },
		func() error { return mem.RevokeToken(a, "old", now.Add(-time.Hour)) })

	for _, tc := range []struct {
		name string
		c    validate.Claims
		want bool
	}{
		{"revoked jti", validate.Claims{Issuer: a, ID: "jti-1", Subject: "bob", IssuedAt: now}, true},
		{"revoked jti without exp", validate.Claims{Issuer: a, ID: "jti-2"}, true},
		{"jti of the other issuer", validate.Claims{Issuer: b, ID: "jti-1", Subject: "bob", IssuedAt: now}, false},
		{"other jti", validate.Claims{Issuer: a, ID: "jti-3", Subject: "bob", IssuedAt: now}, false},
		{"client, issued before", validate.Claims{Issuer: a, ClientID: "app", IssuedAt: now.Add(-time.Second)}, true},
		{"client, issued at the cut-off", validate.Claims{Issuer: a, ClientID: "app", IssuedAt: now}, false},
		{"client, no iat", validate.Claims{Issuer: a, ClientID: "app"}, true},
		{"subject, issued before", validate.Claims{Issuer: a, Subject: "alice", IssuedAt: now.Add(-time.Minute)}, true},
		{"subject, issued after", validate.Claims{Issuer: a, Subject: "alice", IssuedAt: now.Add(time.Second)}, false},
		{"subject of the other issuer", validate.Claims{Issuer: b, Subject: "alice", IssuedAt: now.Add(-time.Minute)}, false},
		{"session, issued in the same second", validate.Claims{Issuer: b, SessionID: "sid-9", IssuedAt: now}, true},
		{"session, issued the next second", validate.Claims{Issuer: b, SessionID: "sid-9", IssuedAt: now.Add(time.Second)}, false},
		{"expired revocation of a token", validate.Claims{Issuer: a, ID: "old"}, false},
		{"nothing to match", validate.Claims{Issuer: a}, false},
		{"several claims, one revoked", validate.Claims{Issuer: a, ID: "fresh", ClientID: "other", Subject: "carol", SessionID: "s", IssuedAt: now.Add(-time.Hour)}, false},
		{"several claims, sid revoked", validate.Claims{Issuer: b, ID: "fresh", ClientID: "other", Subject: "carol", SessionID: "sid-9", IssuedAt: now.Add(-time.Hour)}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := d.Revoked(ctx, &tc.c)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := mem.Revoked(ctx, &tc.c)
			if got != tc.want || want != tc.want {
				t.Errorf("Revoked = %v (validate.DenyList: %v), want %v", got, want, tc.want)
			}
		})
	}
}

// TestDenyListExpiry: every entry expires from Redis (PEXPIRETIME) when the
// longest-lived token it can match would have, plus the 5 min leeway,
// rounded up to the millisecond; a later revocation extends it, an earlier
// one does not shorten it.
func TestDenyListExpiry(t *testing.T) {
	srv, prefix := sharedServer(t)
	ctx := context.Background()
	client := srv.client(t)
	d, err := redisstore.NewDenyList(redisstore.DenyListConfig{Client: client, Prefix: prefix, MaxTokenLifetime: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	exp := now.Add(10 * time.Minute)
	leeway := 5 * time.Minute
	check := func(key string, want time.Time) {
		t.Helper()
		got, err := client.Do(ctx, "PEXPIRETIME", prefix+key).Int64()
		if err != nil {
			t.Fatal(err)
		}
		if w := want.UnixMilli() + 1; got != w {
			t.Errorf("%s expires at %d, want %d (%v)", key, got, w, time.Duration(got-w)*time.Millisecond)
		}
	}
	if err := d.RevokeToken(ctx, "iss", "j", exp); err != nil {
		t.Fatal(err)
	}
	check("3:{iss}jti:j", exp.Add(leeway))
	if err := d.RevokeToken(ctx, "iss", "j", exp.Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	check("3:{iss}jti:j", exp.Add(leeway))
	if err := d.RevokeSubject(ctx, "iss", "alice", now); err != nil {
		t.Fatal(err)
	}
	check("3:{iss}sub:alice", now.Add(time.Hour+leeway))
	later := now.Add(time.Minute)
	if err := d.RevokeSubject(ctx, "iss", "alice", later); err != nil {
		t.Fatal(err)
	}
	check("3:{iss}sub:alice", later.Add(time.Hour+leeway))
}

// TestDenyListReplicas: two DenyLists on one Redis, each with its own
// client, are two replicas: a revocation written through A is seen by B
// at its very next lookup, and through a Validator on B at its next
// request, a token B has cached included. The bound asserted is 1 s; the
// time it took is logged.
func TestDenyListReplicas(t *testing.T) {
	srv, prefix := sharedServer(t)
	ctx := context.Background()
	newList := func() *redisstore.DenyList {
		d, err := redisstore.NewDenyList(redisstore.DenyListConfig{Client: srv.client(t), Prefix: prefix})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	a, b := newList(), newList()
	is := newIssuerT(t)
	replicaB := newReplica(t, is, func(c *validate.Config) { c.Revocations = b })
	tok := is.Token(map[string]any{"sub": "alice", "sid": "s-1"})
	if got := replicaB.get(t, "Bearer "+tok); got.status != 200 {
		t.Fatalf("before: %d", got.status)
	}
	start := time.Now()
	if err := a.RevokeSession(ctx, is.URL, "s-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	first := replicaB.get(t, "Bearer "+tok)
	took := eventually(t, time.Second, "revocation seen by replica B", func() bool {
		return replicaB.get(t, "Bearer "+tok).status == 401
	})
	t.Logf("revocation through A: B's next request got %d, %v after the write (first 401 polled after %v)", first.status, time.Since(start), took)
	if first.status != 401 {
		t.Errorf("B's first request after the revocation: %d, want 401 (a per-request lookup has no propagation delay)", first.status)
	}
}
