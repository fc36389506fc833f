package validate_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/audit"
	"github.com/rsguard/rsguard/validate"
	"github.com/rsguard/rsguard/validate/validatetest"
)

// Authenticate asks the verified-token cache before BearerToken's check of
// the token's characters, and, on a miss, verifies first and checks only a
// refused token's characters. These tests hold it to the answers of the
// order BearerToken-then-Verify: a cache hit only for a byte-equal token,
// and 400 invalid_request for any token with a character outside b64token,
// whatever else verification would say of it.

// refusalOf returns the *rsguard.Error of err, failing the test if there is
// none.
func refusalOf(t *testing.T, err error) *rsguard.Error {
	t.Helper()
	var e *rsguard.Error
	require.True(t, errors.As(err, &e), "want an *rsguard.Error, got %v", err)
	return e
}

// withByte returns tok with its byte at i replaced by c.
func withByte(tok string, i int, c byte) string {
	b := []byte(tok)
	b[i] = c
	return string(b)
}

// otherChar returns a base64url character other than c.
func otherChar(c byte) byte {
	if c == 'A' {
		return 'B'
	}
	return 'A'
}

func TestCacheHitOnlyForTheSameBytes(t *testing.T) {
	is := newIssuer(t, nil)
	v := newValidator(t, is, nil)
	tok := is.Token(map[string]any{"scope": "tools:read"})
	first, err := authenticate(v, tok)
	require.NoError(t, err)
	second, err := authenticate(v, tok)
	require.NoError(t, err, "the token is cached now")
	assert.NotSame(t, first, second, "each request gets a Principal of its own")
	assert.NotSame(t, first.Details, second.Details, "and Claims of its own")

	dot := strings.LastIndexByte(tok, '.')
	sig := dot + 1 + (len(tok)-dot-1)/2 // a byte inside the signature (not its last, which has padding bits)
	for _, tc := range []struct {
		name   string
		tok    string
		status int
		reason audit.Reason
	}{
		{"signature byte changed", withByte(tok, sig, otherChar(tok[sig])), http.StatusUnauthorized, audit.ReasonBadSignature},
		{"payload byte changed", withByte(tok, dot-5, otherChar(tok[dot-5])), http.StatusUnauthorized, ""}, // malformed, or another claim: refused
		{"header byte changed", withByte(tok, 3, otherChar(tok[3])), http.StatusUnauthorized, ""},
		{"signature byte outside b64token", withByte(tok, sig, '!'), http.StatusBadRequest, audit.ReasonInvalidRequest},
		{"payload byte outside b64token", withByte(tok, dot-5, '*'), http.StatusBadRequest, audit.ReasonInvalidRequest},
		{"header byte outside b64token", withByte(tok, 0, '"'), http.StatusBadRequest, audit.ReasonInvalidRequest},
		{"b64token but not base64url", withByte(tok, sig, '~'), http.StatusUnauthorized, audit.ReasonBadSignature},
		{"padding appended", tok + "=", http.StatusUnauthorized, audit.ReasonBadSignature},
		{"one byte shorter", tok[:len(tok)-1], http.StatusUnauthorized, audit.ReasonBadSignature},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.NotEqual(t, tok, tc.tok)
			p, err := authenticate(v, tc.tok)
			require.Error(t, err, "a token one byte away from a cached one is not the cached one")
			assert.Nil(t, p)
			e := refusalOf(t, err)
			assert.Equal(t, tc.status, e.Status)
			if tc.reason != "" {
				assert.ErrorIs(t, err, tc.reason)
			}
		})
	}
	_, err = authenticate(v, tok)
	require.NoError(t, err, "the cached token is still accepted")
}

// TestCacheHitKeepsTheRequestChecks: the header problems BearerToken finds
// besides the token's characters come before the cache.
func TestCacheHitKeepsTheRequestChecks(t *testing.T) {
	is := newIssuer(t, nil)
	v := newValidator(t, is, nil)
	tok := is.Token(nil)
	_, err := authenticate(v, tok)
	require.NoError(t, err)
	for _, tc := range []struct {
		name   string
		target string
		fields []string
		status int
	}{
		{"token in the query too", "/mcp?access_token=x", []string{"Bearer " + tok}, http.StatusBadRequest},
		{"two fields", "/mcp", []string{"Bearer " + tok, "Bearer " + tok}, http.StatusBadRequest},
		{"other scheme", "/mcp", []string{"Basic " + tok}, http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := http.NewRequest(http.MethodGet, "https://mcp.example.com"+tc.target, nil)
			require.NoError(t, err)
			for _, f := range tc.fields {
				r.Header.Add("Authorization", f)
			}
			p, err := v.Authenticate(r)
			require.Error(t, err)
			assert.Nil(t, p)
			assert.Equal(t, tc.status, refusalOf(t, err).Status)
		})
	}
}

// TestCharactersCheckedBeforeOtherRefusals: a token with a character outside
// b64token is 400 invalid_request wherever the character is, also when
// verification would refuse the token for another reason first (its
// algorithm, its claims, its key) or accept it but for that character.
func TestCharactersCheckedBeforeOtherRefusals(t *testing.T) {
	is := newIssuer(t, nil)
	toks := map[string]string{
		"valid":       is.Token(nil),
		"alg none":    is.TokenWith(validatetest.TokenOptions{Alg: "none"}, nil),
		"expired":     is.Token(map[string]any{"exp": fixedNow.Add(-time.Hour).Unix()}),
		"wrong aud":   is.Token(map[string]any{"aud": "https://other.example/mcp"}),
		"unknown kid": is.TokenWith(validatetest.TokenOptions{Header: map[string]any{"kid": "nope"}}, nil),
	}
	for _, cache := range []bool{true, false} {
		v := newValidator(t, is, func(c *validate.Config) { c.Cache.Disable = !cache })
		h := guarded(t, v, protectedOK, nil)
		for name, tok := range toks {
			d1 := strings.IndexByte(tok, '.')
			d2 := strings.LastIndexByte(tok, '.')
			where := map[string]int{"header": d1 / 2, "payload": (d1 + d2) / 2}
			if d2 < len(tok)-2 {
				where["signature"] = (d2 + len(tok)) / 2
			}
			for part, i := range where {
				for _, c := range []byte{'!', '%', ',', '\\', 0x80} {
					bad := withByte(tok, i, c)
					r, err := http.NewRequest(http.MethodGet, "https://mcp.example.com/mcp", nil)
					require.NoError(t, err)
					r.Header.Set("Authorization", "Bearer "+bad)
					rec := httptest.NewRecorder()
					h.ServeHTTP(rec, r)
					assert.Equal(t, http.StatusBadRequest, rec.Code, "cache %v, %s token, %q in its %s", cache, name, c, part)
					assert.Contains(t, rec.Header().Get("WWW-Authenticate"), `error="invalid_request"`)
				}
			}
			// The same tokens, well-formed, are refused (or accepted) by
			// verification: the check changed nothing else.
			_, err := authenticate(v, tok)
			if name == "valid" {
				assert.NoError(t, err)
			} else {
				assert.Equal(t, http.StatusUnauthorized, refusalOf(t, err).Status, name)
			}
		}
	}
}
