package validatetest

import (
	"crypto/subtle"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/rsguard/rsguard/internal/check"
)

// Token endpoint error codes (RFC 6749 §5.2, RFC 8707 §2).
const (
	errInvalidRequest       = "invalid_request"
	errInvalidClient        = "invalid_client"
	errUnsupportedGrantType = "unsupported_grant_type"
	errInvalidScope         = "invalid_scope"
	errInvalidTarget        = "invalid_target"
)

// maxTokenRequest bounds a token request body.
const maxTokenRequest = 64 << 10

// tokenError is an RFC 6749 §5.2 error response.
type tokenError struct {
	status      int
	code        string
	description string
}

// serveToken is the token endpoint (RFC 6749 §3.2) for the client_credentials
// grant (RFC 6749 §4.4), with client_secret_basic or client_secret_post
// authentication (RFC 6749 §2.3.1) and resource indicators (RFC 8707 §2).
func (is *Issuer) serveToken(w http.ResponseWriter, r *http.Request) {
	resp, terr := is.issue(r)
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	if terr != nil {
		switch terr.status {
		case http.StatusUnauthorized:
			h.Set("WWW-Authenticate", `Basic realm="validatetest"`)
		case http.StatusMethodNotAllowed:
			h.Set("Allow", http.MethodPost)
		}
		body, _ := marshalJSON(map[string]string{"error": terr.code, "error_description": terr.description})
		writeJSON(w, terr.status, body)
		return
	}
	body, err := marshalJSON(resp)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, []byte(`{"error":"server_error"}`))
		return
	}
	writeJSON(w, http.StatusOK, body)
}

// tokenResponse is an RFC 6749 §5.1 successful response.
type tokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
	Scope       string `json:"scope,omitempty"`
}

func (is *Issuer) issue(r *http.Request) (*tokenResponse, *tokenError) {
	bad := func(desc string) *tokenError {
		return &tokenError{http.StatusBadRequest, errInvalidRequest, desc}
	}
	if r.Method != http.MethodPost {
		return nil, &tokenError{http.StatusMethodNotAllowed, errInvalidRequest, "the token endpoint takes POST"}
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/x-www-form-urlencoded" {
		return nil, bad("the body must be application/x-www-form-urlencoded")
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, maxTokenRequest+1))
	if err != nil || len(raw) > maxTokenRequest {
		return nil, bad("the body cannot be read or is too large")
	}
	form, err := url.ParseQuery(string(raw))
	if err != nil {
		return nil, bad("the body is not a valid form")
	}
	// RFC 6749 §3.2: parameters sent without a value are treated as
	// omitted; none but "resource" (RFC 8707 §2) may be sent twice.
	for name, values := range form {
		values = slices.DeleteFunc(values, func(v string) bool { return v == "" })
		if len(values) > 1 && name != "resource" {
			return nil, bad("only resource may be repeated")
		}
		form[name] = values
	}
	grantType := form.Get("grant_type")
	if grantType == "" {
		return nil, bad("grant_type is missing")
	}

	client, terr := is.authenticate(r, form)
	if terr != nil {
		return nil, terr
	}

	if grantType != "client_credentials" {
		return nil, &tokenError{http.StatusBadRequest, errUnsupportedGrantType, "only client_credentials is supported"}
	}

	scopes := client.Scopes
	if s := form.Get("scope"); s != "" {
		scopes = nil
		for _, tok := range strings.Split(s, " ") {
			switch {
			case !check.IsScopeToken(tok):
				return nil, &tokenError{http.StatusBadRequest, errInvalidScope, "the scope is malformed"}
			case !slices.Contains(client.Scopes, tok):
				return nil, &tokenError{http.StatusBadRequest, errInvalidScope, "the client may not request scope " + tok}
			case !slices.Contains(scopes, tok):
				scopes = append(scopes, tok)
			}
		}
	}

	var aud []string
	for _, res := range form["resource"] {
		if !validResource(res) {
			return nil, &tokenError{http.StatusBadRequest, errInvalidTarget, "resource must be an absolute URI without a fragment"}
		}
		if !slices.Contains(aud, res) {
			aud = append(aud, res)
		}
	}
	if aud == nil {
		aud = is.audience
	}
	if len(aud) == 0 {
		return nil, &tokenError{http.StatusBadRequest, errInvalidTarget, "resource is missing and the issuer has no default audience"}
	}

	now := is.now()
	claims := map[string]any{
		"sub":       client.ID,
		"client_id": client.ID,
		"iat":       now.Unix(),
		"nbf":       now.Unix(),
		"exp":       now.Add(is.lifetime).Unix(),
	}
	if len(aud) == 1 {
		claims["aud"] = aud[0]
	} else {
		claims["aud"] = aud
	}
	if len(scopes) > 0 {
		claims["scope"] = strings.Join(scopes, " ")
	}
	tok, err := is.sign(TokenOptions{}, claims)
	if err != nil {
		return nil, &tokenError{http.StatusInternalServerError, "server_error", "cannot sign the token"}
	}
	return &tokenResponse{
		AccessToken: tok,
		TokenType:   "Bearer",
		ExpiresIn:   int64(is.lifetime.Seconds()),
		Scope:       strings.Join(scopes, " "),
	}, nil
}

// authenticate checks the client's credentials: HTTP Basic with the
// form-urlencoded id and secret, or client_id and client_secret in the body
// (RFC 6749 §2.3.1), never both (RFC 6749 §2.3).
func (is *Issuer) authenticate(r *http.Request, form url.Values) (Client, *tokenError) {
	fail := func(desc string) (Client, *tokenError) {
		return Client{}, &tokenError{http.StatusUnauthorized, errInvalidClient, desc}
	}
	id, secret := form.Get("client_id"), form.Get("client_secret")
	if authz := r.Header.Get("Authorization"); authz != "" {
		user, pass, ok := r.BasicAuth()
		if !ok {
			return fail("only HTTP Basic client authentication is supported")
		}
		var err1, err2 error
		user, err1 = url.QueryUnescape(user)
		pass, err2 = url.QueryUnescape(pass)
		if err1 != nil || err2 != nil {
			return fail("the Basic credentials are not form-urlencoded")
		}
		if secret != "" {
			return Client{}, &tokenError{http.StatusBadRequest, errInvalidRequest, "more than one client authentication method"}
		}
		if id != "" && id != user {
			return Client{}, &tokenError{http.StatusBadRequest, errInvalidRequest, "client_id differs from the authenticated client"}
		}
		id, secret = user, pass
	}
	if id == "" || secret == "" {
		return fail("client authentication is missing")
	}
	c, ok := is.clients[id]
	// Compare even for an unknown client, so timing does not tell.
	same := subtle.ConstantTimeCompare([]byte(c.Secret), []byte(secret)) == 1
	if !ok || !same {
		return fail("client authentication failed")
	}
	return c, nil
}

// validResource reports whether s is an RFC 8707 §2 resource indicator: an
// absolute URI (RFC 3986 §4.3), so with a scheme and no fragment, made of
// URI characters only.
func validResource(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= 0x20 || c >= 0x7f || strings.IndexByte(`"<>\^`+"`{|}#", c) >= 0 {
			return false
		}
	}
	u, err := url.Parse(s)
	return err == nil && u.IsAbs()
}
