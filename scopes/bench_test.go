package scopes

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rsguard/rsguard"
)

// The checks inside the timed loops of these benchmarks use b.Fatal, not
// testify: an assertion calls b.Helper, which takes a lock and walks the
// stack on every call, even a passing one, and would be timed with the code
// under measurement. Checks outside the loops use require.

// bodyTypical is a tools/call of about 300 bytes, as an MCP client sends it.
const bodyTypical = `{"jsonrpc":"2.0","id":17,"method":"tools/call","params":{"name":"get_inventory",` +
	`"arguments":{"sku":"A-100-BLK","warehouse":"north","include_reserved":true,"fields":["on_hand","reserved","reorder_point"],` +
	`"note":"weekly stock check before the supplier call"},"_meta":{"progressToken":"c1b7e2f0-17"}}}`

// benchBody is a request body that can be reset without allocating.
type benchBody struct{ bytes.Reader }

func (*benchBody) Close() error { return nil }

// benchmarkHandler measures the MCP middleware around a handler that does
// nothing, on one POST with body: read, parse, decide, restore.
func benchmarkHandler(b *testing.B, cfg MCPConfig, body string) {
	m := mustMCP(b, cfg)
	h := m.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	g := &rsguard.Principal{Scopes: []string{"inventory:read", "inventory:write", "resources:read"}}
	r := httptest.NewRequest(http.MethodPost, "/mcp", nil)
	r = r.WithContext(rsguard.NewContext(context.Background(), g))
	r.ContentLength = int64(len(body))
	w := httptest.NewRecorder()
	src := []byte(body)
	var bb benchBody
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		bb.Reset(src)
		r.Body = &bb
		h.ServeHTTP(w, r)
	}
	require.Equal(b, http.StatusOK, w.Code, "status; body %s", w.Body)
}

// BenchmarkMCP is the per-tool middleware's overhead per request. Compare
// with BenchmarkReferenceVerify: the signature check every request pays
// anyway.
func BenchmarkMCP(b *testing.B) {
	big := `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"get_inventory","arguments":{"note":"` +
		strings.Repeat("lorem ipsum ", 1365) + `"}}}`
	b.Run("tools_call", func(b *testing.B) { benchmarkHandler(b, testMCPConfig(), bodyGetInv) })
	b.Run("tools_call_300B", func(b *testing.B) { benchmarkHandler(b, testMCPConfig(), bodyTypical) })
	b.Run("tools_call_chunked", func(b *testing.B) {
		m := mustMCP(b, testMCPConfig())
		h := m.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
		r := httptest.NewRequest(http.MethodPost, "/mcp", nil)
		r = r.WithContext(rsguard.NewContext(context.Background(), &rsguard.Principal{Scopes: []string{"inventory:read"}}))
		r.ContentLength = -1
		var bb benchBody
		src := []byte(bodyGetInv)
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			bb.Reset(src)
			r.Body = &bb
			h.ServeHTTP(httptest.NewRecorder(), r)
		}
	})
	b.Run("tools_call_16KiB_arguments", func(b *testing.B) { benchmarkHandler(b, testMCPConfig(), big) })
	b.Run("batch_of_3", func(b *testing.B) {
		benchmarkHandler(b, testMCPConfig(), "["+bodyGetInv+","+bodySetPrice+","+bodyResource+"]")
	})
	b.Run("tools_list", func(b *testing.B) { benchmarkHandler(b, testMCPConfig(), bodyToolsList) })
	b.Run("extract_only", func(b *testing.B) {
		src := []byte(bodyGetInv)
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			var one [1]rpcMessage
			msgs, err := parseMessages(src, one[:0])
			if err != nil {
				b.Fatal(err)
			}
			if msgs[0].nameErr != nil {
				b.Fatal(msgs[0].nameErr)
			}
		}
	})
}

// BenchmarkReferenceVerify measures the signature verification of an RS256
// (RSA-2048, PKCS #1 v1.5, SHA-256) and an ES256 (P-256) JWT with the
// standard library, the floor below which no token check can go, to put
// BenchmarkMCP in proportion on the same machine.
func BenchmarkReferenceVerify(b *testing.B) {
	digest := sha256.Sum256([]byte("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9"))
	b.Run("RS256", func(b *testing.B) {
		key, err := rsa.GenerateKey(rand.Reader, 2048)
		require.NoError(b, err)
		sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, digest[:])
		require.NoError(b, err)
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if err := rsa.VerifyPKCS1v15(&key.PublicKey, crypto.SHA256, digest[:], sig); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ES256", func(b *testing.B) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		require.NoError(b, err)
		sig, err := ecdsa.SignASN1(rand.Reader, key, digest[:])
		require.NoError(b, err)
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if !ecdsa.VerifyASN1(&key.PublicKey, digest[:], sig) {
				b.Fatal("verify failed")
			}
		}
	})
}
