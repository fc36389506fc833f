package conformance

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDPoPAndIntrospectionCases: the two tables are data as AttackCases is,
// with at least 40 cases each and 5 in each category of issue 14.
func TestDPoPAndIntrospectionCases(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cases   []AttackCase
		classes []string
	}{
		{"dpop", DPoPCases(), []string{"proof", "headers", "replay", "clock", "mismatch", "downgrade"}},
		{"introspection", IntrospectionCases(), []string{"iss", "aud", "active", "token_type", "exp", "slow", "huge", "malformed", "flood"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			seen := map[string]bool{}
			per := map[string]int{}
			for _, a := range tc.cases {
				key := a.Class + "/" + a.Name
				assert.False(t, seen[key], "%s listed twice", key)
				seen[key] = true
				assert.Contains(t, tc.classes, a.Class, key)
				assert.NotEmpty(t, a.Spec, "%s: Spec", key)
				assert.Contains(t, a.Spec, "RFC", "%s: Spec names an RFC section", key)
				if a.Needs == NeedsNothing {
					assert.Empty(t, a.Why, "%s: Why of a black-box case", key)
				} else {
					assert.NotEmpty(t, a.Why, "%s: Why", key)
					assert.NotContains(t, a.Why, ".", "%s: Why is one clause", key)
					assert.NotContains(t, a.Why, ":", "%s: Why is one clause", key)
				}
				per[a.Class]++
			}
			assert.GreaterOrEqual(t, len(tc.cases), 40)
			for _, class := range tc.classes {
				if class == "exp" {
					continue // beyond the categories of issue 14
				}
				assert.GreaterOrEqual(t, per[class], 5, "class %s", class)
			}
			t.Logf("%s: %d cases: %v", tc.name, len(tc.cases), per)
		})
	}
}

// TestDPoPKeyProofs: the proofs the kit makes carry what RFC 9449 §4.2
// says, and the thumbprint is RFC 7638's.
func TestDPoPKeyProofs(t *testing.T) {
	for _, alg := range DPoPAlgorithms {
		k, err := NewDPoPKey(alg)
		require.NoError(t, err, alg)
		p, err := k.Proof(ProofOptions{Method: "POST", URL: "https://mcp.example.com/mcp?x=1#f", Token: "tok", Nonce: "n"})
		require.NoError(t, err, alg)
		assert.Equal(t, "https://mcp.example.com/mcp", proofClaim(p, "htu"), alg)
		assert.Equal(t, "POST", proofClaim(p, "htm"), alg)
		assert.Equal(t, rawURL64(sha256Of("tok")), proofClaim(p, "ath"), alg)
		assert.Equal(t, "n", proofClaim(p, "nonce"), alg)
		assert.Len(t, k.Thumbprint(), 43, alg)
		assert.Equal(t, 2, strings.Count(p, "."), alg)
	}
	_, err := NewDPoPKey("HS256")
	assert.Error(t, err)
	// RFC 7638 §3.1's example key and thumbprint.
	jwk := map[string]any{"kty": "RSA", "e": "AQAB", "alg": "RS256", "kid": "2011-04-29",
		"n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"}
	assert.Equal(t, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs", Thumbprint(jwk))
}
