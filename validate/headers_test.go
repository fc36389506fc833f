package validate_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/validate"
	"github.com/rsguard/rsguard/validate/validatetest"
)

// TestKnownHeadersChangeNoAnswer: a Validator remembers the protected
// headers its tokens verified under, which changes no answer: every token
// of a corpus — valid, and broken in each segment, before and after the
// header, in its characters, its encoding, its claims and its signature —
// gets the same answer (status, error code, reasons, principal) from a
// Validator that has verified a token under the same header as from one
// that has not.
func TestKnownHeadersChangeNoAnswer(t *testing.T) {
	is := newIssuer(t, nil)
	noCache := func(c *validate.Config) { c.Cache.Disable = true }
	tok := is.Token(map[string]any{"scope": "tools:read"})
	h, rest, _ := strings.Cut(tok, ".")
	p, s, _ := strings.Cut(rest, ".")
	segs := func(tok string) (string, string, string) {
		parts := strings.SplitN(tok, ".", 3)
		return parts[0], parts[1], parts[2]
	}
	eh, ep, es := segs(is.Token(map[string]any{"exp": fixedNow.Add(-time.Hour).Unix()}))
	require.Equal(t, h, eh, "the issuer signs every token of a key under one header")
	_, ap, as := segs(is.Token(map[string]any{"aud": "https://other.example/mcp"}))
	uh, up, us := segs(is.TokenWith(validatetest.TokenOptions{Header: map[string]any{"kid": "unknown"}}, nil))
	flip := func(seg string) string {
		b := []byte(seg)
		b[len(b)/2] = otherChar(b[len(b)/2])
		return string(b)
	}
	corpus := map[string]string{
		"valid":                tok,
		"expired":              eh + "." + ep + "." + es,
		"wrong audience":       h + "." + ap + "." + as,
		"claims changed":       h + "." + ap + "." + s,
		"signature changed":    h + "." + p + "." + flip(s),
		"signature cut":        h + "." + p + "." + s[:len(s)-4],
		"no signature":         h + "." + p + ".",
		"no claims":            h + ".." + s,
		"claims not base64url": h + "." + p[:10] + "*" + p[11:] + "." + s,
		"claims padded":        h + "." + p + "=." + s,
		"signature not b64":    h + "." + p + "." + s + "!",
		"signature padded":     h + "." + p + "." + s + "==",
		"space in signature":   h + "." + p + "." + s[:5] + " " + s[5:],
		"two segments":         h + "." + p,
		"four segments":        h + "." + p + "." + s + ".x",
		"five segments":        h + "." + p + "." + s + ".x.y",
		"header changed":       flip(h) + "." + p + "." + s,
		"header with newline":  h[:4] + "\n" + h[4:] + "." + p + "." + s,
		"another header":       uh + "." + up + "." + us,
		"known header, kid's":  h + "." + up + "." + us,
		"header only":          h,
		"header and dots":      h + "..",
		// Headers refused whatever the rest, validly signed: the memo
		// must never remember them.
		"crit":            is.TokenWith(validatetest.TokenOptions{Header: map[string]any{"crit": []string{"exp"}, "exp": 1}}, nil),
		"typ not allowed": is.TokenWith(validatetest.TokenOptions{Header: map[string]any{"typ": "id+jwt"}}, nil),
		"enc":             is.TokenWith(validatetest.TokenOptions{Header: map[string]any{"enc": "A128GCM"}}, nil),
		"alg none":        is.TokenWith(validatetest.TokenOptions{Alg: "none"}, nil),
		"HS256, the key":  is.TokenWith(validatetest.TokenOptions{Alg: "HS256", Secret: publicKeyPEM(t, is, is.Kid("RS256"))}, nil),
	}
	warm := newValidator(t, is, noCache)
	_, err := authenticate(warm, tok)
	require.NoError(t, err)
	type answer struct {
		status    int
		code      string
		reasons   string
		principal string
	}
	answerOf := func(err error) answer {
		if err == nil {
			return answer{status: 200}
		}
		var e *rsguard.Error
		require.True(t, errors.As(err, &e), "%v", err)
		a := answer{status: e.Status, code: e.Code, reasons: err.Error()}
		if e.Principal != nil {
			a.principal = e.Principal.Subject
		}
		return a
	}
	for name, tok := range corpus {
		cold := newValidator(t, is, noCache)
		pc, errCold := authenticate(cold, tok)
		// Twice: the first answer may have taught the warm Validator the
		// token's header.
		for range 2 {
			pw, errWarm := authenticate(warm, tok)
			assert.Equal(t, answerOf(errCold), answerOf(errWarm), name)
			if errCold == nil && errWarm == nil {
				assert.Equal(t, pc, pw, name)
			}
		}
	}
}
