package validate_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/rsguard/rsguard/validate"
)

// Opaque access tokens checked by token introspection (RFC 7662). A small
// stand-in authorization server answers for one token; in production
// Issuer is your authorization server, whose introspection_endpoint is
// discovered when Endpoint is empty.
func ExampleIntrospection() {
	const resource = "https://mcp.example.com/mcp"
	as := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, secret, _ := r.BasicAuth() // client_secret_basic, the default
		w.Header().Set("Content-Type", "application/json")
		if id != "mcp-server" || secret != "s3cret" || r.PostFormValue("token") != "2YotnFZFEjr1zCsicMWpAA" {
			fmt.Fprint(w, `{"active":false}`)
			return
		}
		fmt.Fprintf(w, `{"active":true,"iss":%q,"aud":%q,"exp":%d,"sub":"alice","client_id":"agent","scope":"read","token_type":"Bearer"}`,
			"http://"+r.Host, resource, time.Now().Add(time.Hour).Unix())
	}))
	defer as.Close()

	v, err := validate.New(context.Background(), validate.Config{
		Issuer:   as.URL, // http on a loopback host, for this example only
		Resource: resource,
		Introspection: &validate.Introspection{
			Endpoint:     as.URL + "/introspect",
			ClientID:     "mcp-server",
			ClientSecret: "s3cret",
			JWTs:         true, // this issuer's JWTs are introspected too: no keys needed
		},
	})
	if err != nil {
		panic(err)
	}
	c, err := v.Verify(context.Background(), "2YotnFZFEjr1zCsicMWpAA")
	if err != nil {
		panic(err)
	}
	fmt.Println(c.Subject, c.Scopes)
	_, err = v.Verify(context.Background(), "another-token")
	fmt.Println(err)
	// Output:
	// alice [read]
	// rsguard: inactive (the access token is not active)
}
