package validate_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/rsguard/rsguard/validate"
)

// BenchmarkDPoP measures Authenticate on a DPoP request whose token is in
// the verified-token cache — the proof check is what is left: its
// parsing, the key's checks and thumbprint, the ath hash, the signature,
// the binding and the replay store — beside the bare signature
// verification of the same proof (golang-jwt's Verify alone, as
// BenchmarkSignatureFloor does for tokens). Read the ratio of proof/* to
// signature/* within one run: about one signature verification.
func BenchmarkDPoP(b *testing.B) {
	for _, alg := range []string{"ES256", "EdDSA", "RS256"} {
		is, v := dpopSetup(b, validate.DPoPAllowed, func(c *validate.Config) { c.DPoP.MaxProofs = 1 << 30 })
		k := newDPoPKey(b, alg)
		tok := is.Token(map[string]any{"scope": "tools:read", "cnf": map[string]any{"jkt": k.jkt}})
		_, err := v.Authenticate(dpopRequest(tok, k.proof(b, tok, nil, nil))) // the token is now cached
		require.NoError(b, err)

		b.Run("proof/"+alg, func(b *testing.B) {
			// Each proof is good once: sign them before the timer runs.
			reqs := make([]*http.Request, b.N)
			for i := range reqs {
				reqs[i] = dpopRequest(tok, k.proof(b, tok, nil, nil)) // a fresh jti each
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				if _, err := v.Authenticate(reqs[i]); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("signature/"+alg, func(b *testing.B) {
			p := k.proof(b, tok, nil, nil)
			i := strings.LastIndexByte(p, '.')
			sig, err := jwt.NewParser().DecodeSegment(p[i+1:])
			require.NoError(b, err)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if err := k.method.Verify(p[:i], sig, k.priv.Public()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDPoPReject measures proofs refused before their signature.
func BenchmarkDPoPReject(b *testing.B) {
	is, v := dpopSetup(b, validate.DPoPAllowed, nil)
	k := newDPoPKey(b, "ES256")
	tok := is.Token(map[string]any{"cnf": map[string]any{"jkt": k.jkt}})
	for _, tc := range []struct{ name, proof string }{
		{"garbage", "not.a.proof"},
		{"wrong_htu", k.proof(b, tok, map[string]any{"htu": "https://other.example/mcp"}, nil)},
		{"wrong_ath", k.proof(b, tok, map[string]any{"ath": dpopAth("other")}, nil)},
	} {
		b.Run(tc.name, func(b *testing.B) {
			req := dpopRequest(tok, tc.proof)
			b.ReportAllocs()
			for range b.N {
				if _, err := v.Authenticate(req); err == nil {
					b.Fatal("accepted")
				}
			}
		})
	}
}
