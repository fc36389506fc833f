package rsmeta_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/rsguard/rsguard/internal/loopback/loopbacktest"
	"github.com/rsguard/rsguard/rsmeta"
)

// TestLoopbackRule checks every URL rsmeta accepts over http against the
// shared tables: plain http to a hostile host is refused, the same host over
// https is accepted, and plain http to a genuine loopback host is accepted.
func TestLoopbackRule(t *testing.T) {
	metadata := func(mod func(*rsmeta.Metadata)) error {
		m := rsmeta.Metadata{Resource: "https://api.example.com/mcp", AuthorizationServers: []string{"https://as.example.com"}}
		mod(&m)
		return m.Validate()
	}
	for _, place := range []struct {
		name  string
		check func(origin string) error
		// noZone: the place refuses a percent-encoded zone whatever the
		// scheme, so a zone is no https control there.
		noZone bool
	}{
		{name: "CanonicalResource", noZone: true, check: func(o string) error {
			_, err := rsmeta.CanonicalResource(o + "/mcp")
			return err
		}},
		{name: "WellKnownURL", noZone: true, check: func(o string) error {
			_, err := rsmeta.WellKnownURL(o + "/mcp")
			return err
		}},
		{name: "NewHandler resource", noZone: true, check: func(o string) error {
			_, err := rsmeta.NewHandler(rsmeta.Metadata{Resource: o + "/mcp", AuthorizationServers: []string{"https://as.example.com"}})
			return err
		}},
		{name: "Validate resource", noZone: true, check: func(o string) error {
			return metadata(func(m *rsmeta.Metadata) { m.Resource = o + "/mcp" })
		}},
		{name: "Validate authorization_servers", check: func(o string) error {
			return metadata(func(m *rsmeta.Metadata) { m.AuthorizationServers = append(m.AuthorizationServers, o) })
		}},
		{name: "Validate jwks_uri", check: func(o string) error {
			return metadata(func(m *rsmeta.Metadata) { m.JWKSURI = o + "/jwks" })
		}},
	} {
		t.Run(place.name, func(t *testing.T) {
			for _, h := range loopbacktest.Hostile() {
				err := place.check("http://" + h.Host)
				if assert.Error(t, err, "http://%s accepted: %s", h.Host, h.Why) {
					assert.True(t, errors.Is(err, rsmeta.ErrInvalidMetadata) || errors.Is(err, rsmeta.ErrInvalidResource),
						"http://%s: %v, want an rsmeta sentinel", h.Host, err)
				}
				if place.noZone && strings.Contains(h.Host, "%") {
					continue
				}
				assert.NoError(t, place.check("https://"+h.Host), "https://%s refused (control)", h.Host)
			}
			for _, h := range loopbacktest.Genuine() {
				assert.NoError(t, place.check("http://"+h.Host), "http://%s refused (%s)", h.Host, h.Why)
			}
		})
	}
}

// TestChallengeHeaderResourceMetadataRule: Challenge.Header, the
// configuration-time check, holds resource_metadata to the loopback rule;
// String, on the request path, does not parse URLs.
func TestChallengeHeaderResourceMetadataRule(t *testing.T) {
	const path = "/.well-known/oauth-protected-resource/mcp"
	for _, h := range loopbacktest.Hostile() {
		_, err := (rsmeta.Challenge{ResourceMetadata: "http://" + h.Host + path}).Header()
		assert.Error(t, err, "http://%s accepted (%s)", h.Host, h.Why)
	}
	for _, h := range loopbacktest.Genuine() {
		_, err := (rsmeta.Challenge{ResourceMetadata: "http://" + h.Host + path}).Header()
		assert.NoError(t, err, "http://%s refused", h.Host)
	}
	_, err := (rsmeta.Challenge{ResourceMetadata: "https://api.example.com" + path}).Header()
	assert.NoError(t, err, "https refused")
}
