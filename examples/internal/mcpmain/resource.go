package mcpmain

import (
	"fmt"
	"net"

	"github.com/rsguard/rsguard/examples/internal/serve"
	"github.com/rsguard/rsguard/rsmeta"
)

// defaultResource is http://<addr>/mcp: the host as given in -addr (so
// "localhost:8080" gives http://localhost:8080/mcp, the URL clients use), the
// port the server actually listens on (so port 0 works). An unspecified host
// (":8080", "0.0.0.0:8080") names no URL clients could use, and http is only
// allowed on loopback hosts: then -resource is required.
func defaultResource(flagAddr string, actual net.Addr) (string, error) {
	resource, err := serve.DefaultURL(flagAddr, actual, "/mcp", "the MCP endpoint")
	if err != nil {
		return "", err
	}
	if _, err := rsmeta.CanonicalResource(resource); err != nil {
		return "", fmt.Errorf("default resource %s: %w (http is only allowed on loopback hosts: pass -resource with an https URL)", resource, err)
	}
	return resource, nil
}
