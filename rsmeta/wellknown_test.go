package rsmeta

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCanonicalResource(t *testing.T) {
	tests := []struct {
		in, want string // want "" means error
	}{
		{"https://api.example.com/mcp", "https://api.example.com/mcp"},
		{"HTTPS://API.Example.COM/MCP", "https://api.example.com/MCP"},
		{"https://api.example.com", "https://api.example.com"},
		{"https://api.example.com/", "https://api.example.com/"},
		{"https://api.example.com/mcp/", "https://api.example.com/mcp/"},
		{"https://api.example.com:443/mcp", "https://api.example.com/mcp"},
		{"https://api.example.com:0443/mcp", "https://api.example.com/mcp"},
		{"https://api.example.com:/mcp", "https://api.example.com/mcp"},
		{"https://api.example.com:8443/mcp", "https://api.example.com:8443/mcp"},
		{"https://api.example.com:80/mcp", "https://api.example.com:80/mcp"},
		{"https://api.example.com/mcp?v=1&X=Y", "https://api.example.com/mcp?v=1&X=Y"},
		{"https://api.example.com?v=1", "https://api.example.com?v=1"},
		{"https://api.example.com/a%2Fb/%7e", "https://api.example.com/a%2Fb/%7e"},
		{"https://[2001:DB8::1]:443/x", "https://[2001:db8::1]/x"},
		{"http://localhost/mcp", "http://localhost/mcp"},
		{"http://LOCALHOST:80/mcp", "http://localhost/mcp"},
		{"http://127.0.0.1:8080/", "http://127.0.0.1:8080/"},
		{"http://127.255.0.9/", "http://127.255.0.9/"},
		{"http://[::1]:8080", "http://[::1]:8080"},
		{"http://[::ffff:127.0.0.1]/", "http://[::ffff:127.0.0.1]/"},

		{"", ""},
		{"mcp", ""},
		{"/mcp", ""},
		{"//api.example.com/mcp", ""},
		{"https:api.example.com", ""},
		{"https:///mcp", ""},
		{"https://api.example.com/mcp#frag", ""},
		{"https://api.example.com/mcp#", ""},
		{"http://api.example.com/mcp", ""},
		{"http://10.0.0.1/mcp", ""},
		{"http://localhost.example.com/", ""},
		{"http://[::2]/", ""},
		{"ws://localhost/", ""},
		{"urn:example:mcp", ""},
		{"https://user@api.example.com/", ""},
		{"https://api.example.com:99999/", ""},
		{"https://api.example.com:0/", ""},
		{"https://api.example.com:-1/", ""},
		{"https://api.example.com:ab/", ""},
		{"https://[::1/", ""},
		{"https://[zz::1]/", ""},
		{"https://[::1]x/", ""},
		{"https://api.example.com/a b", ""},
		{"https://api.example.com/a\nb", ""},
		{"https://api.example.com/é", ""},
		{"https://api.example.com/%zz", ""},
		{"https://api.example.com/%4", ""},
		{"https://ex%41mple.com/", ""},
		{"https://api.example.com/a/../b", ""},
		{"https://api.example.com/a/./b", ""},
		{"https://api.example.com/a/%2E%2e/b", ""},
		{"https://api.example.com/..", ""},
		{"https://api.example.com/a[0]", ""},
		{"https://api.example.com/?a[]=1", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := CanonicalResource(tt.in)
			if tt.want == "" {
				require.ErrorIs(t, err, ErrInvalidResource, "CanonicalResource(%q) = %q", tt.in, got)
				return
			}
			require.NoError(t, err, "CanonicalResource(%q)", tt.in)
			require.Equal(t, tt.want, got, "CanonicalResource(%q)", tt.in)
			// Idempotent.
			again, err := CanonicalResource(got)
			if assert.NoError(t, err, "CanonicalResource(%q) not idempotent", got) {
				assert.Equal(t, got, again, "CanonicalResource(%q) not idempotent", got)
			}
		})
	}
}

func TestWellKnownURL(t *testing.T) {
	tests := []struct {
		in, want string // want "" means error
	}{
		{"https://h", "https://h/.well-known/oauth-protected-resource"},
		{"https://h/", "https://h/.well-known/oauth-protected-resource"},
		{"https://h/mcp", "https://h/.well-known/oauth-protected-resource/mcp"},
		{"https://h/mcp/", "https://h/.well-known/oauth-protected-resource/mcp/"},
		{"https://h/a/b/", "https://h/.well-known/oauth-protected-resource/a/b/"},
		{"https://h/a/b", "https://h/.well-known/oauth-protected-resource/a/b"},
		{"https://h/mcp?x=1", "https://h/.well-known/oauth-protected-resource/mcp?x=1"},
		{"https://h/?x=1", "https://h/.well-known/oauth-protected-resource?x=1"},
		{"https://h?x=1", "https://h/.well-known/oauth-protected-resource?x=1"},
		{"HTTPS://H:443/Mcp", "https://h/.well-known/oauth-protected-resource/Mcp"},
		{"https://h:8443/mcp", "https://h:8443/.well-known/oauth-protected-resource/mcp"},
		{"http://localhost:3000/mcp", "http://localhost:3000/.well-known/oauth-protected-resource/mcp"},
		{"https://h//x", "https://h/.well-known/oauth-protected-resource//x"},
		{"https://h/mcp#x", ""},
		{"http://h/mcp", ""},
		{"", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := WellKnownURL(tt.in)
			if tt.want == "" {
				require.ErrorIs(t, err, ErrInvalidResource, "WellKnownURL(%q) = %q", tt.in, got)
				return
			}
			require.NoError(t, err, "WellKnownURL(%q)", tt.in)
			require.Equal(t, tt.want, got, "WellKnownURL(%q)", tt.in)
		})
	}
}
