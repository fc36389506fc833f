package validatetest

import (
	"crypto"
	"io"
	"maps"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/golang-jwt/jwt/v5"
)

// OpaqueToken returns a new opaque access token — a random string, not a
// JWT — whose introspection answer at [Issuer.IntrospectionURL] is the
// claims [Issuer.Token] would put in a JWT ("iss", "iat", "exp", "jti",
// "sub", "client_id", and "aud" from [Options].Audience), with "active":
// true and "token_type": "Bearer", or "DPoP" when "cnf" holds a "jkt" (a
// DPoP-bound token, see [DPoPKey.Thumbprint]); claims are merged over
// these, a nil value removing one. So a test shapes the answer with the
// claims: {"aud": resource, "scope": "tools:read"} for a good token,
// {"active": false}, {"token_type": nil} (the answer about a refresh token
// of oidc-provider), {"iss": "https://other.example"}… For answers a map
// cannot express (malformed, huge, slow), replace the endpoint with
// [Issuer.Handle].
//
// The token is "vt-" followed by 48 hex digits, an RFC 6750 b64token
// without dots. A claim that cannot be encoded as JSON is reported to the
// test as an error, and OpaqueToken returns "".
func (is *Issuer) OpaqueToken(claims map[string]any) string {
	if is.tb != nil {
		is.tb.Helper()
	}
	answer := is.claims(nil)
	answer["active"] = true
	merge(answer, claims)
	if _, set := claims["token_type"]; !set {
		answer["token_type"] = tokenType(answer)
	}
	body, err := marshalJSON(answer)
	if err != nil {
		is.fail("OpaqueToken: encode claims: %v", err)
		return ""
	}
	tok := "vt-" + randomHex(24)
	is.opaqueMu.Lock()
	is.opaque[tok] = body
	is.opaqueMu.Unlock()
	return tok
}

// tokenType is the "token_type" of an answer with these claims: "DPoP" for
// a token bound to a DPoP key ("cnf" with a string "jkt"), else "Bearer".
func tokenType(claims map[string]any) string {
	if cnf, ok := claims["cnf"].(map[string]any); ok {
		if _, ok := cnf["jkt"].(string); ok {
			return "DPoP"
		}
	}
	return "Bearer"
}

// maxIntrospectionRequest bounds an introspection request body.
const maxIntrospectionRequest = 64 << 10

// serveIntrospection is the introspection endpoint (RFC 7662 §2).
func (is *Issuer) serveIntrospection(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	fail := func(terr *tokenError) {
		switch terr.status {
		case http.StatusUnauthorized:
			h.Set("WWW-Authenticate", `Basic realm="validatetest"`)
		case http.StatusMethodNotAllowed:
			h.Set("Allow", http.MethodPost)
		}
		body, _ := marshalJSON(map[string]string{"error": terr.code, "error_description": terr.description})
		writeJSON(w, terr.status, body)
	}
	bad := func(desc string) { fail(&tokenError{http.StatusBadRequest, errInvalidRequest, desc}) }
	if r.Method != http.MethodPost {
		fail(&tokenError{http.StatusMethodNotAllowed, errInvalidRequest, "the introspection endpoint takes POST"})
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/x-www-form-urlencoded" {
		bad("the body must be application/x-www-form-urlencoded")
		return
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, maxIntrospectionRequest+1))
	if err != nil || len(raw) > maxIntrospectionRequest {
		bad("the body cannot be read or is too large")
		return
	}
	form, err := url.ParseQuery(string(raw))
	if err != nil {
		bad("the body is not a valid form")
		return
	}
	for name, values := range form {
		if len(values) > 1 {
			bad("parameter " + name + " is repeated")
			return
		}
	}
	if _, terr := is.authenticate(r, form); terr != nil {
		fail(terr)
		return
	}
	tok := form.Get("token")
	if tok == "" {
		bad("token is missing")
		return
	}
	writeJSON(w, http.StatusOK, is.introspect(tok))
}

// inactive is the answer about a token the issuer does not vouch for.
var inactive = []byte(`{"active":false}`)

// introspect returns the answer about tok.
func (is *Issuer) introspect(tok string) []byte {
	is.opaqueMu.RLock()
	answer, ok := is.opaque[tok]
	is.opaqueMu.RUnlock()
	if ok {
		return answer
	}
	if strings.Count(tok, ".") != 2 {
		return inactive
	}
	// A JWT of the issuer's: verified with its published keys.
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(tok, claims, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		alg, _ := t.Header["alg"].(string)
		if pub := is.publishedKey(kid, alg); pub != nil {
			return pub, nil
		}
		return nil, jwt.ErrTokenUnverifiable
	}, jwt.WithValidMethods([]string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}),
		jwt.WithIssuer(is.issuer), jwt.WithExpirationRequired(), jwt.WithTimeFunc(is.now))
	if err != nil {
		return inactive
	}
	out := maps.Clone(map[string]any(claims))
	out["active"] = true
	out["token_type"] = tokenType(out)
	body, err := marshalJSON(out)
	if err != nil {
		return inactive
	}
	return body
}

// publishedKey returns the public key of the published key with this kid
// that signs alg, or nil.
func (is *Issuer) publishedKey(kid, alg string) crypto.PublicKey {
	is.mu.RLock()
	defer is.mu.RUnlock()
	for i := len(is.keys) - 1; i >= 0; i-- {
		k := is.keys[i]
		if k.kid == kid && k.published && k.signer != nil && k.alg == alg {
			return k.signer.Public()
		}
	}
	return nil
}
