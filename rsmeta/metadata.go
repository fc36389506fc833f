package rsmeta

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/rsguard/rsguard/internal/check"
)

// Sentinel errors. Every error about a document, a resource identifier or a
// challenge wraps one of them, so callers can match with [errors.Is].
// [Register] reports misuse (a nil mux, a refused path, a
// conflicting registration) with errors of their own.
var (
	// ErrInvalidMetadata reports a [Metadata] document that breaks RFC 9728
	// §2 or one of the MCP rules this package enforces.
	ErrInvalidMetadata = errors.New("rsmeta: invalid metadata")

	// ErrInvalidResource reports a resource identifier that is not an
	// absolute https URL (RFC 8707 §2, RFC 9728 §1.2), or http on a loopback
	// host.
	ErrInvalidResource = errors.New("rsmeta: invalid resource")

	// ErrInvalidChallenge reports a WWW-Authenticate challenge that cannot be
	// sent as is ([Challenge.Header]) or a field value that cannot be parsed
	// ([ParseChallenges]).
	ErrInvalidChallenge = errors.New("rsmeta: invalid challenge")
)

// Metadata is an OAuth 2.0 Protected Resource Metadata document (RFC 9728
// §2). The JSON member names are the registered ones; every member but
// "resource" is omitted when it has its zero value.
//
// The zero value is not a valid document: Resource and AuthorizationServers
// are required (see [Metadata.Validate]).
type Metadata struct {
	// Resource is the protected resource's resource identifier ("resource",
	// REQUIRED): the absolute https URL clients connect to, without a
	// fragment (RFC 9728 §1.2). It must be identical to the URL the
	// well-known suffix is inserted into (RFC 9728 §3.3); [NewHandler]
	// publishes its canonical form (see [CanonicalResource]).
	Resource string `json:"resource"`

	// AuthorizationServers lists the issuer identifiers (RFC 8414 §2) of the
	// authorization servers that issue tokens for this resource
	// ("authorization_servers"). Optional in RFC 9728, required here: an MCP
	// client cannot connect without one.
	AuthorizationServers []string `json:"authorization_servers,omitempty"`

	// JWKSURI is the URL of the resource's own JWK Set ("jwks_uri",
	// OPTIONAL), used to sign resource responses; not the authorization
	// server's keys.
	JWKSURI string `json:"jwks_uri,omitempty"`

	// ScopesSupported lists the scopes usable in authorization requests for
	// this resource ("scopes_supported", RECOMMENDED). MCP: never
	// "offline_access".
	ScopesSupported []string `json:"scopes_supported,omitempty"`

	// BearerMethodsSupported lists how bearer tokens may be presented
	// ("bearer_methods_supported", OPTIONAL): "header" (RFC 6750 §2.1),
	// "body" (§2.2) or "query" (§2.3). [NewHandler] defaults an empty list to
	// ["header"], the only method rsguard accepts.
	BearerMethodsSupported []string `json:"bearer_methods_supported,omitempty"`

	// ResourceSigningAlgValuesSupported lists the JWS algorithms the resource
	// signs responses with ("resource_signing_alg_values_supported",
	// OPTIONAL). "none" is refused.
	ResourceSigningAlgValuesSupported []string `json:"resource_signing_alg_values_supported,omitempty"`

	// ResourceName is a human-readable name for display
	// ("resource_name", RECOMMENDED). Language-tagged variants
	// ("resource_name#de", RFC 9728 §2.1) go in Extra.
	ResourceName string `json:"resource_name,omitempty"`

	// ResourceDocumentation is the URL of human-readable developer
	// documentation ("resource_documentation", OPTIONAL).
	ResourceDocumentation string `json:"resource_documentation,omitempty"`

	// ResourcePolicyURI is the URL of the resource's data-use policy
	// ("resource_policy_uri", OPTIONAL).
	ResourcePolicyURI string `json:"resource_policy_uri,omitempty"`

	// ResourceTOSURI is the URL of the resource's terms of service
	// ("resource_tos_uri", OPTIONAL).
	ResourceTOSURI string `json:"resource_tos_uri,omitempty"`

	// TLSClientCertificateBoundAccessTokens reports support for mutual-TLS
	// certificate-bound access tokens (RFC 8705)
	// ("tls_client_certificate_bound_access_tokens", OPTIONAL, default false).
	TLSClientCertificateBoundAccessTokens bool `json:"tls_client_certificate_bound_access_tokens,omitempty"`

	// AuthorizationDetailsTypesSupported lists the supported RFC 9396
	// authorization_details types ("authorization_details_types_supported",
	// OPTIONAL).
	AuthorizationDetailsTypesSupported []string `json:"authorization_details_types_supported,omitempty"`

	// DPoPSigningAlgValuesSupported lists the JWS algorithms accepted for
	// DPoP proofs (RFC 9449) ("dpop_signing_alg_values_supported",
	// OPTIONAL). "none" is refused.
	DPoPSigningAlgValuesSupported []string `json:"dpop_signing_alg_values_supported,omitempty"`

	// DPoPBoundAccessTokensRequired reports that the resource always requires
	// DPoP-bound access tokens ("dpop_bound_access_tokens_required",
	// OPTIONAL, default false).
	DPoPBoundAccessTokensRequired bool `json:"dpop_bound_access_tokens_required,omitempty"`

	// SignedMetadata is a JWT asserting metadata values ("signed_metadata",
	// OPTIONAL, RFC 9728 §2.2). It is published as given, never verified
	// here.
	SignedMetadata string `json:"signed_metadata,omitempty"`

	// Extra holds extension members (RFC 9728 §2, §8.1.1), including
	// language-tagged human-readable values such as "resource_name#de".
	// [Metadata.MarshalJSON] writes them after the registered members, in
	// key order; [Metadata.UnmarshalJSON] collects every unregistered member
	// here. A key equal to a registered member name is refused. Nil means
	// none.
	Extra map[string]any `json:"-"`
}

// Validate reports whether m is a document rsguard is willing to publish.
// Beyond RFC 9728 §2 it enforces the MCP authorization rules: at least one
// authorization server, https everywhere (http only on loopback hosts, for
// development), no "offline_access" in ScopesSupported. It reports every
// problem found, each wrapping [ErrInvalidMetadata]; problems with the
// resource identifier also wrap [ErrInvalidResource].
//
// Validate accepts an empty BearerMethodsSupported; [NewHandler] fills in the
// default.
func (m *Metadata) Validate() error {
	if m == nil {
		return fmt.Errorf("%w: nil metadata", ErrInvalidMetadata)
	}
	var errs []error
	add := func(field string, err error) {
		errs = append(errs, fmt.Errorf("%w: %s: %w", ErrInvalidMetadata, field, err))
	}
	addf := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: %s: %s", ErrInvalidMetadata, field, fmt.Sprintf(format, args...)))
	}

	if _, err := CanonicalResource(m.Resource); err != nil {
		add("resource", err)
	}

	if len(m.AuthorizationServers) == 0 {
		addf("authorization_servers", "at least one authorization server is required")
	}
	for i, as := range m.AuthorizationServers {
		if err := checkIssuer(as); err != nil {
			add(fmt.Sprintf("authorization_servers[%d]", i), err)
		}
	}

	if m.JWKSURI != "" {
		if _, err := parseHTTPSURL(m.JWKSURI); err != nil {
			add("jwks_uri", err)
		}
	}

	for i, s := range m.ScopesSupported {
		switch {
		case !check.IsScopeToken(s):
			addf(fmt.Sprintf("scopes_supported[%d]", i), "%q is not an RFC 6749 §3.3 scope token", s)
		case s == "offline_access":
			addf(fmt.Sprintf("scopes_supported[%d]", i), `"offline_access" must not be advertised (MCP authorization)`)
		}
	}

	for i, bm := range m.BearerMethodsSupported {
		switch bm {
		case "header", "body", "query":
		default:
			addf(fmt.Sprintf("bearer_methods_supported[%d]", i), "%q is not one of header, body, query (RFC 9728 §2)", bm)
		}
	}

	checkAlgs := func(field string, algs []string) {
		for i, a := range algs {
			switch a {
			case "":
				addf(fmt.Sprintf("%s[%d]", field, i), "empty algorithm")
			case "none":
				addf(fmt.Sprintf("%s[%d]", field, i), `"none" must not be used`)
			}
		}
	}
	checkAlgs("resource_signing_alg_values_supported", m.ResourceSigningAlgValuesSupported)
	checkAlgs("dpop_signing_alg_values_supported", m.DPoPSigningAlgValuesSupported)

	for _, f := range []struct{ name, value string }{
		{"resource_documentation", m.ResourceDocumentation},
		{"resource_policy_uri", m.ResourcePolicyURI},
		{"resource_tos_uri", m.ResourceTOSURI},
	} {
		if f.value != "" {
			if err := checkAbsoluteURL(f.value); err != nil {
				add(f.name, err)
			}
		}
	}

	for i, t := range m.AuthorizationDetailsTypesSupported {
		if t == "" {
			addf(fmt.Sprintf("authorization_details_types_supported[%d]", i), "empty type")
		}
	}

	for _, k := range sortedKeys(m.Extra) {
		if isRegisteredName(k) {
			addf("extra", "member %q collides with the registered member of that name", k)
		}
	}
	return errors.Join(errs...)
}

// MarshalJSON encodes m with its registered members first, in the order of
// the struct fields, then the members of Extra in key order. HTML characters
// are not escaped. An Extra key that collides with a registered member name
// is an error wrapping [ErrInvalidMetadata].
func (m Metadata) MarshalJSON() ([]byte, error) {
	out, err := encodeJSON(metadataFields(m))
	if err != nil {
		return nil, err
	}
	if len(m.Extra) == 0 {
		return out, nil
	}
	for k := range m.Extra {
		if isRegisteredName(k) {
			return nil, fmt.Errorf("%w: extra member %q collides with the registered member of that name", ErrInvalidMetadata, k)
		}
	}
	extra, err := encodeJSON(m.Extra)
	if err != nil {
		return nil, err
	}
	// out is {…registered…} and never empty ("resource" is always present);
	// extra is {…extensions…}. Splice them into one object.
	res := make([]byte, 0, len(out)+len(extra))
	res = append(res, out[:len(out)-1]...)
	res = append(res, ',')
	res = append(res, extra[1:]...)
	return res, nil
}

// UnmarshalJSON replaces m with the document in data. Registered members are
// matched by their exact (case-sensitive) names; every other member goes into
// Extra, decoded as by [json.Unmarshal] into an any. A JSON null leaves m
// unchanged. UnmarshalJSON does not validate: call [Metadata.Validate].
func (m *Metadata) UnmarshalJSON(data []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return fmt.Errorf("rsmeta: decoding metadata: %w", err)
	}
	if raw == nil {
		return nil // JSON null
	}
	var f Metadata
	for k, v := range raw {
		if p := f.member(k); p != nil {
			if err := json.Unmarshal(v, p); err != nil {
				return fmt.Errorf("rsmeta: decoding metadata member %q: %w", k, err)
			}
			continue
		}
		var x any
		if err := json.Unmarshal(v, &x); err != nil {
			return fmt.Errorf("rsmeta: decoding metadata member %q: %w", k, err)
		}
		if f.Extra == nil {
			f.Extra = make(map[string]any)
		}
		f.Extra[k] = x
	}
	*m = f
	return nil
}

// metadataFields has Metadata's fields and none of its methods, so encoding
// it does not recurse into MarshalJSON.
type metadataFields Metadata

// member returns a pointer to the field of m registered under the JSON member
// name, or nil if name is not a registered name (RFC 9728 §8.1.2).
func (m *Metadata) member(name string) any {
	switch name {
	case "resource":
		return &m.Resource
	case "authorization_servers":
		return &m.AuthorizationServers
	case "jwks_uri":
		return &m.JWKSURI
	case "scopes_supported":
		return &m.ScopesSupported
	case "bearer_methods_supported":
		return &m.BearerMethodsSupported
	case "resource_signing_alg_values_supported":
		return &m.ResourceSigningAlgValuesSupported
	case "resource_name":
		return &m.ResourceName
	case "resource_documentation":
		return &m.ResourceDocumentation
	case "resource_policy_uri":
		return &m.ResourcePolicyURI
	case "resource_tos_uri":
		return &m.ResourceTOSURI
	case "tls_client_certificate_bound_access_tokens":
		return &m.TLSClientCertificateBoundAccessTokens
	case "authorization_details_types_supported":
		return &m.AuthorizationDetailsTypesSupported
	case "dpop_signing_alg_values_supported":
		return &m.DPoPSigningAlgValuesSupported
	case "dpop_bound_access_tokens_required":
		return &m.DPoPBoundAccessTokensRequired
	case "signed_metadata":
		return &m.SignedMetadata
	}
	return nil
}

// isRegisteredName reports whether name is the JSON name of a Metadata field.
func isRegisteredName(name string) bool {
	var m Metadata
	return m.member(name) != nil
}

// encodeJSON marshals v compactly, without HTML escaping and without the
// encoder's trailing newline.
func encodeJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("rsmeta: encoding metadata: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte{'\n'}), nil
}
