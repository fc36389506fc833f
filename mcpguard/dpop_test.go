package mcpguard_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/mcpguard"
	"github.com/rsguard/rsguard/rsmeta"
	"github.com/rsguard/rsguard/validate"
	"github.com/rsguard/rsguard/validate/validatetest"
)

// TestEndpointDPoPMetadata: with DPoP on, the document publishes the proof
// algorithms and, for DPoPRequired, that bound tokens are required (RFC
// 9728 §2); the 401 names the DPoP challenge.
func TestEndpointDPoPMetadata(t *testing.T) {
	for _, tc := range []struct {
		mode     validate.DPoPMode
		algs     []string
		doc      map[string]any // the DPoP members
		schemes  []string
		metadata rsmeta.Metadata
	}{
		{validate.DPoPOff, nil, map[string]any{}, []string{"Bearer"}, rsmeta.Metadata{}},
		{validate.DPoPAllowed, nil, map[string]any{"dpop_signing_alg_values_supported": []any{"ES256", "EdDSA", "Ed25519", "RS256", "PS256"}},
			[]string{"Bearer", "DPoP"}, rsmeta.Metadata{}},
		{validate.DPoPRequired, []string{"ES256"}, map[string]any{"dpop_signing_alg_values_supported": []any{"ES256"}, "dpop_bound_access_tokens_required": true},
			[]string{"DPoP"}, rsmeta.Metadata{DPoPSigningAlgValuesSupported: []string{"ES256"}, DPoPBoundAccessTokensRequired: true}},
	} {
		t.Run(tc.mode.String(), func(t *testing.T) {
			is := validatetest.NewIssuer(t, nil)
			cfg := mcpguard.Config{Tools: epTools, Metadata: tc.metadata}
			cfg.Validate.DPoP = validate.DPoPConfig{Mode: tc.mode, Algorithms: tc.algs}
			s := serve(t, is, cfg)
			a := s.send(http.MethodGet, "/.well-known/oauth-protected-resource/mcp", "", "", "")
			require.Equal(t, http.StatusOK, a.status)
			var doc map[string]any
			require.NoError(t, json.Unmarshal([]byte(a.body), &doc))
			got := map[string]any{}
			for _, k := range []string{"dpop_signing_alg_values_supported", "dpop_bound_access_tokens_required"} {
				if v, ok := doc[k]; ok {
					got[k] = v
				}
			}
			assert.Equal(t, tc.doc, got)

			a = s.send(http.MethodPost, "/mcp", "", "", rpc("tools/list", ""))
			require.Equal(t, http.StatusUnauthorized, a.status)
			var schemes []string
			for _, v := range a.header.Values("WWW-Authenticate") {
				cs, err := rsmeta.ParseChallenges(v)
				require.NoError(t, err)
				for _, c := range cs {
					schemes = append(schemes, c.Scheme)
				}
			}
			assert.Equal(t, tc.schemes, schemes)
		})
	}
}

// TestEndpointDPoPMetadataRefused: DPoP members stated in Metadata must
// equal the derived ones.
func TestEndpointDPoPMetadataRefused(t *testing.T) {
	is := validatetest.NewIssuer(t, nil)
	for name, mod := range map[string]func(*mcpguard.Config){
		"algs differ": func(c *mcpguard.Config) {
			c.Validate.DPoP.Mode = validate.DPoPAllowed
			c.Metadata.DPoPSigningAlgValuesSupported = []string{"RS256"}
		},
		"algs with DPoP off": func(c *mcpguard.Config) { c.Metadata.DPoPSigningAlgValuesSupported = []string{"ES256"} },
		"required but allowed": func(c *mcpguard.Config) {
			c.Validate.DPoP.Mode = validate.DPoPAllowed
			c.Metadata.DPoPBoundAccessTokensRequired = true
		},
	} {
		t.Run(name, func(t *testing.T) {
			cfg := baseConfig(is, "https://mcp.example.com/mcp")
			mod(&cfg)
			_, err := mcpguard.New(context.Background(), cfg)
			require.ErrorIs(t, err, rsguard.ErrInvalidConfig)
			assert.Contains(t, err.Error(), "Metadata.DPoP")
		})
	}
}
