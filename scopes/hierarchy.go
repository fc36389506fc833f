package scopes

import (
	"context"
	"fmt"
	"sort"

	"github.com/rsguard/rsguard"
)

// Hierarchy is a scope implication table: a granted scope satisfies every
// scope it implies, directly or through others ("inventory:admin" ⇒
// "inventory:write" ⇒ "inventory:read"). RFC 6749 gives scopes no
// structure; MCP (2026-07-28) asks servers that define such a hierarchy to
// honour it when deciding whether a token's scopes suffice, and so does
// rsguard when one is configured — never otherwise.
//
// Use [Hierarchy.Implies] as [RouteConfig.Implies] or [MCPConfig.Implies],
// and Hierarchy's Require, RequireAny and Has in handler code. With an
// implication in force, a 403 challenge leaves out required scopes implied by
// other required ones, so it asks for the smallest set that satisfies the
// operation.
//
// A Hierarchy is immutable and safe for concurrent use.
type Hierarchy struct {
	implied map[string]map[string]bool // transitive closure, without the scope itself
}

// NewHierarchy compiles table — each key implies the scopes listed — into its
// transitive closure. Scopes must be RFC 6749 §3.3 scope tokens: it refuses
// one that is not with an error wrapping [rsguard.ErrInvalidConfig]. Cycles
// are allowed: scopes on a cycle imply each other.
func NewHierarchy(table map[string][]string) (*Hierarchy, error) {
	h := &Hierarchy{implied: make(map[string]map[string]bool, len(table))}
	keys := make([]string, 0, len(table))
	for k, list := range table {
		if err := validScopes(append([]string{k}, list...)); err != nil {
			return nil, fmt.Errorf("%w: Hierarchy table: %w", rsguard.ErrInvalidConfig, err)
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		seen := map[string]bool{}
		stack := append([]string(nil), table[k]...)
		for len(stack) > 0 {
			s := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if seen[s] {
				continue
			}
			seen[s] = true
			stack = append(stack, table[s]...)
		}
		delete(seen, k)
		h.implied[k] = seen
	}
	return h, nil
}

// Implies reports whether granted implies required through the table. It
// has the signature of [RouteConfig.Implies] and [MCPConfig.Implies].
func (h *Hierarchy) Implies(granted, required string) bool {
	return h.implied[granted][required]
}

// Require is [Require] with the hierarchy's implications.
func (h *Hierarchy) Require(ctx context.Context, scopes ...string) error {
	if err := validScopes(scopes); err != nil {
		return fmt.Errorf("%w: %w", rsguard.ErrInvalidConfig, err)
	}
	return checkScopes(ctx, scopes, false, h.Implies, "")
}

// RequireAny is [RequireAny] with the hierarchy's implications.
func (h *Hierarchy) RequireAny(ctx context.Context, scopes ...string) error {
	if err := validScopes(scopes); err != nil {
		return fmt.Errorf("%w: %w", rsguard.ErrInvalidConfig, err)
	}
	return checkScopes(ctx, scopes, true, h.Implies, "")
}

// Has is [Has] with the hierarchy's implications.
func (h *Hierarchy) Has(ctx context.Context, scopes ...string) bool {
	return h.Require(ctx, scopes...) == nil
}

// minimal returns req without the scopes implied by another scope of req
// (of two scopes implying each other, the first stays).
func minimal(req []string, implies func(granted, required string) bool) []string {
	if implies == nil || len(req) < 2 {
		return req
	}
	out := make([]string, 0, len(req))
	for i, s := range req {
		dropped := false
		for j, r := range req {
			if j != i && implies(r, s) && (!implies(s, r) || j < i) {
				dropped = true
				break
			}
		}
		if !dropped {
			out = append(out, s)
		}
	}
	return out
}
