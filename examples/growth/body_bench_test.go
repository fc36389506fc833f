package growth

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	"github.com/rsguard/rsguard/scopes"
	"github.com/rsguard/rsguard/validate"
)

// toolsCall returns a tools/call body of exactly size bytes: the tool's
// argument "data" pads it.
func toolsCall(size int) []byte {
	const head, tail = `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"upload","arguments":{"data":"`, `"}}}`
	return []byte(head + strings.Repeat("a", size-len(head)-len(tail)) + tail)
}

// BenchmarkBody measures tools/call bodies of 1 KiB, 64 KiB and 1 MiB, the
// handler reading the whole body, through an rsguard.Guard (its token
// cached) alone ("guard") and followed by scopes.MCP ("guard+mcp", which
// reads the body to find the tool and replays it; MaxBodyBytes 2 MiB).
// ns/KiB and alloc-B/body-B (bytes allocated per byte of body) should stay
// flat as the body grows: the cost is linear in the body, once.
func BenchmarkBody(b *testing.B) {
	s := newSigner(b, 0)
	v := newValidator(b, validate.Config{Issuer: s.issuer, Keys: s.keys})
	tok := "Bearer " + s.token(b, 0, nil)
	m, err := scopes.NewMCP(scopes.MCPConfig{Tools: map[string][]string{"upload": {scope}}, MaxBodyBytes: 2 << 20})
	if err != nil {
		b.Fatal(err)
	}
	chains := []struct {
		name string
		h    http.Handler
	}{
		{"guard", guard(b, v, discard)},
		{"guard+mcp", guard(b, v, m.Handler(discard))},
	}
	for _, size := range []int{1 << 10, 64 << 10, 1 << 20} {
		bd := toolsCall(size)
		for _, c := range chains {
			b.Run(fmt.Sprintf("body=%dKiB/%s", size>>10, c.name), func(b *testing.B) {
				req := httptest.NewRequest(http.MethodPost, resource, nil)
				req.Header.Set("Authorization", tok)
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Accept", "application/json, text/event-stream")
				body := new(bytes.Reader)
				w := newNopWriter()
				b.SetBytes(int64(size))
				var ms0, ms1 runtime.MemStats
				runtime.ReadMemStats(&ms0)
				for b.Loop() {
					body.Reset(bd)
					req.Body, req.ContentLength = io.NopCloser(body), int64(size)
					w.reset()
					c.h.ServeHTTP(w, req)
					if w.status != http.StatusNoContent {
						b.Fatalf("status %d", w.status)
					}
				}
				runtime.ReadMemStats(&ms1)
				n := float64(b.N)
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/n/(float64(size)/1024), "ns/KiB")
				b.ReportMetric(float64(ms1.TotalAlloc-ms0.TotalAlloc)/n/float64(size), "alloc-B/body-B")
			})
		}
	}
}
