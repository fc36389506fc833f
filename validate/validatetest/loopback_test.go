package validatetest

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

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
		doc, err := json.Marshal(map[string]any{"resource": resource, "authorization_servers": append([]string{is.URL()}, servers...)})
		if err != nil {
			t.Fatal(err)
		}
		mux := http.NewServeMux()
		mux.HandleFunc("/.well-known/oauth-protected-resource/mcp", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(doc)
		})
		return record(ConformanceConfig{Issuer: is, Handler: mux, Resource: resource, MetadataURL: kitMetadata,
			Skip: []string{"cors", "challenge", "accept", "attacks"}})
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
			if !strings.Contains(msgs, `"http://`+h.Host+`"`) {
				t.Errorf("authorization server http://%s not reported (%s); failures:\n%s", h.Host, h.Why, rec.summary())
			}
		}
		for _, good := range [][]string{hosts("https", loopbacktest.Hostile()), hosts("http", loopbacktest.Genuine())} {
			if rec := check(t, kitResource, good); rec.failed("metadata") {
				t.Errorf("authorization servers %q refused:\n%s", good, rec.summary())
			}
		}
	})
	t.Run("resource", func(t *testing.T) {
		// The resource is configuration: a hostile one stops the kit before
		// it sends anything.
		for _, h := range loopbacktest.Hostile() {
			rec := check(t, "http://"+h.Host+"/mcp", nil)
			if len(rec.fatal) != 1 || !strings.Contains(rec.summary(), "http only on loopback hosts") {
				t.Errorf("resource http://%s/mcp not refused (%s):\n%s", h.Host, h.Why, rec.summary())
			}
		}
		controls := append(hosts("https", loopbacktest.Hostile()), hosts("http", loopbacktest.Genuine())...)
		for _, origin := range controls {
			if rec := check(t, origin+"/mcp", nil); len(rec.failures) > 0 {
				t.Errorf("resource %s/mcp refused:\n%s", origin, rec.summary())
			}
		}
	})
}
