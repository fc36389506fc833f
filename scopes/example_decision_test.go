package scopes_test

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"time"

	"github.com/rsguard/rsguard/audit"
	"github.com/rsguard/rsguard/scopes"
)

// An audit trail of the MCP per-tool check: one log record per decision,
// allowed or refused, naming the session, method, tool and scopes.
func ExampleMCP_audit() {
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey || a.Key == "latency" {
				return slog.Attr{} // vary from run to run
			}
			return a
		},
	}))
	m, err := scopes.NewMCP(scopes.MCPConfig{
		Tools:      map[string][]string{"get_inventory": {"inventory:read"}, "set_price": {"inventory:write"}},
		OnDecision: audit.Slog(logger),
	})
	if err != nil {
		panic(err)
	}
	h := authenticate("inventory:read", m.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})))
	for _, tool := range []string{"get_inventory", "set_price"} {
		req := httptest.NewRequest("POST", "/mcp", strings.NewReader(
			`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"`+tool+`"}}`))
		req.Header.Set("Mcp-Session-Id", "1868a90c")
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
	// Output:
	// level=INFO msg="rsguard decision" stage=authorize outcome=allow reason=ok subject=alice method=POST path=/mcp mcp_session=eaAeWPm3W5qnbM1k mcp_method=tools/call tool=get_inventory required=inventory:read granted=inventory:read
	// level=INFO msg="rsguard decision" stage=authorize outcome=deny reason=insufficient_scope status=403 subject=alice method=POST path=/mcp mcp_session=eaAeWPm3W5qnbM1k mcp_method=tools/call tool=set_price required=inventory:write granted=inventory:read
}

// promLike stands in for a metrics library: a counter per stage, outcome
// and reason.
type promLike map[string]int

func (p promLike) ObserveDecision(stage, outcome, reason string, _ time.Duration) {
	p[stage+" "+outcome+" "+reason]++
}

// Counters and latency histograms come from any metrics library through the
// small audit.Metrics interface; examples/metrics wires Prometheus.
func ExampleRoute_metrics() {
	counts := promLike{}
	route, err := scopes.NewRoute(scopes.RouteConfig{
		Scopes:     []string{"inventory:write"},
		OnDecision: audit.Count(counts),
	})
	if err != nil {
		panic(err)
	}
	ok := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	for _, granted := range []string{"inventory:write", "inventory:read", "inventory:read"} {
		authenticate(granted, route.Handler(ok)).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("PUT", "/items/1", nil))
	}
	fmt.Println(counts["authorize allow ok"], counts["authorize deny insufficient_scope"])
	// Output: 1 2
}
