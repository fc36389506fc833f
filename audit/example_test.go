package audit_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/rsguard/rsguard/audit"
)

// Decisions become one structured log line each with Slog, and metrics with
// Count; Multi sends them to both. Wire the result as OnDecision of
// rsguard.Config (the authenticate stage) and of scopes.RouteConfig or
// scopes.MCPConfig (the authorize stage).
func ExampleSlog() {
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{} // keep the example's output stable
			}
			return a
		},
	}))
	onDecision := audit.Multi(audit.Slog(logger), audit.Count(printMetrics{}))

	onDecision(context.Background(), audit.Decision{
		Stage: audit.StageAuthorize, Reason: audit.ReasonInsufficientScope, Status: 403,
		Credential: audit.CredentialJWT, Subject: "user:https://auth.example.com#alice",
		Method: "POST", Path: "/mcp", MCPMethod: "tools/call", Tool: "delete_item",
		Required: []string{"inventory:admin"}, Granted: []string{"inventory:read"},
		Latency: 42 * time.Microsecond,
	})
	// Output:
	// level=INFO msg="rsguard decision" stage=authorize outcome=deny reason=insufficient_scope status=403 credential=jwt subject=user:https://auth.example.com#alice method=POST path=/mcp mcp_method=tools/call tool=delete_item required=inventory:admin granted=inventory:read latency=42µs
	// metrics: authorize deny insufficient_scope
}

type printMetrics struct{}

func (printMetrics) ObserveDecision(stage, outcome, reason string, _ time.Duration) {
	fmt.Println("metrics:", stage, outcome, reason)
}
