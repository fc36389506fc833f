package validate

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/rsguard/rsguard/rsmeta"
	"github.com/rsguard/rsguard/scopes"
)

// MaxAuthorizationBytes bounds the Authorization header [BearerToken]
// accepts; a longer one is refused as invalid_request before any parsing.
const MaxAuthorizationBytes = 16<<10 + len("Bearer ")

// BearerToken returns the bearer token of r (RFC 6750 §2.1). Tokens are read
// from the Authorization header only: the MCP authorization specification
// forbids tokens in the query string, and form-encoded bodies are not read.
//
// It returns an *[Error] wrapping:
//   - [ErrNoToken] when there is no Authorization header, or one with
//     another scheme (Basic, DPoP, …): the client has not presented a bearer
//     token;
//   - [ErrInvalidRequest] when the request is malformed: several
//     Authorization headers, a "Bearer" scheme without a well-formed token
//     (empty, with spaces, characters outside b64token), a header over
//     [MaxAuthorizationBytes], or an access_token query parameter (a token
//     in the URL is refused rather than silently ignored, RFC 6750 §2.3, §5.3).
//
// The scheme name is matched case-insensitively (RFC 9110 §11.1).
func BearerToken(r *http.Request) (string, error) {
	if r.URL != nil && r.URL.RawQuery != "" {
		// Only parse when the name could be there, spelled out or
		// percent-encoded ("access%5Ftoken"). ParseQuery keeps going past
		// a malformed pair, so an unrelated bad pair does not hide it.
		if q := r.URL.RawQuery; strings.Contains(q, "access_token") || strings.IndexByte(q, '%') >= 0 {
			if values, _ := url.ParseQuery(q); values.Has("access_token") {
				return "", reject(errQueryToken)
			}
		}
	}
	vals := r.Header["Authorization"]
	switch len(vals) {
	case 0:
		return "", reject(errNoToken)
	case 1:
	default:
		return "", reject(errMultipleHeaders)
	}
	h := vals[0]
	if len(h) > MaxAuthorizationBytes {
		return "", reject(errHeaderSize)
	}
	h = strings.Trim(h, " \t")
	scheme, rest, _ := strings.Cut(h, " ")
	if !strings.EqualFold(scheme, "Bearer") {
		if scheme == "" || !isToken(scheme) {
			return "", reject(errHeaderSyntax)
		}
		return "", reject(errNoToken)
	}
	tok := strings.TrimLeft(rest, " ")
	if !isB64Token(tok) {
		return "", reject(errHeaderSyntax)
	}
	return tok, nil
}

// isB64Token reports whether s is an RFC 6750 §2.1 b64token:
// 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
func isB64Token(s string) bool {
	if s == "" {
		return false
	}
	i := 0
	for ; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/' {
			continue
		}
		break
	}
	if i == 0 {
		return false
	}
	for ; i < len(s); i++ {
		if s[i] != '=' {
			return false
		}
	}
	return true
}

// isToken reports whether s is an RFC 9110 §5.6.2 token.
func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0 {
			continue
		}
		return false
	}
	return s != ""
}

// Authenticate is the decision method of the bearer middleware: it reads the
// bearer token of r with [BearerToken] and verifies it with
// [Validator.Verify].
func (v *Validator) Authenticate(r *http.Request) (*Claims, error) {
	tok, err := BearerToken(r)
	if err != nil {
		return nil, err
	}
	return v.Verify(r.Context(), tok)
}

// Middleware requires a valid bearer access token on every request to next.
//
//   - No token: 401 with `WWW-Authenticate: Bearer resource_metadata="…"`
//     (plus scope when Config.ChallengeScopes is set) and no error code
//     (RFC 6750 §3.1, RFC 9728 §5.1, MCP authorization).
//   - A token that fails verification: 401 with error="invalid_token" and an
//     error_description naming the reason class (never the token).
//   - A malformed request: 400 with error="invalid_request".
//   - No keys could ever be loaded (Config.Lazy, issuer down), or
//     Config.Revocations failed and RevocationFailOpen is off: 503 with
//     Retry-After.
//
// On success the request context carries the [Claims]
// ([ClaimsFromContext]) and a scopes.Grant (scopes.FromContext) with the
// granted scopes, so scope checks work the same whatever the credential.
//
// Middleware has the shape func(http.Handler) http.Handler: use v.Middleware
// with any router.
func (v *Validator) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var start time.Time
		if v.onDecision != nil {
			start = time.Now()
		}
		c, err := v.Authenticate(r)
		if v.onDecision != nil {
			d := v.Decision(r, c, err)
			d.Time, d.Latency = start, time.Since(start)
			v.onDecision(r.Context(), d)
		}
		if err != nil {
			v.WriteError(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(v.NewContext(r.Context(), c)))
	})
}

// NewContext returns a copy of ctx carrying c and its scopes.Grant, exactly
// as [Validator.Middleware] stores them. Middlewares that accept other
// credentials beside bearer JWTs (package apikey) use it for their JWT path.
func (v *Validator) NewContext(ctx context.Context, c *Claims) context.Context {
	return scopes.NewContext(NewContext(ctx, c), v.Grant(c))
}

// Grant returns the credential-neutral scopes.Grant for verified claims:
// their scopes, Principal as Subject, client id, tenant (Config.TenantClaim),
// issuer, token id ("jti"), "acr" and "auth_time" (for step-up checks),
// Credential scopes.CredentialJWT, and this resource's metadata URL for later
// challenges. Each call returns a new Grant, sharing only c's own (per-request)
// scope slice.
func (v *Validator) Grant(c *Claims) *scopes.Grant {
	return c.grant(v.challenge.ResourceMetadata)
}

// Challenge returns the base challenge of this resource: realm (if
// configured), resource_metadata, and the configured challenge scopes. Other
// credential kinds (package apikey) and scope checks build on it so that
// every challenge of a server points to the same metadata.
func (v *Validator) Challenge() rsmeta.Challenge {
	c := v.challenge
	c.Scope = append([]string(nil), c.Scope...)
	return c
}

// WriteError answers a request refused with err: the status, challenge and
// description come from the *[Error] in err's chain (any other error is
// answered as 401 invalid_token with a generic description). The challenge
// always carries resource_metadata so that a client can discover how to get a
// token. A 503 also carries Retry-After.
func (v *Validator) WriteError(w http.ResponseWriter, r *http.Request, err error) {
	e := asError(err)
	c := v.challenge
	if e.Code != "" {
		c.Error = e.Code
		c.ErrorDescription = e.Description
	}
	if e.Status == http.StatusServiceUnavailable && w.Header().Get("Retry-After") == "" {
		retry := 5 // another credential's store is down: a short, fixed hint
		if errors.Is(e, ErrKeysUnavailable) {
			retry = int(v.fetchWait().Seconds()) + 1
		}
		w.Header().Set("Retry-After", strconv.Itoa(retry))
	}
	if e.Code != "" && v.logger.Enabled(r.Context(), slog.LevelDebug) {
		v.logger.DebugContext(r.Context(), "rsguard: request refused", "status", e.Status, "reason", reason(e))
	}
	if v.replay(w, e) {
		return
	}
	rsmeta.WriteChallenge(w, e.Status, c)
}

// reason is the log form of a rejection: the sentinel's message, or for
// errors of other credential kinds their client-safe description; never the
// token, never an underlying error's text that could quote it.
func reason(e *Error) string {
	for _, s := range sentinels {
		if errors.Is(e, s) {
			return s.Error()
		}
	}
	if e.Description != "" {
		return e.Description
	}
	return "rejected"
}

var sentinels = []error{
	ErrNoToken, ErrInvalidRequest, ErrMalformed, ErrAlgorithm, ErrTokenType, ErrCritical, ErrUnknownKey,
	ErrSignature, ErrIssuer, ErrAudience, ErrExpired, ErrNotYetValid, ErrClaims, ErrKeysUnavailable, ErrRejected,
	ErrRevoked, ErrRevocationUnavailable, ErrSenderConstrained,
}
