package main

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/audit"
	"github.com/rsguard/rsguard/rsmeta"
	"github.com/rsguard/rsguard/validate"
	"github.com/rsguard/rsguard/validate/validatetest"
)

const testResource = "http://127.0.0.1:9/mcp"

func newValidator(t *testing.T) (*validatetest.Issuer, *validate.Validator) {
	t.Helper()
	iss := validatetest.NewIssuer(t, &validatetest.Options{PlainHTTP: true, Algorithms: []string{"ES256"}})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	v, err := validate.New(ctx, validate.Config{Issuer: iss.URL, Resource: testResource})
	if err != nil {
		t.Fatal(err)
	}
	return iss, v
}

// TestTokenVerifier checks the adapter from validate to the SDK's
// auth.TokenVerifier on its own (no rsguard.Guard before it): scopes,
// expiration and the stable UserID (user:issuer#subject, client:issuer#client_id).
func TestTokenVerifier(t *testing.T) {
	iss, v := newValidator(t)
	verify := tokenVerifier(v)
	exp := time.Now().Add(7 * time.Minute).Truncate(time.Second)

	tests := []struct {
		name       string
		claims     map[string]any
		wantErr    error
		wantUser   string
		wantScopes []string
	}{
		{
			name:       "scopes, expiration, user",
			claims:     map[string]any{"aud": testResource, "sub": "alice", "scope": "inventory:read inventory:write", "exp": exp.Unix()},
			wantUser:   "user:" + iss.URL + "#alice",
			wantScopes: []string{scopeRead, scopeWrite},
		},
		{
			name:       "scp array (Entra, Okta)",
			claims:     map[string]any{"aud": testResource, "sub": "bob", "scp": []string{scopeAdmin}, "exp": exp.Unix()},
			wantUser:   "user:" + iss.URL + "#bob",
			wantScopes: []string{scopeAdmin},
		},
		{
			name:     "no sub: a client principal",
			claims:   map[string]any{"aud": testResource, "sub": nil, "client_id": "svc", "exp": exp.Unix()},
			wantUser: "client:" + iss.URL + "#svc",
		},
		{
			name:    "another resource",
			claims:  map[string]any{"aud": "https://other.example/mcp"},
			wantErr: audit.ReasonBadAudience,
		},
		{
			name:    "expired",
			claims:  map[string]any{"aud": testResource, "exp": time.Now().Add(-time.Hour).Unix()},
			wantErr: audit.ReasonExpired,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ti, err := verify(context.Background(), iss.Token(tt.claims), httptest.NewRequest(http.MethodPost, testResource, nil))
			if tt.wantErr != nil {
				if !errors.Is(err, auth.ErrInvalidToken) || !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want auth.ErrInvalidToken and %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ti.UserID != tt.wantUser {
				t.Errorf("UserID = %q, want %q", ti.UserID, tt.wantUser)
			}
			if !slices.Equal(ti.Scopes, tt.wantScopes) {
				t.Errorf("Scopes = %q, want %q", ti.Scopes, tt.wantScopes)
			}
			if !ti.Expiration.Equal(exp) {
				t.Errorf("Expiration = %v, want %v", ti.Expiration, exp)
			}
			if p := principalOf(ti); p == nil || p.Subject != tt.wantUser || !slices.Equal(p.Scopes, tt.wantScopes) || !p.Expiry.Equal(exp) {
				t.Errorf("principal = %+v", p)
			}
		})
	}
}

// TestTokenVerifierBehindMiddleware checks that behind an rsguard.Guard over
// the validator the adapter takes the principal the Guard stored from the
// context, and only for the very token it came from.
func TestTokenVerifierBehindMiddleware(t *testing.T) {
	iss, v := newValidator(t)
	verify := tokenVerifier(v)
	metaURL, err := rsmeta.WellKnownURL(testResource)
	if err != nil {
		t.Fatal(err)
	}
	guard, err := rsguard.New(rsguard.Config{Authenticator: v, ResourceMetadata: metaURL})
	if err != nil {
		t.Fatal(err)
	}
	token := iss.Token(map[string]any{"aud": testResource, "sub": "alice", "scope": scopeRead})

	var got *auth.TokenInfo
	var gotErr error
	var stored *rsguard.Principal
	probe := func(tok string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			stored, _ = rsguard.FromContext(r.Context())
			got, gotErr = verify(r.Context(), tok, r)
		})
	}
	serve := func(h http.Handler) {
		req := httptest.NewRequest(http.MethodPost, testResource, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		h.ServeHTTP(httptest.NewRecorder(), req)
	}

	serve(guard.Middleware(probe(token)))
	if gotErr != nil || got.UserID != "user:"+iss.URL+"#alice" {
		t.Fatalf("same token: %+v, %v", got, gotErr)
	}
	// The very principal the Guard stored, not one verified again.
	if p := principalOf(got); p == nil || p != stored || p.Credential != audit.CredentialJWT {
		t.Errorf("principal from the Guard: %+v, want %+v", p, stored)
	}

	// Another token than the one the middleware verified (here one with a
	// forged signature) is verified on its own, and refused.
	forged := iss.TokenWith(validatetest.TokenOptions{NoSignature: true}, map[string]any{"aud": testResource, "sub": "mallory", "scope": scopeAdmin})
	serve(guard.Middleware(probe(forged)))
	if !errors.Is(gotErr, auth.ErrInvalidToken) {
		t.Errorf("other token behind the middleware: %+v, %v; want ErrInvalidToken", got, gotErr)
	}
}
