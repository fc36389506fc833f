package interop_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/rsguard/rsguard/audit"
	"github.com/rsguard/rsguard/rsmeta"
	"github.com/rsguard/rsguard/validate"
)

// Fixtures of as.mjs --introspection (README.md): the resource server's
// clients, one per client authentication method, and the authorization_code
// client with refresh tokens.
const (
	rsBasicClient = "rsguard-rs-basic"
	rsBasicSecret = "rsguard-rs-basic-secret"
	rsPostClient  = "rsguard-rs-post"
	rsPostSecret  = "rsguard-rs-post-secret"
	rsJWTClient   = "rsguard-rs-jwt"
	webClient     = "rsguard-web"
	webSecret     = "rsguard-web-secret"
)

// introspectionScopes are the scopes as.mjs serves in these tests.
var introspectionScopes = []string{"inventory:read", "inventory:write", "inventory:admin"}

// TestIntrospection proves rsguard's RFC 7662 introspection against
// oidc-provider: opaque access tokens (as.mjs --opaque) for our resource are
// accepted through the introspection endpoint, with each client
// authentication method (client_secret_basic, client_secret_post,
// private_key_jwt with ES256, EdDSA and RS256 keys); an opaque token for
// another resource, a refresh token and an unknown token are refused; and
// Introspection.JWTs cannot work with oidc-provider, which does not
// introspect JWTs.
func TestIntrospection(t *testing.T) {
	env := setupNode(t)
	keys := newRSKeys(t)
	rs := newRS(t)

	type method struct {
		name, path string
		intro      func(as asFeatures) *validate.Introspection
	}
	jwt := func(kid string) func(asFeatures) *validate.Introspection {
		return func(asFeatures) *validate.Introspection {
			return &validate.Introspection{ClientID: rsJWTClient, AuthMethod: "private_key_jwt", PrivateKey: keys.signers[kid], KeyID: kid}
		}
	}
	methods := []method{
		{"client_secret_basic", "/basic", func(asFeatures) *validate.Introspection {
			// Endpoint discovered from the RFC 8414 metadata; AuthMethod's default.
			return &validate.Introspection{ClientID: rsBasicClient, ClientSecret: rsBasicSecret}
		}},
		{"client_secret_post", "/post", func(as asFeatures) *validate.Introspection {
			return &validate.Introspection{Endpoint: as.IntrospectionEndpoint, ClientID: rsPostClient, AuthMethod: "client_secret_post", ClientSecret: rsPostSecret}
		}},
		{"private_key_jwt ES256", "/jwt-es256", jwt("rs-es256")},
		{"private_key_jwt EdDSA", "/jwt-eddsa", jwt("rs-eddsa")},
		{"private_key_jwt RS256", "/jwt-rs256", jwt("rs-rs256")},
	}

	args := []string{"--introspection", "--rs-jwks", keys.jwksFile, "--scopes", strings.Join(introspectionScopes, " "), "--opaque", otherResource}
	for _, m := range methods {
		args = append(args, "--opaque", rs.url(m.path))
	}
	as := env.startAS(t, args...)
	if as.IntrospectionEndpoint != as.Issuer+"/token/introspection" || len(as.RSClients) != 3 {
		t.Fatalf("as.mjs --introspection: introspection_endpoint %q, rs_clients %+v", as.IntrospectionEndpoint, as.RSClients)
	}
	for _, m := range methods {
		rs.guard(t, m.path, validate.Config{Issuer: as.Issuer, Introspection: m.intro(as)})
	}
	// Introspection.JWTs: this issuer's JWTs introspected too. Not a
	// --opaque resource, so its tokens are JWTs.
	rs.guard(t, "/jwts", validate.Config{Issuer: as.Issuer, Introspection: &validate.Introspection{ClientID: rsBasicClient, ClientSecret: rsBasicSecret, JWTs: true}})
	rs.start()

	// oidc-provider refuses to introspect JWTs (400 unsupported_token_type):
	// with Introspection.JWTs, its JWTs can never be checked, and rsguard
	// fails closed (503 introspection_unavailable, Retry-After).
	t.Run("JWTs introspected", func(t *testing.T) {
		t.Parallel()
		tr := ccToken(t, as.TokenEndpoint, rs.url("/jwts"), "inventory:read")
		if strings.Count(tr.AccessToken, ".") != 2 {
			t.Fatal("the token for a resource not in --opaque is not a JWT")
		}
		resp, body := rs.call(t, "/jwts", "jwt", tr.AccessToken)
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
			t.Errorf("HTTP %d (Retry-After %q) %.300s, want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"), body)
		}
		if got := rs.lastReason("/jwts", "jwt"); got != audit.ReasonIntrospectionUnavailable {
			t.Errorf("decision reason %q, want introspection_unavailable", got)
		}
	})

	for _, m := range methods {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			resource := rs.url(m.path)

			t.Run("opaque client_credentials", func(t *testing.T) {
				t.Parallel()
				tr := ccToken(t, as.TokenEndpoint, resource, "inventory:read inventory:write")
				if strings.Count(tr.AccessToken, ".") == 2 {
					t.Fatal("as.mjs --opaque issued a JWT")
				}
				for i := range 2 { // the second answer may come from the cache
					resp, body := rs.call(t, m.path, "cc", tr.AccessToken)
					var a rsAnswer
					if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &a) != nil {
						t.Fatalf("request %d: HTTP %d %.300s, want 200", i, resp.StatusCode, body)
					}
					want := rsAnswer{Method: http.MethodGet, Subject: "client:" + as.Issuer + "#" + ccClient, Credential: string(audit.CredentialIntrospection),
						ClientID: ccClient, Issuer: as.Issuer, Scopes: []string{"inventory:read", "inventory:write"}}
					if !equalAnswer(a, want) {
						t.Errorf("request %d: principal %+v, want %+v", i, a, want)
					}
				}
				for _, d := range rs.decisionsOf(m.path, "cc") {
					if !d.Allowed || d.Reason != audit.ReasonOK || d.Credential != audit.CredentialIntrospection || d.ClientID != ccClient {
						t.Errorf("decision %+v, want allowed, ok, credential introspection, client %s", d, ccClient)
					}
				}
			})

			t.Run("opaque for another resource", func(t *testing.T) {
				t.Parallel()
				tr := ccToken(t, as.TokenEndpoint, otherResource, "inventory:read")
				wantRefused(t, rs, m.path, "other", tr.AccessToken, audit.ReasonBadAudience)
			})

			t.Run("authorization_code and refresh token", func(t *testing.T) {
				t.Parallel()
				tr := authcodeTokens(t, as, resource, "openid offline_access inventory:read")
				if tr.RefreshToken == "" || strings.Count(tr.AccessToken, ".") == 2 {
					t.Fatalf("token response: refresh token %t, access token a JWT %t; want a refresh token and an opaque access token", tr.RefreshToken != "", strings.Count(tr.AccessToken, ".") == 2)
				}
				resp, body := rs.call(t, m.path, "user", tr.AccessToken)
				var a rsAnswer
				if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &a) != nil {
					t.Fatalf("the user's access token: HTTP %d %.300s, want 200", resp.StatusCode, body)
				}
				if a.Subject != "user:"+as.Issuer+"#"+testUser || a.ClientID != webClient || !slices.Equal(a.Scopes, []string{"inventory:read"}) || a.Credential != string(audit.CredentialIntrospection) {
					t.Errorf("the user's principal %+v, want user %s of client %s with inventory:read", a, testUser, webClient)
				}
				// oidc-provider answers a refresh token's introspection with
				// active true, its scope, no aud and no token_type: it is
				// not an access token.
				wantRefused(t, rs, m.path, "refresh", tr.RefreshToken, audit.ReasonBadTokenType)
			})

			t.Run("unknown token", func(t *testing.T) {
				t.Parallel()
				wantRefused(t, rs, m.path, "unknown", rand.Text(), audit.ReasonInactive)
			})
		})
	}
}

// equalAnswer compares two principals' answers.
func equalAnswer(a, b rsAnswer) bool {
	return a.Method == b.Method && a.Subject == b.Subject && a.Credential == b.Credential && a.ClientID == b.ClientID &&
		a.Issuer == b.Issuer && slices.Equal(a.Scopes, b.Scopes) && a.KeyThumbprint == b.KeyThumbprint
}

// wantRefused sends token as Bearer to path and wants 401 with one Bearer
// challenge, error="invalid_token", and the decision's reason.
func wantRefused(t *testing.T, rs *rsServer, path, c, token string, reason audit.Reason) {
	t.Helper()
	resp, body := rs.call(t, path, c, token)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("HTTP %d %.300s, want 401 (%s)", resp.StatusCode, body, reason)
	}
	ch := challengeOf(t, resp)
	if ch.Error != rsmeta.ErrorInvalidToken {
		t.Errorf("challenge %+v, want error=invalid_token", ch)
	}
	if got := rs.lastReason(path, c); got != reason {
		t.Errorf("decision reason %q, want %q (decisions %+v)", got, reason, rs.decisionsOf(path, c))
	}
}

// ccTokenResponse is the token endpoint's answer.
type ccTokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	Scope        string `json:"scope"`
	RefreshToken string `json:"refresh_token"`
}

// ccToken gets a client_credentials token for rsguard-cc from tokenEndpoint
// for resource.
func ccToken(t *testing.T, tokenEndpoint, resource, scope string) ccTokenResponse {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {scope}, "resource": {resource}}
	req, err := http.NewRequest(http.MethodPost, tokenEndpoint, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(ccClient, ccSecret)
	resp, body := do(t, req)
	var tr ccTokenResponse
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &tr) != nil || tr.AccessToken == "" {
		t.Fatalf("token endpoint (resource=%q): HTTP %d %.300s", resource, resp.StatusCode, body)
	}
	return tr
}

// authcodeTokens runs authorization_code + PKCE for rsguard-web (the test
// user logs in headlessly) and returns the token response: with
// offline_access in scope, a refresh token too.
func authcodeTokens(t *testing.T, as asFeatures, resource, scope string) ccTokenResponse {
	t.Helper()
	verifier := rand.Text() + rand.Text()
	sum := sha256.Sum256([]byte(verifier))
	q := url.Values{
		"response_type": {"code"}, "client_id": {webClient}, "redirect_uri": {callbackURL}, "scope": {scope},
		"resource": {resource}, "code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])},
		"code_challenge_method": {"S256"}, "state": {rand.Text()}, "prompt": {"consent"},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := newHeadless(t, newTransport(t)).fetch(ctx, &auth.AuthorizationArgs{URL: as.AuthorizationEndpoint + "?" + q.Encode()})
	if err != nil || res.Code == "" {
		t.Fatalf("authorization: %v", err)
	}
	form := url.Values{"grant_type": {"authorization_code"}, "code": {res.Code}, "code_verifier": {verifier}, "redirect_uri": {callbackURL}, "resource": {resource}}
	req, err := http.NewRequest(http.MethodPost, as.TokenEndpoint, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(webClient, webSecret)
	resp, body := do(t, req)
	var tr ccTokenResponse
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &tr) != nil || tr.AccessToken == "" {
		t.Fatalf("token endpoint (authorization_code): HTTP %d %.300s", resp.StatusCode, body)
	}
	return tr
}
