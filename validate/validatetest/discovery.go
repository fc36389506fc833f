package validatetest

import (
	"net/http"
	"slices"
)

// metadata returns the discovery document (RFC 8414 §2; OpenID Connect
// Discovery 1.0 §3 when oidc is set) with [Options].Metadata merged over it.
//
// The documents advertise only what the issuer serves: a token endpoint whose
// only grant is client_credentials, an introspection endpoint, and its keys. There is no authorization
// endpoint, so:
//
//   - no authorization_endpoint (RFC 8414 §2: required only when a grant
//     uses it);
//   - no response_types_supported. RFC 8414 §2 marks it REQUIRED, but
//     response types are values of the authorization endpoint's
//     response_type, so a server without one has none to list, and §3.2
//     forbids an empty array ("claims with zero elements MUST be omitted").
//     Erratum 7793 to RFC 8414 makes it required only when a grant uses the
//     authorization endpoint, as authorization_endpoint is. (OpenID Connect
//     Discovery requires both members of an OpenID Provider; this issuer is
//     none: it issues access tokens, never ID tokens.)
//   - no code_challenge_methods_supported: PKCE protects the authorization
//     code grant, which is not served (RFC 8414 §2: omitted means no PKCE).
//
// A client that insists on them anyway (the MCP Go SDK v1.8.0's
// client_credentials handler refuses metadata without
// code_challenge_methods_supported) gets them from Options.Metadata.
func (is *Issuer) metadata(oidc bool) map[string]any {
	scopes := slices.Clone(is.scopes)
	if scopes == nil {
		scopes = []string{}
	}
	m := map[string]any{
		"issuer":                                is.issuer,
		"jwks_uri":                              is.urls[jwksEndpoint],
		"token_endpoint":                        is.urls[tokenEndpoint],
		"grant_types_supported":                 []string{"client_credentials"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post"},
		"introspection_endpoint":                is.urls[introEndpoint],
		"introspection_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post"},
		"scopes_supported": scopes,
	}
	if oidc {
		is.mu.RLock()
		var algs []string
		for _, k := range is.keys {
			if k.published && k.signer != nil && !slices.Contains(algs, k.alg) {
				algs = append(algs, k.alg)
			}
		}
		is.mu.RUnlock()
		m["subject_types_supported"] = []string{"public"}
		m["id_token_signing_alg_values_supported"] = algs
	}
	merge(m, is.metadataExtra)
	return m
}

// serveMetadataDoc answers GET and HEAD for a discovery document, e.
func (is *Issuer) serveMetadataDoc(w http.ResponseWriter, r *http.Request, e endpoint) {
	oidc := e == oidcEndpoint
	is.mu.RLock()
	down, h := is.down, is.handlers[e]
	is.mu.RUnlock()
	switch {
	case down:
		http.Error(w, "validatetest: issuer is down", http.StatusServiceUnavailable)
		return
	case h != nil:
		h.ServeHTTP(w, r)
		return
	case oidc && !is.serveOIDC, !oidc && !is.serveMetadata:
		http.NotFound(w, r)
		return
	case r.Method != http.MethodGet && r.Method != http.MethodHead:
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	body, err := marshalJSON(is.metadata(oidc))
	if err != nil {
		http.Error(w, "validatetest: cannot encode metadata: "+err.Error(), http.StatusInternalServerError)
		return
	}
	writeJSON(w, http.StatusOK, body)
}

// serveJWKS answers GET and HEAD for the JWK Set.
func (is *Issuer) serveJWKS(w http.ResponseWriter, r *http.Request) {
	is.mu.RLock()
	down, h := is.down, is.handlers[jwksEndpoint]
	is.mu.RUnlock()
	switch {
	case down:
		http.Error(w, "validatetest: issuer is down", http.StatusServiceUnavailable)
		return
	case h != nil:
		h.ServeHTTP(w, r)
		return
	case r.Method != http.MethodGet && r.Method != http.MethodHead:
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	body, err := is.jwks()
	if err != nil {
		http.Error(w, "validatetest: cannot encode JWKS: "+err.Error(), http.StatusInternalServerError)
		return
	}
	writeJSON(w, http.StatusOK, body)
}

func writeJSON(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
