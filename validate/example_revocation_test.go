package validate_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"time"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/audit"
	"github.com/rsguard/rsguard/validate"
	"github.com/rsguard/rsguard/validate/validatetest"
)

// Selective revocation: the user logs out everywhere, and every token issued
// to them until then is refused at once, even one the validator has cached.
func ExampleDenyList() {
	const resource = "https://mcp.example.com/mcp"
	is := validatetest.NewIssuer(nil, &validatetest.Options{Audience: []string{resource}})
	defer is.Close()

	revoked, err := validate.NewDenyList(validate.DenyListConfig{MaxTokenLifetime: time.Hour})
	if err != nil {
		panic(err)
	}
	v, err := validate.New(context.Background(), validate.Config{
		Issuer: is.URL, Resource: resource, Fetch: validate.FetchOptions{HTTPClient: is.Client()},
		Revocations: revoked,
	})
	if err != nil {
		panic(err)
	}
	guard, err := rsguard.New(rsguard.Config{Authenticator: v, ResourceMetadata: "https://mcp.example.com/.well-known/oauth-protected-resource/mcp"})
	if err != nil {
		panic(err)
	}
	h := guard.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") }))
	tok := is.Token(map[string]any{"sub": "alice"})
	call := func() {
		req := httptest.NewRequest(http.MethodPost, resource, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if c := rec.Header().Get("WWW-Authenticate"); c != "" {
			fmt.Println(rec.Code, c)
			return
		}
		fmt.Println(rec.Code, rec.Body.String())
	}
	call()
	call()

	// Alice logs out everywhere (or her account is locked).
	if err := revoked.RevokeSubject(is.URL, "alice", time.Now()); err != nil {
		panic(err)
	}
	call()
	// Output:
	// 200 ok
	// 200 ok
	// 401 Bearer resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp", error="invalid_token", error_description="the access token was revoked"
}

// An audit log of the decisions of a Guard over the Validator: one record
// per request, allowed or refused, with a stable reason code and never the
// token.
func ExampleValidator_Authenticate_decisions() {
	const resource = "https://mcp.example.com/mcp"
	is := validatetest.NewIssuer(nil, &validatetest.Options{Audience: []string{resource}})
	defer is.Close()
	auditLog := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			switch a.Key {
			case slog.TimeKey, "latency", "issuer", "subject", "token_id": // vary from run to run
				return slog.Attr{}
			}
			return a
		},
	}))
	v, err := validate.New(context.Background(), validate.Config{Issuer: is.URL, Resource: resource, Fetch: validate.FetchOptions{HTTPClient: is.Client()}})
	if err != nil {
		panic(err)
	}
	guard, err := rsguard.New(rsguard.Config{
		Authenticator:    v,
		ResourceMetadata: "https://mcp.example.com/.well-known/oauth-protected-resource/mcp",
		OnDecision:       audit.Slog(auditLog),
	})
	if err != nil {
		panic(err)
	}
	h := guard.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	for _, tok := range []string{
		is.Token(map[string]any{"scope": "tools:read"}),
		is.Token(map[string]any{"exp": time.Now().Add(-time.Hour).Unix()}),
	} {
		req := httptest.NewRequest(http.MethodPost, resource, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
	// Output:
	// level=INFO msg="rsguard decision" stage=authenticate outcome=allow reason=ok credential=jwt client_id=test-client method=POST path=/mcp granted=tools:read
	// level=INFO msg="rsguard decision" stage=authenticate outcome=deny reason=expired status=401 credential=jwt method=POST path=/mcp
}
