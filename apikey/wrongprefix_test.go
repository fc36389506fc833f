package apikey

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/rsguard/rsguard/scopes"
	"github.com/rsguard/rsguard/validate"
)

// TestWrongPrefix: a key that does not start with the configured prefix is
// refused as malformed (401 invalid_token, [ErrMalformed], reason code
// "malformed") with an error_description naming the expected prefix, and the
// error names it too; nothing the client sent past its own prefix reaches the
// response, the logs, the returned error, OnUse or OnDecision. Controls: a
// key with the right prefix but a bad checksum or length keeps its own
// description, and a valid key is accepted.
func TestWrongPrefix(t *testing.T) {
	const prefix = "rsg_"
	const wantDesc = "the API key must start with rsg_" // RFC 6750 §3 NQSCHAR only
	// A deterministic key, so that the leak check below is deterministic.
	key, rec, err := generate(rand.NewChaCha8([32]byte{'r', 's', 'g'}), prefix, Record{Owner: "alice", ClientID: "reporting", Scopes: []string{"tools:read"}})
	if err != nil {
		t.Fatal(err)
	}
	body := key[len(prefix):] // <id>_<secret><checksum>
	typo := key[:len(key)-1] + flipChar(key[len(key)-1])

	tests := []struct {
		name     string
		key      string
		shown    int // key[shown:] is what the client sent past its own prefix: it must not leak
		status   int
		sentinel error
		desc     string
	}{
		{name: "other vendor prefix", key: "ghp_" + body, shown: len("ghp_"), status: 401, sentinel: ErrMalformed, desc: wantDesc},
		{name: "other vendor prefix and shape", key: "sk-proj-" + body + "T3BlbkFJ", shown: len("sk-proj-"), status: 401, sentinel: ErrMalformed, desc: wantDesc},
		{name: "no prefix", key: body, shown: 0, status: 401, sentinel: ErrMalformed, desc: wantDesc},
		{name: "prefix in upper case", key: "RSG_" + body, shown: len("RSG_"), status: 401, sentinel: ErrMalformed, desc: wantDesc},
		{name: "prefix differing in case by one letter", key: "rsG_" + body, shown: len("rsG_"), status: 401, sentinel: ErrMalformed, desc: wantDesc},
		{name: "truncated prefix", key: "rsg" + body, shown: len("rsg"), status: 401, sentinel: ErrMalformed, desc: wantDesc},
		{name: "prefix cut to two characters", key: "rs" + body, shown: len("rs"), status: 401, sentinel: ErrMalformed, desc: wantDesc},
		{name: "prefix not at the start", key: "x" + key, shown: len("x" + prefix), status: 401, sentinel: ErrMalformed, desc: wantDesc},
		{name: "empty key", key: "", status: 401, sentinel: ErrMalformed, desc: wantDesc},
		// Controls.
		{name: "right prefix, bad checksum", key: typo, shown: len(prefix), status: 401, sentinel: ErrChecksum, desc: "the API key is malformed (checksum mismatch)"},
		{name: "right prefix, truncated", key: key[:len(key)-4], shown: len(prefix), status: 401, sentinel: ErrMalformed, desc: "the API key is malformed"},
		{name: "valid key", key: key, shown: len(prefix) + IDLen, status: 200}, // the id is public and logged
	}

	f := newFixture(t) // for its token issuer
	for _, mode := range []string{"with validator", "keys only"} {
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
			store, err := NewMemoryStore(rec)
			if err != nil {
				t.Fatal(err)
			}
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
				OnDecision: func(_ context.Context, d scopes.Decision) {
					d.Time, d.Latency = fixedNow, 0 // real clock: not the key's digits
					mu.Lock()
					defer mu.Unlock()
					hooks = append(hooks, fmt.Sprintf("%+v", d))
				},
			}
			if mode == "keys only" {
				cfg.ResourceMetadata = resourceMetadata
			} else {
				cfg.Validator = newValidator(t, f.is, logger)
			}
			a := mustNew(t, cfg)
			srv := httptest.NewServer(a.Middleware(echo(new(seen))))
			defer srv.Close()

			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					logs.Reset()
					mu.Lock()
					hooks = nil
					mu.Unlock()

					req, _ := http.NewRequest(http.MethodGet, srv.URL+"/mcp", nil)
					req.Header.Set("X-API-Key", tt.key)
					resp, err := srv.Client().Do(req)
					if err != nil {
						t.Fatal(err)
					}
					respBody, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode != tt.status {
						t.Fatalf("status = %d, want %d; body %s", resp.StatusCode, tt.status, respBody)
					}

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
						if g, want := resp.Header.Values("WWW-Authenticate"), challenge("invalid_token", tt.desc); len(g) != 1 || g[0] != want {
							t.Errorf("WWW-Authenticate =\n%q\nwant\n%q", g, want)
						}
						if want := `{"error":"invalid_token","error_description":"` + tt.desc + `"}`; string(respBody) != want {
							t.Errorf("body = %s, want %s", respBody, want)
						}
						var ve *validate.Error
						if !errors.Is(aerr, tt.sentinel) || !errors.As(aerr, &ve) || ve.Description != tt.desc || ve.Status != tt.status {
							t.Errorf("Authenticate = %v, want %v with description %q", aerr, tt.sentinel, tt.desc)
						}
						if ReasonCode(aerr) != scopes.ReasonMalformed {
							t.Errorf("ReasonCode = %q, want %q", ReasonCode(aerr), scopes.ReasonMalformed)
						}
						if names := strings.Contains(errText, prefix); names != (tt.desc == wantDesc) {
							t.Errorf("error %q: names the expected prefix = %v, want %v", errText, names, tt.desc == wantDesc)
						}
						if !strings.Contains(logs.String(), "apikey: key refused") {
							t.Errorf("no refusal logged:\n%s", logs.String())
						}
					} else if aerr != nil {
						t.Errorf("Authenticate = %v", aerr)
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
						if s := sharedSubstring(tt.key, tt.shown, text, 4); s != "" {
							t.Errorf("%s contain %q, from the presented key:\n%s", where, s, text)
						}
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
		if got := sharedSubstring(tc.key, tc.from, tc.text, 4); got != tc.want {
			t.Errorf("sharedSubstring(%q, %d, %q) = %q, want %q", tc.key, tc.from, tc.text, got, tc.want)
		}
	}
}
