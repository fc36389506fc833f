package checker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/rsguard/rsguard/internal/conformance"
	"github.com/rsguard/rsguard/internal/loopback"
)

// clientCredentials gets access tokens from the authorization server's token
// endpoint with the client_credentials grant (RFC 6749 §4.4) and resource
// indicators (RFC 8707 §2): the run's conformance.ResourceTokenSource. It
// keeps each token (or refusal) per resource and scope set for the run, and
// every token it got for the report's last guard (see secrets).
type clientCredentials struct {
	ctx      context.Context
	client   *http.Client
	endpoint string // token_endpoint
	id       string
	secret   string
	basic    bool // client_secret_basic, else client_secret_post
	resource string
	secrets  *secrets

	mu    sync.Mutex
	cache map[string]issued
}

type issued struct {
	token string
	err   error
}

// newClientCredentials checks the token endpoint, adds the secret to s, and
// chooses the client authentication: client_secret_basic (RFC 6749
// §2.3.1), unless the metadata lists token_endpoint_auth_methods_supported
// without it but with client_secret_post.
func newClientCredentials(ctx context.Context, client *http.Client, m *conformance.ASMetadata, id, secret, resource string, s *secrets) (*clientCredentials, error) {
	u, err := url.Parse(m.TokenEndpoint)
	switch {
	case m.TokenEndpoint == "":
		return nil, errors.New(`the authorization server's metadata has no "token_endpoint"`)
	case err != nil || !u.IsAbs() || u.Host == "" || u.User != nil || u.Fragment != "":
		return nil, fmt.Errorf("the token endpoint %q is not an absolute URL", m.TokenEndpoint)
	case !loopback.AllowsScheme(u):
		return nil, fmt.Errorf("the token endpoint %q is not https: the client secret is not sent there", m.TokenEndpoint)
	}
	basic := true
	if methods := m.TokenEndpointAuthMethods; methods != nil && !slices.Contains(methods, "client_secret_basic") {
		if !slices.Contains(methods, "client_secret_post") {
			return nil, fmt.Errorf("the authorization server supports neither client_secret_basic nor client_secret_post at its token endpoint (token_endpoint_auth_methods_supported %q)", methods)
		}
		basic = false
	}
	s.add(secret)
	return &clientCredentials{ctx: ctx, client: client, endpoint: m.TokenEndpoint, id: id, secret: secret, basic: basic,
		resource: resource, secrets: s, cache: map[string]issued{}}, nil
}

// Token returns a token for the resource granting scopes (nil: none asked).
func (s *clientCredentials) Token(scopes []string) (string, error) {
	return s.TokenFor(s.resource, scopes)
}

// TokenFor returns a token for resource granting scopes (nil: none asked),
// from the cache or the token endpoint.
func (s *clientCredentials) TokenFor(resource string, scopes []string) (string, error) {
	key := resource + "\x00"
	if scopes != nil {
		sorted := slices.Clone(scopes)
		slices.Sort(sorted)
		key += "[" + strings.Join(slices.Compact(sorted), " ")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if got, ok := s.cache[key]; ok {
		return got.token, got.err
	}
	tok, err := s.request(resource, scopes)
	s.cache[key] = issued{tok, err}
	return tok, err
}

// request asks the token endpoint for a token.
func (s *clientCredentials) request(resource string, scopes []string) (string, error) {
	form := url.Values{"grant_type": {"client_credentials"}, "resource": {resource}}
	if len(scopes) > 0 {
		form.Set("scope", strings.Join(scopes, " "))
	}
	if !s.basic {
		form.Set("client_id", s.id)
		form.Set("client_secret", s.secret)
	}
	req, err := http.NewRequestWithContext(s.ctx, http.MethodPost, s.endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return "", errors.New("cannot build the token request")
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if s.basic {
		// RFC 6749 §2.3.1: the id and secret are form-urlencoded before
		// they are joined and base64-encoded.
		req.SetBasicAuth(url.QueryEscape(s.id), url.QueryEscape(s.secret))
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return "", fmt.Errorf("the token request to %s failed: %s", s.endpoint, s.scrub(err.Error()))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", fmt.Errorf("the token endpoint's answer could not be read (status %d)", resp.StatusCode)
	}
	if resp.StatusCode != http.StatusOK {
		return "", s.refusal(resp.StatusCode, body)
	}
	var ok struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
	}
	if err := json.Unmarshal(body, &ok); err != nil || ok.AccessToken == "" {
		return "", errors.New("the token endpoint answered 200 without an access_token (RFC 6749 §5.1)")
	}
	s.secrets.add(ok.AccessToken)
	if !strings.EqualFold(ok.TokenType, "Bearer") {
		return "", fmt.Errorf("the token endpoint issued a token of token_type %q, not Bearer: mcpcheck sends bearer tokens only", printable(ok.TokenType, 20))
	}
	return ok.AccessToken, nil
}

// refusal describes an error answer of the token endpoint (RFC 6749 §5.2):
// its status, its error code, and its error_description, shortened, unless
// it could carry the client's credentials; never the body itself.
func (s *clientCredentials) refusal(status int, body []byte) error {
	var e struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	_ = json.Unmarshal(body, &e)
	msg := fmt.Sprintf("the authorization server refused the token request (status %d", status)
	if code := e.Error; code != "" && isErrorCode(code) {
		msg += ", error " + code
		if d := printable(e.Description, 120); d != "" && !strings.Contains(e.Description, s.secret) && !strings.Contains(d, s.secret) {
			msg += ": " + conformance.Redact(d)
		}
	}
	return errors.New(msg + ")")
}

// scrub removes the client secret from s.
func (s *clientCredentials) scrub(msg string) string {
	if s.secret != "" {
		msg = strings.ReplaceAll(msg, s.secret, "[redacted]")
	}
	return conformance.Redact(msg)
}

// isErrorCode reports whether s is an RFC 6749 §5.2 error code: at most 64
// bytes of %x20-21 / %x23-5B / %x5D-7E.
func isErrorCode(s string) bool {
	if len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// printable returns s without control characters, cut to max runes.
func printable(s string, max int) string {
	var b strings.Builder
	n := 0
	for _, r := range s {
		if r == utf8.RuneError || r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			continue
		}
		if n == max {
			b.WriteString("…")
			break
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}

// secrets are the strings a report never prints: the client secret and
// every token the run got.
type secrets struct {
	mu   sync.Mutex
	list []string
}

func (s *secrets) add(v string) {
	if v == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !slices.Contains(s.list, v) {
		s.list = append(s.list, v)
	}
}

// clean returns msg redacted (conformance.Redact) with every secret
// replaced by "[redacted]", longest first.
func (s *secrets) clean(msg string) string {
	msg = conformance.Redact(msg)
	s.mu.Lock()
	list := slices.Clone(s.list)
	s.mu.Unlock()
	slices.SortFunc(list, func(a, b string) int { return len(b) - len(a) })
	for _, v := range list {
		msg = strings.ReplaceAll(msg, v, "[redacted]")
	}
	return msg
}
