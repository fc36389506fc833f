package rsmeta

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/rsguard/rsguard/internal/check"
)

// Handler serves one protected resource metadata document (RFC 9728 §3.2).
// It answers GET and HEAD with 200 and the JSON document, encoded once at
// construction; OPTIONS with a 204 CORS preflight response; and any other
// method with 405 and an Allow header. Every response carries
// Access-Control-Allow-Origin: * (the document is public and is fetched by
// browser-based MCP clients). Successful responses carry
// Cache-Control: public, max-age=3600, X-Content-Type-Options: nosniff and a
// strong ETag; a matching If-None-Match gets 304 Not Modified.
//
// A Handler is immutable and safe for concurrent use. It does not look at
// the request path: mount it at the paths [Handler.Paths] returns, or use
// [Register].
type Handler struct {
	resource string
	url      string
	paths    []string
	body     []byte
	length   string
	etag     string
}

// allowedMethods is the value of Allow and Access-Control-Allow-Methods.
const allowedMethods = "GET, HEAD, OPTIONS"

// defaultAllowHeaders is sent as Access-Control-Allow-Headers when a
// preflight request does not list usable headers. It names what MCP clients
// send.
const defaultAllowHeaders = "Authorization, Content-Type, MCP-Protocol-Version"

// preflightMaxAge is Access-Control-Max-Age in seconds (browsers cap it
// lower: Chromium at 2 hours).
const preflightMaxAge = "86400"

// NewHandler validates m ([Metadata.Validate]) and returns a Handler serving
// it. It replaces Resource by its canonical form ([CanonicalResource]), the
// form clients compare with the URL they derived the well-known URL from
// (RFC 9728 §3.3), and defaults an empty BearerMethodsSupported to
// ["header"]: rsguard accepts tokens only in the Authorization header. Later
// changes to m's slices or Extra do not affect the Handler.
func NewHandler(m Metadata) (*Handler, error) {
	if len(m.BearerMethodsSupported) == 0 {
		m.BearerMethodsSupported = []string{"header"}
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	r, err := parseResource(m.Resource)
	if err != nil {
		return nil, err // not reached: Validate checked the resource
	}
	m.Resource = r.origin() + r.path + r.query
	body, err := m.MarshalJSON()
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(body)
	h := &Handler{
		resource: m.Resource,
		url:      r.origin() + r.wellKnownPath() + r.query,
		paths:    []string{r.wellKnownPath()},
		body:     body,
		length:   strconv.Itoa(len(body)),
		etag:     `"` + hex.EncodeToString(sum[:16]) + `"`,
	}
	if h.paths[0] != wellKnownPrefix {
		h.paths = append(h.paths, wellKnownPrefix)
	}
	return h, nil
}

// URL returns the path-inserted well-known URL of the document (RFC 9728
// §3.1): the value for the resource_metadata auth-param of challenges
// ([Challenge].ResourceMetadata).
func (h *Handler) URL() string { return h.url }

// Paths returns the request paths the document should be served at: first
// the path of [Handler.URL], then, if different, the root well-known path
// /.well-known/oauth-protected-resource (see [Register] for why). Paths are
// in escaped form and never carry the resource's query. For a Handler
// registered at paths of your choice ([Register] with paths), they are
// those paths instead. The result is a fresh
// slice.
func (h *Handler) Paths() []string {
	out := make([]string, len(h.paths))
	copy(out, h.paths)
	return out
}

// ServeHTTP implements [http.Handler].
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("Access-Control-Allow-Origin", "*")
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		hdr.Set("Cache-Control", "public, max-age=3600")
		hdr.Set("ETag", h.etag)
		hdr.Set("X-Content-Type-Options", "nosniff")
		if inm := r.Header.Values("If-None-Match"); len(inm) > 0 && etagListMatches(inm, h.etag) {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		hdr.Set("Content-Type", "application/json")
		hdr.Set("Content-Length", h.length)
		w.WriteHeader(http.StatusOK)
		if r.Method == http.MethodGet {
			_, _ = w.Write(h.body)
		}
	case http.MethodOptions:
		hdr.Set("Allow", allowedMethods)
		hdr.Set("Access-Control-Allow-Methods", allowedMethods)
		hdr.Set("Access-Control-Allow-Headers", allowHeaders(r.Header.Values("Access-Control-Request-Headers")))
		hdr.Set("Access-Control-Max-Age", preflightMaxAge)
		hdr.Add("Vary", "Access-Control-Request-Headers")
		w.WriteHeader(http.StatusNoContent)
	default:
		hdr.Set("Allow", allowedMethods)
		w.WriteHeader(http.StatusMethodNotAllowed)
	}
}

// allowHeaders returns the Access-Control-Allow-Headers value for a
// preflight request: the requested header names, normalised to "a, b", when
// they form a well-formed list of at most 32 tokens; otherwise
// defaultAllowHeaders. Echoing is safe because the document is public and
// Access-Control-Allow-Origin is "*", which never admits credentials.
func allowHeaders(requested []string) string {
	const maxNames = 32
	var names []string
	for _, v := range requested {
		for _, item := range strings.Split(v, ",") {
			item = strings.Trim(item, " \t")
			if item == "" {
				continue
			}
			if !check.IsToken(item) || len(names) == maxNames {
				return defaultAllowHeaders
			}
			names = append(names, item)
		}
	}
	if len(names) == 0 {
		return defaultAllowHeaders
	}
	return strings.Join(names, ", ")
}

// etagListMatches reports whether an If-None-Match field value matches etag
// under the weak comparison RFC 9110 §13.1.2 prescribes: "*", or an
// entity-tag whose opaque-tag equals etag's, W/ prefix or not. A malformed
// list matches nothing from the point it goes wrong.
func etagListMatches(values []string, etag string) bool {
	for _, v := range values {
		for i := 0; i < len(v); {
			switch c := v[i]; {
			case c == ' ' || c == '\t' || c == ',':
				i++
				continue
			case c == '*':
				return true
			}
			if strings.HasPrefix(v[i:], "W/") {
				i += 2
			}
			if i >= len(v) || v[i] != '"' {
				break
			}
			end := strings.IndexByte(v[i+1:], '"')
			if end < 0 {
				break
			}
			if v[i:i+end+2] == etag {
				return true
			}
			i += end + 2
			continue
		}
	}
	return false
}

// Register serves the document described by m on mux and returns its
// Handler. The mux is anything with a Handle(pattern, handler) method, such
// as [http.ServeMux] or chi's Router; the patterns are plain paths, without
// method or host.
//
// The document is registered at two paths:
//
//   - the path-inserted well-known path (RFC 9728 §3.1), for example
//     /.well-known/oauth-protected-resource/mcp for https://h/mcp. This is
//     the URL challenges point to ([Handler.URL]) and the one RFC 9728
//     clients derive from the resource URL.
//   - the root well-known path /.well-known/oauth-protected-resource, when
//     different. Older MCP clients (before the 2025-11-25 revision) and some
//     current ones probe only the root. Strictly, RFC 9728 §3.3 says a
//     document at the root describes the resource whose identifier is the
//     origin itself (https://h), and a client that checks "resource" against
//     the URL it derived the root from will refuse this document, whose
//     resource is https://h/mcp. We serve it there anyway, because the
//     clients that probe the root are the ones that do not check, and
//     without it they cannot find the authorization server; a client that
//     does check falls back to resource_metadata from the 401 challenge,
//     which always names the path-inserted URL. If your origin is itself a
//     protected resource, publish its own document at the root instead (use
//     [NewHandler] and mount [Handler] yourself).
//
// When several resources share an origin, only one can own the root path.
// On an [*http.ServeMux], Register leaves an already registered root path
// alone (the first resource keeps it). On other muxes, registration conflicts
// are the mux's business; a panic from Handle is returned as an error, in
// which case the path-inserted path may already be registered.
//
// On an [*http.ServeMux], a path ending in "/" is registered with a "{$}"
// suffix so that it matches only itself, not the subtree below it.
//
// Register returns an error, wrapping [ErrInvalidResource] where the resource
// is at fault, if m is invalid ([NewHandler]) or if a path has characters
// that routers read as pattern syntax ('{', '}', '*'), empty segments, or
// (for ServeMux) needs cleaning; use NewHandler and mount the Handler
// yourself in that case.
//
// Behind a reverse proxy that rewrites paths, pass the paths the metadata
// requests arrive at, as this server receives them: Register then serves
// the document at exactly those request paths, and at no other. (An empty
// list is no list: the public paths above.) The
// document's "resource" and [Handler.URL] (the RFC 9728 §3.1 well-known
// URL, sent as resource_metadata in challenges, §5.1) stay the public URLs
// derived from m.Resource; only where the document is mounted changes, and
// [Handler.Paths] returns paths.
//
// For example, a server listening on 127.0.0.1:8080 serves /mcp, which a
// proxy publishes as https://api.example.com/tools/mcp, removing "/tools".
// Clients fetch the metadata at
// https://api.example.com/.well-known/oauth-protected-resource/tools/mcp. A
// proxy that forwards /.well-known/ unchanged needs no paths (with
// Resource "https://api.example.com/tools/mcp"); one that removes "/tools"
// there too sends /.well-known/oauth-protected-resource/mcp, so:
//
//	rsmeta.Register(mux, m, "/.well-known/oauth-protected-resource/mcp")
//
// Each path must start with "/" and be in escaped form, with only RFC 3986
// path characters, no query, no empty segment, no dot-segment, and none of
// the characters routers read as pattern syntax ('{', '}', '*'); paths must
// not repeat. The root well-known path is served only if listed. A listed
// path that is already registered on an [*http.ServeMux] is not skipped:
// you asked for it, so the conflict is an error.
func Register(mux interface{ Handle(string, http.Handler) }, m Metadata, paths ...string) (*Handler, error) {
	if err := checkMux(mux); err != nil {
		return nil, err
	}
	for i, p := range paths {
		if err := checkLocalPath(p); err != nil {
			return nil, fmt.Errorf("rsmeta: Register: %w", err)
		}
		if slices.Contains(paths[:i], p) {
			return nil, fmt.Errorf("rsmeta: Register: path %q is listed twice", p)
		}
	}
	h, err := NewHandler(m)
	if err != nil {
		return nil, err
	}
	if len(paths) > 0 {
		h.paths = slices.Clone(paths)
	}
	if err := register(mux, h, len(paths) == 0); err != nil {
		return nil, err
	}
	return h, nil
}

// checkMux refuses a nil mux, including a nil *http.ServeMux.
func checkMux(mux interface{ Handle(string, http.Handler) }) error {
	if mux == nil {
		return errors.New("rsmeta: Register: nil mux")
	}
	if sm, ok := mux.(*http.ServeMux); ok && sm == nil {
		return errors.New("rsmeta: Register: nil *http.ServeMux")
	}
	return nil
}

// checkLocalPath checks a request path given to [Register].
func checkLocalPath(p string) error {
	if !strings.HasPrefix(p, "/") {
		return fmt.Errorf("path %q does not start with \"/\"", p)
	}
	if err := checkURIChars(p); err != nil {
		return fmt.Errorf("path %q: %w", p, err)
	}
	if i := strings.IndexAny(p, "?#[]"); i >= 0 {
		return fmt.Errorf("path %q: character %q is not allowed in a path", p, p[i])
	}
	if hasDotSegment(p) {
		return fmt.Errorf("path %q has a dot-segment, which routers clean away", p)
	}
	if strings.Contains(p, "//") {
		return fmt.Errorf("path %q has an empty segment, which routers clean away", p)
	}
	if strings.IndexByte(p, '*') >= 0 {
		return fmt.Errorf("path %q: character '*' has a meaning in router patterns", p)
	}
	return nil // '{', '}' and spaces are not URI characters
}

// register mounts h on mux at h.paths. With skipTakenRoot, a path after the
// first that an *http.ServeMux already routes to the same pattern is left
// to its owner (the root well-known path of an earlier resource).
func register(mux interface{ Handle(string, http.Handler) }, h *Handler, skipTakenRoot bool) error {
	sm, isServeMux := mux.(*http.ServeMux)
	patterns := make([]string, 0, len(h.paths))
	for i, p := range h.paths {
		if err := checkMuxPath(p); err != nil {
			return err
		}
		pattern := p
		if isServeMux && strings.HasSuffix(p, "/") {
			pattern += "{$}"
		}
		if isServeMux && skipTakenRoot && i > 0 && serveMuxHas(sm, p, pattern) {
			continue // the root belongs to a resource registered earlier
		}
		patterns = append(patterns, pattern)
	}
	for _, pattern := range patterns {
		if err := handle(mux, pattern, h); err != nil {
			return err
		}
	}
	return nil
}

// checkMuxPath refuses paths that a router would misread.
func checkMuxPath(p string) error {
	if i := strings.IndexAny(p, "{}* \t"); i >= 0 {
		return fmt.Errorf("%w: well-known path %q: character %q has a meaning in router patterns; mount Handler yourself", ErrInvalidResource, p, p[i])
	}
	if strings.Contains(p, "//") {
		return fmt.Errorf("%w: well-known path %q has an empty segment, which routers clean away; mount Handler yourself", ErrInvalidResource, p)
	}
	return nil
}

// serveMuxHas reports whether mux already has exactly pattern registered
// for the request path p.
func serveMuxHas(mux *http.ServeMux, p, pattern string) bool {
	req := &http.Request{Method: http.MethodGet, URL: &url.URL{Path: p}, Header: http.Header{}}
	_, got := mux.Handler(req)
	return got == pattern
}

// handle calls mux.Handle, turning a panic (ServeMux panics on an invalid or
// conflicting pattern) into an error.
func handle(mux interface{ Handle(string, http.Handler) }, pattern string, h http.Handler) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("rsmeta: registering %q: %v", pattern, r)
		}
	}()
	mux.Handle(pattern, h)
	return nil
}
