package validatetest

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rsguard/rsguard/internal/loopback/loopbacktest"
)

// TestConformanceLoopbackRule checks that the metadata subtest holds the
// published "resource" and "authorization_servers" to the loopback rule,
// over the shared tables: plain http to a hostile host fails it, the same
// host over https and plain http to a genuine loopback host pass.
func TestConformanceLoopbackRule(t *testing.T) {
	is := NewIssuer(t, nil)
	// check runs the metadata subtest alone against a server publishing
	// resource and, after the issuer, servers; it returns the failures. It
	// takes the subtest's t: FailNow belongs to the goroutine of the test
	// that calls it.
	check := func(t *testing.T, resource string, servers []string) *recording {
		t.Helper()
		doc, err := json.Marshal(map[string]any{"resource": resource, "authorization_servers": append([]string{is.URL}, servers...)})
		require.NoError(t, err)
		mux := http.NewServeMux()
		mux.HandleFunc("/.well-known/oauth-protected-resource/mcp", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(doc)
		})
		return record(ConformanceConfig{Issuer: is, Handler: mux, Resource: resource, MetadataURL: kitMetadata,
			Skip: []string{"cors", "challenge", "accept", "attacks", "dpop"}})
	}
	hosts := func(scheme string, table []loopbacktest.Host) []string {
		var out []string
		for _, h := range table {
			out = append(out, scheme+"://"+h.Host)
		}
		return out
	}

	t.Run("authorization_servers", func(t *testing.T) {
		// One run per table: the kit reports each server on its own.
		rec := check(t, kitResource, hosts("http", loopbacktest.Hostile()))
		msgs := strings.Join(rec.failures["Kit/metadata"], "\n")
		for _, h := range loopbacktest.Hostile() {
			assert.Contains(t, msgs, `"http://`+h.Host+`"`, "authorization server http://%s not reported (%s)", h.Host, h.Why)
		}
		for _, good := range [][]string{hosts("https", loopbacktest.Hostile()), hosts("http", loopbacktest.Genuine())} {
			rec := check(t, kitResource, good)
			assert.False(t, rec.failed("metadata"), "authorization servers %q refused:\n%s", good, rec.summary())
		}
	})
	t.Run("resource", func(t *testing.T) {
		// The resource is configuration: a hostile one stops the kit before
		// it sends anything.
		for _, h := range loopbacktest.Hostile() {
			rec := check(t, "http://"+h.Host+"/mcp", nil)
			assert.Len(t, rec.fatal, 1, "resource http://%s/mcp not refused (%s):\n%s", h.Host, h.Why, rec.summary())
			assert.Contains(t, rec.summary(), "http only on loopback hosts", "resource http://%s/mcp not refused (%s)", h.Host, h.Why)
		}
		controls := append(hosts("https", loopbacktest.Hostile()), hosts("http", loopbacktest.Genuine())...)
		for _, origin := range controls {
			rec := check(t, origin+"/mcp", nil)
			assert.Empty(t, rec.failures, "resource %s/mcp refused:\n%s", origin, rec.summary())
		}
	})
}
