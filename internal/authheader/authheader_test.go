package authheader

import (
	"net/http/httptest"
	"strings"
	"testing"
)

func TestToken(t *testing.T) {
	long := strings.Repeat("a", MaxToken+1)
	for _, tc := range []struct {
		name, target string
		headers      []string
		scheme, tok  string
		want         Problem
	}{
		{"bearer", "/", []string{"Bearer abc.def-_~+/=="}, "Bearer", "abc.def-_~+/==", OK},
		{"scheme case", "/", []string{"bEaReR abc"}, "Bearer", "abc", OK},
		{"dpop", "/", []string{"DPoP abc"}, "DPoP", "abc", OK},
		{"spaces around", "/", []string{" \tDPoP   abc \t"}, "DPoP", "abc", OK},
		{"none", "/", nil, "Bearer", "", None},
		{"other scheme", "/", []string{"Basic dXNlcjpwYXNz"}, "Bearer", "", None},
		{"dpop is not bearer", "/", []string{"DPoP abc"}, "Bearer", "", None},
		{"two fields", "/", []string{"Bearer a", "Bearer b"}, "Bearer", "", Multiple},
		{"too large", "/", []string{"DPoP " + long}, "DPoP", "", TooLarge},
		{"largest", "/", []string{"DPoP " + long[1:]}, "DPoP", long[1:], OK},
		{"bad scheme", "/", []string{"Bea(rer abc"}, "Bearer", "", Syntax},
		{"empty token", "/", []string{"Bearer"}, "Bearer", "", Syntax},
		{"token with a space", "/", []string{"DPoP a b"}, "DPoP", "", Syntax},
		{"padding inside", "/", []string{"DPoP a=b"}, "DPoP", "", Syntax},
		{"query", "/?access_token=x", []string{"DPoP abc"}, "DPoP", "", InQuery},
		{"query percent-encoded", "/?access%5Ftoken=x", []string{"DPoP abc"}, "DPoP", "", InQuery},
		{"query without a header", "/?a=1&access_token=x", nil, "Bearer", "", InQuery},
		{"other query", "/?q=%41", []string{"DPoP abc"}, "DPoP", "abc", OK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", tc.target, nil)
			for _, h := range tc.headers {
				r.Header.Add("Authorization", h)
			}
			tok, p := Token(r, tc.scheme)
			if tok != tc.tok || p != tc.want {
				t.Fatalf("Token = %q, %d; want %q, %d", tok, p, tc.tok, tc.want)
			}
		})
	}
}

func TestSplit(t *testing.T) {
	r := httptest.NewRequest("GET", "/", nil)
	if _, _, ok := Split(r); ok {
		t.Fatal("Split found a field in a request without one")
	}
	r.Header.Set("Authorization", " DPoP   tok ")
	if s, rest, ok := Split(r); !ok || s != "DPoP" || rest != "tok" {
		t.Fatalf("Split = %q, %q, %v", s, rest, ok)
	}
	r.Header.Add("Authorization", "Bearer x")
	if _, _, ok := Split(r); ok {
		t.Fatal("Split accepted two fields")
	}
}

// TestUnchecked: Unchecked finds every problem Token finds but a token that
// is not a b64token, which it returns as it is.
func TestUnchecked(t *testing.T) {
	for _, tc := range []struct {
		name, target, header string
		tok                  string
		want                 Problem
	}{
		{"dpop", "/", "dpop abc.def", "abc.def", OK},
		{"token with a space", "/", "DPoP a b", "a b", OK},
		{"padding inside", "/", "DPoP a=b", "a=b", OK},
		{"outside b64token", "/", "DPoP a!b", "a!b", OK},
		{"empty token", "/", "DPoP", "", OK},
		{"bad scheme", "/", "DP(oP abc", "", Syntax},
		{"other scheme", "/", "Bearer abc", "", None},
		{"query", "/?access_token=x", "DPoP a!b", "", InQuery},
		{"too large", "/", "DPoP " + strings.Repeat("!", MaxToken+1), "", TooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", tc.target, nil)
			r.Header.Set("Authorization", tc.header)
			tok, p := Unchecked(r, "DPoP")
			if tok != tc.tok || p != tc.want {
				t.Fatalf("Unchecked = %q, %d; want %q, %d", tok, p, tc.tok, tc.want)
			}
			// Token is Unchecked and then the character check.
			ttok, tp := Token(r, "DPoP")
			if p == OK && tp == Syntax {
				if ttok != "" {
					t.Fatalf("Token = %q on Syntax", ttok)
				}
				return
			}
			if ttok != tok || tp != p {
				t.Fatalf("Token = %q, %d; Unchecked %q, %d", ttok, tp, tok, p)
			}
		})
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Add("Authorization", "DPoP a")
	r.Header.Add("Authorization", "DPoP b")
	if _, p := Unchecked(r, "DPoP"); p != Multiple {
		t.Fatalf("two fields: %d", p)
	}
}
