package rsguard_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/audit"
	"github.com/rsguard/rsguard/rsmeta"
)

func TestBearerToken(t *testing.T) {
	for _, tc := range []struct {
		name    string
		headers []string
		query   string
		want    string
		wantErr error
	}{
		{name: "bearer", headers: []string{"Bearer abc.def.ghi"}, want: "abc.def.ghi"},
		{name: "scheme case-insensitive", headers: []string{"bEaReR abc"}, want: "abc"},
		{name: "several spaces", headers: []string{"Bearer    abc"}, want: "abc"},
		{name: "b64token padding", headers: []string{"Bearer ab+/c~d=="}, want: "ab+/c~d=="},
		{name: "no header", wantErr: audit.ReasonNoCredential},
		{name: "basic scheme", headers: []string{"Basic dXNlcjpwYXNz"}, wantErr: audit.ReasonNoCredential},
		{name: "DPoP scheme", headers: []string{"DPoP abc"}, wantErr: audit.ReasonNoCredential},
		{name: "empty bearer", headers: []string{"Bearer"}, wantErr: audit.ReasonInvalidRequest},
		{name: "bearer and spaces", headers: []string{"Bearer   "}, wantErr: audit.ReasonInvalidRequest},
		{name: "token with a space", headers: []string{"Bearer abc def"}, wantErr: audit.ReasonInvalidRequest},
		{name: "token with a comma", headers: []string{"Bearer abc,def"}, wantErr: audit.ReasonInvalidRequest},
		{name: "padding in the middle", headers: []string{"Bearer ab=c"}, wantErr: audit.ReasonInvalidRequest},
		{name: "quoted token", headers: []string{`Bearer "abc"`}, wantErr: audit.ReasonInvalidRequest},
		{name: "control character", headers: []string{"Bearer abc\x01"}, wantErr: audit.ReasonInvalidRequest},
		{name: "two headers", headers: []string{"Bearer a", "Bearer b"}, wantErr: audit.ReasonInvalidRequest},
		{name: "empty header", headers: []string{""}, wantErr: audit.ReasonInvalidRequest},
		{name: "scheme not a token", headers: []string{"Be@rer abc"}, wantErr: audit.ReasonInvalidRequest},
		{name: "oversized", headers: []string{"Bearer " + strings.Repeat("a", 16<<10+len("Bearer "))}, wantErr: audit.ReasonInvalidRequest},
		{name: "token in the query", query: "access_token=abc", wantErr: audit.ReasonInvalidRequest},
		{name: "token in the query and header", headers: []string{"Bearer abc"}, query: "x=1&access_token=abc", wantErr: audit.ReasonInvalidRequest},
		{name: "unrelated query", headers: []string{"Bearer abc"}, query: "not_access_token_really=1", want: "abc"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/mcp?"+tc.query, nil)
			for _, h := range tc.headers {
				r.Header.Add("Authorization", h)
			}
			got, err := rsguard.BearerToken(r)
			if tc.wantErr == nil {
				require.NoError(t, err)
				assert.Equal(t, tc.want, got)
				return
			}
			require.ErrorIs(t, err, tc.wantErr)
			assert.Empty(t, got)
			var e *rsguard.Error
			require.ErrorAs(t, err, &e)
			assert.Empty(t, e.Credential, "no credential was read")
			if tc.wantErr == audit.ReasonNoCredential {
				assert.Equal(t, http.StatusUnauthorized, e.Status)
				assert.Empty(t, e.Code, "RFC 6750 §3.1: no error code without credentials")
				assert.Equal(t, audit.ReasonNoCredential, e.Reason)
			} else {
				assert.Equal(t, http.StatusBadRequest, e.Status)
				assert.Equal(t, rsmeta.ErrorInvalidRequest, e.Code)
				assert.Equal(t, audit.ReasonInvalidRequest, e.Reason)
				assert.NotEmpty(t, e.Description)
			}
		})
	}
}

// TestBearerTokenQueryEncodedName: url.ParseQuery decodes "access%5Ftoken"
// to "access_token"; a token sent that way must be refused like one under
// the plain name (RFC 6750 §2.3 is not supported, MCP forbids it).
func TestBearerTokenQueryEncodedName(t *testing.T) {
	for _, q := range []string{"access%5Ftoken=abc", "access%5ftoken=abc", "%61ccess_token=abc"} {
		r := httptest.NewRequest(http.MethodGet, "/mcp?"+q, nil)
		r.Header.Set("Authorization", "Bearer abc")
		_, err := rsguard.BearerToken(r)
		require.ErrorIs(t, err, audit.ReasonInvalidRequest, q)
	}
}

// TestBearerTokenFreshErrors: each refusal is a new *Error, so a caller that
// changes the one it got changes nothing a later request sees.
func TestBearerTokenFreshErrors(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "/mcp", nil)
	_, err := rsguard.BearerToken(r)
	var e *rsguard.Error
	require.ErrorAs(t, err, &e)
	e.Status, e.Description, e.Reason = 418, "changed", audit.ReasonOK
	_, err = rsguard.BearerToken(r)
	var again *rsguard.Error
	require.ErrorAs(t, err, &again)
	assert.NotSame(t, e, again)
	assert.Equal(t, http.StatusUnauthorized, again.Status)
	assert.Empty(t, again.Description)
	assert.Equal(t, audit.ReasonNoCredential, again.Reason)
}

// FuzzBearerToken checks Authorization header extraction against a
// reference: the header syntax of RFC 9110 §11.4 with the b64token of
// RFC 6750 §2.1, one header only, no access_token in the query.
func FuzzBearerToken(f *testing.F) {
	for _, s := range [][3]string{
		{"Bearer eyJhbGciOiJSUzI1NiJ9.e30.c2ln", "", ""}, {"bearer abc", "", ""}, {"BEARER   a~b+c/d==", "", ""},
		{"Basic dXNlcjpwYXNz", "", ""}, {"DPoP abc", "", ""}, {"Bearer", "", ""}, {"Bearer ", "", ""}, {"", "", ""},
		{"Bearer a b", "", ""}, {"Bearer a,b", "", ""}, {"Bearer \"a\"", "", ""}, {"Bearer a=b", "", ""}, {"Bearer\ta", "", ""},
		{"Bearer a\x00", "", ""}, {"Bearer a", "Bearer b", ""}, {"Bearer a", "", "access_token=a"}, {"Bearer a", "", "x=1&access_token"},
		{"Bearer a", "", "not_access_token_x=1"}, {"Bearer a", "", "a=%zz&access_token=1"}, {" \tBearer a \t", "", ""},
		{"Bearer " + strings.Repeat("a", 16<<10+len("Bearer ")), "", ""}, {"Bearer a", "", "access%5Ftoken=a"},
	} {
		f.Add(s[0], s[1], s[2])
	}
	b64token := regexp.MustCompile(`^[A-Za-z0-9\-._~+/]+=*$`)
	token := regexp.MustCompile("^[!#$%&'*+\\-.^_`|~0-9A-Za-z]+$")
	f.Fuzz(func(t *testing.T, h1, h2, query string) {
		r := httptest.NewRequest(http.MethodGet, "/mcp", nil)
		r.URL.RawQuery = query
		if h1 != "" || h2 != "" {
			r.Header["Authorization"] = []string{h1}
		}
		if h2 != "" {
			r.Header["Authorization"] = append(r.Header["Authorization"], h2)
		}
		got, err := rsguard.BearerToken(r)

		// The reference.
		var want string
		var wantErr error
		headers := r.Header["Authorization"]
		q, _ := url.ParseQuery(query)
		inQuery := q.Has("access_token") // the name, however it is spelled in the URL
		switch {
		case inQuery:
			wantErr = audit.ReasonInvalidRequest
		case len(headers) == 0:
			wantErr = audit.ReasonNoCredential
		case len(headers) > 1, len(headers[0]) > 16<<10+len("Bearer "):
			wantErr = audit.ReasonInvalidRequest
		default:
			v := strings.Trim(headers[0], " \t")
			scheme, rest, _ := strings.Cut(v, " ")
			switch {
			case strings.EqualFold(scheme, "Bearer") && b64token.MatchString(strings.TrimLeft(rest, " ")):
				want = strings.TrimLeft(rest, " ")
			case strings.EqualFold(scheme, "Bearer"), !token.MatchString(scheme):
				wantErr = audit.ReasonInvalidRequest
			default:
				wantErr = audit.ReasonNoCredential
			}
		}
		if wantErr == nil {
			require.NoError(t, err, "BearerToken(%q, %q, %q)", h1, h2, query)
			require.Equal(t, want, got, "BearerToken(%q, %q, %q)", h1, h2, query)
			return
		}
		require.ErrorIs(t, err, wantErr, "BearerToken(%q, %q, %q)", h1, h2, query)
		require.Empty(t, got, "BearerToken(%q, %q, %q)", h1, h2, query)
		var e *rsguard.Error
		require.ErrorAs(t, err, &e, "error %v is not a 400/401 *rsguard.Error", err)
		require.Contains(t, []int{http.StatusBadRequest, http.StatusUnauthorized}, e.Status, "error %v is not a 400/401 *rsguard.Error", err)
	})
}
