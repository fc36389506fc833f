package rsmeta_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/rsguard/rsguard/rsmeta"
)

func ExampleWellKnownURL() {
	for _, resource := range []string{
		"https://api.example.com",
		"https://api.example.com/",
		"https://api.example.com/mcp",
		"https://api.example.com/tenants/a/",
		"https://API.example.com:443/mcp?v=2",
	} {
		u, err := rsmeta.WellKnownURL(resource)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Println(u)
	}
	_, err := rsmeta.WellKnownURL("http://api.example.com/mcp")
	fmt.Println(err)
	// Output:
	// https://api.example.com/.well-known/oauth-protected-resource
	// https://api.example.com/.well-known/oauth-protected-resource
	// https://api.example.com/.well-known/oauth-protected-resource/mcp
	// https://api.example.com/.well-known/oauth-protected-resource/tenants/a/
	// https://api.example.com/.well-known/oauth-protected-resource/mcp?v=2
	// rsmeta: invalid resource: "http://api.example.com/mcp": the scheme must be https (http only on loopback hosts)
}

func ExampleCanonicalResource() {
	c, err := rsmeta.CanonicalResource("HTTPS://API.Example.com:443/MCP/")
	fmt.Println(c, err)
	c, err = rsmeta.CanonicalResource("http://localhost:8080/mcp")
	fmt.Println(c, err)
	// Output:
	// https://api.example.com/MCP/ <nil>
	// http://localhost:8080/mcp <nil>
}

func ExampleChallenge_String() {
	rm := "https://api.example.com/.well-known/oauth-protected-resource/mcp"

	// 401, no token sent: where to find the authorization server, and which
	// scopes to ask for.
	fmt.Println(rsmeta.Challenge{ResourceMetadata: rm, Scope: []string{"tools:read"}})

	// 401, the token was refused.
	fmt.Println(rsmeta.Challenge{ResourceMetadata: rm, Error: rsmeta.ErrorInvalidToken, ErrorDescription: "The access token expired"})

	// 403, step-up: every scope the operation needs.
	fmt.Println(rsmeta.Challenge{ResourceMetadata: rm, Scope: []string{"tools:read", "tools:write"}, Error: rsmeta.ErrorInsufficientScope})

	// Values outside RFC 6750 §3 are sanitised by String, refused by Header.
	bad := rsmeta.Challenge{Error: rsmeta.ErrorInvalidToken, ErrorDescription: "kid \"k1\" unknown\n"}
	fmt.Println(bad)
	_, err := bad.Header()
	fmt.Println(err)

	// A Bearer challenge always carries an auth-param.
	fmt.Println(rsmeta.Challenge{})
	// Output:
	// Bearer resource_metadata="https://api.example.com/.well-known/oauth-protected-resource/mcp", scope="tools:read"
	// Bearer resource_metadata="https://api.example.com/.well-known/oauth-protected-resource/mcp", error="invalid_token", error_description="The access token expired"
	// Bearer resource_metadata="https://api.example.com/.well-known/oauth-protected-resource/mcp", scope="tools:read tools:write", error="insufficient_scope"
	// Bearer error="invalid_token", error_description="kid 'k1' unknown "
	// rsmeta: invalid challenge: error_description "kid \"k1\" unknown\n" has a character outside RFC 6750 §3 NQSCHAR
	// Bearer realm=""
}

func ExampleParseChallenges() {
	value := `Bearer resource_metadata="https://api.example.com/.well-known/oauth-protected-resource/mcp", ` +
		`scope="tools:read tools:write", error="insufficient_scope", DPoP algs="ES256", Negotiate YIIB+w==`
	cs, err := rsmeta.ParseChallenges(value)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, c := range cs {
		fmt.Printf("%s: metadata=%q scope=%q error=%q params=%v token68=%q\n",
			c.Scheme, c.ResourceMetadata, c.Scope, c.Error, c.Params, c.Token68)
	}
	_, err = rsmeta.ParseChallenges(`Bearer realm="unterminated`)
	fmt.Println(err)
	// Output:
	// Bearer: metadata="https://api.example.com/.well-known/oauth-protected-resource/mcp" scope=["tools:read" "tools:write"] error="insufficient_scope" params=[] token68=""
	// DPoP: metadata="" scope=[] error="" params=[{algs ES256}] token68=""
	// Negotiate: metadata="" scope=[] error="" params=[] token68="YIIB+w=="
	// rsmeta: invalid challenge: at offset 26: unterminated quoted-string
}

func ExampleRegister() {
	mux := http.NewServeMux()
	h, err := rsmeta.Register(mux, rsmeta.Metadata{
		Resource:             "https://api.example.com/mcp",
		AuthorizationServers: []string{"https://auth.example.com"},
		ScopesSupported:      []string{"tools:read", "tools:write"},
		ResourceName:         "Example MCP server",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("resource_metadata:", h.URL())
	fmt.Println("paths:", h.Paths())

	// What an MCP client gets.
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "https://api.example.com/.well-known/oauth-protected-resource/mcp", nil))
	fmt.Println(rec.Code, rec.Header().Get("Content-Type"))
	fmt.Println(rec.Body.String())
	// Output:
	// resource_metadata: https://api.example.com/.well-known/oauth-protected-resource/mcp
	// paths: [/.well-known/oauth-protected-resource/mcp /.well-known/oauth-protected-resource]
	// 200 application/json
	// {"resource":"https://api.example.com/mcp","authorization_servers":["https://auth.example.com"],"scopes_supported":["tools:read","tools:write"],"bearer_methods_supported":["header"],"resource_name":"Example MCP server"}
}

// Behind a reverse proxy: the server listens on 127.0.0.1:8080 and serves
// /mcp; the proxy publishes it as https://api.example.com/tools/mcp and
// forwards the public metadata URL,
// https://api.example.com/.well-known/oauth-protected-resource/tools/mcp, to
// this server's /.well-known/oauth-protected-resource/mcp. The document and
// the challenges name the public URLs, whatever Host and X-Forwarded-*
// headers say.
func ExampleRegister_paths() {
	mux := http.NewServeMux()
	h, err := rsmeta.Register(mux, rsmeta.Metadata{
		Resource:             "https://api.example.com/tools/mcp", // public, from configuration
		AuthorizationServers: []string{"https://auth.example.com"},
	}, "/.well-known/oauth-protected-resource/mcp") // the path this server receives
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("resource_metadata:", h.URL())
	fmt.Println("paths:", h.Paths())

	// The request as the proxy forwards it, with headers a client spoofed.
	req := httptest.NewRequest(http.MethodGet, "http://127.0.0.1:8080/.well-known/oauth-protected-resource/mcp", nil)
	req.Host = "evil.example"
	req.Header.Set("X-Forwarded-Host", "evil.example")
	req.Header.Set("X-Forwarded-Proto", "http")
	req.Header.Set("X-Forwarded-Prefix", "/evil")
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	fmt.Println(rec.Code, rec.Body.String())
	// Output:
	// resource_metadata: https://api.example.com/.well-known/oauth-protected-resource/tools/mcp
	// paths: [/.well-known/oauth-protected-resource/mcp]
	// 200 {"resource":"https://api.example.com/tools/mcp","authorization_servers":["https://auth.example.com"],"bearer_methods_supported":["header"]}
}

func ExampleWriteChallenge() {
	rec := httptest.NewRecorder()
	rsmeta.WriteChallenge(rec, http.StatusForbidden, rsmeta.Challenge{
		ResourceMetadata: "https://api.example.com/.well-known/oauth-protected-resource/mcp",
		Scope:            []string{"tools:write"},
		Error:            rsmeta.ErrorInsufficientScope,
		ErrorDescription: "tools:write is required",
	})
	fmt.Println(rec.Code)
	fmt.Println(rec.Header().Get("WWW-Authenticate"))
	fmt.Println(rec.Header().Get("Access-Control-Expose-Headers"), rec.Header().Get("Cache-Control"))
	fmt.Println(rec.Body.String())
	// Output:
	// 403
	// Bearer resource_metadata="https://api.example.com/.well-known/oauth-protected-resource/mcp", scope="tools:write", error="insufficient_scope", error_description="tools:write is required"
	// WWW-Authenticate no-store
	// {"error":"insufficient_scope","error_description":"tools:write is required"}
}
