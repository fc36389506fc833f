// Package reqctx holds what rsguard's middlewares keep in a request's
// context: the authenticated principal and the challenge of the Guard that
// authenticated it, under one key, so that package scopes answers its
// refusals with the same resource_metadata as the 401 did.
package reqctx

import (
	"context"
	"fmt"

	"github.com/rsguard/rsguard/rsmeta"
)

// State is the per-request value. It is never modified once stored.
type State struct {
	// Principal is the *rsguard.Principal (typed any: this package sits
	// below rsguard).
	Principal any
	// Challenge is the challenge of the Guard that authenticated the
	// request (realm, resource_metadata, and the Guard's scope, which
	// scope checks replace with their own; no error); nil when no Guard
	// ran.
	Challenge *rsmeta.Challenge
}

type key struct{}

// With returns a copy of ctx that carries s. The copy and s are one
// allocation (context.WithValue and a *State would be two): every
// authenticated request makes one.
func With(ctx context.Context, s State) context.Context {
	return &stateCtx{Context: ctx, s: s}
}

// From returns the State in ctx, or nil.
func From(ctx context.Context) *State {
	s, _ := ctx.Value(key{}).(*State)
	return s
}

// stateCtx is a context carrying a State, as context.WithValue's own
// context carries a value: every other method is its parent's.
type stateCtx struct {
	context.Context
	s State
}

func (c *stateCtx) Value(k any) any {
	if k == (key{}) {
		return &c.s
	}
	return c.Context.Value(k)
}

// String names the context as context.WithValue's String does, for
// debugging output.
func (c *stateCtx) String() string {
	parent := fmt.Sprintf("%T", c.Context)
	if s, ok := c.Context.(fmt.Stringer); ok {
		parent = s.String()
	}
	return parent + ".WithValue(rsguard request state)"
}
