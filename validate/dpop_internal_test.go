package validate

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"
)

// TestMemoryReplay: ids are remembered until their time and never
// forgotten before it; a full store refuses with the time until it has
// room, and forgets expired ids as time passes.
func TestMemoryReplay(t *testing.T) {
	now := time.Unix(1000, 0)
	s := newMemoryReplay(2, func() time.Time { return now })
	ctx := context.Background()
	use := func(id string, until time.Duration) (bool, error) { return s.Use(ctx, id, now.Add(until)) }

	seen, err := use("a", 10*time.Second)
	if seen || err != nil {
		t.Fatal(seen, err)
	}
	if seen, _ := use("a", 10*time.Second); !seen {
		t.Fatal("a replay is seen")
	}
	if _, err := use("b", 20*time.Second); err != nil {
		t.Fatal(err)
	}
	_, err = use("c", 20*time.Second)
	var full *replayFull
	if !errors.As(err, &full) || full.RetryAfter() != 10*time.Second {
		t.Fatalf("full: %v", err)
	}
	now = now.Add(10 * time.Second) // a expires
	if seen, err := use("c", 20*time.Second); seen || err != nil {
		t.Fatal(seen, err)
	}
	if s.len() != 2 {
		t.Fatal(s.len())
	}
	if seen, _ := use("b", 20*time.Second); !seen {
		t.Fatal("b is live")
	}
	now = now.Add(time.Hour)
	if seen, err := use("a", time.Second); seen || err != nil || s.len() != 1 {
		t.Fatal(seen, err, s.len())
	}
}

// TestProofKeysBounded: the parsed-key cache empties itself when full.
func TestProofKeysBounded(t *testing.T) {
	var c proofKeys
	jwk := []byte(fuzzJWK())
	for i := range maxProofKeys + 10 {
		// Distinct texts of one key: each parsed, then cached.
		text := append([]byte(`{"kid":"`+strconv.Itoa(i)+`",`), jwk[1:]...)
		if _, _, ok := c.get(text, "EdDSA"); !ok {
			t.Fatal("refused")
		}
	}
	if n := c.n.Load(); n > maxProofKeys {
		t.Fatal(n)
	}
	if _, _, ok := c.get([]byte(`{"kty":"OKP","crv":"Ed25519","x":"AA"}`), "EdDSA"); ok {
		t.Fatal("a bad key is refused")
	}
	pub, jkt, ok := c.get(jwk, "Ed25519")
	if !ok || pub == nil || len(jkt) != 43 {
		t.Fatal(ok, jkt)
	}
	if _, _, ok := c.get(jwk, "ES256"); ok {
		t.Fatal("the alg is part of the check")
	}
}
