package loopback_test

import (
	"net/url"
	"testing"

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
			if err != nil || u.Hostname() == "" {
				t.Fatalf("table host %q does not parse as a URL host: %v", h.Host, err)
			}
			if got := loopback.IsHost(u.Hostname()); got != tc.want {
				t.Errorf("IsHost(%q) = %v, want %v (%s)", u.Hostname(), got, tc.want, h.Why)
			}
		}
	}
	// Brackets are the caller's to strip.
	if loopback.IsHost("[::1]") {
		t.Error(`IsHost("[::1]") = true, want false`)
	}
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
		if err != nil {
			t.Fatal(err)
		}
		if got := loopback.AllowsScheme(u); got != tc.want {
			t.Errorf("AllowsScheme(%s) = %v, want %v", tc.url, got, tc.want)
		}
	}
}
