package mcpguard

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/rsguard/rsguard"
)

// The CORS answers of [Endpoint.Handler] to an allowed Origin (Fetch
// standard, CORS protocol). Never Access-Control-Allow-Credentials: tokens
// travel in the Authorization header, not in cookies.
const (
	corsExposeHeaders = "Mcp-Session-Id, WWW-Authenticate, DPoP-Nonce"
	corsAllowMethods  = "GET, POST, DELETE"
	corsAllowHeaders  = "Authorization, DPoP, Content-Type, Mcp-Session-Id, MCP-Protocol-Version, Last-Event-ID, Accept"
	corsMaxAge        = "600"

	bodyOriginRefused = `{"jsonrpc":"2.0","id":null,"error":{"code":-32000,"message":"origin not allowed"}}` + "\n"
)

// checkOrigins checks Config.AllowedOrigins and returns the origins
// [Endpoint.Handler] allows, normalised by normalOrigin: the resource's own
// first, then each of AllowedOrigins.
func checkOrigins(resource string, allowed []string) ([]string, error) {
	u, err := url.Parse(resource)
	if err != nil {
		return nil, fmt.Errorf("%w: Resource: %w", rsguard.ErrInvalidConfig, err) // not reached: checked
	}
	own, err := normalOrigin(u.Scheme + "://" + u.Host)
	if err != nil {
		return nil, fmt.Errorf("%w: Resource %q: its origin: %w", rsguard.ErrInvalidConfig, resource, err) // not reached: checked
	}
	origins := []string{own}
	for i, o := range allowed {
		n, err := normalOrigin(o)
		if err != nil {
			return nil, fmt.Errorf("%w: AllowedOrigins[%d] %q: %w", rsguard.ErrInvalidConfig, i, o, err)
		}
		if !slices.Contains(origins, n) {
			origins = append(origins, n)
		}
	}
	return origins, nil
}

// normalOrigin returns the origin s, "scheme://host[:port]" (RFC 6454 §6.2)
// with an http or https scheme, in lowercase and without the scheme's
// default port; an error says what else s is.
func normalOrigin(s string) (string, error) {
	switch s {
	case "*":
		return "", errors.New(`"*" is not an origin: list each origin allowed (the MCP transport requires servers to validate Origin)`)
	case "null":
		return "", errors.New(`"null" is the origin of sandboxed and file documents, which any page can take: never allowed`)
	}
	u, err := url.Parse(s)
	switch {
	case err != nil || u.Opaque != "" || u.Host == "":
		return "", errors.New(`not an origin "scheme://host[:port]"`)
	case u.Scheme != "http" && u.Scheme != "https":
		return "", errors.New("the scheme must be http or https")
	case u.User != nil:
		return "", errors.New("an origin has no userinfo")
	case u.RawQuery != "" || u.ForceQuery || strings.Contains(s, "#"):
		return "", errors.New("an origin has no query and no fragment")
	case u.Path != "" || u.RawPath != "":
		return "", errors.New(`an origin has no path, not even "/"`)
	}
	host := strings.ToLower(u.Host)
	for _, c := range []byte(host) {
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || strings.IndexByte("-.:[]", c) >= 0) {
			return "", errors.New("the host must be an ASCII name or an IP address")
		}
	}
	if !strings.EqualFold(s, u.Scheme+"://"+u.Host) {
		return "", errors.New(`not an origin "scheme://host[:port]"`)
	}
	switch port := u.Port(); {
	case strings.HasSuffix(host, ":") || u.Hostname() == "":
		return "", errors.New(`not an origin "scheme://host[:port]"`)
	case u.Scheme == "http" && port == "80", u.Scheme == "https" && port == "443":
		host = strings.TrimSuffix(host, ":"+port)
	}
	return u.Scheme + "://" + host, nil
}

// origin applies the Origin check of [Endpoint.Handler] to a request at the
// resource's path. It reports whether the request is done: refused (403) or
// an allowed preflight answered (204). A request to pass on with an allowed
// Origin has had its CORS response headers set.
func (h *endpointHandler) origin(w http.ResponseWriter, r *http.Request) bool {
	vals := r.Header.Values("Origin")
	if len(vals) == 0 {
		return false // not from a browser: nothing to check
	}
	hdr := w.Header()
	hdr.Add("Vary", "Origin")
	o, err := normalOrigin(vals[0])
	if len(vals) > 1 || err != nil || !slices.Contains(h.origins, o) {
		hdr.Set("Cache-Control", "no-store")
		hdr.Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte(bodyOriginRefused))
		return true
	}
	hdr.Set("Access-Control-Allow-Origin", vals[0])
	hdr.Set("Access-Control-Expose-Headers", corsExposeHeaders)
	if r.Method != http.MethodOptions || len(r.Header.Values("Access-Control-Request-Method")) == 0 {
		return false
	}
	hdr.Set("Access-Control-Allow-Methods", corsAllowMethods)
	hdr.Set("Access-Control-Allow-Headers", corsAllowHeaders)
	hdr.Set("Access-Control-Max-Age", corsMaxAge)
	w.WriteHeader(http.StatusNoContent)
	return true
}
