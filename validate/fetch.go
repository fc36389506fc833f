package validate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/rsguard/rsguard/internal/loopback"
)

// What the Validator fetches over the network, and the rules every fetch
// obeys: issuer discovery (RFC 8414, then OpenID Connect Discovery), bounded
// GETs of JSON documents, and the loopback rule for every URL and redirect.

// checkFetchURL accepts https URLs, and http ones on loopback hosts (for
// development and tests; see package loopback for what counts).
func checkFetchURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || !u.IsAbs() || u.Host == "" {
		return fmt.Errorf("%q is not an absolute URL", s)
	}
	if !loopback.AllowsScheme(u) {
		return fmt.Errorf("%q must use https (http only on loopback hosts)", s)
	}
	return nil
}

// discover finds the issuer's jwks_uri (see discoverMetadata).
func discover(ctx context.Context, client *http.Client, issuer string, maxBytes int64) (string, error) {
	m, err := discoverMetadata(ctx, client, issuer, maxBytes)
	if err != nil {
		return "", err
	}
	if m.JWKSURI == "" {
		return "", fmt.Errorf("%s: metadata has no jwks_uri", m.url)
	}
	if err := checkFetchURL(m.JWKSURI); err != nil {
		return "", fmt.Errorf("%s: jwks_uri: %w", m.url, err)
	}
	return m.JWKSURI, nil
}

// issuerMetadata is what the Validator reads of an issuer's metadata: the
// URLs it may fetch from, unchecked (the caller checks the one it uses).
type issuerMetadata struct {
	url                   string // the document's URL, for errors
	JWKSURI               string `json:"jwks_uri"`
	IntrospectionEndpoint string `json:"introspection_endpoint"` // RFC 8414 §2, RFC 7662 §4
}

// discoverMetadata reads the issuer's metadata: RFC 8414 metadata at the
// path-inserted well-known URL first, then OpenID Connect Discovery. The
// first document found is the answer, and its "issuer" must equal the
// configured issuer (RFC 8414 §3.3).
func discoverMetadata(ctx context.Context, client *http.Client, issuer string, maxBytes int64) (issuerMetadata, error) {
	u, err := url.Parse(issuer)
	if err != nil {
		return issuerMetadata{}, err
	}
	path := strings.TrimSuffix(u.EscapedPath(), "/")
	base := u.Scheme + "://" + u.Host
	candidates := []string{
		base + "/.well-known/oauth-authorization-server" + path,
		strings.TrimSuffix(issuer, "/") + "/.well-known/openid-configuration",
	}
	if path != "" { // OIDC with path insertion, as MCP clients also try
		candidates = append(candidates, base+"/.well-known/openid-configuration"+path)
	}
	var errs []error
	for _, c := range candidates {
		body, err := fetchJSON(ctx, client, c, maxBytes, "application/json")
		if err != nil {
			errs = append(errs, err)
			if ctx.Err() != nil {
				break
			}
			continue
		}
		var doc struct {
			Issuer string `json:"issuer"`
			issuerMetadata
		}
		if err := json.Unmarshal(body, &doc); err != nil {
			errs = append(errs, fmt.Errorf("%s: not a metadata document: %w", c, err))
			continue
		}
		if doc.Issuer != issuer {
			// A mismatch is a hard error: falling through to another
			// document could let a look-alike issuer through.
			return issuerMetadata{}, fmt.Errorf("%s: metadata issuer %q does not equal the configured issuer %q", c, doc.Issuer, issuer)
		}
		doc.url = c
		return doc.issuerMetadata, nil
	}
	return issuerMetadata{}, fmt.Errorf("discovering issuer %s: %w", issuer, errors.Join(errs...))
}

// fetchClient returns the client for metadata and key fetches: the
// configured one (or a default), made to refuse redirects that leave https
// (http stays allowed on loopback only, as for configured URLs) and chains of
// more than five. The configured client's own CheckRedirect, if any, still
// runs after ours.
func fetchClient(c *http.Client) *http.Client {
	cp := http.Client{}
	if c != nil {
		cp = *c
	}
	next := cp.CheckRedirect
	cp.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) >= 5 {
			return errors.New("too many redirects")
		}
		if err := checkFetchURL(req.URL.String()); err != nil {
			return fmt.Errorf("redirect refused: %w", err)
		}
		if next != nil {
			return next(req, via)
		}
		return nil
	}
	return &cp
}

// fetchJSON GETs url and returns its body, refusing non-200 answers and
// bodies larger than maxBytes.
func fetchJSON(ctx context.Context, client *http.Client, url string, maxBytes int64, accept string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", accept)
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		return nil, fmt.Errorf("GET %s: status %d", url, resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "" && !strings.Contains(strings.ToLower(ct), "json") {
		return nil, fmt.Errorf("GET %s: content type %q is not JSON", url, ct)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", url, err)
	}
	if int64(len(body)) > maxBytes {
		return nil, fmt.Errorf("GET %s: body larger than %d bytes", url, maxBytes)
	}
	return body, nil
}
