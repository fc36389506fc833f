package rsmeta

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const testRM = "https://api.example.com/.well-known/oauth-protected-resource/mcp"

// Golden WWW-Authenticate values for valid challenges: Header and String
// give exactly these bytes.
var goldenChallenges = []struct {
	name string
	c    Challenge
	want string
}{
	{"no token", Challenge{ResourceMetadata: testRM},
		`Bearer resource_metadata="https://api.example.com/.well-known/oauth-protected-resource/mcp"`},
	{"no token with scope", Challenge{ResourceMetadata: testRM, Scope: []string{"tools:read", "tools:write"}},
		`Bearer resource_metadata="https://api.example.com/.well-known/oauth-protected-resource/mcp", scope="tools:read tools:write"`},
	{"invalid token", Challenge{ResourceMetadata: testRM, Error: ErrorInvalidToken, ErrorDescription: "The access token expired"},
		`Bearer resource_metadata="https://api.example.com/.well-known/oauth-protected-resource/mcp", error="invalid_token", error_description="The access token expired"`},
	{"insufficient scope", Challenge{ResourceMetadata: testRM, Scope: []string{"files:write"}, Error: ErrorInsufficientScope, ErrorDescription: "Additional scope required"},
		`Bearer resource_metadata="https://api.example.com/.well-known/oauth-protected-resource/mcp", scope="files:write", error="insufficient_scope", error_description="Additional scope required"`},
	{"invalid request", Challenge{Error: ErrorInvalidRequest},
		`Bearer error="invalid_request"`},
	{"every field in order", Challenge{
		Scheme: "Bearer", Realm: "example", ResourceMetadata: testRM, Scope: []string{"a"},
		Error: "invalid_token", ErrorDescription: "x", ErrorURI: "https://example.com/errors#token",
		Params: []Param{{"acr_values", "urn:mace:incommon:iap:silver"}, {"max_age", "300"}},
	}, `Bearer realm="example", resource_metadata="https://api.example.com/.well-known/oauth-protected-resource/mcp", scope="a", error="invalid_token", error_description="x", error_uri="https://example.com/errors#token", acr_values="urn:mace:incommon:iap:silver", max_age="300"`},
	{"realm escapes", Challenge{Realm: `say "hi" \o/`},
		`Bearer realm="say \"hi\" \\o/"`},
	{"empty extension value", Challenge{Params: []Param{{"x", ""}}},
		`Bearer x=""`},
	{"extension value escapes", Challenge{Params: []Param{{"title", `a "b" c\d`}}},
		`Bearer title="a \"b\" c\\d"`},
	{"scope punctuation", Challenge{Scope: []string{"https://graph.example/.default", "a!#[]~"}},
		`Bearer scope="https://graph.example/.default a!#[]~"`},
	{"description spaces and punctuation", Challenge{Error: "invalid_token", ErrorDescription: "Token 'kid' unknown; try again (later) !"},
		`Bearer error="invalid_token", error_description="Token 'kid' unknown; try again (later) !"`},
	{"lowercase scheme kept", Challenge{Scheme: "bearer", Realm: "r"},
		`bearer realm="r"`},
	{"other scheme", Challenge{Scheme: "DPoP", Params: []Param{{"algs", "ES256 PS256"}}, Error: "invalid_token"},
		`DPoP error="invalid_token", algs="ES256 PS256"`},
	{"token68", Challenge{Scheme: "Negotiate", Token68: "YIIB+w/a=="},
		`Negotiate YIIB+w/a==`},
	{"bare non-Bearer scheme", Challenge{Scheme: "Negotiate"},
		`Negotiate`},
	{"duplicate scope tokens kept", Challenge{Scope: []string{"a", "a"}},
		`Bearer scope="a a"`},
}

func TestChallengeGolden(t *testing.T) {
	for _, tt := range goldenChallenges {
		t.Run(tt.name, func(t *testing.T) {
			h, err := tt.c.Header()
			require.NoError(t, err, "Header() error")
			assert.Equal(t, tt.want, h, "Header()")
			assert.Equal(t, tt.want, tt.c.String(), "String()")
			// The size String reserves is enough, so it allocates once.
			assert.GreaterOrEqual(t, tt.c.maxLen(), len(tt.want), "maxLen()")
		})
	}
}

// Invalid challenges: Header refuses them, String sanitises into exactly
// these bytes.
func TestChallengeInvalid(t *testing.T) {
	tests := []struct {
		name    string
		c       Challenge
		wantErr string
		want    string // String()
	}{
		{"zero value", Challenge{}, "at least one auth-param",
			`Bearer realm=""`},
		{"empty scope slice", Challenge{Scope: []string{}}, "at least one auth-param",
			`Bearer realm=""`},
		{"bad scheme", Challenge{Scheme: "Bear er", Realm: "r"}, "auth-scheme",
			`Bearer realm="r"`},
		{"scheme all invalid", Challenge{Scheme: "(()", Realm: "r"}, "auth-scheme",
			`Bearer realm="r"`},
		{"realm control chars", Challenge{Realm: "a\tb\r\nc\x00é"}, "realm",
			`Bearer realm="abc"`},
		{"realm only controls", Challenge{Realm: "\n", Error: "invalid_token"}, "realm",
			`Bearer error="invalid_token"`},
		{"resource_metadata with quote", Challenge{ResourceMetadata: `https://h/"x`, Scope: []string{"a"}}, "resource_metadata",
			`Bearer scope="a"`},
		{"resource_metadata with space", Challenge{ResourceMetadata: "https://h/ x"}, "resource_metadata",
			`Bearer realm=""`},
		{"scope with quote", Challenge{Scope: []string{"ok", `a"b`, "fine"}}, "scope token",
			`Bearer scope="ok fine"`},
		{"scope with backslash", Challenge{Scope: []string{`a\b`}}, "scope token",
			`Bearer realm=""`},
		{"scope with space", Challenge{Scope: []string{"a b", "c"}}, "scope token",
			`Bearer scope="c"`},
		{"empty scope token", Challenge{Scope: []string{"", "c"}}, "scope token",
			`Bearer scope="c"`},
		{"scope non-ascii", Challenge{Scope: []string{"café"}, Error: "insufficient_scope"}, "scope token",
			`Bearer error="insufficient_scope"`},
		{"error with quote", Challenge{Error: `bad"code`}, "error",
			`Bearer error="bad'code"`},
		{"description quotes and newlines", Challenge{Error: "invalid_token", ErrorDescription: "token \"abc\"\r\nexpired\tnow \\ é"},
			"error_description", `Bearer error="invalid_token", error_description="token 'abc'  expired now  "`},
		{"description only controls", Challenge{Error: "invalid_token", ErrorDescription: "\x00\x01"}, "error_description",
			`Bearer error="invalid_token"`},
		{"error_uri with space", Challenge{Error: "invalid_token", ErrorURI: "https://h/a b"}, "error_uri",
			`Bearer error="invalid_token"`},
		{"param bad name", Challenge{Realm: "r", Params: []Param{{"a b", "x"}, {"ok", "y"}}}, "auth-param name",
			`Bearer realm="r", ok="y"`},
		{"param empty name", Challenge{Realm: "r", Params: []Param{{"", "x"}}}, "auth-param name",
			`Bearer realm="r"`},
		{"param registered name", Challenge{Realm: "r", Params: []Param{{"Scope", "x"}}}, "Challenge field",
			`Bearer realm="r"`},
		{"param registered resource_metadata", Challenge{Params: []Param{{"RESOURCE_METADATA", "https://evil"}}}, "Challenge field",
			`Bearer realm=""`},
		{"param repeated", Challenge{Params: []Param{{"a", "1"}, {"A", "2"}, {"b", "3"}}}, "twice",
			`Bearer a="1", b="3"`},
		{"param repeated after invalid", Challenge{Params: []Param{{"a b", "0"}, {"x", "1"}, {"x", "2"}}}, "auth-param name",
			`Bearer x="1"`},
		{"param value controls", Challenge{Params: []Param{{"a", "x\ny\"z"}}}, "value",
			`Bearer a="xy\"z"`},
		{"token68 and params", Challenge{Scheme: "Negotiate", Token68: "abc", Realm: "r"}, "not both",
			`Negotiate realm="r"`},
		{"bearer token68", Challenge{Token68: "abc"}, "token68",
			`Bearer realm=""`},
		{"bad token68", Challenge{Scheme: "Negotiate", Token68: "a=b"}, "token68",
			`Negotiate`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := tt.c.Header()
			require.Error(t, err, "Header() = %q, want error", h)
			assert.ErrorIs(t, err, ErrInvalidChallenge, "Header() error does not wrap ErrInvalidChallenge")
			assert.ErrorContains(t, err, tt.wantErr, "Header() error does not mention %q", tt.wantErr)
			s := tt.c.String()
			assert.Equal(t, tt.want, s, "String()")
			// The sanitised form is always valid and parses back to itself.
			cs, err := ParseChallenges(s)
			require.NoError(t, err, "ParseChallenges(%q)", s)
			require.Len(t, cs, 1, "ParseChallenges(%q)", s)
			assert.Equal(t, s, cs[0].String(), "String() of parsed")
		})
	}
}

func TestParseChallenges(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []Challenge
	}{
		{"empty", "", nil},
		{"only separators", " , ,\t", nil},
		{"bare scheme", "Bearer", []Challenge{{Scheme: "Bearer"}}},
		{"mcp 401", `Bearer resource_metadata="` + testRM + `", scope="a b"`,
			[]Challenge{{Scheme: "Bearer", ResourceMetadata: testRM, Scope: []string{"a", "b"}}}},
		{"rfc 6750 example one line", `Bearer realm="example", error="invalid_token", error_description="The access token expired"`,
			[]Challenge{{Scheme: "Bearer", Realm: "example", Error: "invalid_token", ErrorDescription: "The access token expired"}}},
		{"rfc 9110 example", `Newauth realm="apps", type=1, title="Login to \"apps\"", Basic realm="simple"`,
			[]Challenge{
				{Scheme: "Newauth", Realm: "apps", Params: []Param{{"type", "1"}, {"title", `Login to "apps"`}}},
				{Scheme: "Basic", Realm: "simple"},
			}},
		{"case-insensitive names", `bEaReR REALM="r", Scope="x", ERROR=invalid_token, Error_Description="d", ERROR_URI="u", Resource_Metadata="m", X=1`,
			[]Challenge{{Scheme: "bEaReR", Realm: "r", Scope: []string{"x"}, Error: "invalid_token", ErrorDescription: "d", ErrorURI: "u", ResourceMetadata: "m", Params: []Param{{"X", "1"}}}}},
		{"BWS and tabs", "Bearer\trealm \t=\t \"r\" \t,\tscope = x",
			[]Challenge{{Scheme: "Bearer", Realm: "r", Scope: []string{"x"}}}},
		{"empty elements", `,Bearer ,, realm="r",, ,Basic,`,
			[]Challenge{{Scheme: "Bearer", Realm: "r"}, {Scheme: "Basic"}}},
		{"params after bare scheme and comma", `Bearer, realm="r"`,
			[]Challenge{{Scheme: "Bearer", Realm: "r"}}},
		{"token68", `Negotiate abc+/=, Basic realm="b", Foo x==`,
			[]Challenge{{Scheme: "Negotiate", Token68: "abc+/="}, {Scheme: "Basic", Realm: "b"}, {Scheme: "Foo", Token68: "x=="}}},
		{"token68 looking like a name", `Foo realm`, []Challenge{{Scheme: "Foo", Token68: "realm"}}},
		{"token68 with trailing equals only", `Foo a=`, []Challenge{{Scheme: "Foo", Token68: "a="}}},
		{"several bare schemes", `Negotiate, NTLM`, []Challenge{{Scheme: "Negotiate"}, {Scheme: "NTLM"}}},
		{"quoted-pairs", `Bearer realm="a\"b\\c\d\ e"`, []Challenge{{Scheme: "Bearer", Realm: `a"b\cd e`}}},
		{"commas and equals in quotes", `Bearer realm="a, b=c", scope="x,y"`,
			[]Challenge{{Scheme: "Bearer", Realm: "a, b=c", Scope: []string{"x,y"}}}},
		{"scope spacing", `Bearer scope="  a  b "`, []Challenge{{Scheme: "Bearer", Scope: []string{"a", "b"}}}},
		{"empty quoted values", `Bearer realm="", scope="", x=""`,
			[]Challenge{{Scheme: "Bearer", Params: []Param{{"x", ""}}}}},
		{"obs-text in quotes", "Bearer realm=\"caf\xc3\xa9\"", []Challenge{{Scheme: "Bearer", Realm: "caf\xc3\xa9"}}},
		{"dpop", `DPoP algs="ES256 PS256", error="invalid_dpop_proof", Bearer resource_metadata="m"`,
			[]Challenge{
				{Scheme: "DPoP", Error: "invalid_dpop_proof", Params: []Param{{"algs", "ES256 PS256"}}},
				{Scheme: "Bearer", ResourceMetadata: "m"},
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseChallenges(tt.in)
			require.NoError(t, err, "ParseChallenges(%q) error", tt.in)
			assert.Equal(t, tt.want, got, "ParseChallenges(%q)", tt.in)
		})
	}
}

func TestParseChallengesErrors(t *testing.T) {
	tests := []struct{ name, in, wantErr string }{
		{"param first", `realm="x"`, "before any auth-scheme"},
		{"param after token68", `Negotiate abc, realm="x"`, "after a token68"},
		{"two tokens", `Basic Digest realm="x"`, `expected "=" after auth-param name "Digest"`},
		{"missing comma", `Bearer realm="x" scope="y"`, "expected a comma"},
		{"missing value", `Bearer realm=`, ""}, // token68 "realm=" — valid, see below
		{"missing value mid-list", `Bearer scope="a", realm=`, "missing value"},
		{"missing value before comma", `Bearer realm=, scope="a"`, "after a token68"},
		{"missing value later", `Bearer scope="a", realm=, x=1`, "invalid value"},
		{"multi-line field (obs-fold)", "Bearer realm=\"example\",\n error=\"invalid_token\"", "expected an auth-scheme"},
		{"unterminated quote", `Bearer realm="x`, "unterminated"},
		{"unterminated after escape", `Bearer realm="x\`, "unterminated"},
		{"control in quotes", "Bearer realm=\"a\nb\"", "control character"},
		{"DEL in quotes", "Bearer realm=\"a\x7fb\"", "control character"},
		{"control quoted-pair", "Bearer realm=\"a\\\x01\"", "invalid quoted-pair"},
		{"newline between params", "Bearer realm=\"a\",\r\n scope=\"b\"", "expected an auth-scheme or auth-param"},
		{"repeated realm", `Bearer realm="a", REALM="b"`, "repeated"},
		{"repeated scope", `Bearer scope="a", scope="b"`, "repeated"},
		{"repeated extension", `Bearer x=1, X=2`, "repeated"},
		{"repeated extension many", `Bearer a=1, b=1, c=1, d=1, e=1, f=1, g=1, h=1, i=1, j=1, C=2`, "repeated"},
		{"repeat across challenges is fine", `Bearer realm="a", Basic realm="b"`, ""},
		{"bad scheme char", `"Bearer"`, "expected an auth-scheme"},
		{"scheme then garbage", `Bearer/`, "expected a space"},
		{"bad param value", `Bearer realm=(x)`, "invalid value"},
		{"equals first", `=x`, "expected an auth-scheme"},
		{"param value then garbage", `Bearer a=b"c"`, "expected a comma"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseChallenges(tt.in)
			if tt.wantErr == "" {
				require.NoError(t, err, "ParseChallenges(%q) error", tt.in)
				return
			}
			require.Error(t, err, "ParseChallenges(%q) = %#v, want error", tt.in, got)
			assert.ErrorIs(t, err, ErrInvalidChallenge, "error does not wrap ErrInvalidChallenge")
			assert.ErrorContains(t, err, tt.wantErr, "error does not mention %q", tt.wantErr)
			assert.Nil(t, got, "got a value with error")
		})
	}
}

// normalise gives the form ParseChallenges returns for a valid challenge.
func normalise(c Challenge) Challenge {
	if c.Scheme == "" {
		c.Scheme = defaultScheme
	}
	if len(c.Scope) == 0 {
		c.Scope = nil
	}
	if len(c.Params) == 0 {
		c.Params = nil
	}
	return c
}

func TestChallengeRoundTrip(t *testing.T) {
	var all []Challenge
	for _, tt := range goldenChallenges {
		all = append(all, tt.c)
	}
	for _, tt := range goldenChallenges {
		cs, err := ParseChallenges(tt.c.String())
		require.NoError(t, err, "%s: ParseChallenges", tt.name)
		require.Len(t, cs, 1, "%s: ParseChallenges", tt.name)
		assert.Equal(t, normalise(tt.c), cs[0], "%s: round trip", tt.name)
	}
	// All of them in one field value.
	var parts []string
	for _, c := range all {
		parts = append(parts, c.String())
	}
	cs, err := ParseChallenges(strings.Join(parts, ", "))
	require.NoError(t, err, "joined")
	require.Len(t, cs, len(all), "joined: challenges")
	for i := range all {
		assert.Equal(t, normalise(all[i]), cs[i], "joined[%d]", i)
	}
}

func TestChallengeStringAllocs(t *testing.T) {
	c := Challenge{ResourceMetadata: testRM, Scope: []string{"tools:read", "tools:write"}, Error: ErrorInvalidToken, ErrorDescription: "The access token expired"}
	n := testing.AllocsPerRun(100, func() { _ = c.String() })
	assert.LessOrEqual(t, n, 1.0, "String() allocates %v times, want at most 1", n)
}

func BenchmarkChallengeString(b *testing.B) {
	benches := []struct {
		name string
		c    Challenge
	}{
		{"401", Challenge{ResourceMetadata: testRM, Scope: []string{"tools:read"}}},
		{"401_invalid_token", Challenge{ResourceMetadata: testRM, Error: ErrorInvalidToken, ErrorDescription: "The access token expired"}},
		{"403", Challenge{ResourceMetadata: testRM, Scope: []string{"tools:read", "tools:write", "files:write"}, Error: ErrorInsufficientScope, ErrorDescription: "Additional scope required"}},
		{"sanitised", Challenge{ResourceMetadata: testRM, Error: ErrorInvalidToken, ErrorDescription: "token \"x\"\nexpired"}},
	}
	for _, bb := range benches {
		b.Run(bb.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				_ = bb.c.String()
			}
		})
	}
}

func BenchmarkParseChallenges(b *testing.B) {
	v := `Bearer resource_metadata="` + testRM + `", scope="tools:read tools:write", error="insufficient_scope", error_description="Additional scope required"`
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		// b.Fatal, not testify, inside the timed loop: an assertion calls
		// b.Helper, which locks and walks the stack on every call.
		if _, err := ParseChallenges(v); err != nil {
			b.Fatal(err)
		}
	}
}
