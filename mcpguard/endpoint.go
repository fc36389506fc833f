package mcpguard

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/audit"
	"github.com/rsguard/rsguard/internal/check"
	"github.com/rsguard/rsguard/internal/loopback"
	"github.com/rsguard/rsguard/rsmeta"
	"github.com/rsguard/rsguard/scopes"
	"github.com/rsguard/rsguard/validate"
)

// Config configures an [Endpoint]: the protected MCP endpoint of a server
// on the Streamable HTTP transport, and its RFC 9728 protected resource
// metadata. Issuer, Resource and Tools are stated here once; the token
// checks, the challenges and the metadata document are all derived from
// them. Every other field has a documented default.
type Config struct {
	// Issuer is the issuer identifier (RFC 8414 §2) of the authorization
	// server whose tokens the endpoint accepts: the "iss" tokens must carry
	// and the first of the document's "authorization_servers". Required: an
	// https URL (http only on a loopback host: 127.0.0.0/8, ::1 or
	// "localhost"), without query or fragment, and not the Resource.
	Issuer string

	// Resource is the MCP endpoint's URL, exactly as clients are given it:
	// the audience tokens must name (RFC 8707), the document's "resource"
	// (RFC 9728 §2) and, by its path, where [Endpoint.Handler] serves the
	// endpoint; the document is served at the path-inserted well-known URL
	// (RFC 9728 §3.1) that every challenge names. Required: https (http
	// only on a loopback host), in the canonical form of
	// [rsmeta.CanonicalResource] (lowercase scheme and host, no default
	// port), without query or fragment, with a path a router can serve as
	// is (no empty segment, no '*').
	Resource string

	// Tools maps each tool of the server to the scopes a tools/call of it
	// needs, all of them ([scopes.MCPConfig].Tools); a tool mapped to no
	// scopes needs only a valid token. A tool missing here cannot be called
	// (403), unless AllowUnknownTools is set. Required: an empty table is
	// refused without AllowUnknownTools, for it would make every tool
	// uncallable. Names must be non-empty UTF-8, scopes RFC 6749 §3.3 scope
	// tokens other than offline_access (a resource server does not ask for
	// refresh tokens).
	Tools map[string][]string

	// AllowUnknownTools, if true, lets any caller with a valid token call a
	// tool missing from Tools ([scopes.MCPConfig].AllowUnknownTools), and
	// lets Tools be empty: a server that needs authentication but no
	// scopes. If false (the default), such a call is refused with a plain
	// 403 (audit.ReasonUnknownTool).
	AllowUnknownTools bool

	// ChallengeScopes are named in the scope auth-param of the 401
	// challenge of a request without a valid token (MCP scope selection:
	// what a client should ask for first), in this order; each must be a
	// scope token other than offline_access. If empty (the default), the
	// 401 names no scope and MCP clients ask for every scope of the
	// document's scopes_supported. A tool call lacking scopes always gets a
	// 403 naming the scopes it needs, whatever this says.
	ChallengeScopes []string

	// MaxBodyBytes bounds the POST body read to find the tool called
	// ([scopes.MCPConfig].MaxBodyBytes): a longer one is refused with 413.
	// If zero, 4 MiB; negative is refused.
	MaxBodyBytes int64

	// AllowedOrigins are the origins, besides the resource's own, whose
	// browser pages may call the endpoint (web-based MCP clients). The MCP
	// Streamable HTTP transport (2025-06-18, 2025-11-25): "Servers MUST
	// validate the Origin header on all incoming connections to prevent DNS
	// rebinding attacks. If the Origin header is present and invalid,
	// servers MUST respond with HTTP 403 Forbidden." [Endpoint.Handler] does
	// so at the resource's path: a request whose Origin is neither the
	// Resource's origin nor one of these gets 403; a request without Origin
	// (not from a browser) is not affected. An allowed cross-origin request
	// gets CORS response headers, and its preflight is answered there.
	//
	// Each entry is an origin "scheme://host[:port]" (RFC 6454), such as
	// "https://app.example.com": http or https, no path (not even "/"), no
	// query, no userinfo. Scheme and host are compared case-insensitively
	// and a default port (80, 443) is ignored. "*" is refused (the rule
	// has no wildcard), and so is "null" (the origin of sandboxed
	// documents, which any page can take). If empty (the default), only
	// the Resource's own origin is allowed.
	AllowedOrigins []string

	// Metadata holds further members of the protected resource metadata
	// document, such as ResourceName and ResourceDocumentation. Leave
	// Resource, AuthorizationServers, ScopesSupported,
	// BearerMethodsSupported, DPoPSigningAlgValuesSupported and
	// DPoPBoundAccessTokensRequired empty: they are derived as "resource" =
	// Resource, "authorization_servers" = Issuer followed by the issuers of
	// Validate.Issuers, "scopes_supported" = the sorted union of the scopes
	// of Tools and ChallengeScopes, "bearer_methods_supported" =
	// ["header"], and, when Validate.DPoP.Mode is not validate.DPoPOff,
	// "dpop_signing_alg_values_supported" = the proof algorithms
	// (validate.DPoPConfig.SigningAlgorithms) and
	// "dpop_bound_access_tokens_required" = true for
	// validate.DPoPRequired (RFC 9728 §2). If one is set
	// anyway, it must equal the derived value (lists as sets), or [New]
	// fails. The document must pass
	// [rsmeta.Metadata.Validate].
	Metadata rsmeta.Metadata

	// Validate holds further token-verification options (key source,
	// algorithms, revocations, a Check of your own, Fetch.Lazy, …), passed
	// to [validate.New]. Leave Issuer and Resource empty: they are set from
	// the fields above; if set anyway, each must equal its counterpart
	// byte for byte, or New fails. Leave Logger nil (refused): Logger below
	// is the Validator's. Further trusted issuers (Validate.Issuers) are
	// published in "authorization_servers" too; their Audiences, if set,
	// may only name Resource (in canonical form, a trailing slash ignored),
	// for MCP forbids token passthrough: a token issued for another
	// audience is never accepted, whoever issued it.
	Validate validate.Config

	// Authenticator, if set, is called once by New with the Validator built
	// from Validate and returns the Authenticator the endpoint uses, so
	// that a credential kind composing bearer tokens is configured without
	// stating anything twice: for API keys,
	//
	//	func(bearer *validate.Validator) (rsguard.Authenticator, error) {
	//		return apikey.New(apikey.Config{Store: store, Bearer: bearer})
	//	}
	//
	// Its error fails New. If nil (the default), the Validator itself.
	Authenticator func(bearer *validate.Validator) (rsguard.Authenticator, error)

	// Sessions configures the binding of MCP sessions to the principals
	// that open them ([Sessions]). Its zero value is the default. Leave its
	// OnDecision and Logger nil (refused): the fields below are its.
	Sessions SessionConfig

	// OnDecision, if set, receives the decisions of every layer: one
	// authenticate-stage decision per request (the Guard), and the
	// authorize-stage ones of the session and tool checks. If nil (the
	// default), none is made. It is the only one: Sessions.OnDecision is
	// refused, set or not.
	OnDecision audit.Func

	// Logger, if set, is the logger of every layer: key-set events of the
	// Validator, refused requests of the Guard (debug), failures of the
	// session store. If nil (the default), nothing is logged. It is the
	// only one: Sessions.Logger and Validate.Logger are refused, whether
	// Logger is set or not.
	Logger *slog.Logger
}

// Endpoint is a protected MCP endpoint: an [rsguard.Guard] over the
// authenticator of [Config], then [Sessions], then the per-tool scope check
// of [scopes.MCP], in front of the MCP server's handler, with the RFC 9728
// document the Guard's challenges point to. Build it with [New] and serve
// it with [Endpoint.Handler]. It is safe for concurrent use.
type Endpoint struct {
	meta     *rsmeta.Handler // the document, and the paths it is served at
	path     string          // the Resource's path, escaped, where the endpoint is served
	origins  []string        // the origins allowed, normalised: the Resource's own, then AllowedOrigins
	guard    *rsguard.Guard
	sessions *Sessions
	tools    *scopes.MCP
}

// New checks cfg and returns the Endpoint it describes. Every error about
// cfg wraps [rsguard.ErrInvalidConfig] and names the field at fault; a
// mismatch between two places that state the same thing (Validate.Resource
// and Resource, a "localhost" for a "127.0.0.1", Metadata.ScopesSupported
// and the tools' scopes) is such an error, not a document clients would
// refuse (RFC 9728 §3.3).
//
// New builds, in this order, the tool check ([scopes.NewMCP]), the session
// binding ([NewSessions]), the metadata document ([rsmeta.NewHandler]), the
// validator ([validate.New]), the Authenticator hook and the Guard
// ([rsguard.New]). ctx bounds the validator's background work, as for
// validate.New: pass a context that lives as long as the server. Unless
// Validate.Fetch.Lazy is set, New loads the issuer's keys before returning
// and fails if it cannot; the error then comes from validate.New. If the
// Authenticator hook fails, the validator's background work is stopped.
func New(ctx context.Context, cfg Config) (*Endpoint, error) {
	path, err := checkResource(cfg.Resource)
	if err != nil {
		return nil, err
	}
	if err := checkIssuer(cfg.Issuer, cfg.Resource); err != nil {
		return nil, err
	}
	origins, err := checkOrigins(cfg.Resource, cfg.AllowedOrigins)
	if err != nil {
		return nil, err
	}
	if err := checkShared(&cfg); err != nil {
		return nil, err
	}
	supported, err := checkScopes(&cfg)
	if err != nil {
		return nil, err
	}
	doc, err := document(&cfg, supported)
	if err != nil {
		return nil, err
	}
	tools, err := scopes.NewMCP(scopes.MCPConfig{
		Tools:             cfg.Tools,
		AllowUnknownTools: cfg.AllowUnknownTools,
		MaxBodyBytes:      cfg.MaxBodyBytes,
		OnDecision:        cfg.OnDecision,
	})
	if err != nil {
		return nil, err
	}
	sc := cfg.Sessions
	sc.OnDecision, sc.Logger = cfg.OnDecision, cfg.Logger
	sessions, err := NewSessions(sc)
	if err != nil {
		return nil, err
	}
	meta, err := rsmeta.NewHandler(doc)
	if err != nil {
		return nil, fmt.Errorf("%w: Metadata: %w", rsguard.ErrInvalidConfig, err) // not reached: checked
	}
	if slices.Contains(meta.Paths(), path) {
		return nil, fmt.Errorf("%w: Resource %q: its path is where the metadata document is served", rsguard.ErrInvalidConfig, cfg.Resource)
	}

	vc := cfg.Validate
	vc.Issuer, vc.Resource, vc.Logger = cfg.Issuer, cfg.Resource, cfg.Logger
	vctx, stop := context.WithCancel(ctx)
	v, err := validate.New(vctx, vc)
	if err != nil {
		stop()
		return nil, err
	}
	var auth rsguard.Authenticator = v
	if cfg.Authenticator != nil {
		if auth, err = cfg.Authenticator(v); err == nil && (auth == nil || check.IsNil(auth)) {
			err = fmt.Errorf("%w: Authenticator returned no authenticator and no error", rsguard.ErrInvalidConfig)
		}
	}
	var guard *rsguard.Guard
	if err == nil {
		guard, err = rsguard.New(rsguard.Config{
			Authenticator:    auth,
			ResourceMetadata: meta.URL(),
			Scopes:           cfg.ChallengeScopes,
			OnDecision:       cfg.OnDecision,
			Logger:           cfg.Logger,
		})
	}
	if err != nil {
		stop()
		return nil, err
	}
	context.AfterFunc(ctx, stop) // the validator lives as long as ctx, whose end releases vctx
	return &Endpoint{meta: meta, path: path, origins: origins, guard: guard, sessions: sessions, tools: tools}, nil
}

// Handler returns the whole protected server around h, the MCP server's
// Streamable HTTP handler (for the official Go SDK, gosdk.Handler). It
// serves, by request path:
//
//   - the metadata document, as [rsmeta.Register] serves it (the
//     [rsmeta.Handler] of [rsmeta.NewHandler]: CORS, caching, GET, HEAD and
//     OPTIONS), at the paths [rsmeta.Handler.Paths] names: the
//     path-inserted well-known path that every challenge names as
//     resource_metadata (RFC 9728 §3.1, §5.1), and the root well-known path
//     /.well-known/oauth-protected-resource for older clients (see Register
//     for why);
//   - at the path of Config.Resource ("/" when it has none), for every
//     request method: the Origin check, then the Guard, then the session
//     binding, then the per-tool scope check, then h;
//   - any other path: 404, without h ever seeing the request.
//
// Paths are compared with the request's escaped path byte for byte: no
// cleaning, no redirect, and "/mcp/" is not "/mcp". The handler needs no
// mux: serve it directly,
//
//	err := http.ListenAndServe(":8080", endpoint.Handler(h))
//
// or make it the catch-all of a mux beside your other routes, which the
// mux's more specific patterns keep:
//
//	mux.Handle("/", endpoint.Handler(h))
//	mux.HandleFunc("GET /healthz", healthz)
//
// (A route of that mux for /.well-known/oauth-protected-resource, such as
// the document of another resource of the same origin, then takes the root
// path.)
//
// Each call returns a new handler; handlers of one Endpoint share its
// Guard and its sessions, so a session opened through one is bound to its
// owner on all of them. Handler panics if h is nil, as [http.Handle] does.
//
// Handler serves at the paths of Config.Resource: behind a reverse proxy
// that rewrites paths, compose [rsmeta.Register] (with the paths requests
// arrive at), [rsguard.Guard], [Sessions] and [scopes.MCP] yourself.
//
// Origin and CORS: the MCP Streamable HTTP transport says "Servers MUST
// validate the Origin header on all incoming connections to prevent DNS
// rebinding attacks. If the Origin header is present and invalid, servers
// MUST respond with HTTP 403 Forbidden." So, at the resource's path and
// before the Guard, a request with an Origin header that is malformed, not
// allowed (the Resource's own origin or one of Config.AllowedOrigins), or
// repeated is answered 403 with a JSON-RPC error (code -32000, "origin not
// allowed"), Cache-Control: no-store, and reaches neither the Guard nor h.
// A request without Origin (not from a browser) is not checked. A request
// with an allowed Origin gets, on every answer (refusals included, so that
// a browser client can read the 401 challenge), Access-Control-Allow-Origin
// naming that origin, Vary: Origin and Access-Control-Expose-Headers:
// Mcp-Session-Id, WWW-Authenticate, DPoP-Nonce; its CORS preflight (OPTIONS
// with Access-Control-Request-Method), which carries no credentials, is
// answered 204 there, allowing the methods GET, POST, DELETE and the request
// headers Authorization, DPoP, Content-Type, Mcp-Session-Id,
// MCP-Protocol-Version, Last-Event-ID, Accept for 600 seconds. Credentials (cookies) are never
// allowed: tokens travel in the Authorization header. The metadata
// document's paths are not Origin-checked: the document is public, served
// with Access-Control-Allow-Origin: * as [rsmeta.Handler] serves it.
func (e *Endpoint) Handler(h http.Handler) http.Handler {
	if h == nil || check.IsNil(h) {
		panic("mcpguard: Handler: nil handler")
	}
	return &endpointHandler{
		meta:      e.meta,
		metaPaths: e.meta.Paths(),
		path:      e.path,
		origins:   e.origins,
		protected: e.guard.Middleware(e.sessions.Middleware(e.tools.Handler(h))),
	}
}

// endpointHandler is the handler [Endpoint.Handler] returns.
type endpointHandler struct {
	meta      http.Handler
	metaPaths []string // escaped
	path      string   // escaped
	origins   []string // normalised
	protected http.Handler
}

func (h *endpointHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch p := r.URL.EscapedPath(); {
	case p == h.path:
		if !h.origin(w, r) {
			h.protected.ServeHTTP(w, r)
		}
	case slices.Contains(h.metaPaths, p):
		h.meta.ServeHTTP(w, r)
	default:
		http.NotFound(w, r)
	}
}

// checkResource checks Config.Resource and returns the path, escaped, that
// [Endpoint.Handler] serves the endpoint at.
func checkResource(resource string) (string, error) {
	if resource == "" {
		return "", fmt.Errorf("%w: Resource is required: the MCP endpoint's URL, such as \"https://mcp.example.com/mcp\"", rsguard.ErrInvalidConfig)
	}
	canonical, err := rsmeta.CanonicalResource(resource)
	if err != nil {
		return "", fmt.Errorf("%w: Resource: %w", rsguard.ErrInvalidConfig, err)
	}
	if canonical != resource {
		return "", fmt.Errorf("%w: Resource %q is not in canonical form: write %q, the URL clients compare the metadata's resource with (RFC 9728 §3.3)", rsguard.ErrInvalidConfig, resource, canonical)
	}
	u, err := url.Parse(resource)
	if err != nil {
		return "", fmt.Errorf("%w: Resource: %w", rsguard.ErrInvalidConfig, err) // not reached: canonical
	}
	if u.RawQuery != "" || u.ForceQuery {
		return "", fmt.Errorf("%w: Resource %q has a query: an MCP endpoint is a path, which Endpoint.Handler serves", rsguard.ErrInvalidConfig, resource)
	}
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	if strings.Contains(path, "//") || strings.ContainsAny(path, "*{}") {
		return "", fmt.Errorf("%w: Resource %q: its path has an empty segment or a '*', which routers do not serve as is", rsguard.ErrInvalidConfig, resource)
	}
	return path, nil
}

// checkIssuer checks Config.Issuer.
func checkIssuer(issuer, resource string) error {
	if issuer == "" {
		return fmt.Errorf("%w: Issuer is required: the authorization server's issuer identifier", rsguard.ErrInvalidConfig)
	}
	u, err := url.Parse(issuer)
	switch {
	case err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "" || u.User != nil:
		return fmt.Errorf("%w: Issuer %q is not an absolute URL with a host and no userinfo (RFC 8414 §2)", rsguard.ErrInvalidConfig, issuer)
	case !loopback.AllowsScheme(u):
		return fmt.Errorf("%w: Issuer %q: the scheme must be https (http only on a loopback host)", rsguard.ErrInvalidConfig, issuer)
	case u.RawQuery != "" || u.ForceQuery || strings.Contains(issuer, "#"):
		return fmt.Errorf("%w: Issuer %q must have no query and no fragment (RFC 8414 §2)", rsguard.ErrInvalidConfig, issuer)
	}
	if c, err := rsmeta.CanonicalResource(issuer); err == nil && c == resource {
		return fmt.Errorf("%w: Issuer is the Resource: the authorization server and the MCP endpoint are different URLs", rsguard.ErrInvalidConfig)
	}
	return nil
}

// checkShared checks the fields that state again what Config states once:
// Validate's Issuer, Resource and audiences, and the layers' hooks, which
// are Config's only (one rule: OnDecision and Logger serve every layer).
func checkShared(cfg *Config) error {
	switch {
	case cfg.Validate.Issuer != "" && cfg.Validate.Issuer != cfg.Issuer:
		return fmt.Errorf("%w: Validate.Issuer %q differs from Issuer %q: leave it empty", rsguard.ErrInvalidConfig, cfg.Validate.Issuer, cfg.Issuer)
	case cfg.Validate.Resource != "" && cfg.Validate.Resource != cfg.Resource:
		return fmt.Errorf("%w: Validate.Resource %q differs from Resource %q: leave it empty", rsguard.ErrInvalidConfig, cfg.Validate.Resource, cfg.Resource)
	case cfg.Sessions.OnDecision != nil:
		return fmt.Errorf("%w: Sessions.OnDecision is set: leave it nil, and set OnDecision, which serves every layer", rsguard.ErrInvalidConfig)
	case cfg.Sessions.Logger != nil:
		return fmt.Errorf("%w: Sessions.Logger is set: leave it nil, and set Logger, which serves every layer", rsguard.ErrInvalidConfig)
	case cfg.Validate.Logger != nil:
		return fmt.Errorf("%w: Validate.Logger is set: leave it nil, and set Logger, which serves every layer", rsguard.ErrInvalidConfig)
	case cfg.Logger != nil && cfg.Logger.Handler() == nil:
		return fmt.Errorf("%w: Logger has no handler: build it with slog.New, or leave it nil to log nothing", rsguard.ErrInvalidConfig)
	}
	return checkAudiences(cfg)
}

// checkAudiences refuses a Validate.Issuers audience other than Resource:
// MCP forbids token passthrough, so a token must be issued for this server
// (RFC 8707). Compared as the Validator compares audiences: canonical form,
// a trailing slash ignored.
func checkAudiences(cfg *Config) error {
	want := strings.TrimSuffix(cfg.Resource, "/") // canonical: checked
	for i, ic := range cfg.Validate.Issuers {
		for _, a := range ic.Audiences {
			if c, err := rsmeta.CanonicalResource(a); err != nil || strings.TrimSuffix(c, "/") != want {
				return fmt.Errorf("%w: Validate.Issuers[%d].Audiences: %q is not Resource %q: MCP forbids token passthrough, so tokens must be issued for this server (RFC 8707): leave Audiences empty", rsguard.ErrInvalidConfig, i, a, cfg.Resource)
			}
		}
	}
	return nil
}

// checkScopes checks Tools and ChallengeScopes and returns the sorted union
// of their scopes: the document's scopes_supported.
func checkScopes(cfg *Config) ([]string, error) {
	if len(cfg.Tools) == 0 && !cfg.AllowUnknownTools {
		return nil, fmt.Errorf("%w: Tools is required: map each tool to the scopes it needs (to no scopes for a tool any valid token may call); without it no tool could be called", rsguard.ErrInvalidConfig)
	}
	var all []string
	scope := func(field, s string) error {
		switch {
		case !check.IsScopeToken(s):
			return fmt.Errorf("%w: %s: %q is not an RFC 6749 §3.3 scope token", rsguard.ErrInvalidConfig, field, s)
		case s == "offline_access":
			return fmt.Errorf("%w: %s: offline_access is for refresh tokens, which a resource server does not ask for (MCP authorization)", rsguard.ErrInvalidConfig, field)
		}
		all = append(all, s)
		return nil
	}
	for name, need := range cfg.Tools {
		if name == "" || !utf8.ValidString(name) {
			return nil, fmt.Errorf("%w: Tools: invalid tool name %q", rsguard.ErrInvalidConfig, name)
		}
		for _, s := range need {
			if err := scope(fmt.Sprintf("Tools[%q]", name), s); err != nil {
				return nil, err
			}
		}
	}
	for _, s := range cfg.ChallengeScopes {
		if err := scope("ChallengeScopes", s); err != nil {
			return nil, err
		}
	}
	slices.Sort(all)
	return slices.Compact(all), nil
}

// document derives the metadata document from cfg, checks the members
// cfg.Metadata states again, and validates the result.
func document(cfg *Config, supported []string) (rsmeta.Metadata, error) {
	servers := []string{cfg.Issuer}
	for _, ic := range cfg.Validate.Issuers {
		servers = append(servers, ic.Issuer)
	}
	doc := cfg.Metadata
	algs := cfg.Validate.DPoP.SigningAlgorithms() // nil when DPoP is off
	switch {
	case doc.Resource != "" && doc.Resource != cfg.Resource:
		return doc, fmt.Errorf("%w: Metadata.Resource %q differs from Resource %q: leave it empty", rsguard.ErrInvalidConfig, doc.Resource, cfg.Resource)
	case doc.AuthorizationServers != nil && !sameSet(doc.AuthorizationServers, servers):
		return doc, fmt.Errorf("%w: Metadata.AuthorizationServers %q differs from %q (Issuer, then Validate.Issuers): leave it empty", rsguard.ErrInvalidConfig, doc.AuthorizationServers, servers)
	case doc.ScopesSupported != nil && !sameSet(doc.ScopesSupported, supported):
		return doc, fmt.Errorf("%w: Metadata.ScopesSupported %q differs from %q (the scopes of Tools and ChallengeScopes): leave it empty", rsguard.ErrInvalidConfig, doc.ScopesSupported, supported)
	case doc.BearerMethodsSupported != nil && !sameSet(doc.BearerMethodsSupported, []string{"header"}):
		return doc, fmt.Errorf("%w: Metadata.BearerMethodsSupported %q: tokens are accepted in the Authorization header only: leave it empty", rsguard.ErrInvalidConfig, doc.BearerMethodsSupported)
	case doc.DPoPSigningAlgValuesSupported != nil && !sameSet(doc.DPoPSigningAlgValuesSupported, algs):
		return doc, fmt.Errorf("%w: Metadata.DPoPSigningAlgValuesSupported %q differs from %q (Validate.DPoP): leave it empty", rsguard.ErrInvalidConfig, doc.DPoPSigningAlgValuesSupported, algs)
	case doc.DPoPBoundAccessTokensRequired && cfg.Validate.DPoP.Mode != validate.DPoPRequired:
		return doc, fmt.Errorf("%w: Metadata.DPoPBoundAccessTokensRequired is set but Validate.DPoP.Mode is not validate.DPoPRequired: leave it false", rsguard.ErrInvalidConfig)
	}
	doc.Resource = cfg.Resource
	doc.AuthorizationServers = servers
	doc.ScopesSupported = supported
	doc.BearerMethodsSupported = []string{"header"}
	doc.DPoPSigningAlgValuesSupported = algs
	doc.DPoPBoundAccessTokensRequired = cfg.Validate.DPoP.Mode == validate.DPoPRequired
	if err := doc.Validate(); err != nil {
		return doc, fmt.Errorf("%w: Metadata: %w", rsguard.ErrInvalidConfig, err)
	}
	return doc, nil
}

// sameSet reports whether a and b hold the same strings, ignoring order and
// repetition.
func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(slices.Compact(a), slices.Compact(b))
}
