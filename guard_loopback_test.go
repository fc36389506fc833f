package rsguard_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/internal/loopback/loopbacktest"
)

// TestResourceMetadataLoopbackRule: the resource_metadata URL of every
// challenge is the Guard's (rsguard.Config.ResourceMetadata, also carried by
// scopes' challenges), which clients fetch: it is https, or http on a
// loopback host only, over the shared tables.
func TestResourceMetadataLoopbackRule(t *testing.T) {
	auth := staticAuth(rsguard.Principal{Subject: "alice"})
	places := map[string]func(url string) error{
		"rsguard.New": func(u string) error {
			_, err := rsguard.New(rsguard.Config{Authenticator: auth, ResourceMetadata: u})
			return err
		},
	}
	const path = "/.well-known/oauth-protected-resource/mcp"
	for name, build := range places {
		t.Run(name, func(t *testing.T) {
			for _, h := range loopbacktest.Hostile() {
				assert.Error(t, build("http://"+h.Host+path), "http://%s accepted (%s)", h.Host, h.Why)
				if !strings.Contains(h.Host, "%") { // a zone is refused whatever the scheme
					assert.NoError(t, build("https://"+h.Host+path), "https://%s refused", h.Host)
				}
			}
			for _, h := range loopbacktest.Genuine() {
				assert.NoError(t, build("http://"+h.Host+path), "http://%s refused", h.Host)
			}
			for _, bad := range []string{"ftp://api.example.com/x", "/relative", "https://user@api.example.com/x", "https://api.example.com/x#f"} {
				assert.Error(t, build(bad), "%s accepted", bad)
			}
		})
	}
}
