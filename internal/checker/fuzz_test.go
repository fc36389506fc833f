package checker

import (
	"testing"

	"github.com/rsguard/rsguard/internal/conformance"
)

// FuzzDiscovery: the discovery's readers of what a server answers (its
// challenges, its metadata, its authorization server's metadata and JWK
// Set) never panic, whatever they are given, and what they return is
// consistent.
func FuzzDiscovery(f *testing.F) {
	f.Add(`Bearer resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp", scope="a b"`,
		[]byte(`{"resource":"https://mcp.example.com/mcp","authorization_servers":["https://as.example.com"]}`))
	f.Add(`DPoP algs="ES256", Bearer realm="x"`, []byte(`{"issuer":"https://as.example.com","token_endpoint":"https://as.example.com/token","jwks_uri":3}`))
	f.Add(`Bearer, , scope=`, []byte(`{"keys":[{"kty":"EC","crv":"P-256","x":"AA","y":"AA"},{"kty":"RSA","n":"AQAB","e":"AQAB"}]}`))
	f.Add(`Newauth realm="apps", type=1, title="Login to \"apps\"", Basic realm="simple"`, []byte(`{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}`))
	f.Add("Bearer error=\"x\x00\"", []byte(`{"authorization_servers":"https://as.example.com","issuer":null}`))
	f.Add(`Bearer resource_metadata="x"`, []byte(`[{"keys":[]}]`))
	f.Fuzz(func(t *testing.T, challenge string, doc []byte) {
		ci := readChallenges([]string{challenge})
		if m := ci.mode(); m != conformance.DPoPOff && !ci.dpop {
			t.Errorf("mode %v without a DPoP challenge", m)
		}
		if servers, err := conformance.AuthorizationServers(doc); err == nil && len(servers) == 0 {
			t.Error("no authorization servers and no error")
		}
		if m, err := conformance.ParseASMetadata(doc); err == nil && m == nil {
			t.Error("no metadata and no error")
		}
		if k, err := signingKey(doc); err == nil && (k == nil || k.Key == nil || k.Alg == "") {
			t.Errorf("signing key %+v without a key or an algorithm", k)
		}
	})
}
