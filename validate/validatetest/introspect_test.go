package validatetest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestIntrospectionEndpoint(t *testing.T) {
	is := NewIssuer(t, &Options{Clients: []Client{{ID: "rs", Secret: "rs secret"}}, Audience: []string{kitResource}})
	ask := func(t *testing.T, method string, form url.Values, auth func(*http.Request)) (int, map[string]any) {
		t.Helper()
		req, err := http.NewRequest(method, is.IntrospectionURL, strings.NewReader(form.Encode()))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if auth != nil {
			auth(req)
		}
		resp, err := is.Client().Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		assert.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		var m map[string]any
		require.NoError(t, json.Unmarshal(body, &m), "%s", body)
		return resp.StatusCode, m
	}
	basic := func(r *http.Request) { r.SetBasicAuth("rs", url.QueryEscape("rs secret")) }
	key := NewDPoPKey(t, "ES256")

	t.Run("answers", func(t *testing.T) {
		for _, tc := range []struct {
			name  string
			token string
			want  map[string]any // members the answer must have
			not   []string       // members it must not have
		}{
			{"opaque token", is.OpaqueToken(map[string]any{"scope": "a b"}), map[string]any{"active": true, "token_type": "Bearer", "scope": "a b", "aud": kitResource, "iss": is.URL}, nil},
			{"bound opaque token", is.OpaqueToken(map[string]any{"cnf": map[string]any{"jkt": key.Thumbprint()}}), map[string]any{"active": true, "token_type": "DPoP"}, nil},
			{"refresh token shape", is.OpaqueToken(map[string]any{"token_type": nil, "aud": nil}), map[string]any{"active": true}, []string{"token_type", "aud"}},
			{"inactive", is.OpaqueToken(map[string]any{"active": false}), map[string]any{"active": false}, nil},
			{"never issued", "vt-0123", map[string]any{"active": false}, []string{"iss"}},
			{"a JWT of the issuer", is.Token(map[string]any{"scope": "a"}), map[string]any{"active": true, "token_type": "Bearer", "scope": "a"}, nil},
			{"a bound JWT", is.Token(map[string]any{"cnf": map[string]any{"jkt": key.Thumbprint()}}), map[string]any{"active": true, "token_type": "DPoP"}, nil},
			{"an expired JWT", is.Token(map[string]any{"exp": 1}), map[string]any{"active": false}, nil},
			{"a JWT by another key", is.TokenWith(TokenOptions{Signer: key.key.Signer(), Key: is.Kid("")}, nil), map[string]any{"active": false}, nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				status, m := ask(t, http.MethodPost, url.Values{"token": {tc.token}, "token_type_hint": {"access_token"}}, basic)
				assert.Equal(t, http.StatusOK, status)
				for k, v := range tc.want {
					assert.Equal(t, v, m[k], k)
				}
				for _, k := range tc.not {
					assert.NotContains(t, m, k)
				}
			})
		}
	})
	t.Run("client errors", func(t *testing.T) {
		tok := is.OpaqueToken(nil)
		status, m := ask(t, http.MethodPost, url.Values{"token": {tok}}, nil)
		assert.Equal(t, http.StatusUnauthorized, status)
		assert.Equal(t, "invalid_client", m["error"])
		status, _ = ask(t, http.MethodPost, url.Values{"token": {tok}}, func(r *http.Request) { r.SetBasicAuth("rs", "wrong") })
		assert.Equal(t, http.StatusUnauthorized, status)
		status, m = ask(t, http.MethodPost, url.Values{"token": {tok}, "client_id": {"rs"}, "client_secret": {"rs secret"}}, nil)
		assert.Equal(t, http.StatusOK, status, "client_secret_post")
		assert.Equal(t, true, m["active"])
		status, m = ask(t, http.MethodPost, url.Values{}, basic)
		assert.Equal(t, http.StatusBadRequest, status)
		assert.Equal(t, "invalid_request", m["error"])
		status, _ = ask(t, http.MethodGet, nil, basic)
		assert.Equal(t, http.StatusMethodNotAllowed, status)
	})
	assert.Equal(t, 14, is.Requests(is.IntrospectionURL), "9 answers and 5 client errors")
	meta := getJSON(t, is, is.MetadataURL)
	assert.Equal(t, is.IntrospectionURL, meta["introspection_endpoint"])
}
