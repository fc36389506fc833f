package rsmeta

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func validMetadata() Metadata {
	return Metadata{
		Resource:             "https://api.example.com/mcp",
		AuthorizationServers: []string{"https://auth.example.com"},
		ScopesSupported:      []string{"tools:read", "tools:write"},
	}
}

func TestMetadataValidate(t *testing.T) {
	tests := []struct {
		name       string
		edit       func(*Metadata)
		wantErr    string // substring; "" means valid
		wantResErr bool   // also wraps ErrInvalidResource
	}{
		{name: "valid", edit: func(*Metadata) {}},
		{name: "loopback http", edit: func(m *Metadata) {
			m.Resource = "http://127.0.0.1:8080/mcp"
			m.AuthorizationServers = []string{"http://localhost:9000"}
		}},
		{name: "loopback ipv6", edit: func(m *Metadata) { m.Resource = "http://[::1]:8080/" }},
		{name: "every field", edit: func(m *Metadata) {
			m.JWKSURI = "https://api.example.com/jwks.json"
			m.BearerMethodsSupported = []string{"header", "body", "query"}
			m.ResourceSigningAlgValuesSupported = []string{"ES256"}
			m.ResourceName = "Example MCP"
			m.ResourceDocumentation = "https://docs.example.com/"
			m.ResourcePolicyURI = "https://example.com/policy"
			m.ResourceTOSURI = "https://example.com/tos"
			m.TLSClientCertificateBoundAccessTokens = true
			m.AuthorizationDetailsTypesSupported = []string{"payment_initiation"}
			m.DPoPSigningAlgValuesSupported = []string{"ES256"}
			m.DPoPBoundAccessTokensRequired = true
			m.SignedMetadata = "eyJ.eyJ.sig"
			m.Extra = map[string]any{"resource_name#de": "Beispiel"}
		}},
		{name: "nil resource", edit: func(m *Metadata) { m.Resource = "" }, wantErr: "resource: rsmeta: invalid resource: empty", wantResErr: true},
		{name: "relative resource", edit: func(m *Metadata) { m.Resource = "/mcp" }, wantErr: "not an absolute URL", wantResErr: true},
		{name: "resource fragment", edit: func(m *Metadata) { m.Resource = "https://api.example.com/mcp#x" }, wantErr: "fragment", wantResErr: true},
		{name: "resource empty fragment", edit: func(m *Metadata) { m.Resource = "https://api.example.com/mcp#" }, wantErr: "fragment", wantResErr: true},
		{name: "resource http", edit: func(m *Metadata) { m.Resource = "http://api.example.com/mcp" }, wantErr: "https", wantResErr: true},
		{name: "resource http 128.0.0.1", edit: func(m *Metadata) { m.Resource = "http://128.0.0.1/mcp" }, wantErr: "https", wantResErr: true},
		{name: "resource http localhost.evil", edit: func(m *Metadata) { m.Resource = "http://localhost.evil.com/" }, wantErr: "https", wantResErr: true},
		{name: "resource ftp", edit: func(m *Metadata) { m.Resource = "ftp://api.example.com/" }, wantErr: "https", wantResErr: true},
		{name: "resource userinfo", edit: func(m *Metadata) { m.Resource = "https://u:p@api.example.com/" }, wantErr: "userinfo", wantResErr: true},
		{name: "resource space", edit: func(m *Metadata) { m.Resource = "https://api.example.com/a b" }, wantErr: "not allowed in a URI", wantResErr: true},
		{name: "resource brace", edit: func(m *Metadata) { m.Resource = "https://api.example.com/{id}" }, wantErr: "not allowed in a URI", wantResErr: true},
		{name: "no authorization servers", edit: func(m *Metadata) { m.AuthorizationServers = nil }, wantErr: "at least one authorization server"},
		{name: "relative authorization server", edit: func(m *Metadata) { m.AuthorizationServers = []string{"auth.example.com"} }, wantErr: "authorization_servers[0]"},
		{name: "http authorization server", edit: func(m *Metadata) { m.AuthorizationServers = []string{"https://a.example", "http://auth.example.com"} }, wantErr: "authorization_servers[1]"},
		{name: "authorization server with query", edit: func(m *Metadata) { m.AuthorizationServers = []string{"https://auth.example.com/?tenant=1"} }, wantErr: "query"},
		{name: "authorization server with fragment", edit: func(m *Metadata) { m.AuthorizationServers = []string{"https://auth.example.com/#x"} }, wantErr: "fragment"},
		{name: "empty authorization server", edit: func(m *Metadata) { m.AuthorizationServers = []string{""} }, wantErr: "authorization_servers[0]"},
		{name: "offline_access", edit: func(m *Metadata) { m.ScopesSupported = []string{"a", "offline_access"} }, wantErr: `scopes_supported[1]: "offline_access" must not be advertised`},
		{name: "bad scope token", edit: func(m *Metadata) { m.ScopesSupported = []string{`a"b`} }, wantErr: "scope token"},
		{name: "empty scope token", edit: func(m *Metadata) { m.ScopesSupported = []string{""} }, wantErr: "scope token"},
		{name: "bearer method", edit: func(m *Metadata) { m.BearerMethodsSupported = []string{"header", "cookie"} }, wantErr: `bearer_methods_supported[1]: "cookie"`},
		{name: "bearer method case", edit: func(m *Metadata) { m.BearerMethodsSupported = []string{"Header"} }, wantErr: "bearer_methods_supported[0]"},
		{name: "http jwks_uri", edit: func(m *Metadata) { m.JWKSURI = "http://api.example.com/jwks" }, wantErr: "jwks_uri"},
		{name: "alg none", edit: func(m *Metadata) { m.ResourceSigningAlgValuesSupported = []string{"none"} }, wantErr: "resource_signing_alg_values_supported[0]"},
		{name: "dpop alg none", edit: func(m *Metadata) { m.DPoPSigningAlgValuesSupported = []string{"ES256", "none"} }, wantErr: "dpop_signing_alg_values_supported[1]"},
		{name: "relative documentation", edit: func(m *Metadata) { m.ResourceDocumentation = "/docs" }, wantErr: "resource_documentation"},
		{name: "extra collides", edit: func(m *Metadata) { m.Extra = map[string]any{"scopes_supported": []string{"x"}} }, wantErr: `extra: member "scopes_supported" collides`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := validMetadata()
			tt.edit(&m)
			err := m.Validate()
			if tt.wantErr == "" {
				require.NoError(t, err, "Validate()")
				return
			}
			require.Error(t, err, "Validate() = nil, want error containing %q", tt.wantErr)
			assert.ErrorIs(t, err, ErrInvalidMetadata, "error does not wrap ErrInvalidMetadata")
			assert.Equal(t, tt.wantResErr, errors.Is(err, ErrInvalidResource), "errors.Is(err, ErrInvalidResource)")
			assert.ErrorContains(t, err, tt.wantErr, "Validate()")
		})
	}
}

func TestMetadataValidateReportsAll(t *testing.T) {
	m := Metadata{Resource: "http://example.com", ScopesSupported: []string{"offline_access"}}
	err := m.Validate()
	for _, want := range []string{"resource:", "authorization_servers:", "scopes_supported[0]"} {
		assert.ErrorContains(t, err, want, "Validate(), want it to mention %q", want)
	}
	var nilM *Metadata
	assert.ErrorIs(t, nilM.Validate(), ErrInvalidMetadata, "nil.Validate()")
}

func TestMetadataMarshalJSON(t *testing.T) {
	m := validMetadata()
	m.BearerMethodsSupported = []string{"header"}
	m.ResourceName = "Tools <&> more"
	m.DPoPBoundAccessTokensRequired = true
	m.Extra = map[string]any{"z_ext": 1, "resource_name#de": "Werkzeuge", "a_ext": []string{"x"}}
	got, err := json.Marshal(m)
	require.NoError(t, err)
	const want = `{"resource":"https://api.example.com/mcp","authorization_servers":["https://auth.example.com"],` +
		`"scopes_supported":["tools:read","tools:write"],"bearer_methods_supported":["header"],` +
		`"resource_name":"Tools \u003c\u0026\u003e more","dpop_bound_access_tokens_required":true,` +
		`"a_ext":["x"],"resource_name#de":"Werkzeuge","z_ext":1}`
	assert.Equal(t, want, string(got), "json.Marshal")
	// MarshalJSON itself does not HTML-escape.
	direct, err := m.MarshalJSON()
	require.NoError(t, err)
	assert.Contains(t, string(direct), `"resource_name":"Tools <&> more"`, "MarshalJSON, want unescaped HTML characters")
	// Pointer and value marshal alike.
	p, _ := json.Marshal(&m)
	assert.Equal(t, want, string(p), "json.Marshal(&m)")
	// The zero value keeps "resource".
	z, _ := json.Marshal(Metadata{})
	assert.Equal(t, `{"resource":""}`, string(z), "json.Marshal(Metadata{})")
	m.Extra = map[string]any{"resource": "https://evil.example"}
	_, err = json.Marshal(m)
	assert.ErrorIs(t, err, ErrInvalidMetadata, "colliding Extra")
}

func TestMetadataUnmarshalJSON(t *testing.T) {
	const doc = `{"resource":"https://api.example.com/mcp","authorization_servers":["https://auth.example.com"],
		"Resource":"https://other.example","bearer_methods_supported":["header"],"dpop_bound_access_tokens_required":true,
		"resource_name#fr":"Outils","x_count":3,"x_null":null}`
	m := Metadata{ResourceName: "stale", Extra: map[string]any{"stale": true}}
	require.NoError(t, json.Unmarshal([]byte(doc), &m))
	want := Metadata{
		Resource:                      "https://api.example.com/mcp",
		AuthorizationServers:          []string{"https://auth.example.com"},
		BearerMethodsSupported:        []string{"header"},
		DPoPBoundAccessTokensRequired: true,
		Extra: map[string]any{
			"Resource":         "https://other.example", // member names are case-sensitive
			"resource_name#fr": "Outils",
			"x_count":          float64(3),
			"x_null":           nil,
		},
	}
	assert.Equal(t, want, m, "Unmarshal")

	// Round trip.
	b, err := json.Marshal(m)
	require.NoError(t, err)
	var m2 Metadata
	require.NoError(t, json.Unmarshal(b, &m2))
	assert.Equal(t, want, m2, "round trip")

	// null leaves the value alone; type errors name the member.
	assert.NoError(t, json.Unmarshal([]byte(`null`), &m2), "null")
	assert.Equal(t, want.Resource, m2.Resource, "null: resource")
	err = json.Unmarshal([]byte(`{"authorization_servers":"https://a"}`), &m2)
	assert.ErrorContains(t, err, `"authorization_servers"`, "type error")
	assert.Error(t, json.Unmarshal([]byte(`[1]`), &m2), "array: want error")
}
