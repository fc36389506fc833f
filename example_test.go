package rsguard_test

import (
	"crypto/subtle"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/audit"
	"github.com/rsguard/rsguard/rsmeta"
	"github.com/rsguard/rsguard/scopes"
)

// serviceTokens is a credential kind of an application's own: fixed bearer
// tokens for internal services. Any type with an Authenticate method plugs
// into the Guard; validate.Validator (JWTs) and apikey.Authenticator (API
// keys) are the library's.
type serviceTokens map[string]string // token → service name

func (s serviceTokens) Authenticate(r *http.Request) (*rsguard.Principal, error) {
	tok, err := rsguard.BearerToken(r) // ReasonNoCredential, or 400 for a malformed header
	if err != nil {
		return nil, err
	}
	for known, name := range s {
		if subtle.ConstantTimeCompare([]byte(tok), []byte(known)) == 1 {
			// A new Principal per request: the handler may do what it likes with it.
			return &rsguard.Principal{Subject: "service:" + name, Credential: "service", Scopes: []string{"inventory:read"}}, nil
		}
	}
	return nil, &rsguard.Error{
		Status: http.StatusUnauthorized, Code: rsmeta.ErrorInvalidToken, Description: "unknown service token",
		Reason: audit.ReasonRejected, Credential: "service", Err: audit.ReasonRejected,
	}
}

func ExampleNew() {
	guard, err := rsguard.New(rsguard.Config{
		Authenticator:    serviceTokens{"s3cr3t-token": "billing"},
		ResourceMetadata: "https://api.example.com/.well-known/oauth-protected-resource/api",
	})
	if err != nil {
		panic(err)
	}
	api := guard.Middleware(scopes.Middleware("inventory:read")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := rsguard.FromContext(r.Context())
		fmt.Fprintln(w, "hello,", p.Subject)
	})))

	for _, auth := range []string{"", "Bearer wrong", "Bearer s3cr3t-token"} {
		r := httptest.NewRequest(http.MethodGet, "https://api.example.com/api/items", nil)
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		w := httptest.NewRecorder()
		api.ServeHTTP(w, r)
		fmt.Println(w.Code, w.Header().Get("WWW-Authenticate"), w.Body.String())
	}
	// Output:
	// 401 Bearer resource_metadata="https://api.example.com/.well-known/oauth-protected-resource/api" {"error":"unauthorized","error_description":"authentication required"}
	// 401 Bearer resource_metadata="https://api.example.com/.well-known/oauth-protected-resource/api", error="invalid_token", error_description="unknown service token" {"error":"invalid_token","error_description":"unknown service token"}
	// 200  hello, service:billing
}
