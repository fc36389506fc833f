package rsmeta

import (
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Seed corpora: f.Add below, plus the files in testdata/fuzz/<FuzzName>/.

func FuzzParseChallenges(f *testing.F) {
	for _, tt := range goldenChallenges {
		f.Add(tt.want)
	}
	for _, s := range []string{
		"",
		",",
		"Bearer",
		`Bearer realm="example", error="invalid_token", error_description="The access token expired"`,
		`Newauth realm="apps", type=1, title="Login to \"apps\"", Basic realm="simple"`,
		`Negotiate abc==, Basic realm="x"`,
		`Bearer, realm="r"`,
		`Bearer realm="a\"b\\c"`,
		`Bearer realm="unterminated`,
		"Bearer realm=\"caf\xc3\xa9\"",
		`Foo a=`,
		`Bearer a=1, b=1, c=1, d=1, e=1, f=1, g=1, h=1, i=1, j=1, C=2`,
		`realm="x"`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, value string) {
		cs, err := ParseChallenges(value)
		if err != nil {
			require.Nil(t, cs, "ParseChallenges(%q) returned challenges with error %v", value, err)
			return
		}
		parts := make([]string, 0, len(cs))
		for _, c := range cs {
			s := c.String()
			checkFieldValue(t, s)
			again, err := ParseChallenges(s)
			require.NoError(t, err, "ParseChallenges(%q) (from %q)", s, value)
			require.Len(t, again, 1, "ParseChallenges(%q) (from %q)", s, value)
			require.Equal(t, s, again[0].String(), "String not stable (from %q)", value)
			if h, err := c.Header(); err == nil {
				require.Equal(t, s, h, "Header() vs String()")
				require.Equal(t, normalise(c), again[0], "round trip of valid %#v", c)
			}
			parts = append(parts, s)
		}
		joined, err := ParseChallenges(strings.Join(parts, ", "))
		require.NoError(t, err, "joined %q", parts)
		require.Len(t, joined, len(cs), "joined %q: challenges", parts)
	})
}

func FuzzChallengeRoundTrip(f *testing.F) {
	f.Add("", "", testRM, "tools:read tools:write", "", "", "", "", "", "")
	f.Add("Bearer", "example", "", "", "invalid_token", "The access token expired", "https://example.com/e", "acr_values", "urn:a urn:b", "")
	f.Add("DPoP", "", "", "", "invalid_token", "", "", "algs", "ES256", "")
	f.Add("Negotiate", "", "", "", "", "", "", "", "", "YIIB+w==")
	f.Add("Bear er", "a\"b\\c\n", "https://h/\"", "a\"b  c", "bad\"code", "x\r\ny\x00é", "h t", "realm", "v\"", "a=b")
	f.Add("", "", "", "", "", "", "", "x", "", "")
	f.Fuzz(func(t *testing.T, scheme, realm, rm, scope, errCode, desc, uri, pname, pvalue, token68 string) {
		c := Challenge{
			Scheme: scheme, Realm: realm, ResourceMetadata: rm,
			Error: errCode, ErrorDescription: desc, ErrorURI: uri, Token68: token68,
		}
		if scope != "" {
			c.Scope = strings.Split(scope, " ")
		}
		if pname != "" || pvalue != "" {
			c.Params = []Param{{pname, pvalue}, {"ext", pvalue}}
		}
		s := c.String()
		checkFieldValue(t, s)
		cs, err := ParseChallenges(s)
		require.NoError(t, err, "ParseChallenges(%q)", s)
		require.Len(t, cs, 1, "ParseChallenges(%q)", s)
		require.Equal(t, s, cs[0].String(), "String of parsed %q", s)
		h, err := c.Header()
		if err != nil {
			return
		}
		require.Equal(t, s, h, "Header() vs String()")
		require.Equal(t, normalise(c), cs[0], "round trip of %#v", c)
	})
}

// checkFieldValue fails if s could not be sent as a WWW-Authenticate value:
// only SP and VCHAR.
func checkFieldValue(t *testing.T, s string) {
	t.Helper()
	for i := 0; i < len(s); i++ {
		require.True(t, s[i] >= 0x20 && s[i] <= 0x7e, "String() = %q has byte %#x", s, s[i])
	}
}

func FuzzWellKnownURL(f *testing.F) {
	for _, s := range []string{
		"https://h", "https://h/", "https://h/mcp", "https://h/a/b/", "https://h/mcp?x=1", "https://h?x",
		"HTTPS://H:443/Mcp", "http://localhost:3000/mcp", "http://[::1]:80/", "https://[2001:db8::1]:8443/x",
		"https://h/mcp#x", "http://h/", "https://u@h/", "https://h/a/../b", "https://h:/x", "https://h:0443",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, resource string) {
		w, err := WellKnownURL(resource)
		c, cerr := CanonicalResource(resource)
		require.Equal(t, err == nil, cerr == nil, "WellKnownURL err %v, CanonicalResource err %v", err, cerr)
		if err != nil {
			return
		}
		again, err := CanonicalResource(c)
		require.NoError(t, err, "CanonicalResource not idempotent: %q", c)
		require.Equal(t, c, again, "CanonicalResource not idempotent: %q", c)
		w2, err := WellKnownURL(c)
		require.NoError(t, err, "WellKnownURL(canonical %q)", c)
		require.Equal(t, w, w2, "WellKnownURL(canonical %q)", c)
		cw, err := CanonicalResource(w)
		require.NoError(t, err, "well-known URL %q is not canonical", w)
		require.Equal(t, w, cw, "well-known URL %q is not canonical", w)
		u, err := url.Parse(w)
		require.NoError(t, err, "url.Parse(%q)", w)
		require.NotEmpty(t, u.Host, "url.Parse(%q) = %v", w, u)
		require.True(t, strings.HasPrefix(u.EscapedPath(), wellKnownPrefix), "url.Parse(%q) = %v", w, u)
		// Undo the insertion: origin + prefix + rest ↔ origin + path + query.
		authority := strings.Index(c, "://") + 3
		origin := c
		if end := strings.IndexAny(c[authority:], "/?"); end >= 0 {
			origin = c[:authority+end]
		}
		require.True(t, strings.HasPrefix(w, origin+wellKnownPrefix), "WellKnownURL(%q) = %q, want prefix %q", resource, w, origin+wellKnownPrefix)
		rest := w[len(origin)+len(wellKnownPrefix):]
		if rest == "" || rest[0] == '?' {
			require.True(t, c == origin+rest || c == origin+"/"+rest, "WellKnownURL(%q) = %q: rest %q does not match", c, w, rest)
		} else {
			require.Equal(t, origin+rest, c, "WellKnownURL(%q) = %q: rest %q does not match", c, w, rest)
		}
	})
}
