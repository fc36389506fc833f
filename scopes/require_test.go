package scopes

import (
	"context"
	"errors"
	"reflect"
	"testing"
)

func grantCtx(scopes ...string) context.Context {
	return NewContext(context.Background(), &Grant{Scopes: scopes, Subject: "https://as.example|alice"})
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
			wantErr: ErrInsufficientScope, wantMissing: []string{"tools:write"}, wantReq: []string{"tools:read", "tools:write"}},
		{name: "duplicates collapse", ctx: grantCtx(), scopes: []string{"x", "x", "y"},
			wantErr: ErrInsufficientScope, wantMissing: []string{"x", "y"}, wantReq: []string{"x", "y"}},
		{name: "case-sensitive", ctx: grantCtx("Tools:Write"), scopes: []string{"tools:write"},
			wantErr: ErrInsufficientScope, wantMissing: []string{"tools:write"}, wantReq: []string{"tools:write"}},
		{name: "no wildcard by default", ctx: grantCtx("tools:*"), scopes: []string{"tools:write"},
			wantErr: ErrInsufficientScope, wantMissing: []string{"tools:write"}, wantReq: []string{"tools:write"}},
		{name: "no grant", ctx: context.Background(), scopes: []string{"a"}, wantErr: ErrNoGrant, wantReq: []string{"a"}},
		{name: "no grant, nothing required", ctx: context.Background(), wantErr: ErrNoGrant},
		{name: "nil grant", ctx: NewContext(context.Background(), nil), scopes: []string{"a"}, wantErr: ErrNoGrant, wantReq: []string{"a"}},
		{name: "invalid scope", ctx: grantCtx("a b"), scopes: []string{"a b"}, wantErr: ErrInvalidScope},
		{name: "empty scope", ctx: grantCtx(), scopes: []string{""}, wantErr: ErrInvalidScope},
		{name: "quote in scope", ctx: grantCtx(), scopes: []string{`a"`}, wantErr: ErrInvalidScope},

		{name: "any: first", any: true, ctx: grantCtx("a"), scopes: []string{"a", "b"}},
		{name: "any: second", any: true, ctx: grantCtx("b"), scopes: []string{"a", "b"}},
		{name: "any: none", any: true, ctx: grantCtx("c"), scopes: []string{"a", "b"},
			wantErr: ErrInsufficientScope, wantMissing: []string{"a", "b"}, wantReq: []string{"a", "b"}},
		{name: "any: empty list needs a grant only", any: true, ctx: grantCtx()},
		{name: "any: no grant", any: true, ctx: context.Background(), scopes: []string{"a"}, wantErr: ErrNoGrant, wantReq: []string{"a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			if tt.any {
				err = RequireAny(tt.ctx, tt.scopes...)
			} else {
				err = Require(tt.ctx, tt.scopes...)
				if has := Has(tt.ctx, tt.scopes...); has != (err == nil) {
					t.Errorf("Has = %v, Require err = %v", has, err)
				}
			}
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			var se *Error
			if !errors.As(err, &se) {
				if tt.wantMissing != nil || tt.wantReq != nil {
					t.Fatalf("err %v is not an *Error", err)
				}
				return
			}
			if !reflect.DeepEqual(se.Missing, tt.wantMissing) {
				t.Errorf("Missing = %q, want %q", se.Missing, tt.wantMissing)
			}
			if !reflect.DeepEqual(se.Required, tt.wantReq) {
				t.Errorf("Required = %q, want %q", se.Required, tt.wantReq)
			}
			if se.Any != tt.any {
				t.Errorf("Any = %v", se.Any)
			}
			if errors.Is(err, ErrInsufficientScope) {
				g, _ := FromContext(tt.ctx)
				if !reflect.DeepEqual(se.Granted, append([]string{}, g.Scopes...)) {
					t.Errorf("Granted = %q, want %q", se.Granted, g.Scopes)
				}
			}
		})
	}
}

func TestErrorDoesNotAlias(t *testing.T) {
	want := []string{"a", "b"}
	err := Require(grantCtx("z"), want...)
	var se *Error
	if !errors.As(err, &se) {
		t.Fatal(err)
	}
	se.Required[0] = "changed"
	if want[0] != "a" {
		t.Fatal("Error.Required aliases the caller's slice")
	}
}

func TestErrorMessage(t *testing.T) {
	tests := []struct {
		err  *Error
		want string
	}{
		{&Error{Err: ErrInsufficientScope, Required: []string{"a", "b"}, Missing: []string{"b"}, Granted: []string{"a"}, Operation: "tool deploy"},
			"scopes: insufficient scope: tool deploy: missing b (granted: a)"},
		{&Error{Err: ErrInsufficientScope, Any: true, Required: []string{"a", "b"}, Missing: []string{"a", "b"}, Granted: []string{}},
			"scopes: insufficient scope: needs one of a b (granted: )"},
		{&Error{Err: ErrNoGrant, Required: []string{"a"}}, "scopes: no grant in request context"},
		{&Error{}, "scopes: scope check failed"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
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
			if got := tt.err.challengeScope(); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("challengeScope() = %q, want %q", got, tt.want)
			}
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
		if got := Wildcard(tt.granted, tt.required); got != tt.want {
			t.Errorf("Wildcard(%q, %q) = %v, want %v", tt.granted, tt.required, got, tt.want)
		}
	}
}
