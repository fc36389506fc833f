package devissuer

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/rsguard/rsguard/validate"
	"github.com/rsguard/rsguard/validate/validatetest"
)

// TestStart gets a token from the development issuer as the examples'
// clients do, with and without an RFC 8707 resource indicator, and
// validates it for the resource.
func TestStart(t *testing.T) {
	const resource = "http://127.0.0.1:8080/mcp"
	iss, err := Start(resource, []string{"notes:read", "notes:write"})
	if err != nil {
		t.Fatal(err)
	}
	defer iss.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	v, err := validate.New(ctx, validate.Config{Issuer: iss.URL, Resource: resource})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		form url.Values
	}{
		{"resource indicator", url.Values{"grant_type": {"client_credentials"}, "scope": {"notes:read"}, "resource": {resource}}},
		{"no resource indicator", url.Values{"grant_type": {"client_credentials"}, "scope": {"notes:read"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodPost, iss.TokenURL, strings.NewReader(tt.form.Encode()))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth(ClientID, ClientSecret)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var tok struct {
				AccessToken string `json:"access_token"`
			}
			if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || resp.StatusCode != http.StatusOK {
				t.Fatalf("token endpoint: status %d, %v", resp.StatusCode, err)
			}
			c, err := v.Verify(ctx, tok.AccessToken)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if !slices.Equal(c.Scopes, []string{"notes:read"}) {
				t.Errorf("scopes %q, want [notes:read]", c.Scopes)
			}
		})
	}
}

func TestDemoScript(t *testing.T) {
	iss := &Issuer{&validatetest.Issuer{TokenURL: "http://127.0.0.1:9/token"}}
	got := iss.DemoScript("http://127.0.0.1:8080/it's", "notes:read", "list_notes")
	for _, want := range []string{
		`MCP='http://127.0.0.1:8080/it'\''s'` + "\n",
		"-d scope=notes:read ",
		` 'http://127.0.0.1:9/token' `,
		`"params":{"name":"list_notes","arguments":{}}`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("DemoScript lacks %q:\n%s", want, got)
		}
	}
	if strings.Count(got, "\n") != 5 || strings.Contains(got, "\n\n") {
		t.Errorf("DemoScript: want five lines and no empty one (the banner ends the script at an empty line):\n%s", got)
	}
}
