package validatetest_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/audit"
	"github.com/rsguard/rsguard/rsmeta"
	"github.com/rsguard/rsguard/validate"
	"github.com/rsguard/rsguard/validate/validatetest"
)

// A DPoP client in a test: a key, a token bound to it, and a proof per
// request (RFC 9449).
func ExampleNewDPoPKey() {
	iss := validatetest.NewIssuer(nil, nil)
	defer iss.Close()
	const resource = "https://mcp.example.com/mcp"
	v, err := validate.New(context.Background(), validate.Config{
		Issuer: iss.URL, Resource: resource, Fetch: validate.FetchOptions{HTTPClient: iss.Client()},
		DPoP: validate.DPoPConfig{Mode: validate.DPoPRequired},
	})
	if err != nil {
		panic(err)
	}

	key := validatetest.NewDPoPKey(nil, "ES256")
	tok := iss.Token(map[string]any{"aud": resource, "cnf": map[string]any{"jkt": key.Thumbprint()}})
	req := httptest.NewRequest(http.MethodPost, resource, nil)
	req.Header.Set("Authorization", "DPoP "+tok)
	req.Header.Set("DPoP", key.Proof(http.MethodPost, resource, tok))
	p, err := v.Authenticate(req)
	fmt.Println(err == nil, p.Details.(*validate.Claims).KeyThumbprint == key.Thumbprint())

	// The same proof again is a replay.
	_, err = v.Authenticate(req)
	fmt.Println(errors.Is(err, audit.ReasonDPoPReplay))
	// Output:
	// true true
	// true
}

// Proofs a resource server must refuse: for another method, an hour old,
// with another key's jwk.
func ExampleDPoPKey_ProofWith() {
	iss := validatetest.NewIssuer(nil, nil)
	defer iss.Close()
	const resource = "https://mcp.example.com/mcp"
	v, err := validate.New(context.Background(), validate.Config{
		Issuer: iss.URL, Resource: resource, Fetch: validate.FetchOptions{HTTPClient: iss.Client()},
		DPoP: validate.DPoPConfig{Mode: validate.DPoPAllowed},
	})
	if err != nil {
		panic(err)
	}
	key, other := validatetest.NewDPoPKey(nil, "ES256"), validatetest.NewDPoPKey(nil, "EdDSA")
	tok := iss.Token(map[string]any{"aud": resource, "cnf": map[string]any{"jkt": key.Thumbprint()}})
	for _, proof := range []string{
		key.ProofWith(validatetest.ProofOptions{Method: http.MethodGet, URL: resource, Token: tok}),
		key.ProofWith(validatetest.ProofOptions{Method: http.MethodPost, URL: resource, Token: tok,
			Claims: map[string]any{"iat": 1700000000}}),
		other.ProofWith(validatetest.ProofOptions{Method: http.MethodPost, URL: resource, Token: tok,
			Header: map[string]any{"jwk": key.JWK(), "alg": "EdDSA"}}),
	} {
		req := httptest.NewRequest(http.MethodPost, resource, nil)
		req.Header.Set("Authorization", "DPoP "+tok)
		req.Header.Set("DPoP", proof)
		_, err := v.Authenticate(req)
		var e *rsguard.Error
		errors.As(err, &e)
		fmt.Println(e.Code, e.Reason)
	}
	// Output:
	// invalid_dpop_proof bad_dpop_proof
	// invalid_dpop_proof bad_dpop_proof
	// invalid_dpop_proof bad_dpop_proof
}

// An opaque token, checked by introspection: the resource server is a
// client of the issuer, which answers about the token with its claims.
func ExampleIssuer_OpaqueToken() {
	iss := validatetest.NewIssuer(nil, &validatetest.Options{
		Clients: []validatetest.Client{{ID: "mcp-server", Secret: "mcp-server-secret"}},
	})
	defer iss.Close()
	const resource = "https://mcp.example.com/mcp"
	v, err := validate.New(context.Background(), validate.Config{
		Issuer: iss.URL, Resource: resource, Fetch: validate.FetchOptions{HTTPClient: iss.Client()},
		// The endpoint is found in the issuer's metadata: iss.IntrospectionURL.
		Introspection: &validate.Introspection{ClientID: "mcp-server", ClientSecret: "mcp-server-secret"},
	})
	if err != nil {
		panic(err)
	}

	tok := iss.OpaqueToken(map[string]any{"aud": resource, "scope": "tools:read"})
	c, err := v.Verify(context.Background(), tok)
	fmt.Println(err == nil, c.Scopes)

	// Answers shaped by the claims: a refresh token's (no token_type), an
	// inactive token's.
	_, err = v.Verify(context.Background(), iss.OpaqueToken(map[string]any{"aud": resource, "token_type": nil}))
	fmt.Println(errors.Is(err, audit.ReasonBadTokenType))
	_, err = v.Verify(context.Background(), iss.OpaqueToken(map[string]any{"active": false}))
	fmt.Println(errors.Is(err, audit.ReasonInactive))

	// What the endpoint answers, as RFC 7662 §2 says.
	form := url.Values{"token": {tok}}
	req, _ := http.NewRequest(http.MethodPost, iss.IntrospectionURL, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("mcp-server", "mcp-server-secret")
	resp, err := iss.Client().Do(req)
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	fmt.Println(resp.StatusCode, resp.Header.Get("Content-Type"))
	// Output:
	// true [tools:read]
	// true
	// true
	// 200 application/json
}

// The kit's dpop and introspection subtests, for a server that accepts
// DPoP-bound tokens and introspects opaque ones. Compiled, not run: see
// ExampleConformance.
func ExampleConformance_dPoPAndIntrospection() {
	run := func(t *testing.T) {
		iss := validatetest.NewIssuer(t, &validatetest.Options{
			Clients: []validatetest.Client{{ID: "mcp-server", Secret: "mcp-server-secret"}},
		})
		const resource = "https://mcp.example.com/mcp"
		mux := http.NewServeMux()
		meta, err := rsmeta.Register(mux, rsmeta.Metadata{Resource: resource, AuthorizationServers: []string{iss.URL}})
		if err != nil {
			t.Fatal(err)
		}
		v, err := validate.New(context.Background(), validate.Config{
			Issuer: iss.URL, Resource: resource, Fetch: validate.FetchOptions{HTTPClient: iss.Client()},
			DPoP:          validate.DPoPConfig{Mode: validate.DPoPAllowed},
			Introspection: &validate.Introspection{ClientID: "mcp-server", ClientSecret: "mcp-server-secret"},
		})
		if err != nil {
			t.Fatal(err)
		}
		guard, err := rsguard.New(rsguard.Config{Authenticator: v, ResourceMetadata: meta.URL()})
		if err != nil {
			t.Fatal(err)
		}
		mux.Handle("/mcp", guard.Middleware(http.NotFoundHandler())) // your server

		validatetest.Conformance(t, validatetest.ConformanceConfig{
			Issuer: iss, Handler: mux, Resource: resource,
			Request: func(ctx context.Context, endpoint string) (*http.Request, error) {
				return http.NewRequestWithContext(ctx, http.MethodGet, endpoint, nil)
			},
			DPoP:          validate.DPoPAllowed,
			Introspection: true,
		})
	}
	_ = run
}
