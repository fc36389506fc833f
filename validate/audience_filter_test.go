package validate

import (
	"testing"

	"github.com/rsguard/rsguard/rsmeta"
)

// audienceRef is audienceMatches without its shortcuts: every value
// canonicalised and compared.
func audienceRef(wants []audience, aud [][]byte) bool {
	for _, a := range aud {
		key := string(a)
		if c, err := rsmeta.CanonicalResource(string(a)); err == nil {
			key = audienceKey(c)
		}
		for _, w := range wants {
			if string(a) == w.raw || string(a) == w.key || key == w.key {
				return true
			}
		}
	}
	return false
}

// TestAudienceFilter checks that the path-and-query filter of
// audienceMatches never refuses a value that canonicalises to an accepted
// audience, and never accepts one that does not.
func TestAudienceFilter(t *testing.T) {
	wants := []string{
		"https://mcp.example.com/mcp", "https://mcp.example.com", "https://mcp.example.com/",
		"https://mcp.example.com:8443/a/b/", "https://mcp.example.com/mcp?x=1", "https://mcp.example.com?x=/",
		"http://127.0.0.1:8080/mcp", "http://[::1]/", "api://my-app", "client-123", "HTTPS://MCP.Example.COM:443/Mcp",
	}
	values := []string{
		"https://mcp.example.com/mcp", "https://mcp.example.com/mcp/", "HTTPS://MCP.EXAMPLE.COM/mcp",
		"https://mcp.example.com:443/mcp", "https://mcp.example.com:0443/mcp", "https://mcp.example.com:/mcp",
		"https://mcp.example.com/MCP", "https://mcp.example.com/mcp?", "https://mcp.example.com", "https://mcp.example.com/",
		"https://mcp.example.com:443", "https://MCP.example.com:443/", "https://mcp.example.com:8443/a/b",
		"https://mcp.example.com:08443/a/b/", "https://mcp.example.com:8443/a/b//", "https://mcp.example.com/mcp?x=1",
		"https://mcp.example.com/mcp?x=1/", "https://mcp.example.com?x=/", "https://mcp.example.com:443?x=",
		"http://127.0.0.1:8080/mcp/", "HTTP://127.0.0.1:8080/mcp", "http://[::1]", "http://[::1]:80/", "http://[0::1]/",
		"https://other-api.example.com", "https://mcp.example.com.evil/mcp", "https://evil/https://mcp.example.com/mcp",
		"api://my-app", "api://my-app/", "client-123", "https://mcp.example.com/Mcp", "https://mcp.example.com:443/Mcp",
		"", "/", "https://", "https://mcp.example.com#/mcp", "https://u@mcp.example.com/mcp",
	}
	for _, w := range wants {
		tr := &trusted{audiences: []audience{newAudience(w)}}
		for _, v := range values {
			aud := [][]byte{[]byte(v)}
			if got, want := tr.audienceMatches(aud), audienceRef(tr.audiences, aud); got != want {
				t.Errorf("audience %q, value %q: matches %t, want %t", w, v, got, want)
			}
		}
	}
}
