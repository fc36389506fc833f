package validate_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/audit"
	"github.com/rsguard/rsguard/rsmeta"
	"github.com/rsguard/rsguard/validate"
	"github.com/rsguard/rsguard/validate/validatetest"
)

// A protected MCP endpoint: metadata at its well-known URL, an rsguard.Guard
// over the Validator in front of the handler.
func ExampleValidator_Authenticate() {
	const resource = "https://mcp.example.com/mcp"
	// In production Issuer is your authorization server; here an in-process
	// test issuer stands in for it.
	is := validatetest.NewIssuer(nil, &validatetest.Options{Audience: []string{resource}})
	defer is.Close()

	ctx := context.Background() // lives as long as the server: it stops key refresh
	v, err := validate.New(ctx, validate.Config{
		Issuer:   is.URL,
		Resource: resource,
		Fetch:    validate.FetchOptions{HTTPClient: is.Client()}, // trusts the test issuer's certificate
	})
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	meta, err := rsmeta.Register(mux, rsmeta.Metadata{Resource: resource, AuthorizationServers: v.Issuers()})
	if err != nil {
		panic(err)
	}
	guard, err := rsguard.New(rsguard.Config{Authenticator: v, ResourceMetadata: meta.URL()})
	if err != nil {
		panic(err)
	}
	mux.Handle("/mcp", guard.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := rsguard.FromContext(r.Context())
		c, _ := validate.ClaimsFromContext(r.Context())
		fmt.Fprintf(w, "hello %s, by %s, scopes %v", c.Subject, p.Credential, p.Scopes)
	})))

	// Without a token: 401 and a challenge pointing to the metadata.
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, resource, nil))
	fmt.Println(rec.Code, rec.Header().Get("WWW-Authenticate"))

	// With a token issued for this resource.
	req := httptest.NewRequest(http.MethodPost, resource, nil)
	req.Header.Set("Authorization", "Bearer "+is.Token(map[string]any{"sub": "alice", "scope": "tools:read"}))
	rec = httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	fmt.Println(rec.Code, rec.Body.String())
	// Output:
	// 401 Bearer resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp"
	// 200 hello alice, by jwt, scopes [tools:read]
}

// Verify is the decision method behind Authenticate; its errors tell why.
func ExampleValidator_Verify() {
	is := validatetest.NewIssuer(nil, &validatetest.Options{Audience: []string{"https://api.example.com"}})
	defer is.Close()
	v, err := validate.New(context.Background(), validate.Config{
		Issuer: is.URL, Resource: "https://api.example.com", Fetch: validate.FetchOptions{HTTPClient: is.Client()},
	})
	if err != nil {
		panic(err)
	}

	claims, err := v.Verify(context.Background(), is.Token(map[string]any{"scope": "read write"}))
	fmt.Println(claims.Scopes, err)

	_, err = v.Verify(context.Background(), is.Token(map[string]any{"aud": "https://other.example.com"}))
	var e *rsguard.Error
	fmt.Println(errors.Is(err, audit.ReasonBadAudience), errors.As(err, &e), e.Status, e.Code, e.Reason)
	// Output:
	// [read write] <nil>
	// true true 401 invalid_token bad_audience
}
