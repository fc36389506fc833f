package interop_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/audit"
	"github.com/rsguard/rsguard/examples/internal/runtest"
	"github.com/rsguard/rsguard/rsmeta"
	"github.com/rsguard/rsguard/validate"
)

// The resource servers of the introspection and DPoP interop tests
// (introspection_test.go, dpop_test.go): plain Go, rsguard.New +
// validate.New, on 127.0.0.1, one Guard per path, each path its own resource
// (so one as.mjs can give each its own tokens, opaque or JWT).

// caseHeader is the header dpop-client.mjs names each request's case in, so
// that the decisions of one run can be told apart.
const caseHeader = "X-Interop-Case"

// nodeEnv is node and this directory with node_modules installed, without
// the MCP server builds TestInterop needs.
type nodeEnv struct {
	node string
	dir  string
}

var (
	installOnce sync.Once
	installOut  []byte
	installErr  error
)

// setupNode skips without node (fails in CI) and runs install.sh once per
// test binary.
func setupNode(t *testing.T) *nodeEnv {
	t.Helper()
	node := requireNode(t)
	dir, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	installOnce.Do(func() {
		installOut, installErr = runtest.RunTool(dir, runtest.BuildTimeout, filepath.Join(dir, "install.sh"))
	})
	if installErr != nil {
		t.Fatalf("examples/interop/install.sh: %v\n%s", installErr, installOut)
	}
	return &nodeEnv{node: node, dir: dir}
}

// asFeatures is the JSON line of an as.mjs started with --introspection,
// --opaque or --dpop: asInfo and what those flags add.
type asFeatures struct {
	asInfo
	IntrospectionEndpoint string   `json:"introspection_endpoint"`
	Opaque                []string `json:"opaque"`
	RSClients             []struct {
		ClientID   string `json:"client_id"`
		AuthMethod string `json:"token_endpoint_auth_method"`
	} `json:"rs_clients"`
	DPoP *struct {
		Nonce bool `json:"nonce"`
	} `json:"dpop"`
}

// startAS runs as.mjs with args, stopped when t ends, and returns its line.
func (e *nodeEnv) startAS(t *testing.T, args ...string) asFeatures {
	t.Helper()
	p := runtest.StartChild(t, e.dir, e.node, append([]string{"as.mjs", "--port", "0"}, args...)...)
	line := p.WaitLine(t, func(string) bool { return true })
	var info asFeatures
	if err := json.Unmarshal([]byte(line), &info); err != nil || !strings.HasPrefix(info.Issuer, "http://127.0.0.1:") {
		t.Fatalf("as.mjs first line %q: %v", line, err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("--- as.mjs stderr (tail):\n%s", tail(p.Stderr.String()))
		}
	})
	return info
}

// rsServer is a Go resource server: one httptest server whose paths are
// guarded resources, added with guard before start. Every decision is kept,
// under the path and the request's X-Interop-Case.
type rsServer struct {
	srv *httptest.Server
	mux *http.ServeMux

	mu        sync.Mutex
	decisions map[string][]audit.Decision // path + " " + case → in order
}

// newRS returns a resource server whose address is known (its listener is
// bound) but which serves nothing until start.
func newRS(t *testing.T) *rsServer {
	rs := &rsServer{mux: http.NewServeMux(), decisions: map[string][]audit.Decision{}}
	rs.srv = httptest.NewUnstartedServer(rs.mux)
	t.Cleanup(rs.srv.Close)
	return rs
}

// url is the resource at path.
func (rs *rsServer) url(path string) string {
	return "http://" + rs.srv.Listener.Addr().String() + path
}

func (rs *rsServer) start() { rs.srv.Start() }

type caseKey struct{}

// guard serves path behind a Guard whose authenticator is validate.New(cfg)
// with Resource = rs.url(path). Its answer to an allowed request is
// rsAnswer.
func (rs *rsServer) guard(t *testing.T, path string, cfg validate.Config) {
	t.Helper()
	cfg.Resource = rs.url(path)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	v, err := validate.New(ctx, cfg)
	if err != nil {
		t.Fatalf("validate.New for %s: %v", path, err)
	}
	g, err := rsguard.New(rsguard.Config{
		Authenticator:    v,
		ResourceMetadata: rs.url("/.well-known/oauth-protected-resource" + path),
		OnDecision: func(ctx context.Context, d audit.Decision) {
			c, _ := ctx.Value(caseKey{}).(string)
			rs.mu.Lock()
			rs.decisions[path+" "+c] = append(rs.decisions[path+" "+c], d)
			rs.mu.Unlock()
		},
	})
	if err != nil {
		t.Fatalf("rsguard.New for %s: %v", path, err)
	}
	h := g.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := rsguard.FromContext(r.Context())
		a := rsAnswer{Method: r.Method}
		if p != nil {
			a.Subject, a.Credential, a.ClientID, a.Issuer, a.Scopes = p.Subject, string(p.Credential), p.ClientID, p.Issuer, p.Scopes
		}
		if c, ok := validate.ClaimsFromContext(r.Context()); ok {
			a.KeyThumbprint = c.KeyThumbprint
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(a)
	}))
	rs.mux.Handle(path, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), caseKey{}, r.Header.Get(caseHeader))))
	}))
}

// rsAnswer is what a guarded path answers an allowed request: the principal.
type rsAnswer struct {
	Method        string   `json:"method"`
	Subject       string   `json:"subject"`
	Credential    string   `json:"credential"`
	ClientID      string   `json:"client_id"`
	Issuer        string   `json:"issuer"`
	Scopes        []string `json:"scopes"`
	KeyThumbprint string   `json:"key_thumbprint"`
}

// decisionsOf returns the decisions made for path under case c ("" for
// requests without the header).
func (rs *rsServer) decisionsOf(path, c string) []audit.Decision {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return slices.Clone(rs.decisions[path+" "+c])
}

// lastReason is the reason of the last decision for path under case c.
func (rs *rsServer) lastReason(path, c string) audit.Reason {
	ds := rs.decisionsOf(path, c)
	if len(ds) == 0 {
		return ""
	}
	return ds[len(ds)-1].Reason
}

// call sends method to rs.url(path) with Authorization: Bearer token, case
// c in caseHeader, and returns the answer.
func (rs *rsServer) call(t *testing.T, path, c, token string) (*http.Response, []byte) {
	t.Helper()
	req := mustRequest(t, http.MethodGet, rs.url(path))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set(caseHeader, c)
	return do(t, req)
}

// challenges parses every WWW-Authenticate field value of resp (or of a
// value dpop-client.mjs reports: one string, several challenges).
func challenges(t *testing.T, values ...string) []rsmeta.Challenge {
	t.Helper()
	var all []rsmeta.Challenge
	for _, v := range values {
		cs, err := rsmeta.ParseChallenges(v)
		if err != nil {
			t.Fatalf("WWW-Authenticate %q: %v", v, err)
		}
		all = append(all, cs...)
	}
	return all
}

// challengeFor returns the challenge of the scheme (case-insensitively).
func challengeFor(cs []rsmeta.Challenge, scheme string) (rsmeta.Challenge, bool) {
	for _, c := range cs {
		if strings.EqualFold(c.Scheme, scheme) {
			return c, true
		}
	}
	return rsmeta.Challenge{}, false
}

// param returns an extension auth-param of c (such as DPoP's algs).
func param(c rsmeta.Challenge, name string) (string, bool) {
	for _, p := range c.Params {
		if strings.EqualFold(p.Name, name) {
			return p.Value, true
		}
	}
	return "", false
}

// rsKeys are the resource server's private_key_jwt keys at as.mjs: one per
// algorithm, each with its kid in the JWK Set as.mjs registers.
type rsKeys struct {
	jwksFile string
	signers  map[string]crypto.Signer // kid → key
}

// newRSKeys generates an ES256, an EdDSA and an RS256 key and writes their
// public JWK Set (kid and use, no alg: oidc-provider then accepts any
// algorithm of the key's type) to a file for as.mjs --rs-jwks.
func newRSKeys(t *testing.T) *rsKeys {
	t.Helper()
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	edPub, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rs, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.RawURLEncoding.EncodeToString
	ecBytes, err := ec.PublicKey.Bytes() // 0x04 || X || Y
	if err != nil {
		t.Fatal(err)
	}
	keys := []map[string]string{
		{"kty": "EC", "crv": "P-256", "x": b64(ecBytes[1:33]), "y": b64(ecBytes[33:]), "kid": "rs-es256", "use": "sig"},
		{"kty": "OKP", "crv": "Ed25519", "x": b64(edPub), "kid": "rs-eddsa", "use": "sig"},
		{"kty": "RSA", "n": b64(rs.N.Bytes()), "e": b64(big.NewInt(int64(rs.E)).Bytes()), "kid": "rs-rs256", "use": "sig"},
	}
	b, err := json.Marshal(map[string]any{"keys": keys})
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "rs-jwks.json")
	if err := os.WriteFile(file, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return &rsKeys{jwksFile: file, signers: map[string]crypto.Signer{"rs-es256": ec, "rs-eddsa": ed, "rs-rs256": rs}}
}
