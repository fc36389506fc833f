package scopes

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/audit"
)

func grantCtx(scopes ...string) context.Context {
	return rsguard.NewContext(context.Background(), &rsguard.Principal{Scopes: scopes, Subject: "https://as.example|alice"})
}

func TestRequire(t *testing.T) {
	tests := []struct {
		name        string
		ctx         context.Context
		any         bool
		scopes      []string
		wantErr     error
		wantMissing []string
		wantReq     []string
	}{
		{name: "all granted", ctx: grantCtx("a", "b", "c"), scopes: []string{"a", "c"}},
		{name: "none required", ctx: grantCtx(), scopes: nil},
		{name: "one missing", ctx: grantCtx("tools:read"), scopes: []string{"tools:read", "tools:write"},
			wantErr: audit.ReasonInsufficientScope, wantMissing: []string{"tools:write"}, wantReq: []string{"tools:read", "tools:write"}},
		{name: "duplicates collapse", ctx: grantCtx(), scopes: []string{"x", "x", "y"},
			wantErr: audit.ReasonInsufficientScope, wantMissing: []string{"x", "y"}, wantReq: []string{"x", "y"}},
		{name: "case-sensitive", ctx: grantCtx("Tools:Write"), scopes: []string{"tools:write"},
			wantErr: audit.ReasonInsufficientScope, wantMissing: []string{"tools:write"}, wantReq: []string{"tools:write"}},
		{name: "no wildcard by default", ctx: grantCtx("tools:*"), scopes: []string{"tools:write"},
			wantErr: audit.ReasonInsufficientScope, wantMissing: []string{"tools:write"}, wantReq: []string{"tools:write"}},
		{name: "no grant", ctx: context.Background(), scopes: []string{"a"}, wantErr: audit.ReasonNoPrincipal, wantReq: []string{"a"}},
		{name: "no grant, nothing required", ctx: context.Background(), wantErr: audit.ReasonNoPrincipal},
		{name: "nil grant", ctx: rsguard.NewContext(context.Background(), nil), scopes: []string{"a"}, wantErr: audit.ReasonNoPrincipal, wantReq: []string{"a"}},
		{name: "invalid scope", ctx: grantCtx("a b"), scopes: []string{"a b"}, wantErr: rsguard.ErrInvalidConfig},
		{name: "empty scope", ctx: grantCtx(), scopes: []string{""}, wantErr: rsguard.ErrInvalidConfig},
		{name: "quote in scope", ctx: grantCtx(), scopes: []string{`a"`}, wantErr: rsguard.ErrInvalidConfig},
		{name: "any: invalid scope", any: true, ctx: grantCtx("a b"), scopes: []string{"a", "a b"}, wantErr: rsguard.ErrInvalidConfig},

		{name: "any: first", any: true, ctx: grantCtx("a"), scopes: []string{"a", "b"}},
		{name: "any: second", any: true, ctx: grantCtx("b"), scopes: []string{"a", "b"}},
		{name: "any: none", any: true, ctx: grantCtx("c"), scopes: []string{"a", "b"},
			wantErr: audit.ReasonInsufficientScope, wantMissing: []string{"a", "b"}, wantReq: []string{"a", "b"}},
		{name: "any: empty list needs a grant only", any: true, ctx: grantCtx()},
		{name: "any: no grant", any: true, ctx: context.Background(), scopes: []string{"a"}, wantErr: audit.ReasonNoPrincipal, wantReq: []string{"a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			if tt.any {
				err = RequireAny(tt.ctx, tt.scopes...)
			} else {
				err = Require(tt.ctx, tt.scopes...)
				assert.Equal(t, err == nil, Has(tt.ctx, tt.scopes...), "Has, Require err = %v", err)
			}
			if tt.wantErr == nil {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, tt.wantErr)
			}
			if errors.Is(tt.wantErr, rsguard.ErrInvalidConfig) {
				// A programming error: no refusal class, and the message
				// names the invalid scope.
				var r audit.Reason
				assert.False(t, errors.As(err, &r), "invalid scope: has reason %q", r)
				assert.ErrorContains(t, err, "invalid scope token")
				assert.ErrorContains(t, err, fmt.Sprintf("%q", tt.scopes[len(tt.scopes)-1]))
			}
			var se *Error
			if !errors.As(err, &se) {
				require.Nil(t, tt.wantMissing, "err %v is not an *Error", err)
				require.Nil(t, tt.wantReq, "err %v is not an *Error", err)
				return
			}
			assert.Equal(t, tt.wantMissing, se.Missing, "Missing")
			assert.Equal(t, tt.wantReq, se.Required, "Required")
			assert.Equal(t, tt.any, se.Any, "Any")
			if errors.Is(err, audit.ReasonInsufficientScope) {
				g, _ := rsguard.FromContext(tt.ctx)
				assert.Equal(t, append([]string{}, g.Scopes...), se.Granted, "Granted")
			}
		})
	}
}

func TestErrorDoesNotAlias(t *testing.T) {
	want := []string{"a", "b"}
	err := Require(grantCtx("z"), want...)
	var se *Error
	require.ErrorAs(t, err, &se)
	se.Required[0] = "changed"
	require.Equal(t, "a", want[0], "Error.Required aliases the caller's slice")
}

func TestErrorMessage(t *testing.T) {
	tests := []struct {
		err  *Error
		want string
	}{
		{&Error{Err: audit.ReasonInsufficientScope, Required: []string{"a", "b"}, Missing: []string{"b"}, Granted: []string{"a"}, Operation: "tool deploy"},
			"scopes: insufficient_scope: tool deploy: missing b (granted: a)"},
		{&Error{Err: audit.ReasonInsufficientScope, Any: true, Required: []string{"a", "b"}, Missing: []string{"a", "b"}, Granted: []string{}},
			"scopes: insufficient_scope: needs one of a b (granted: )"},
		{&Error{Err: audit.ReasonNoPrincipal, Required: []string{"a"}}, "scopes: no_principal"},
		{&Error{}, "scopes: scope check failed"},
	}
	for _, tt := range tests {
		assert.EqualError(t, tt.err, tt.want, "Error()")
	}
}

func TestChallengeScope(t *testing.T) {
	tests := []struct {
		name string
		err  Error
		want []string
	}{
		{"all, granted ones kept", Error{Required: []string{"a", "b"}, Missing: []string{"b"}}, []string{"a", "b"}},
		{"offline_access dropped", Error{Required: []string{"offline_access", "a"}}, []string{"a"}},
		{"only offline_access", Error{Required: []string{"offline_access"}}, nil},
		{"any: first", Error{Any: true, Required: []string{"a", "b"}}, []string{"a"}},
		{"any: first that is not offline_access", Error{Any: true, Required: []string{"offline_access", "b", "c"}}, []string{"b"}},
		{"none", Error{}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.err.challengeScope(), "challengeScope()")
		})
	}
}

func TestWildcard(t *testing.T) {
	tests := []struct {
		granted, required string
		want              bool
	}{
		{"tools:*", "tools:read", true},
		{"tools:*", "tools:read:all", true},
		{"tools:*", "tools:", false},
		{"tools:*", "tools", false},
		{"tools:*", "toolsx", false},
		{"tools:*", "other:read", false},
		{"tools:read", "tools:read", false}, // equality is the caller's job
		{"*", "anything", true},
		{"tools", "tools:read", false},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, Wildcard(tt.granted, tt.required), "Wildcard(%q, %q)", tt.granted, tt.required)
	}
}
