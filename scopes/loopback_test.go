package scopes_test

import (
	"strings"
	"testing"

	"github.com/rsguard/rsguard/internal/loopback/loopbacktest"
	"github.com/rsguard/rsguard/scopes"
)

// TestResourceMetadataLoopbackRule: a configured ResourceMetadata, which
// clients fetch from the challenge, is https, or http on a loopback host
// only, over the shared tables.
func TestResourceMetadataLoopbackRule(t *testing.T) {
	places := map[string]func(url string) error{
		"NewMCP": func(u string) error {
			_, err := scopes.NewMCP(scopes.MCPConfig{ResourceMetadata: u})
			return err
		},
		"NewRoute": func(u string) error {
			_, err := scopes.NewRoute(scopes.RouteConfig{ResourceMetadata: u})
			return err
		},
	}
	const path = "/.well-known/oauth-protected-resource/mcp"
	for name, build := range places {
		t.Run(name, func(t *testing.T) {
			for _, h := range loopbacktest.Hostile() {
				if err := build("http://" + h.Host + path); err == nil {
					t.Errorf("http://%s accepted (%s)", h.Host, h.Why)
				}
				if !strings.Contains(h.Host, "%") { // a zone is refused whatever the scheme
					if err := build("https://" + h.Host + path); err != nil {
						t.Errorf("https://%s refused: %v", h.Host, err)
					}
				}
			}
			for _, h := range loopbacktest.Genuine() {
				if err := build("http://" + h.Host + path); err != nil {
					t.Errorf("http://%s refused: %v", h.Host, err)
				}
			}
			for _, bad := range []string{"ftp://api.example.com/x", "/relative", "https://user@api.example.com/x", "https://api.example.com/x#f"} {
				if err := build(bad); err == nil {
					t.Errorf("%s accepted", bad)
				}
			}
		})
	}
}
