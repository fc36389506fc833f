package validatetest

import (
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestURLs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		opts      Options
		scheme    string
		path      string // of URL
		metadata  string // path of MetadataURL
		oidc      string // path of OpenIDConfigurationURL
		jwks      string
		tokenPath string
	}{
		{
			name: "root", scheme: "https", path: "",
			metadata: "/.well-known/oauth-authorization-server",
			oidc:     "/.well-known/openid-configuration",
			jwks:     "/jwks", tokenPath: "/token",
		},
		{
			name: "path", opts: Options{Path: "/tenants/a"}, scheme: "https", path: "/tenants/a",
			metadata: "/.well-known/oauth-authorization-server/tenants/a",
			oidc:     "/tenants/a/.well-known/openid-configuration",
			jwks:     "/tenants/a/jwks", tokenPath: "/tenants/a/token",
		},
		{
			name: "trailing slash", opts: Options{Path: "/tenants/b/"}, scheme: "https", path: "/tenants/b/",
			metadata: "/.well-known/oauth-authorization-server/tenants/b",
			oidc:     "/tenants/b/.well-known/openid-configuration",
			jwks:     "/tenants/b/jwks", tokenPath: "/tenants/b/token",
		},
		{
			name: "root slash", opts: Options{Path: "/"}, scheme: "https", path: "/",
			metadata: "/.well-known/oauth-authorization-server",
			oidc:     "/.well-known/openid-configuration",
			jwks:     "/jwks", tokenPath: "/token",
		},
		{
			name: "plain http", opts: Options{Path: "/x", PlainHTTP: true}, scheme: "http", path: "/x",
			metadata: "/.well-known/oauth-authorization-server/x",
			oidc:     "/x/.well-known/openid-configuration",
			jwks:     "/x/jwks", tokenPath: "/x/token",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			opts := tt.opts
			opts.Algorithms = []string{"ES256"}
			is := NewIssuer(t, &opts)

			u, err := url.Parse(is.URL)
			require.NoError(t, err)
			assert.Equal(t, tt.scheme, u.Scheme)
			host, _, err := net.SplitHostPort(u.Host)
			require.NoError(t, err)
			assert.Equal(t, "127.0.0.1", host)
			assert.Equal(t, tt.path, u.Path)

			origin := u.Scheme + "://" + u.Host
			assert.Equal(t, origin+tt.metadata, is.MetadataURL)
			assert.Equal(t, origin+tt.oidc, is.OpenIDConfigurationURL)
			assert.Equal(t, origin+tt.jwks, is.JWKSURL)
			assert.Equal(t, origin+tt.tokenPath, is.TokenURL)

			// Both documents are served there and name the same URLs.
			for _, doc := range []string{is.MetadataURL, is.OpenIDConfigurationURL} {
				m := getJSON(t, is, doc)
				assert.Equal(t, is.URL, m["issuer"])
				assert.Equal(t, is.JWKSURL, m["jwks_uri"])
				assert.Equal(t, is.TokenURL, m["token_endpoint"])
			}
			assert.Equal(t, 1, is.Requests(is.MetadataURL))
			assert.Equal(t, 1, is.Requests(is.OpenIDConfigurationURL))
		})
	}
}

func TestNewIssuerBadOptions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		opts    Options
		wantErr string
	}{
		{"relative path", Options{Path: "tenants"}, "absolute path"},
		{"double slash", Options{Path: "/a//b"}, "absolute path"},
		{"query in path", Options{Path: "/a?b=c"}, "unreserved"},
		{"escaped path", Options{Path: "/a%20b"}, "unreserved"},
		{"hmac algorithm", Options{Algorithms: []string{"HS256"}}, `"HS256"`},
		{"none algorithm", Options{Algorithms: []string{"none"}}, `"none"`},
		{"duplicate algorithm", Options{Algorithms: []string{"ES256", "ES256"}}, "twice"},
		{"default not in list", Options{Algorithms: []string{"ES256"}, DefaultAlgorithm: "RS256"}, "not in Algorithms"},
		{"negative lifetime", Options{Lifetime: -time.Second}, "negative"},
		{"client without secret", Options{Clients: []Client{{ID: "a"}}}, "required"},
		{"client without id", Options{Clients: []Client{{Secret: "s"}}}, "required"},
		{"duplicate client", Options{Clients: []Client{{ID: "a", Secret: "s"}, {ID: "a", Secret: "t"}}}, "twice"},
		{"bad scope", Options{Clients: []Client{{ID: "a", Secret: "s", Scopes: []string{`x"y`}}}}, "invalid scope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := &recordTB{TB: t}
			assert.Nil(t, NewIssuer(rec, &tt.opts))
			assert.True(t, rec.fatal)
			msgs := rec.messages()
			require.Len(t, msgs, 1)
			assert.Contains(t, msgs[0], tt.wantErr)
			assert.True(t, strings.HasPrefix(msgs[0], "validatetest: "), msgs[0])
		})
	}
}

func TestNewIssuerDefaults(t *testing.T) {
	t.Parallel()
	is := NewIssuer(t, nil)
	assert.Len(t, publishedKids(is), 4)
	for _, alg := range []string{"RS256", "PS256", "ES256", "EdDSA"} {
		assert.NotEmpty(t, is.Kid(alg), alg)
	}
	assert.Equal(t, is.Kid("RS256"), is.Kid(""), "RS256 is the default algorithm")
	h, _, _ := parts(t, is.Token(nil))
	assert.Equal(t, "RS256", h["alg"])

	// Without RS256, the first algorithm is the default.
	is = NewIssuer(t, &Options{Algorithms: []string{"EdDSA", "ES256"}})
	h, _, _ = parts(t, is.Token(nil))
	assert.Equal(t, "EdDSA", h["alg"])
}

func TestNewIssuerNilTB(t *testing.T) {
	t.Parallel()
	is := NewIssuer(nil, &Options{Algorithms: []string{"ES256"}})
	status, _, _ := get(t, is, is.JWKSURL)
	assert.Equal(t, http.StatusOK, status)
	is.Close()
	is.Close() // idempotent
	_, err := http.Get(is.JWKSURL)
	assert.Error(t, err, "closed")

	assert.PanicsWithValue(t, `validatetest: path "x": want "" or an absolute path such as "/tenants/a"`, func() {
		NewIssuer(nil, &Options{Path: "x"})
	})
	is = NewIssuer(nil, &Options{Algorithms: []string{"ES256"}})
	defer is.Close()
	assert.Panics(t, func() { is.Retire("nope") })
}

func TestClosedByCleanup(t *testing.T) {
	t.Parallel()
	var is *Issuer
	t.Run("inner", func(t *testing.T) {
		is = NewIssuer(t, &Options{Algorithms: []string{"ES256"}})
	})
	_, err := is.Client().Get(is.JWKSURL)
	assert.Error(t, err)
}

func TestNotFound(t *testing.T) {
	t.Parallel()
	is := NewIssuer(t, &Options{Path: "/tenants/a", Algorithms: []string{"ES256"}})
	for _, p := range []string{"/", "/tenants/a", "/jwks", "/.well-known/openid-configuration", "/tenants/a/jwks/", "/.well-known/oauth-authorization-server"} {
		u, err := url.Parse(is.URL)
		require.NoError(t, err)
		u.Path = p
		status, _, _ := get(t, is, u.String())
		assert.Equal(t, http.StatusNotFound, status, p)
	}
	assert.Zero(t, is.Requests(is.JWKSURL))
	assert.Zero(t, (is.Requests(is.MetadataURL) + is.Requests(is.OpenIDConfigurationURL)))
}
