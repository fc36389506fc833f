// Package reqctx holds what rsguard's middlewares keep in a request's
// context: the authenticated principal and the challenge of the Guard that
// authenticated it, under one key, so that package scopes answers its
// refusals with the same resource_metadata as the 401 did.
package reqctx

import (
	"context"

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

// With returns a copy of ctx that carries s.
func With(ctx context.Context, s *State) context.Context {
	return context.WithValue(ctx, key{}, s)
}

// From returns the State in ctx, or nil.
func From(ctx context.Context) *State {
	s, _ := ctx.Value(key{}).(*State)
	return s
}
