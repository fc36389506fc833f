package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// oauthConfig configures the OAuth client of the order service.
type oauthConfig struct {
	ClientID, ClientSecret string
	// TokenURL is the authorization server's token endpoint.
	TokenURL string
	// Resource is the RFC 8707 resource indicator: the API's URL, the
	// audience the API checks. The MCP specification and rsguard require
	// tokens issued for the resource they are sent to.
	Resource string
	Scopes   []string
	// HTTPClient talks to the token endpoint and is the base of the API
	// client. If nil, http.DefaultClient.
	HTTPClient *http.Client
}

// earlyExpiry is how long before its expiry a cached token is replaced, so
// that a token never expires between being sent and being checked.
const earlyExpiry = 30 * time.Second

// countingSource fetches a new token on every call (clientcredentials.Config
// .Token does) and counts the fetches.
type countingSource struct {
	ctx     context.Context
	cfg     *clientcredentials.Config
	fetches atomic.Int64
}

func (s *countingSource) Token() (*oauth2.Token, error) {
	s.fetches.Add(1)
	return s.cfg.Token(s.ctx)
}

// newTokenSource returns a token source that asks the token endpoint for a
// client_credentials token for cfg.Resource, and reuses it until earlyExpiry
// before it expires (oauth2.ReuseTokenSourceWithExpiry, safe for concurrent
// use): one token request for any number of API calls. The second result
// counts the token requests.
func newTokenSource(ctx context.Context, cfg oauthConfig) (oauth2.TokenSource, *countingSource) {
	hc := cfg.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	cc := &clientcredentials.Config{
		ClientID:       cfg.ClientID,
		ClientSecret:   cfg.ClientSecret,
		TokenURL:       cfg.TokenURL,
		Scopes:         cfg.Scopes,
		EndpointParams: url.Values{"resource": {cfg.Resource}},
		AuthStyle:      oauth2.AuthStyleInHeader, // client_secret_basic
	}
	src := &countingSource{ctx: context.WithValue(ctx, oauth2.HTTPClient, hc), cfg: cc}
	return oauth2.ReuseTokenSourceWithExpiry(nil, src, earlyExpiry), src
}

// client calls the inventory API.
type client struct {
	api    string // base URL, without a trailing slash
	hc     *http.Client
	header func(http.Header) // adds the legacy key; nil with OAuth
	warn   io.Writer
	calls  atomic.Int64

	warnOnce sync.Once
}

// newOAuthClient returns a client that sends a cached client_credentials
// token (see newTokenSource) on every call.
func newOAuthClient(ctx context.Context, cfg oauthConfig, api string, warn io.Writer) (*client, *countingSource) {
	ts, counter := newTokenSource(ctx, cfg)
	base := cfg.HTTPClient
	if base == nil {
		base = http.DefaultClient
	}
	hc := &http.Client{
		Timeout:   base.Timeout,
		Transport: &oauth2.Transport{Source: ts, Base: base.Transport},
	}
	return &client{api: strings.TrimSuffix(api, "/"), hc: hc, warn: warn}, counter
}

// newKeyClient returns a client that sends a legacy API key in X-API-Key.
func newKeyClient(api, key string, hc *http.Client, warn io.Writer) *client {
	return &client{
		api:    strings.TrimSuffix(api, "/"),
		hc:     hc,
		header: func(h http.Header) { h.Set("X-API-Key", key) },
		warn:   warn,
	}
}

type reservation struct {
	OrderID  string `json:"order_id"`
	SKU      string `json:"sku"`
	Quantity int    `json:"quantity"`
	By       string `json:"by"`
	Via      string `json:"credential"`
}

type item struct {
	SKU       string `json:"sku"`
	Name      string `json:"name"`
	Available int    `json:"available"`
	Reserved  int    `json:"reserved"`
}

func (c *client) reserve(ctx context.Context, orderID, sku string, qty int) (reservation, error) {
	var res reservation
	body, _ := json.Marshal(map[string]any{"order_id": orderID, "sku": sku, "quantity": qty})
	err := c.do(ctx, http.MethodPost, "/reservations", body, http.StatusCreated, &res)
	return res, err
}

func (c *client) item(ctx context.Context, sku string) (item, error) {
	var it item
	err := c.do(ctx, http.MethodGet, "/items/"+url.PathEscape(sku), nil, http.StatusOK, &it)
	return it, err
}

// apiError is a refused API call.
type apiError struct {
	Status          int
	WWWAuthenticate []string
	Detail          string
}

func (e *apiError) Error() string {
	msg := fmt.Sprintf("inventory API: HTTP %d", e.Status)
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	if len(e.WWWAuthenticate) > 0 {
		msg += " (WWW-Authenticate: " + strings.Join(e.WWWAuthenticate, ", ") + ")"
	}
	return msg
}

func (c *client) do(ctx context.Context, method, path string, body []byte, want int, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, c.api+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if c.header != nil {
		c.header(req.Header)
	}
	c.calls.Add(1)
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	c.checkDeprecation(resp)
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != want {
		var p struct {
			Detail           string `json:"detail"`
			ErrorDescription string `json:"error_description"`
		}
		_ = json.Unmarshal(data, &p)
		return &apiError{Status: resp.StatusCode, WWWAuthenticate: resp.Header.Values("WWW-Authenticate"), Detail: p.Detail + p.ErrorDescription}
	}
	return json.Unmarshal(data, out)
}

// checkDeprecation warns once when the API says the credential is deprecated
// (RFC 9745 Deprecation, RFC 8594 Sunset, and their Link).
func (c *client) checkDeprecation(resp *http.Response) {
	dep := resp.Header.Get("Deprecation")
	if dep == "" || c.warn == nil {
		return
	}
	c.warnOnce.Do(func() {
		msg := "order-service: WARNING: the inventory API deprecates this credential (Deprecation: " + dep + ")"
		if sunset := resp.Header.Get("Sunset"); sunset != "" {
			msg += "; it stops working at " + sunset
		}
		if links := resp.Header.Values("Link"); len(links) > 0 {
			msg += "; see " + strings.Join(links, ", ")
		}
		fmt.Fprintln(c.warn, msg)
	})
}

// discoverTokenEndpoint finds the token endpoint the way an MCP client finds
// its authorization server: the API's protected resource metadata (RFC 9728,
// at the path-inserted well-known URL), whose "resource" must be the API's
// URL, names the authorization server; its RFC 8414 metadata, whose "issuer"
// must be that name, gives the token endpoint.
func discoverTokenEndpoint(ctx context.Context, hc *http.Client, api string) (string, error) {
	u, err := url.Parse(api)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("-api %q is not an absolute URL", api)
	}
	prmURL := *u
	prmURL.Path = "/.well-known/oauth-protected-resource" + strings.TrimSuffix(u.Path, "/")
	prmURL.RawPath = ""
	var prm struct {
		Resource             string   `json:"resource"`
		AuthorizationServers []string `json:"authorization_servers"`
	}
	if err := getJSON(ctx, hc, prmURL.String(), &prm); err != nil {
		return "", err
	}
	if strings.TrimSuffix(prm.Resource, "/") != strings.TrimSuffix(api, "/") || len(prm.AuthorizationServers) == 0 {
		return "", fmt.Errorf("%s: resource %q and authorization_servers %q do not describe %s", prmURL.String(), prm.Resource, prm.AuthorizationServers, api)
	}
	issuer := prm.AuthorizationServers[0]
	iu, err := url.Parse(issuer)
	if err != nil || iu.Host == "" {
		return "", fmt.Errorf("authorization server %q is not an absolute URL", issuer)
	}
	asURL := *iu
	asURL.Path = "/.well-known/oauth-authorization-server" + strings.TrimSuffix(iu.Path, "/")
	asURL.RawPath = ""
	var asm struct {
		Issuer        string `json:"issuer"`
		TokenEndpoint string `json:"token_endpoint"`
	}
	if err := getJSON(ctx, hc, asURL.String(), &asm); err != nil {
		return "", err
	}
	if asm.Issuer != issuer || asm.TokenEndpoint == "" {
		return "", fmt.Errorf("%s: issuer %q (want %q), token_endpoint %q", asURL.String(), asm.Issuer, issuer, asm.TokenEndpoint)
	}
	return asm.TokenEndpoint, nil
}

func getJSON(ctx context.Context, hc *http.Client, u string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: HTTP %d", u, resp.StatusCode)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(out); err != nil {
		return fmt.Errorf("GET %s: %w", u, err)
	}
	return nil
}
