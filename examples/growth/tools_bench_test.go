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

// toolGroups is the number of distinct scopes the tools of BenchmarkTools
// need: tool i needs tools:g<i mod toolGroups>; the token holds them all.
const toolGroups = 16

// BenchmarkTools measures the per-tool scope map with 10, 100 and 1000
// tools: B/tool is the heap scopes.NewMCP retains per tool (each needing
// one of toolGroups scopes), ns/op the time of a tools/call of one of them,
// in a scattered order, through an rsguard.Guard (its token cached) and
// scopes.MCP. The time should not grow with the tools; the memory should
// grow linearly.
func BenchmarkTools(b *testing.B) {
	s := newSigner(b, 0)
	v := newValidator(b, validate.Config{Issuer: s.issuer, Keys: s.keys})
	granted := make([]string, toolGroups)
	for g := range granted {
		granted[g] = fmt.Sprintf("tools:g%02d", g)
	}
	tok := "Bearer " + s.token(b, 0, map[string]any{"scope": strings.Join(granted, " ")})
	for _, n := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("tools=%d", n), func(b *testing.B) {
			tools := make(map[string][]string, n)
			bodies := make([][]byte, n)
			for i := range n {
				name := fmt.Sprintf("tool_%04d", i)
				tools[name] = []string{granted[i%toolGroups]}
				bodies[i] = fmt.Appendf(nil, `{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":%q,"arguments":{"sku":"BOLT-M6"}}}`, i, name)
			}
			before := heap()
			m, err := scopes.NewMCP(scopes.MCPConfig{Tools: tools})
			if err != nil {
				b.Fatal(err)
			}
			perTool := float64(heap()-before) / float64(n)

			h := guard(b, v, m.Handler(discard))
			req := httptest.NewRequest(http.MethodPost, resource, nil)
			req.Header.Set("Authorization", tok)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept", "application/json, text/event-stream")
			body := new(bytes.Reader)
			w := newNopWriter()
			i := 0
			for b.Loop() {
				bd := bodies[(i*stride)%n]
				i++
				body.Reset(bd)
				req.Body, req.ContentLength = io.NopCloser(body), int64(len(bd))
				w.reset()
				h.ServeHTTP(w, req)
				if w.status != http.StatusNoContent {
					b.Fatalf("status %d", w.status)
				}
			}
			b.ReportMetric(perTool, "B/tool")
			runtime.KeepAlive(m)
			runtime.KeepAlive(tools)
		})
	}
}
