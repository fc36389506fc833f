package rsmeta

import (
	"net/url"
	"reflect"
	"strings"
	"testing"
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
			if cs != nil {
				t.Fatalf("ParseChallenges(%q) returned challenges with error %v", value, err)
			}
			return
		}
		parts := make([]string, 0, len(cs))
		for _, c := range cs {
			s := c.String()
			checkFieldValue(t, s)
			again, err := ParseChallenges(s)
			if err != nil || len(again) != 1 {
				t.Fatalf("ParseChallenges(%q) = %#v, %v (from %q)", s, again, err, value)
			}
			if got := again[0].String(); got != s {
				t.Fatalf("String not stable: %q → %q (from %q)", s, got, value)
			}
			if h, err := c.Header(); err == nil {
				if h != s {
					t.Fatalf("Header() = %q, String() = %q", h, s)
				}
				if !reflect.DeepEqual(again[0], normalise(c)) {
					t.Fatalf("round trip of valid %#v gave %#v", c, again[0])
				}
			}
			parts = append(parts, s)
		}
		joined, err := ParseChallenges(strings.Join(parts, ", "))
		if err != nil || len(joined) != len(cs) {
			t.Fatalf("joined %q: %d challenges, %v; want %d", parts, len(joined), err, len(cs))
		}
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
		if err != nil || len(cs) != 1 {
			t.Fatalf("ParseChallenges(%q) = %#v, %v", s, cs, err)
		}
		if got := cs[0].String(); got != s {
			t.Fatalf("String of parsed %q = %q", s, got)
		}
		h, err := c.Header()
		if err != nil {
			return
		}
		if h != s {
			t.Fatalf("Header() = %q, String() = %q", h, s)
		}
		if !reflect.DeepEqual(cs[0], normalise(c)) {
			t.Fatalf("round trip of %#v gave %#v", c, cs[0])
		}
	})
}

// checkFieldValue fails if s could not be sent as a WWW-Authenticate value:
// only SP and VCHAR.
func checkFieldValue(t *testing.T, s string) {
	t.Helper()
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			t.Fatalf("String() = %q has byte %#x", s, s[i])
		}
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
		if (err == nil) != (cerr == nil) {
			t.Fatalf("WellKnownURL err %v, CanonicalResource err %v", err, cerr)
		}
		if err != nil {
			return
		}
		if again, err := CanonicalResource(c); err != nil || again != c {
			t.Fatalf("CanonicalResource not idempotent: %q → %q, %v", c, again, err)
		}
		if w2, err := WellKnownURL(c); err != nil || w2 != w {
			t.Fatalf("WellKnownURL(canonical %q) = %q, %v; want %q", c, w2, err, w)
		}
		if cw, err := CanonicalResource(w); err != nil || cw != w {
			t.Fatalf("well-known URL %q is not canonical: %q, %v", w, cw, err)
		}
		u, err := url.Parse(w)
		if err != nil || u.Host == "" || !strings.HasPrefix(u.EscapedPath(), WellKnownPrefix) {
			t.Fatalf("url.Parse(%q) = %v, %v", w, u, err)
		}
		// Undo the insertion: origin + prefix + rest ↔ origin + path + query.
		authority := strings.Index(c, "://") + 3
		origin := c
		if end := strings.IndexAny(c[authority:], "/?"); end >= 0 {
			origin = c[:authority+end]
		}
		if !strings.HasPrefix(w, origin+WellKnownPrefix) {
			t.Fatalf("WellKnownURL(%q) = %q, want prefix %q", resource, w, origin+WellKnownPrefix)
		}
		rest := w[len(origin)+len(WellKnownPrefix):]
		switch {
		case rest == "" || rest[0] == '?':
			if c != origin+rest && c != origin+"/"+rest {
				t.Fatalf("WellKnownURL(%q) = %q: rest %q does not match", c, w, rest)
			}
		case c != origin+rest:
			t.Fatalf("WellKnownURL(%q) = %q: rest %q does not match", c, w, rest)
		}
	})
}
