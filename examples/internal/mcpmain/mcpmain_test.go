package mcpmain

import (
	"net"
	"testing"
)

func TestDefaultResource(t *testing.T) {
	actual := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 41234}
	tests := []struct {
		flagAddr string
		want     string // "" means an error
	}{
		{"127.0.0.1:8080", "http://127.0.0.1:41234/mcp"},
		{"127.0.0.1:0", "http://127.0.0.1:41234/mcp"},
		{"localhost:8080", "http://localhost:41234/mcp"},
		{"[::1]:8080", "http://[::1]:41234/mcp"},
		{":8080", ""},
		{"0.0.0.0:8080", ""},
		{"[::]:8080", ""},
		{"192.0.2.1:8080", ""},
		{"no-port", ""},
	}
	for _, tt := range tests {
		got, err := defaultResource(tt.flagAddr, actual)
		if tt.want == "" && err == nil || tt.want != "" && (err != nil || got != tt.want) {
			t.Errorf("defaultResource(%q) = %q, %v; want %q", tt.flagAddr, got, err, tt.want)
		}
	}
}
