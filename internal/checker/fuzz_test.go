package checker

import (
	"strings"
	"testing"
	"unicode"

	"github.com/rsguard/rsguard/internal/conformance"
	"github.com/rsguard/rsguard/internal/loopback"
)

// FuzzDiscovery: the discovery's readers of what a server answers (its
// challenges, its metadata, its authorization server's metadata, issuer
// identifiers and JWK Set) and the table's printing of server text never
// panic, whatever they are given, and what they return is consistent.
func FuzzDiscovery(f *testing.F) {
	f.Add(`Bearer resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp", scope="a b"`,
		[]byte(`{"resource":"https://mcp.example.com/mcp","authorization_servers":["https://as.example.com"]}`))
	f.Add(`DPoP algs="ES256", Bearer realm="x"`, []byte(`{"issuer":"https://as.example.com","token_endpoint":"https://as.example.com/token","jwks_uri":3}`))
	f.Add(`Bearer, , scope=`, []byte(`{"keys":[{"kty":"EC","crv":"P-256","x":"AA","y":"AA"},{"kty":"RSA","n":"AQAB","e":"AQAB"}]}`))
	f.Add(`Newauth realm="apps", type=1, title="Login to \"apps\"", Basic realm="simple"`, []byte(`{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}`))
	f.Add("Bearer error=\"x\x00\"", []byte(`{"authorization_servers":"https://as.example.com","issuer":null}`))
	f.Add(`Bearer resource_metadata="x"`, []byte(`[{"keys":[]}]`))
	f.Add("https://as.example.com/?x=1", []byte("\u0085\x1b[2J\xff"))
	f.Add("http://127.0.0.1:9/t", []byte(`{"issuer":"https://u@as.example.com#f"}`))
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
		// An issuer identifier the discovery uses has no query, fragment
		// or userinfo (RFC 8414 §2), and is https or http on loopback.
		if u, err := conformance.ParseIssuer(challenge); err == nil {
			if strings.ContainsAny(challenge, "?#") || u.User != nil || u.Host == "" || !loopback.AllowsScheme(u) {
				t.Errorf("ParseIssuer(%q) accepted", challenge)
			}
		}
		// What the table prints of server text does not print controls.
		for _, r := range oneLine(challenge + string(doc)) {
			if !unicode.IsPrint(r) && r != ' ' {
				t.Errorf("oneLine left %U", r)
			}
		}
	})
}
