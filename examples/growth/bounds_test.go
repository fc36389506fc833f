package growth

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	"github.com/rsguard/rsguard/scopes"
	"github.com/rsguard/rsguard/validate"
)

// heapSlack absorbs what the runtime and the Validator retain besides the
// cache entries between two measurements (GC metadata, pools, map growth).
const heapSlack = 64 << 10

// TestCacheBounds checks that the verified-token cache stays within
// validate.CacheOptions.MaxEntries and MaxBytes however many distinct valid
// tokens it sees: ten times more than fit, each a fresh copy as a request's
// header would be. The cache is not visible from outside, so the test weighs
// the heap the Validator retains: with a per-entry cost measured while the
// cache is a quarter full, the heap after all the tokens must be what at
// most the bound's worth of entries retain (with a margin of a quarter), not
// ten times that.
func TestCacheBounds(t *testing.T) {
	s := newSigner(t, 0)
	t.Run("MaxEntries", func(t *testing.T) {
		const maxEntries = 256
		tokens := s.tokens(t, 11*maxEntries, nil)
		v := newValidator(t, validate.Config{
			Issuer: s.issuer, Keys: s.keys,
			Cache: validate.CacheOptions{MaxEntries: maxEntries, MaxBytes: 1 << 30},
		})
		base := heap()
		fill(t, v, tokens[:maxEntries/4])
		perEntry := float64(heap()-base) / (maxEntries / 4)
		fill(t, v, tokens[maxEntries/4:])
		retained := heap() - base
		limit := int64(1.25*maxEntries*perEntry) + heapSlack
		t.Logf("%.0f B/entry; after %d tokens, %d B retained (%.0f entries' worth), limit %d B (%d entries + slack)",
			perEntry, len(tokens), retained, float64(retained)/perEntry, limit, maxEntries)
		if retained > limit {
			t.Errorf("the cache retains %d B after %d distinct tokens, more than %d entries of %.0f B can (limit %d B)",
				retained, len(tokens), maxEntries, perEntry, limit)
		}
		runtime.KeepAlive(v)
		runtime.KeepAlive(tokens) // not collected between the measurements
	})
	t.Run("MaxBytes", func(t *testing.T) {
		// Large tokens (a 4 KiB claim: about 10 KiB in the cache each),
		// far more entries allowed than bytes: MaxBytes binds.
		const maxBytes = 512 << 10
		pad := map[string]any{"pad": strings.Repeat("p", 4<<10)}
		tokens := s.tokens(t, 500, pad)
		v := newValidator(t, validate.Config{
			Issuer: s.issuer, Keys: s.keys,
			Cache: validate.CacheOptions{MaxEntries: 1 << 20, MaxBytes: maxBytes},
		})
		base := heap()
		fill(t, v, tokens[:10])
		perEntry := float64(heap()-base) / 10
		fill(t, v, tokens[10:])
		retained := heap() - base
		limit := int64(1.25*maxBytes) + heapSlack
		t.Logf("%.0f B/entry retained; after %d tokens (%.0f KiB of entries if all were kept), %d B retained, limit %d B",
			perEntry, len(tokens), perEntry*float64(len(tokens))/1024, retained, limit)
		if retained > limit {
			t.Errorf("the cache retains %d B after %d distinct tokens of %.0f B, over MaxBytes %d (limit %d B)",
				retained, len(tokens), perEntry, maxBytes, limit)
		}
		runtime.KeepAlive(v)
		runtime.KeepAlive(tokens) // not collected between the measurements
	})
}

// countingReader is a request body of n bytes — the head of a tools/call,
// then its argument's padding — that counts what is read of it.
type countingReader struct {
	head []byte
	n    int64 // bytes left, head included
	read int64
}

func (r *countingReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > r.n {
		p = p[:r.n]
	}
	k := copy(p, r.head)
	r.head = r.head[k:]
	for i := k; i < len(p); i++ {
		p[i] = 'a'
	}
	r.n -= int64(len(p))
	r.read += int64(len(p))
	return len(p), nil
}

// TestBodyBound checks scopes.MCPConfig.MaxBodyBytes: a tools/call body of
// exactly the bound is served whole; a longer one — with or without a
// Content-Length, up to 64 times the bound — is refused with 413 after at
// most MaxBodyBytes+1 bytes were read, and the handler never runs.
func TestBodyBound(t *testing.T) {
	const limit = 64 << 10
	s := newSigner(t, 0)
	v := newValidator(t, validate.Config{Issuer: s.issuer, Keys: s.keys})
	tok := "Bearer " + s.token(t, 0, nil)
	m, err := scopes.NewMCP(scopes.MCPConfig{Tools: map[string][]string{"upload": {scope}}, MaxBodyBytes: limit})
	if err != nil {
		t.Fatal(err)
	}
	var got int64
	h := guard(t, v, m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		got = n
		w.WriteHeader(http.StatusNoContent)
	})))
	head := []byte(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"upload","arguments":{"data":"`)
	for _, c := range []struct {
		size          int64
		contentLength bool
		status        int
	}{
		{limit, true, http.StatusNoContent},
		{limit, false, http.StatusNoContent},
		{limit + 1, true, http.StatusRequestEntityTooLarge},
		{limit + 1, false, http.StatusRequestEntityTooLarge},
		{64 * limit, false, http.StatusRequestEntityTooLarge},
	} {
		t.Run(fmt.Sprintf("%d/ContentLength=%v", c.size, c.contentLength), func(t *testing.T) {
			body := &countingReader{head: head, n: c.size}
			if c.status == http.StatusNoContent {
				// A well-formed body of exactly c.size bytes.
				whole := toolsCall(int(c.size))
				body = &countingReader{head: whole, n: int64(len(whole))}
			}
			req := httptest.NewRequest(http.MethodPost, resource, io.NopCloser(body))
			req.ContentLength = -1
			if c.contentLength {
				req.ContentLength = c.size
			}
			req.Header.Set("Authorization", tok)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept", "application/json, text/event-stream")
			got = -1
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != c.status {
				t.Fatalf("status %d, want %d: %s", w.Code, c.status, w.Body)
			}
			switch c.status {
			case http.StatusNoContent:
				if got != c.size {
					t.Errorf("the handler read %d bytes of %d", got, c.size)
				}
			default:
				if got != -1 {
					t.Error("the handler ran")
				}
				if body.read > limit+1 {
					t.Errorf("%d bytes of the body were read, more than MaxBodyBytes+1 = %d", body.read, limit+1)
				}
			}
		})
	}
}
