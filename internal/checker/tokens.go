package checker

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"

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

// newClientCredentials checks the token endpoint of m, the metadata of the
// issuer the credentials are for, adds the secret in every form it is sent
// in to s, and chooses the client authentication: client_secret_basic (RFC
// 6749 §2.3.1), unless the metadata lists
// token_endpoint_auth_methods_supported without it but with
// client_secret_post. The token endpoint must be an absolute https URL, or
// http on a loopback host when the issuer is on a loopback host too.
func newClientCredentials(ctx context.Context, client *http.Client, m *conformance.ASMetadata, id, secret, resource string, s *secrets) (*clientCredentials, error) {
	u, err := url.Parse(m.TokenEndpoint)
	switch {
	case m.TokenEndpoint == "":
		return nil, errors.New(`the authorization server's metadata has no "token_endpoint"`)
	case err != nil || !u.IsAbs() || u.Host == "" || u.User != nil || u.Fragment != "":
		return nil, fmt.Errorf("the token endpoint %q is not an absolute URL", m.TokenEndpoint)
	case !strings.EqualFold(u.Scheme, "https") && !(loopback.AllowsScheme(u) && issuerOnLoopback(m.Issuer)):
		return nil, fmt.Errorf("the token endpoint %q is not https (http only on loopback, for an issuer on loopback): the client secret is not sent there", m.TokenEndpoint)
	}
	basic := true
	if methods := m.TokenEndpointAuthMethods; methods != nil && !slices.Contains(methods, "client_secret_basic") {
		if !slices.Contains(methods, "client_secret_post") {
			return nil, fmt.Errorf("the authorization server supports neither client_secret_basic nor client_secret_post at its token endpoint (token_endpoint_auth_methods_supported %q)", methods)
		}
		basic = false
	}
	s.addCredentials(id, secret)
	return &clientCredentials{ctx: ctx, client: client, endpoint: m.TokenEndpoint, id: id, secret: secret, basic: basic,
		resource: resource, secrets: s, cache: map[string]issued{}}, nil
}

// issuerOnLoopback reports whether the issuer identifier's host is
// loopback.
func issuerOnLoopback(issuer string) bool {
	u, err := url.Parse(issuer)
	return err == nil && loopback.IsHost(u.Hostname())
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
		what := "an unreadable token_type"
		if isErrorCode(ok.TokenType) && len(ok.TokenType) <= 20 && !s.secrets.within(ok.TokenType) {
			what = fmt.Sprintf("token_type %q", ok.TokenType)
		}
		return "", fmt.Errorf("the token endpoint issued a token of %s, not Bearer: mcpcheck sends bearer tokens only", what)
	}
	return ok.AccessToken, nil
}

// refusal describes an error answer of the token endpoint (RFC 6749 §5.2):
// its status and its error code, if it is one (RFC 6749 §5.2's characters,
// short, carrying nothing of the credentials), else "an unreadable error".
// Never its error_description, nor anything else of the body: an endpoint
// may echo the request, credentials included.
func (s *clientCredentials) refusal(status int, body []byte) error {
	var e struct {
		Error any `json:"error"`
	}
	_ = json.Unmarshal(body, &e)
	msg := fmt.Sprintf("the authorization server refused the token request (status %d", status)
	switch code, ok := e.Error.(string); {
	case e.Error == nil:
	case ok && code != "" && isErrorCode(code) && !s.secrets.within(code):
		msg += ", error " + code
	default:
		msg += ", an unreadable error"
	}
	return errors.New(msg + ")")
}

// scrub removes every secret the run knows of from msg.
func (s *clientCredentials) scrub(msg string) string { return s.secrets.clean(msg) }

// isErrorCode reports whether s reads as an RFC 6749 §5.2 error code: at
// most 40 bytes (the RFC's are shorter) of %x20-21 / %x23-5B / %x5D-7E.
func isErrorCode(s string) bool {
	if len(s) > 40 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// secrets are the strings a report never prints: the client secret in
// every form the token requests carry it, and every token the run got.
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

// addCredentials adds the secret as it is sent and as an endpoint may echo
// it: as is, form-urlencoded (client_secret_post), and the
// client_secret_basic value (RFC 6749 §2.3.1: id and secret form-urlencoded
// and joined by a colon, and its base64, with and without padding; and the
// same of the id and secret as they are).
func (s *secrets) addCredentials(id, secret string) {
	s.add(secret)
	s.add(url.QueryEscape(secret))
	for _, pair := range []string{url.QueryEscape(id) + ":" + url.QueryEscape(secret), id + ":" + secret} {
		s.add(pair)
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
			s.add(enc.EncodeToString([]byte(pair)))
		}
	}
}

// within reports whether v contains a secret.
func (s *secrets) within(v string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, x := range s.list {
		if strings.Contains(v, x) {
			return true
		}
	}
	return false
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
