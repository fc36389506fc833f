package validate

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// FuzzIntrospectionAnswer feeds arbitrary bytes to the reader and the checks
// of an introspection answer (RFC 7662 §2.2). Whatever the reader accepts,
// encoding/json reads as an object with a boolean "active"; whatever the
// checks accept is an active answer about an access token of the issuer,
// for this resource, not expired, whose claims Claims.Get reads. Seeds are
// below and in testdata/fuzz/FuzzIntrospectionAnswer.
func FuzzIntrospectionAnswer(f *testing.F) {
	const issuer = "https://as.example.com"
	now := time.Unix(1893456000, 0) // 2030-01-01
	for _, seed := range []string{
		`{"active":false}`,
		`{"active":true,"iss":"https://as.example.com","aud":"https://mcp.example.com/mcp","exp":1893459600,"sub":"alice","client_id":"agent","scope":"read write","token_type":"Bearer"}`,
		`{"active":true,"iss":"https://as.example.com","aud":["https://mcp.example.com/mcp"],"exp":1893459600,"client_id":"agent","token_type":"DPoP","cnf":{"jkt":"0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}}`,
		`{"active":true,"iss":"https://as.example.com","aud":"https://mcp.example.com/mcp","exp":1893459600,"sub":"alice","token_use":"access_token"}`,
		`{"active":true,"iss":"https://as.example.com","aud":"https://mcp.example.com/mcp","exp":1893459600,"sub":"alice","client_id":"agent"}`,
		`{"active":true,"active":false}`,
		`{"active":"true"}`,
		`[true]`,
	} {
		f.Add([]byte(seed))
	}
	v, err := New(context.Background(), Config{
		Issuer:   issuer,
		Resource: "https://mcp.example.com/mcp",
		Keys:     &staticKeySet{},
		Now:      func() time.Time { return now },
		Introspection: &Introspection{
			Endpoint: issuer + "/introspect", ClientID: "rs", ClientSecret: "secret",
		},
		TenantClaim: "tid",
	})
	if err != nil {
		f.Fatal(err)
	}
	in := v.issuers[issuer].intro
	f.Fuzz(func(t *testing.T, body []byte) {
		a, err := parseIntrospection(body, "tid")
		if err != nil {
			return
		}
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			t.Fatalf("accepted %q, which encoding/json refuses: %v", body, err)
		}
		if active, ok := m["active"].(bool); !ok || active != a.active {
			t.Fatalf("active read as %v from %q", a.active, body)
		}
		c, refusal, _ := v.checkAnswer(context.Background(), in, a, "the-token", now)
		if (c == nil) == (refusal == nil) {
			t.Fatalf("claims %v and refusal %v for %q", c, refusal, body)
		}
		if c == nil {
			return
		}
		if m["active"] != true || m["iss"] != issuer {
			t.Fatalf("accepted an inactive answer or one of another issuer: %q", body)
		}
		tt, hasType := m["token_type"].(string)
		if hasType && !strings.EqualFold(tt, "Bearer") && !strings.EqualFold(tt, "DPoP") || !hasType && m["token_use"] != "access_token" {
			t.Fatalf("accepted an answer not about an access token: %q", body)
		}
		if use, ok := m["token_use"]; ok && use != "access_token" {
			t.Fatalf("accepted token_use %v: %q", use, body)
		}
		exp, ok := m["exp"].(float64)
		if !ok || !now.Before(time.Unix(int64(exp), 0).Add(v.leeway+time.Second)) {
			t.Fatalf("accepted an answer without exp, or expired: %q", body)
		}
		if cnf, ok := m["cnf"]; ok {
			obj, _ := cnf.(map[string]any)
			if len(obj) != 1 || obj["jkt"] != c.KeyThumbprint || c.KeyThumbprint == "" {
				t.Fatalf("cnf %v read as thumbprint %q: %q", cnf, c.KeyThumbprint, body)
			}
		} else if c.KeyThumbprint != "" {
			t.Fatalf("thumbprint %q without cnf: %q", c.KeyThumbprint, body)
		}
		if !c.introspected || c.credential() != "introspection" {
			t.Fatal("claims not marked as introspected")
		}
		for name, want := range m {
			got, ok := c.Get(name)
			if !ok {
				t.Fatalf("Claims.Get(%q) missing from %q", name, body)
			}
			if gb, _ := json.Marshal(got); string(gb) != introJSON(t, want) {
				t.Fatalf("Claims.Get(%q) = %s, want %s", name, gb, introJSON(t, want))
			}
		}
	})
}

func introJSON(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
