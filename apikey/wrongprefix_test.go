package apikey

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/audit"
)

// TestWrongPrefix: a key that does not start with the configured prefix is
// refused as malformed (401 invalid_token, audit.ReasonMalformed) with an error_description naming the expected prefix, and the
// error names it too; nothing the client sent past its own prefix reaches the
// response, the logs, the returned error, OnUse or OnDecision. Controls: a
// key with the right prefix but a bad checksum or length keeps its own
// description, and a valid key is accepted.
func TestWrongPrefix(t *testing.T) {
	const prefix = "rsg_"
	const wantDesc = "the API key must start with rsg_" // RFC 6750 §3 NQSCHAR only
	// A deterministic key, so that the leak check below is deterministic.
	key, rec, err := generate(rand.NewChaCha8([32]byte{'r', 's', 'g'}), prefix, Record{Owner: "alice", ClientID: "reporting", Scopes: []string{"tools:read"}})
	require.NoError(t, err)
	body := key[len(prefix):] // <id>_<secret><checksum>
	typo := key[:len(key)-1] + flipChar(key[len(key)-1])

	tests := []struct {
		name    string
		key     string
		shown   int // key[shown:] is what the client sent past its own prefix: it must not leak
		status  int
		wantErr error
		desc    string
	}{
		{name: "other vendor prefix", key: "ghp_" + body, shown: len("ghp_"), status: 401, wantErr: audit.ReasonMalformed, desc: wantDesc},
		{name: "other vendor prefix and shape", key: "sk-proj-" + body + "T3BlbkFJ", shown: len("sk-proj-"), status: 401, wantErr: audit.ReasonMalformed, desc: wantDesc},
		{name: "no prefix", key: body, shown: 0, status: 401, wantErr: audit.ReasonMalformed, desc: wantDesc},
		{name: "prefix in upper case", key: "RSG_" + body, shown: len("RSG_"), status: 401, wantErr: audit.ReasonMalformed, desc: wantDesc},
		{name: "prefix differing in case by one letter", key: "rsG_" + body, shown: len("rsG_"), status: 401, wantErr: audit.ReasonMalformed, desc: wantDesc},
		{name: "truncated prefix", key: "rsg" + body, shown: len("rsg"), status: 401, wantErr: audit.ReasonMalformed, desc: wantDesc},
		{name: "prefix cut to two characters", key: "rs" + body, shown: len("rs"), status: 401, wantErr: audit.ReasonMalformed, desc: wantDesc},
		{name: "prefix not at the start", key: "x" + key, shown: len("x" + prefix), status: 401, wantErr: audit.ReasonMalformed, desc: wantDesc},
		{name: "empty key", key: "", status: 401, wantErr: audit.ReasonMalformed, desc: wantDesc},
		// Controls.
		{name: "right prefix, bad checksum", key: typo, shown: len(prefix), status: 401, wantErr: errChecksum, desc: "the API key is malformed (checksum mismatch)"},
		{name: "right prefix, truncated", key: key[:len(key)-4], shown: len(prefix), status: 401, wantErr: errShape, desc: "the API key is malformed"},
		{name: "valid key", key: key, shown: len(prefix) + idLen, status: 200}, // the id is public and logged
	}

	f := newFixture(t) // for its bearer authenticator
	for _, mode := range []string{"with bearer", "keys only"} {
		t.Run(mode, func(t *testing.T) {
			var logs bytes.Buffer
			logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{
				Level: slog.LevelDebug,
				ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
					if a.Key == slog.TimeKey && len(groups) == 0 {
						return slog.Attr{} // the clock's digits are not the key's
					}
					return a
				},
			}))
			var mu sync.Mutex
			var hooks []string
			var reasons []audit.Reason // of the decisions
			store, err := NewMemoryStore(rec)
			require.NoError(t, err)
			cfg := Config{
				Store:  store,
				Prefix: prefix,
				Now:    f.config().Now,
				Logger: logger,
				OnUse: func(_ *http.Request, u Use) {
					mu.Lock()
					defer mu.Unlock()
					hooks = append(hooks, fmt.Sprintf("%+v", u))
				},
			}
			if mode == "with bearer" {
				cfg.Bearer = f.bearer
			}
			a := mustNew(t, cfg)
			g := newGuard(t, rsguard.Config{
				Authenticator: a,
				Logger:        logger,
				OnDecision: func(_ context.Context, d audit.Decision) {
					d.Time, d.Latency = fixedNow, 0 // real clock: not the key's digits
					mu.Lock()
					defer mu.Unlock()
					hooks = append(hooks, fmt.Sprintf("%+v", d))
					reasons = append(reasons, d.Reason)
				},
			})
			srv := httptest.NewServer(g.Middleware(echo(new(seen))))
			defer srv.Close()

			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					logs.Reset()
					mu.Lock()
					hooks, reasons = nil, nil
					mu.Unlock()

					req, _ := http.NewRequest(http.MethodGet, srv.URL+"/mcp", nil)
					req.Header.Set("X-API-Key", tt.key)
					resp, err := srv.Client().Do(req)
					require.NoError(t, err)
					respBody, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					require.Equal(t, tt.status, resp.StatusCode, "status; body %s", respBody)

					// The decision method: the same answer, an error naming
					// the expected prefix (and not the key).
					r := httptest.NewRequest(http.MethodGet, "/mcp", nil)
					r.Header.Set("X-API-Key", tt.key)
					_, aerr := a.Authenticate(r)
					errText := ""
					if aerr != nil {
						errText = aerr.Error()
					}

					if tt.status != 200 {
						assert.Equal(t, []string{challenge("invalid_token", tt.desc)}, resp.Header.Values("WWW-Authenticate"), "WWW-Authenticate")
						assert.Equal(t, `{"error":"invalid_token","error_description":"`+tt.desc+`"}`, string(respBody), "body")
						var e *rsguard.Error
						require.ErrorIs(t, aerr, audit.ReasonMalformed, "Authenticate")
						require.ErrorIs(t, aerr, tt.wantErr, "Authenticate")
						require.ErrorAs(t, aerr, &e, "Authenticate")
						require.Equal(t, tt.desc, e.Description, "Authenticate = %v: description", aerr)
						require.Equal(t, tt.status, e.Status, "Authenticate = %v: status", aerr)
						assert.Equal(t, audit.ReasonMalformed, e.Reason, "Reason")
						assert.Equal(t, audit.CredentialAPIKey, e.Credential, "Credential")
						assert.Nil(t, e.Principal, "Principal")
						mu.Lock()
						decided := reasons
						mu.Unlock()
						assert.Equal(t, []audit.Reason{audit.ReasonMalformed}, decided, "no malformed decision recorded")
						assert.Equal(t, tt.desc == wantDesc, strings.Contains(errText, prefix), "error %q: names the expected prefix", errText)
						assert.Contains(t, logs.String(), "apikey: key refused", "no refusal logged")
					} else {
						assert.NoError(t, aerr, "Authenticate")
					}

					// Nothing the client sent past its own prefix, not even
					// four characters of it, comes back or is recorded.
					hdr := resp.Header.Clone()
					hdr.Del("Date") // the server's clock
					mu.Lock()
					hooked := strings.Join(hooks, "\n")
					mu.Unlock()
					texts := map[string]string{
						"response headers": fmt.Sprint(hdr),
						"response body":    string(respBody),
						"logs":             logs.String(),
						"error":            errText,
						"hooks":            hooked,
					}
					for where, text := range texts {
						s := sharedSubstring(tt.key, tt.shown, text, 4)
						assert.Empty(t, s, "%s contain %q, from the presented key:\n%s", where, s, text)
					}
				})
			}
		})
	}
}

// sharedSubstring returns a substring of key of length n that includes at
// least one byte of key[from:] and occurs in text, or "".
func sharedSubstring(key string, from int, text string, n int) string {
	for i := max(0, from-n+1); i+n <= len(key); i++ {
		if s := key[i : i+n]; strings.Contains(text, s) {
			return s
		}
	}
	return ""
}

// TestSharedSubstring checks the leak detector itself.
func TestSharedSubstring(t *testing.T) {
	for _, tc := range []struct {
		key  string
		from int
		text string
		want string
	}{
		{"rsg_AbCd1234", 4, "prefix rsg_ only", ""},
		{"rsg_AbCd1234", 4, "leaks d123 here", "d123"},
		{"rsg_AbCd1234", 4, "straddles g_Ab", "g_Ab"},
		{"rsg_AbCd1234", 4, "has rsg_ and Ab", ""},
		{"abc", 0, "abc", ""}, // shorter than n
	} {
		assert.Equal(t, tc.want, sharedSubstring(tc.key, tc.from, tc.text, 4), "sharedSubstring(%q, %d, %q)", tc.key, tc.from, tc.text)
	}
}
