package redisstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/rsguard/rsguard/redisstore"
	"github.com/rsguard/rsguard/validate"
)

// TestCallerContextIsNotAnOutage: a call that ends because the caller's
// own context is done (its request canceled, or its deadline shorter than
// the store's Timeout passed) returns the context's error, not
// ErrUnavailable, and logs no outage; a call that ends on the store's
// Timeout is an outage, logged once. Against an address that accepts
// connections and never answers.
func TestCallerContextIsNotAnOutage(t *testing.T) {
	client := blackHoleClient(t)
	const storeTimeout = 500 * time.Millisecond
	logger, logs := newLogger()
	d, err := redisstore.NewDenyList(redisstore.DenyListConfig{Client: client, Timeout: storeTimeout, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	revoked := func(ctx context.Context) error {
		_, err := d.Revoked(ctx, &validate.Claims{Issuer: "iss", ID: "j"})
		return err
	}

	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	if err := revoked(canceled); !errors.Is(err, context.Canceled) || errors.Is(err, redisstore.ErrUnavailable) {
		t.Fatalf("canceled caller: %v, want context.Canceled, not ErrUnavailable", err)
	}
	short, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = revoked(short)
	if took := time.Since(start); took >= storeTimeout {
		t.Fatalf("the caller's deadline did not bound the call: %v", took)
	}
	if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, redisstore.ErrUnavailable) {
		t.Fatalf("caller's deadline: %v, want context.DeadlineExceeded, not ErrUnavailable", err)
	}
	if n := len(logs.lines("ERROR")) + len(logs.lines("INFO")); n != 0 {
		t.Fatalf("%d outage lines for the caller's own context, want none:\n%v", n, logs.lines("ERROR"))
	}

	// The store's own Timeout: an outage, logged.
	if err := revoked(context.Background()); !errors.Is(err, redisstore.ErrUnavailable) {
		t.Fatalf("store timeout: %v, want ErrUnavailable", err)
	}
	if n := len(logs.lines("ERROR")); n != 1 {
		t.Fatalf("%d error lines after the store's timeout, want 1", n)
	}
}
