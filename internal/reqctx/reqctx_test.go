package reqctx

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rsguard/rsguard/rsmeta"
)

type otherKey struct{}

func TestWithFrom(t *testing.T) {
	if From(context.Background()) != nil {
		t.Fatal("From of a bare context is not nil")
	}
	parent := context.WithValue(context.Background(), otherKey{}, "parent's")
	ch := &rsmeta.Challenge{Realm: "r"}
	ctx := With(parent, State{Principal: "p", Challenge: ch})
	s := From(ctx)
	if s == nil || s.Principal != "p" || s.Challenge != ch {
		t.Fatalf("From = %+v", s)
	}
	if got := ctx.Value(otherKey{}); got != "parent's" {
		t.Fatalf("parent's value = %v", got)
	}
	// A later With hides the earlier State; the earlier context keeps it.
	inner := With(ctx, State{Principal: "q"})
	if From(inner).Principal != "q" || From(ctx).Principal != "p" {
		t.Fatal("a later State changed an earlier context's")
	}
	// Values set after With are found through it.
	if got := context.WithValue(inner, otherKey{}, "child's").Value(otherKey{}); got != "child's" {
		t.Fatalf("child's value = %v", got)
	}
	if !strings.HasSuffix(ctx.(interface{ String() string }).String(), ".WithValue(rsguard request state)") {
		t.Fatalf("String = %q", ctx)
	}
}

// TestCancellation: the parent's deadline, cancellation and cause reach
// contexts derived from With's as they do through context.WithValue: at
// once, with no goroutine in between (the context package finds the
// parent's cancelCtx through Value).
func TestCancellation(t *testing.T) {
	deadline := time.Now().Add(time.Hour)
	withDeadline, stopDeadline := context.WithDeadline(context.Background(), deadline)
	defer stopDeadline()
	parent, cancel := context.WithCancelCause(withDeadline)
	ctx := With(parent, State{Principal: "p"})
	if d, ok := ctx.Deadline(); !ok || !d.Equal(deadline) {
		t.Fatalf("Deadline = %v, %v", d, ok)
	}
	child, stop := context.WithCancel(ctx)
	defer stop()
	cause := errors.New("client went away")
	cancel(cause)
	// Checked without waiting on Done: a propagation goroutine would leave
	// the child running for a while.
	if !errors.Is(child.Err(), context.Canceled) || !errors.Is(context.Cause(child), cause) {
		t.Fatalf("right after cancel: Err %v, Cause %v", child.Err(), context.Cause(child))
	}
	if From(child).Principal != "p" {
		t.Fatal("State lost below a cancel context")
	}
}
