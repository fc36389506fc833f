package conformance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/rsguard/rsguard/internal/loopback"
)

// The authorization servers check: each authorization server the resource
// metadata names serves metadata (RFC 8414, or OpenID Connect Discovery)
// whose "issuer" is that name, byte for byte, and a token endpoint; and the
// one fetch of that metadata the checker command's discovery uses too.

// maxAuthorizationServers bounds the authorization servers a run looks at.
const maxAuthorizationServers = 5

// maxDocument bounds the metadata documents and JWK Sets a run reads.
const maxDocument = 1 << 20

// ErrNotFetched is the error a front end's client gives for a URL it does
// not fetch by choice (validatetest fetches only its test issuer's
// metadata): the authorization servers check then notes that server as not
// checked, instead of failing it.
var ErrNotFetched = errors.New("not fetched by this front end")

// ASMetadata is what a client learns of an authorization server from its
// metadata (RFC 8414 §2; OpenID Connect Discovery 1.0 §3).
type ASMetadata struct {
	// URL is where the document was found.
	URL string

	// ContentType is the media type it was served as.
	ContentType string

	// Issuer is its "issuer": the authorization server's identifier, which
	// must equal the one the client started from (RFC 8414 §3.3).
	Issuer string

	// JWKSURI, TokenEndpoint and AuthorizationEndpoint are its "jwks_uri",
	// "token_endpoint" and "authorization_endpoint" ("" if absent or not a
	// string).
	JWKSURI               string
	TokenEndpoint         string
	AuthorizationEndpoint string

	// TokenEndpointAuthMethods is its
	// "token_endpoint_auth_methods_supported" (nil if absent: RFC 8414 §2
	// defaults it to client_secret_basic).
	TokenEndpointAuthMethods []string

	// CodeChallengeMethods is its "code_challenge_methods_supported" (nil
	// if absent: the server does not support PKCE, RFC 8414 §2).
	CodeChallengeMethods []string
}

// ParseASMetadata reads an authorization server metadata document: a JSON
// object whose members, where present, have the types RFC 8414 §2 gives
// them (an "issuer" that is not a string is an error; other members of the
// wrong type read as absent).
func ParseASMetadata(body []byte) (*ASMetadata, error) {
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(body, &doc); err != nil || doc == nil {
		return nil, errors.New("not a JSON object")
	}
	m := &ASMetadata{}
	if raw, ok := doc["issuer"]; !ok {
		return nil, errors.New(`no "issuer"`)
	} else if err := json.Unmarshal(raw, &m.Issuer); err != nil {
		return nil, errors.New(`"issuer" is not a string`)
	}
	str := func(name string) string {
		var s string
		_ = json.Unmarshal(doc[name], &s)
		return s
	}
	list := func(name string) []string {
		var l []string
		if json.Unmarshal(doc[name], &l) != nil {
			return nil
		}
		return l
	}
	m.JWKSURI = str("jwks_uri")
	m.TokenEndpoint = str("token_endpoint")
	m.AuthorizationEndpoint = str("authorization_endpoint")
	m.TokenEndpointAuthMethods = list("token_endpoint_auth_methods_supported")
	m.CodeChallengeMethods = list("code_challenge_methods_supported")
	return m, nil
}

// ParseIssuer parses an authorization server's issuer identifier as RFC
// 8414 §2 defines it: an absolute URL with a host, whose scheme is https
// (http only on a loopback host, package loopback's rule), with no query,
// fragment or userinfo. The error says, in one clause, what is wrong.
func ParseIssuer(issuer string) (*url.URL, error) {
	u, err := url.Parse(issuer)
	switch {
	case err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "":
		return nil, errors.New("not an absolute URL")
	case !loopback.AllowsScheme(u):
		return nil, errors.New("not https (http only on a loopback host)")
	case u.User != nil:
		return nil, errors.New("it has userinfo")
	case strings.ContainsAny(issuer, "?#"):
		return nil, errors.New("it has a query or a fragment")
	}
	return u, nil
}

// asMetadataURLs returns the URLs where a client looks for the metadata of
// the authorization server issuer, in the order MCP authorization
// (2025-11-25, authorization server metadata discovery) gives: RFC 8414
// metadata at the path-inserted well-known URL (§3.1), then OpenID Connect
// Discovery path-inserted (RFC 8414 §5) and, for an issuer with a path,
// appended to it (OpenID Connect Discovery §4). They are built from the
// parsed identifier ([ParseIssuer]: no query to append to).
func asMetadataURLs(issuer string) ([]string, error) {
	u, err := ParseIssuer(issuer)
	if err != nil {
		return nil, fmt.Errorf("%q is not an issuer identifier: %v", issuer, err)
	}
	path := strings.TrimSuffix(u.EscapedPath(), "/")
	base := u.Scheme + "://" + u.Host
	out := []string{
		base + "/.well-known/oauth-authorization-server" + path,
		base + "/.well-known/openid-configuration" + path,
	}
	if path != "" {
		out = append(out, base+path+"/.well-known/openid-configuration")
	}
	return out, nil
}

// FetchASMetadata fetches the metadata of the authorization server issuer
// (an issuer identifier, see [ParseIssuer]) with client, trying the URLs
// MCP clients try, in their order, until one answers 200 with
// a JSON object with an "issuer" string: that document is the answer,
// whatever its "issuer" says (the caller compares it with issuer). The
// error says what each URL gave. No redirect is followed unless client
// follows them; bodies are read up to 1 MiB.
func FetchASMetadata(ctx context.Context, client *http.Client, issuer string) (*ASMetadata, error) {
	urls, err := asMetadataURLs(issuer)
	if err != nil {
		return nil, err
	}
	var tried []string
	for _, u := range urls {
		body, ct, err := FetchDocument(ctx, client, u)
		if err == nil {
			var m *ASMetadata
			if m, err = ParseASMetadata(body); err == nil {
				m.URL, m.ContentType = u, ct
				return m, nil
			}
		}
		if errors.Is(err, ErrNotFetched) {
			return nil, err
		}
		tried = append(tried, fmt.Sprintf("%s: %v", u, err))
		if ctx.Err() != nil {
			break
		}
	}
	return nil, errors.New(strings.Join(tried, "; "))
}

// FetchDocument GETs u with client, asking for JSON, and returns the body
// of a 200 answer (at most 1 MiB) and its media type; any other status is
// an error.
func FetchDocument(ctx context.Context, client *http.Client, u string) (body []byte, contentType string, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, "", err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxDocument))
		return nil, "", fmt.Errorf("status %d", resp.StatusCode)
	}
	body, err = io.ReadAll(io.LimitReader(resp.Body, maxDocument+1))
	if err != nil {
		return nil, "", err
	}
	if len(body) > maxDocument {
		return nil, "", errors.New("larger than 1 MiB")
	}
	ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	return body, ct, nil
}

// asClient is the client of the requests to the authorization servers.
func (c *Target) asClient() *http.Client {
	if c.ASClient != nil {
		return c.ASClient
	}
	return c.Client
}

// AuthorizationServers returns the "authorization_servers" of the resource
// metadata document doc, or an error if it has none or it is not an array
// of strings.
func AuthorizationServers(doc []byte) ([]string, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(doc, &m); err != nil || m == nil {
		return nil, errors.New("the metadata is not a JSON object")
	}
	raw, ok := m["authorization_servers"]
	if !ok {
		return nil, errors.New(`the metadata has no "authorization_servers"`)
	}
	var servers []string
	if err := json.Unmarshal(raw, &servers); err != nil {
		return nil, errors.New(`the metadata's "authorization_servers" is not an array of strings`)
	}
	if len(servers) == 0 {
		return nil, errors.New(`the metadata's "authorization_servers" is empty`)
	}
	return servers, nil
}

// checkAuthorizationServers: RFC 8414 §3, §3.3; OpenID Connect Discovery
// §4; MCP authorization (authorization server discovery).
func (c *Target) checkAuthorizationServers(r Reporter) {
	resp, err := c.metadata()
	if err != nil || resp.status != http.StatusOK {
		r.Skipf("nothing to check: the metadata cannot be fetched (the metadata check says why)")
		return
	}
	servers, err := AuthorizationServers(resp.body)
	if err != nil {
		r.Skipf("nothing to check: %v (the metadata check says why)", err)
		return
	}
	if len(servers) > maxAuthorizationServers {
		r.Logf("the metadata names %d authorization servers: only the first %d are checked", len(servers), maxAuthorizationServers)
		servers = servers[:maxAuthorizationServers]
	}
	for _, as := range servers {
		if _, err := ParseIssuer(as); err != nil {
			r.Logf("authorization server %q not fetched: not an issuer identifier, %v (the metadata check reports it)", as, err)
			continue
		}
		c.checkAuthorizationServer(r, as)
	}
}

// checkAuthorizationServer checks the metadata of one authorization server.
func (c *Target) checkAuthorizationServer(r Reporter, as string) {
	r.Helper()
	urls, _ := asMetadataURLs(as)
	m, err := FetchASMetadata(context.Background(), c.asClient(), as)
	if errors.Is(err, ErrNotFetched) {
		r.Logf("authorization server %q not checked: %v", as, err)
		return
	}
	if err != nil {
		r.Errorf(`authorization server %q serves no metadata a client can read (%s): an MCP client cannot find its token endpoint (RFC 8414 §3; MCP authorization, authorization server discovery). Serve RFC 8414 metadata at %s (or OpenID Connect Discovery at %s), or list in "authorization_servers" only issuers that do.`,
			as, Redact(err.Error()), urls[0], urls[1])
		return
	}
	if m.Issuer != as {
		r.Errorf(`authorization server %q: the metadata at %s gives "issuer" %q: a client compares it with the identifier it started from, byte for byte, and stops (RFC 8414 §3.3; OpenID Connect Discovery §4.3). List in "authorization_servers" each issuer identifier exactly as its metadata gives it.`, as, m.URL, m.Issuer)
	}
	switch te, err := url.Parse(m.TokenEndpoint); {
	case m.TokenEndpoint == "":
		r.Errorf(`authorization server %q: the metadata at %s has no "token_endpoint" (RFC 8414 §2): a client cannot get a token. Use an authorization server whose metadata names its token endpoint.`, as, m.URL)
	case err != nil || !te.IsAbs() || te.Host == "" || !loopback.AllowsScheme(te):
		r.Errorf(`authorization server %q: "token_endpoint" %q is not an https URL (RFC 8414 §2; OAuth 2.1 §1.5): a client must not send credentials to it. Use an authorization server whose token endpoint is served over https.`, as, m.TokenEndpoint)
	}
	if m.ContentType != "application/json" {
		r.Logf("authorization server %q: the metadata at %s is served as %q, not application/json (RFC 8414 §3.2): strict clients refuse it", as, m.URL, m.ContentType)
	}
	if m.JWKSURI == "" {
		r.Logf("authorization server %q: the metadata has no jwks_uri: the resource server must get the keys that verify its tokens elsewhere, or introspect them", as)
	}
	switch {
	case m.AuthorizationEndpoint == "":
		r.Logf("authorization server %q: the metadata has no authorization_endpoint: clients acting for users (authorization code grant) cannot use it", as)
	case !slices.Contains(m.CodeChallengeMethods, "S256"):
		r.Logf("authorization server %q: code_challenge_methods_supported %q lacks S256: MCP clients (2025-11-25) refuse to proceed without it", as, m.CodeChallengeMethods)
	}
}

// metadata fetches the resource metadata at MetadataGet, once per run.
func (c *Target) metadata() (*response, error) {
	if !c.meta.done {
		req, err := http.NewRequest(http.MethodGet, c.MetadataGet, nil)
		if err != nil {
			return nil, err
		}
		c.meta.resp, c.meta.err = c.send(req)
		c.meta.done = true
	}
	return c.meta.resp, c.meta.err
}
