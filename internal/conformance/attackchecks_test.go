package conformance

import (
	"crypto/rand"
	"crypto/rsa"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rsguard/rsguard/rsmeta"
)

// TestPartialEcho: issue 18 asks the checker to verify that "nothing
// of a token" is echoed. A server that repeats the first 24 characters of
// the token it refused (a common "token abc…" log/diagnostic style) echoes
// part of it, and fails (the kit once looked only for whole segments of at
// least 8 bytes, and passed it).
func TestPartialEcho(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/oauth-protected-resource/mcp", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"resource":"`+bbResource+`","authorization_servers":["`+bbIssuer+`"],"scopes_supported":["items:read"]}`)
	})
	mux.HandleFunc("/mcp", func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		ch := `Bearer resource_metadata="` + bbMetadata + `", scope="items:read"`
		if ok {
			ch += `, error="invalid_token"`
			w.Header().Set("WWW-Authenticate", ch)
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, "refused token "+tok[:min(len(tok), 24)]+"...")
			return
		}
		w.Header().Set("WWW-Authenticate", ch)
		w.WriteHeader(http.StatusUnauthorized)
	})
	c := blackBox(t, mux, &PublicKey{Kid: "k", Alg: "RS256", Key: key.Public()}, false)
	c.Skip = []string{"metadata", "authorization servers", "cors", "challenge", "accept", "dpop"}
	got := runFor(t, c, "attacks/algorithm/alg none")
	assert.Equal(t, Failed, got.Outcome, "a response echoing the first 24 characters of the token: %q", got.Errors)
}

// TestEchoed: any echoWindow bytes of a secret are found, wherever they
// start and whatever surrounds them; fewer are not; a secret shorter than
// the window is looked for whole.
func TestEchoed(t *testing.T) {
	const tok = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbGljZSIsImV4cCI6MX0.c2lnbmF0dXJlLW9mLXRoZS10b2tlbg"
	for _, tc := range []struct {
		name, hay string
		want      bool
		at        int
	}{
		{"the whole token", "token " + tok, true, 0},
		{"a prefix", "refused " + tok[:16] + "...", true, 0},
		{"a fragment across a dot", "x" + tok[10:26] + "x", true, 10},
		{"a suffix", tok[len(tok)-16:], true, len(tok) - 16},
		{"15 bytes", "refused " + tok[:15] + "...", false, 0},
		{"nothing", `{"error":"invalid_token"}`, false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			at, ok := echoed(tc.hay, tok)
			assert.Equal(t, tc.want, ok)
			assert.Equal(t, tc.at, at)
		})
	}
	_, ok := echoed("the token not-a-jwt is malformed", "not-a-jwt")
	assert.True(t, ok, "a short secret, whole")
	_, ok = echoed("abc", "abc")
	assert.False(t, ok, "shorter than eight bytes: not looked for")
}

// TestEchoConformingRefusal: no piece of any token of the attack corpus
// is found in what a conforming refusal holds: its challenge (the metadata
// URL, scope names, the error code and description) and its JSON body.
func TestEchoConformingRefusal(t *testing.T) {
	h, key := wiredServer(t)
	c := blackBox(t, h, key, true)
	c.Scopes = []string{"items:read", "mcp-tools-read-write-everything", "resource_metadata_scope"}
	var attacks []Attack
	NewRecorder("Kit").Run(func(r Reporter) { attacks = c.Attacks(r) })
	require.NotEmpty(t, attacks)
	w := httptest.NewRecorder()
	rsmeta.WriteChallenge(w, http.StatusUnauthorized, rsmeta.Challenge{Scheme: "Bearer", ResourceMetadata: bbMetadata, Scope: c.Scopes,
		Error: rsmeta.ErrorInvalidToken, ErrorDescription: "the access token is invalid: oauth-protected-resource insufficient_scope"})
	resp := &response{status: w.Code, header: w.Header(), body: w.Body.Bytes()}
	n := 0
	for _, a := range attacks {
		if a.Token == "" {
			continue
		}
		n++
		r := NewRecorder("echo")
		r.Run(func(r Reporter) { c.checkEcho(r, resp, tokenParts(a.Token)) })
		for _, res := range r.Results() {
			assert.Empty(t, res.Errors, "%s/%s", a.Class, a.Name)
		}
	}
	assert.Greater(t, n, 20)
}
