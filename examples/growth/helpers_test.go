package growth

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/validate"
)

// The protected resource: the audience of every token. Never fetched.
const (
	resource         = "https://mcp.example.com/mcp"
	resourceMetadata = "https://mcp.example.com/.well-known/oauth-protected-resource/mcp"
	scope            = "tools:call"
)

// signer is one issuer of the benchmarks: an Ed25519 key (the cheapest to
// generate, sign and verify: the costs measured here are not the
// signature's) published to the Validator as a static key set.
type signer struct {
	issuer string
	kid    string
	priv   ed25519.PrivateKey
	keys   validate.KeySet
}

// newSigner returns the signer of issuer number i.
func newSigner(tb testing.TB, i int) *signer {
	tb.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	s := &signer{issuer: fmt.Sprintf("https://as%d.example.com", i), kid: "k" + strconv.Itoa(i), priv: priv}
	jwks := fmt.Sprintf(`{"keys":[{"kty":"OKP","crv":"Ed25519","use":"sig","alg":"EdDSA","kid":%q,"x":%q}]}`,
		s.kid, base64.RawURLEncoding.EncodeToString(pub))
	if s.keys, err = validate.NewStaticKeySet([]byte(jwks)); err != nil {
		tb.Fatal(err)
	}
	return s
}

// config returns the IssuerConfig of s.
func (s *signer) config() validate.IssuerConfig {
	return validate.IssuerConfig{Issuer: s.issuer, Keys: s.keys}
}

// token returns a valid access token of s for resource, distinct for each
// n, living an hour; extra claims are added over the defaults.
func (s *signer) token(tb testing.TB, n int, extra map[string]any) string {
	tb.Helper()
	raw, err := s.mint(n, extra)
	if err != nil {
		tb.Fatal(err)
	}
	return raw
}

// mint is token without a testing.TB, for any goroutine.
func (s *signer) mint(n int, extra map[string]any) (string, error) {
	now := time.Now()
	claims := jwt.MapClaims{
		"iss": s.issuer, "aud": resource, "sub": "user-" + strconv.Itoa(n),
		"client_id": "client", "scope": scope, "jti": "t" + strconv.Itoa(n),
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}
	for k, v := range extra {
		claims[k] = v
	}
	t := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims)
	t.Header["kid"] = s.kid
	return t.SignedString(s.priv)
}

// tokens returns n distinct tokens of s, minted on every CPU.
func (s *signer) tokens(tb testing.TB, n int, extra map[string]any) []string {
	tb.Helper()
	out := make([]string, n)
	errs := make([]error, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for w := range errs {
		wg.Go(func() {
			for i := w; i < n && errs[w] == nil; i += len(errs) {
				out[i], errs[w] = s.mint(i, extra)
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		tb.Fatal(err)
	}
	return out
}

// heap returns the live heap after two collections: what is retained.
func heap() int64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

// newValidator returns validate.New(cfg) with resource as its Resource.
func newValidator(tb testing.TB, cfg validate.Config) *validate.Validator {
	tb.Helper()
	cfg.Resource = resource
	v, err := validate.New(tb.Context(), cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

// guard returns an rsguard.Guard over auth around next: how a server uses
// a Validator.
func guard(tb testing.TB, auth rsguard.Authenticator, next http.Handler) http.Handler {
	tb.Helper()
	g, err := rsguard.New(rsguard.Config{Authenticator: auth, ResourceMetadata: resourceMetadata})
	if err != nil {
		tb.Fatal(err)
	}
	return g.Middleware(next)
}

// discard is the application handler: it reads the body it is given
// (io.Discard reads with pooled buffers: it allocates nothing).
var discard = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
	}
	w.WriteHeader(http.StatusNoContent)
})

// nopWriter is a ResponseWriter that keeps only the status: what a
// benchmark needs, without httptest.ResponseRecorder's buffers.
type nopWriter struct {
	h      http.Header
	status int
}

func (w *nopWriter) Header() http.Header         { return w.h }
func (w *nopWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *nopWriter) WriteHeader(code int)        { w.status = code }

// reset readies w for the next request.
func (w *nopWriter) reset() {
	clear(w.h)
	w.status = http.StatusOK
}

func newNopWriter() *nopWriter { return &nopWriter{h: http.Header{}} }
