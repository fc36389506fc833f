package loopback_test

import (
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rsguard/rsguard/internal/loopback"
	"github.com/rsguard/rsguard/internal/loopback/loopbacktest"
)

func TestIsHost(t *testing.T) {
	for _, tc := range []struct {
		table []loopbacktest.Host
		want  bool
	}{{loopbacktest.Hostile(), false}, {loopbacktest.Genuine(), true}} {
		for _, h := range tc.table {
			u, err := url.Parse("http://" + h.Host + ":8080/x")
			require.NoError(t, err, "table host %q does not parse as a URL host", h.Host)
			require.NotEmpty(t, u.Hostname(), "table host %q does not parse as a URL host", h.Host)
			assert.Equal(t, tc.want, loopback.IsHost(u.Hostname()), "IsHost(%q) (%s)", u.Hostname(), h.Why)
		}
	}
	// Brackets are the caller's to strip.
	assert.False(t, loopback.IsHost("[::1]"), `IsHost("[::1]") = true, want false`)
}

func TestAllowsScheme(t *testing.T) {
	for _, tc := range []struct {
		url  string
		want bool
	}{
		{"https://example.com/", true},
		{"HTTPS://127.attacker.example/", true},
		{"http://127.0.0.1:8080/", true},
		{"HTTP://LOCALHOST/", true},
		{"http://[::1]/", true},
		{"http://127.attacker.example/", false},
		{"http://localhost./", false},
		{"http://example.com/", false},
		{"ws://localhost/", false},
		{"ftp://127.0.0.1/", false},
		{"file:///etc/passwd", false},
		{"//127.0.0.1/", false},
	} {
		u, err := url.Parse(tc.url)
		require.NoError(t, err)
		assert.Equal(t, tc.want, loopback.AllowsScheme(u), "AllowsScheme(%s)", tc.url)
	}
}
