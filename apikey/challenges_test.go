package apikey_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/apikey"
	"github.com/rsguard/rsguard/rsmeta"
)

// dpopBearer is a bearer authenticator with challenges of its own (as a
// validate.Validator with DPoP on).
type dpopBearer struct{ cs []rsmeta.Challenge }

func (dpopBearer) Authenticate(*http.Request) (*rsguard.Principal, error) { return nil, nil }
func (b dpopBearer) Challenges() []rsmeta.Challenge                       { return b.cs }

type plainBearer struct{}

func (plainBearer) Authenticate(*http.Request) (*rsguard.Principal, error) { return nil, nil }

// TestChallengesForwarded: the Authenticator forwards its Bearer's
// challenges, so that a Guard over it advertises DPoP.
func TestChallengesForwarded(t *testing.T) {
	cs := []rsmeta.Challenge{{Scheme: "Bearer"}, {Scheme: "DPoP", Params: []rsmeta.Param{{Name: "algs", Value: "ES256"}}}}
	for name, tc := range map[string]struct {
		bearer rsguard.Authenticator
		want   []rsmeta.Challenge
	}{
		"challenger": {dpopBearer{cs}, cs},
		"plain":      {plainBearer{}, nil},
		"keys only":  {nil, nil},
	} {
		t.Run(name, func(t *testing.T) {
			a, err := apikey.New(apikey.Config{Store: new(apikey.MemoryStore), Prefix: "sk_test_", Bearer: tc.bearer})
			require.NoError(t, err)
			assert.Equal(t, tc.want, a.Challenges())
		})
	}
	assert.Nil(t, (*apikey.Authenticator)(nil).Challenges())
}
