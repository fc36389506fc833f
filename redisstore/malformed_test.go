package redisstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/rsguard/rsguard/redisstore"
	"github.com/rsguard/rsguard/validate"
)

// TestDenyListMalformedEntryKeepsScanning: an entry not written by this
// package (for the token's client) does not hide a valid one for a later
// key (its session): the token is revoked, with no error, so that
// RevocationFailOpen cannot accept it. With only the malformed entry, the
// lookup fails (refuse rather than guess).
func TestDenyListMalformedEntryKeepsScanning(t *testing.T) {
	srv, prefix := sharedServer(t)
	ctx := context.Background()
	client := srv.client(t)
	d, err := redisstore.NewDenyList(redisstore.DenyListConfig{Client: client, Prefix: prefix, MaxTokenLifetime: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	const iss = "https://a.example"
	now := time.Now().Truncate(time.Second)
	if err := d.RevokeClient(ctx, iss, "app", now); err != nil {
		t.Fatal(err)
	}
	keys, err := client.Keys(ctx, prefix+"*").Result()
	if err != nil || len(keys) != 1 {
		t.Fatalf("keys %v, %v; want the client's entry alone", keys, err)
	}
	if err := client.Set(ctx, keys[0], "not an entry", time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	c := &validate.Claims{Issuer: iss, ClientID: "app", Subject: "alice", SessionID: "s-1", IssuedAt: now.Add(-time.Minute)}
	if revoked, err := d.Revoked(ctx, c); err == nil || revoked {
		t.Fatalf("malformed entry alone: %v, %v; want an error", revoked, err)
	}
	if err := d.RevokeSession(ctx, iss, "s-1", now); err != nil {
		t.Fatal(err)
	}
	if revoked, err := d.Revoked(ctx, c); err != nil || !revoked {
		t.Fatalf("malformed client entry, valid session entry: %v, %v; want revoked", revoked, err)
	}
}
