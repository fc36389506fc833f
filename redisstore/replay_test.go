package redisstore_test

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/rsguard/rsguard/redisstore"
	"github.com/rsguard/rsguard/validate"
	"github.com/rsguard/rsguard/validate/validatetest"
)

func newReplayStore(t *testing.T, srv *server, prefix string, now func() time.Time) *redisstore.ReplayStore {
	t.Helper()
	r, err := redisstore.NewReplayStore(redisstore.ReplayStoreConfig{Client: srv.client(t), Prefix: prefix, Timeout: testTimeout, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestReplayStore: an id is unseen once, then seen, on any replica; of
// concurrent uses exactly one reports it unseen; its TTL is until − now
// rounded up to the millisecond, plus 1 s, so it is held at
// least until until even by a replica whose clock is a little ahead.
func TestReplayStore(t *testing.T) {
	srv, prefix := sharedServer(t)
	ctx := context.Background()
	fixed := time.Now()
	a := newReplayStore(t, srv, prefix, func() time.Time { return fixed })
	b := newReplayStore(t, srv, prefix, nil)
	until := fixed.Add(61*time.Second + 500*time.Microsecond)
	for i, tc := range []struct {
		store *redisstore.ReplayStore
		id    string
		want  bool
	}{
		{a, "id-1", false}, {a, "id-1", true}, {b, "id-1", true}, {b, "id-2", false}, {a, "id-2", true},
	} {
		seen, err := tc.store.Use(ctx, tc.id, until)
		if err != nil || seen != tc.want {
			t.Errorf("use %d of %s: seen %v, %v; want %v", i, tc.id, seen, err, tc.want)
		}
	}
	pttl, err := srv.client(t).PTTL(ctx, prefix+"id-1").Result()
	if err != nil {
		t.Fatal(err)
	}
	// Set at fixed with TTL ceil(61.0005 s) + the 1 s clock margin =
	// 62.001 s; read a moment later.
	if pttl <= 61500*time.Millisecond || pttl > 62001*time.Millisecond {
		t.Errorf("TTL of an id used until now + 61.0005 s: %v, want at most 62.001 s (with the clock margin) and not much less", pttl)
	}

	const replicas = 8
	for round := range 20 {
		id := "race-" + strconv.Itoa(round)
		var wg sync.WaitGroup
		unseen := make(chan bool, replicas)
		start := make(chan struct{})
		for range replicas {
			r := newReplayStore(t, srv, prefix, nil)
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				seen, err := r.Use(ctx, id, time.Now().Add(time.Minute))
				unseen <- err == nil && !seen
			}()
		}
		close(start)
		wg.Wait()
		close(unseen)
		n := 0
		for u := range unseen {
			if u {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("round %d: %d replicas saw the id first, want 1", round, n)
		}
	}
}

// TestDPoPReplicas: two Validators accepting DPoP with one redisstore
// ReplayStore each on one Redis: a proof accepted by A and replayed to B
// is refused (401); Redis stopped, a fresh proof gets 503 with Retry-After
// 5 within the bound; Redis back, proofs are accepted again without a
// restart.
func TestDPoPReplicas(t *testing.T) {
	srv := ownServer(t)
	is := newIssuerT(t)
	key := validatetest.NewDPoPKey(t, "ES256")
	newDPoP := func() *replica {
		r := newReplayStore(t, srv, "", nil)
		return newReplica(t, is, func(c *validate.Config) {
			c.DPoP = validate.DPoPConfig{Mode: validate.DPoPAllowed, Replay: r}
		})
	}
	a, b := newDPoP(), newDPoP()
	tok := is.Token(map[string]any{"cnf": map[string]any{"jkt": key.Thumbprint()}})
	send := func(r *replica, proof string) answer {
		t.Helper()
		return do(t, r.srv.Client(), "POST", r.url, map[string]string{"Authorization": "DPoP " + tok, "DPoP": proof})
	}
	proof := key.Proof("POST", resource, tok)
	if got := send(a, proof); got.status != 200 {
		t.Fatalf("proof on A: %d %s", got.status, got.challenge)
	}
	if got := send(b, proof); got.status != 401 {
		t.Errorf("proof replayed to B: %d, want 401", got.status)
	}
	if err := srv.stop(); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		got := send(b, key.Proof("POST", resource, tok))
		if got.status != 503 || got.retryAfter != "5" || got.took > testTimeout+bound {
			t.Fatalf("proof %d, Redis down: %d, Retry-After %q, after %v; want 503, 5, within %v", i, got.status, got.retryAfter, got.took, testTimeout+bound)
		}
	}
	if err := srv.start(); err != nil {
		t.Fatal(err)
	}
	took := eventually(t, 5*time.Second, "DPoP after Redis is back", func() bool {
		return send(a, key.Proof("POST", resource, tok)).status == 200
	})
	t.Logf("DPoP recovered %v after redis-server answered PING", took)
	fresh := key.Proof("POST", resource, tok)
	if got := send(b, fresh); got.status != 200 {
		t.Errorf("fresh proof on B after recovery: %d", got.status)
	}
	if got := send(a, fresh); got.status != 401 {
		t.Errorf("replayed to A after recovery: %d, want 401", got.status)
	}

}
