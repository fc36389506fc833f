package peerbench

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	jwtmiddleware "github.com/auth0/go-jwt-middleware/v2"
	"github.com/auth0/go-jwt-middleware/v2/jwks"
	auth0validator "github.com/auth0/go-jwt-middleware/v2/validator"
	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/golang-jwt/jwt/v5"
	"github.com/lestrrat-go/httprc/v3"
	"github.com/lestrrat-go/jwx/v3/jwk"
	jwxjwt "github.com/lestrrat-go/jwx/v3/jwt"
	"github.com/modelcontextprotocol/go-sdk/auth"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/rsmeta"
	"github.com/rsguard/rsguard/validate"
	"github.com/rsguard/rsguard/validate/validatetest"
)

// The protected resource every implementation guards: tokens must carry it
// in "aud" (RFC 8707, RFC 9068 §4). Never fetched.
const (
	resource         = "https://mcp.example.com/mcp"
	resourceMetadata = "https://mcp.example.com/.well-known/oauth-protected-resource/mcp"
	tokenScope       = "tools:read tools:write"
	// leeway is the clock-skew tolerance given to every implementation that
	// takes one (rsguard's default).
	leeway = 30 * time.Second
)

// algs are the algorithms of the benchmark tokens, and the allow-list given
// to every implementation that takes one.
var algs = []string{"RS256", "ES256"}

// harness is one issuer and the tokens every implementation is fed.
type harness struct {
	is    *validatetest.Issuer
	valid map[string]string // alg -> a valid token
	bad   []namedToken      // tokens every implementation must refuse
}

type namedToken struct{ name, tok string }

// newHarness starts a plain-HTTP issuer on loopback with one RS256 and one
// ES256 key and mints the benchmark tokens.
func newHarness(tb testing.TB) *harness {
	tb.Helper()
	is := validatetest.NewIssuer(tb, &validatetest.Options{
		PlainHTTP:  true, // so that every peer can use its default HTTP client
		Algorithms: algs,
		Audience:   []string{resource},
	})
	h := &harness{is: is, valid: map[string]string{}}
	for _, alg := range algs {
		h.valid[alg] = is.TokenWith(validatetest.TokenOptions{Alg: alg}, map[string]any{"scope": tokenScope})
	}
	attacker, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		tb.Fatal(err)
	}
	now := time.Now()
	h.bad = []namedToken{
		{"garbage", "not.a.token"},
		{"alg_none", is.TokenWith(validatetest.TokenOptions{Alg: "none"}, map[string]any{"scope": tokenScope})},
		{"unknown_kid", is.TokenWith(validatetest.TokenOptions{Header: map[string]any{"kid": "nope"}}, map[string]any{"scope": tokenScope})},
		{"wrong_audience", is.Token(map[string]any{"aud": "https://other.example/mcp", "scope": tokenScope})},
		{"expired", is.Token(map[string]any{
			"iat": now.Add(-2 * time.Hour).Unix(), "exp": now.Add(-time.Hour).Unix(), "scope": tokenScope,
		})},
		// A forgery: the published RS256 kid, signed by a key that is not.
		{"forged_signature", is.TokenWith(validatetest.TokenOptions{
			Alg: "RS256", Key: is.Kid("RS256"), Signer: attacker,
		}, map[string]any{"scope": tokenScope})},
	}
	return h
}

// token returns the bad token called name.
func (h *harness) token(tb testing.TB, name string) string {
	for _, t := range h.bad {
		if t.name == name {
			return t.tok
		}
	}
	tb.Fatalf("no token %q", name)
	return ""
}

// impl is one token-verifying middleware under comparison. build configures
// it against the harness's issuer, fetching keys through its own JWKS
// client, and wraps next. alg is the algorithm of the tokens the instance
// will see: only auth0's validator needs it (it accepts exactly one
// algorithm); every other implementation is configured with algs.
type impl struct {
	name  string
	build func(tb testing.TB, is *validatetest.Issuer, alg string, next http.Handler) http.Handler
}

// impls are the implementations in the order the README lists them.
// rsguard-cached (the default configuration) is left out: it is compared
// only on the repeated-token case (see cachedImpl).
var impls = []impl{
	{"rsguard", buildRSGuard(true)},
	{"auth0", buildAuth0},
	{"mcp-sdk", buildMCPSDK},
	{"golang-jwt", buildGolangJWT},
	{"go-oidc", buildGoOIDC},
	{"jwx", buildJWX},
}

// cachedImpl is rsguard with its verified-token cache on (the default).
var cachedImpl = impl{"rsguard-cached", buildRSGuard(false)}

// allImpls is impls plus cachedImpl.
func allImpls() []impl { return append(impls[:len(impls):len(impls)], cachedImpl) }

// buildRSGuard returns rsguard's middleware, an rsguard.Guard over a
// validate.Validator: keys discovered from the issuer's RFC 8414 metadata;
// disableCache makes every request a first sight.
func buildRSGuard(disableCache bool) func(testing.TB, *validatetest.Issuer, string, http.Handler) http.Handler {
	return func(tb testing.TB, is *validatetest.Issuer, _ string, next http.Handler) http.Handler {
		v, err := validate.New(tb.Context(), validate.Config{
			Issuer:     is.URL,
			Resource:   resource,
			Algorithms: algs,
			Cache:      validate.CacheOptions{Disable: disableCache},
		})
		if err != nil {
			tb.Fatal(err)
		}
		meta, err := rsmeta.WellKnownURL(resource)
		if err != nil {
			tb.Fatal(err)
		}
		g, err := rsguard.New(rsguard.Config{Authenticator: v, ResourceMetadata: meta})
		if err != nil {
			tb.Fatal(err)
		}
		return g.Middleware(next)
	}
}

// auth0Claims are the custom claims of auth0's documented scope check.
type auth0Claims struct {
	Scope string `json:"scope"`
}

func (c *auth0Claims) Validate(context.Context) error { return nil }

// buildAuth0 is auth0's documented setup: a jwks.CachingProvider (OpenID
// Connect discovery, then the JWK Set, cached 5 minutes), a validator for one
// algorithm with the issuer and audience, custom claims for the scope, and
// jwtmiddleware.CheckJWT.
func buildAuth0(tb testing.TB, is *validatetest.Issuer, alg string, next http.Handler) http.Handler {
	issuerURL, err := url.Parse(is.URL)
	if err != nil {
		tb.Fatal(err)
	}
	provider := jwks.NewCachingProvider(issuerURL, 5*time.Minute)
	v, err := auth0validator.New(provider.KeyFunc, auth0validator.SignatureAlgorithm(alg), is.URL, []string{resource},
		auth0validator.WithAllowedClockSkew(leeway),
		auth0validator.WithCustomClaims(func() auth0validator.CustomClaims { return &auth0Claims{} }),
	)
	if err != nil {
		tb.Fatal(err)
	}
	return jwtmiddleware.New(v.ValidateToken).CheckJWT(next)
}

// accessClaims are the claims the golang-jwt verifiers decode.
type accessClaims struct {
	Scope string `json:"scope"`
	jwt.RegisteredClaims
}

// newGolangJWTVerifier returns golang-jwt v5 parsing with keys from
// keyfunc.NewDefaultCtx (the JWK Set URL, refreshed hourly, refetched for an
// unknown kid at most every 5 minutes), with every check golang-jwt offers
// turned on: algorithm allow-list, issuer, audience, exp required, iat
// checked, leeway.
func newGolangJWTVerifier(tb testing.TB, is *validatetest.Issuer) func(raw string) (*accessClaims, error) {
	kf, err := keyfunc.NewDefaultCtx(tb.Context(), []string{is.JWKSURL})
	if err != nil {
		tb.Fatal(err)
	}
	parser := jwt.NewParser(
		jwt.WithValidMethods(algs),
		jwt.WithIssuer(is.URL),
		jwt.WithAudience(resource),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(leeway),
	)
	return func(raw string) (*accessClaims, error) {
		var c accessClaims
		if _, err := parser.ParseWithClaims(raw, &c, kf.Keyfunc); err != nil {
			return nil, err
		}
		return &c, nil
	}
}

// buildMCPSDK is the MCP Go SDK's auth.RequireBearerToken with a
// TokenVerifier on golang-jwt and keyfunc.
func buildMCPSDK(tb testing.TB, is *validatetest.Issuer, _ string, next http.Handler) http.Handler {
	verify := newGolangJWTVerifier(tb, is)
	verifier := func(_ context.Context, raw string, _ *http.Request) (*auth.TokenInfo, error) {
		c, err := verify(raw)
		if err != nil {
			return nil, errors.Join(auth.ErrInvalidToken, err)
		}
		return &auth.TokenInfo{Scopes: strings.Fields(c.Scope), Expiration: c.ExpiresAt.Time, UserID: c.Subject}, nil
	}
	return auth.RequireBearerToken(verifier, &auth.RequireBearerTokenOptions{
		ResourceMetadataURL: resourceMetadata,
		ClockSkew:           leeway, // its own expiry check, after the verifier's
	})(next)
}

// The context keys of the hand-written middlewares.
type (
	golangJWTKey struct{}
	oidcKey      struct{}
	jwxKey       struct{}
)

// bearer returns the token of an "Authorization: Bearer" header, as the
// hand-written middlewares extract it.
func bearer(r *http.Request) (string, bool) {
	return strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
}

// unauthorized is the hand-written middlewares' refusal.
func unauthorized(w http.ResponseWriter) {
	w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
	http.Error(w, "invalid token", http.StatusUnauthorized)
}

// buildGolangJWT is the minimal middleware most Go services write: bearer
// header, golang-jwt + keyfunc, claims into the context.
func buildGolangJWT(tb testing.TB, is *validatetest.Issuer, _ string, next http.Handler) http.Handler {
	verify := newGolangJWTVerifier(tb, is)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, ok := bearer(r)
		if !ok {
			unauthorized(w)
			return
		}
		c, err := verify(raw)
		if err != nil {
			unauthorized(w)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), golangJWTKey{}, c)))
	})
}

// buildGoOIDC is go-oidc's verifier on a RemoteKeySet (keys fetched on
// first use and whenever a token's signature does not verify with the cached
// ones), the client-ID check turned into the audience check (ClientID =
// resource), the algorithm allow-list, and the scope decoded from the claims.
func buildGoOIDC(tb testing.TB, is *validatetest.Issuer, _ string, next http.Handler) http.Handler {
	keySet := oidc.NewRemoteKeySet(tb.Context(), is.JWKSURL)
	verifier := oidc.NewVerifier(is.URL, keySet, &oidc.Config{ClientID: resource, SupportedSigningAlgs: algs})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, ok := bearer(r)
		if !ok {
			unauthorized(w)
			return
		}
		tok, err := verifier.Verify(r.Context(), raw)
		if err != nil {
			unauthorized(w)
			return
		}
		var c struct {
			Scope string `json:"scope"`
		}
		if err := tok.Claims(&c); err != nil {
			unauthorized(w)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), oidcKey{}, tok)))
	})
}

// buildJWX is jwx v3's documented setup: a jwk.Cache with the JWK Set URL
// registered (fetched before Register returns, refreshed in the background),
// a CachedSet, and jwt.Parse with the key set, issuer, audience, validation
// and leeway.
func buildJWX(tb testing.TB, is *validatetest.Issuer, _ string, next http.Handler) http.Handler {
	ctx := tb.Context()
	cache, err := jwk.NewCache(ctx, httprc.NewClient())
	if err != nil {
		tb.Fatal(err)
	}
	if err := cache.Register(ctx, is.JWKSURL); err != nil {
		tb.Fatal(err)
	}
	set, err := cache.CachedSet(is.JWKSURL)
	if err != nil {
		tb.Fatal(err)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, ok := bearer(r)
		if !ok {
			unauthorized(w)
			return
		}
		tok, err := jwxjwt.ParseString(raw,
			jwxjwt.WithKeySet(set),
			jwxjwt.WithIssuer(is.URL),
			jwxjwt.WithAudience(resource),
			jwxjwt.WithValidate(true),
			jwxjwt.WithAcceptableSkew(leeway),
		)
		if err != nil {
			unauthorized(w)
			return
		}
		var scope string
		_ = tok.Get("scope", &scope) // absent is fine: no scope granted
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), jwxKey{}, tok)))
	})
}

// newRequest is the request every benchmark and test sends.
func newRequest(tok string) *http.Request {
	req := httptest.NewRequest(http.MethodPost, "/mcp", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	return req
}
