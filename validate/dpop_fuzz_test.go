package validate

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/rsguard/rsguard/audit"
)

// The proof parser's fuzz target works on a fixed request and key, so that
// its seed corpus (testdata/fuzz/FuzzDPoPProof) holds proofs that pass:
// an Ed25519 key from a fixed seed signs deterministically.

var (
	fuzzNow      = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	fuzzResource = "https://mcp.example.com/mcp"
	fuzzToken    = "opaque-access-token"
	fuzzKey      = ed25519.NewKeyFromSeed([]byte("rsguard dpop fuzz seed, 32 bytes"))
)

// fuzzProof signs header and payload (JSON texts) with fuzzKey.
func fuzzProof(tb testing.TB, header, payload string) string {
	in := base64.RawURLEncoding.EncodeToString([]byte(header)) + "." + base64.RawURLEncoding.EncodeToString([]byte(payload))
	sig, err := jwt.SigningMethodEdDSA.Sign(in, fuzzKey)
	if err != nil {
		tb.Fatal(err)
	}
	return in + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func fuzzJWK() string {
	return `{"kty":"OKP","crv":"Ed25519","x":"` + base64.RawURLEncoding.EncodeToString(fuzzKey.Public().(ed25519.PublicKey)) + `"}`
}

func fuzzClaims() string {
	sum := sha256.Sum256([]byte(fuzzToken))
	return `{"htm":"POST","htu":"` + fuzzResource + `","iat":` + jsonNumber(fuzzNow.Unix()) + `,"jti":"j-1","ath":"` + base64.RawURLEncoding.EncodeToString(sum[:]) + `"}`
}

func jsonNumber(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// fuzzSeeds are the in-code seeds: a good proof under both names of its
// algorithm, and shapes around the checks.
func fuzzSeeds(tb testing.TB) []string {
	jwk, claims := fuzzJWK(), fuzzClaims()
	return []string{
		fuzzProof(tb, `{"typ":"dpop+jwt","alg":"EdDSA","jwk":`+jwk+`}`, claims),
		fuzzProof(tb, `{"typ":"dpop+jwt","alg":"Ed25519","jwk":`+jwk+`}`, claims),
		fuzzProof(tb, `{"typ":"application/dpop+jwt","alg":"EdDSA","jwk":`+jwk+`,"kid":"k"}`, claims),
		fuzzProof(tb, `{"typ":"dpop+jwt","alg":"EdDSA","jwk":`+jwk+`,"crit":["b64"]}`, claims),
		fuzzProof(tb, `{"typ":"dpop+jwt","alg":"EdDSA","jwk":`+strings.Replace(jwk, `"kty"`, `"d":"AA","kty"`, 1)+`}`, claims),
		fuzzProof(tb, `{"typ":"dpop+jwt","alg":"ES256","jwk":`+jwk+`}`, claims),
		fuzzProof(tb, `{"typ":"dpop+jwt","alg":"EdDSA","jwk":`+jwk+`}`, strings.Replace(claims, `"htm":"POST"`, `"htm":"POST","htm":"GET"`, 1)),
		fuzzProof(tb, `{"typ":"dpop+jwt","alg":"EdDSA","jwk":`+jwk+`}`, strings.Replace(claims, fuzzResource, "HTTPS://MCP.EXAMPLE.COM:443/%6dcp?q#f", 1)),
		"e30.e30.AA",
		"..",
		"",
	}
}

func FuzzDPoPProof(f *testing.F) {
	v := &Validator{resource: fuzzResource, now: func() time.Time { return fuzzNow }, leeway: defaultLeeway}
	if err := v.initDPoP(DPoPConfig{Mode: DPoPAllowed}); err != nil {
		f.Fatal(err)
	}
	d := &v.dpop
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	want := fuzzSeeds(f)[0]
	f.Fuzz(func(t *testing.T, raw string) {
		p, e := d.parseProof(raw)
		if e == nil {
			e = d.checkClaims(p, httptest.NewRequest(http.MethodPost, fuzzResource, nil), fuzzToken, fuzzNow, v.leeway)
		}
		if e == nil && p.method.verify(p.signed, p.sig, p.key) != nil {
			e = reject(errProofSignature)
		}
		if e != nil {
			if e.Status != http.StatusUnauthorized || e.Reason != audit.ReasonBadDPoPProof || e.Scheme != dpopScheme || e.Code != "invalid_dpop_proof" {
				t.Fatalf("refusal %+v", e)
			}
			if len(raw) > 8 && strings.Contains(e.Description, raw) {
				t.Fatal("the description echoes the proof")
			}
			return
		}
		// Accepted: only fuzzKey can have signed it, for this request;
		// every JSON reader reads it the same way.
		if raw == want {
			return
		}
		hSeg, rest, _ := strings.Cut(raw, ".")
		pSeg, _, _ := strings.Cut(rest, ".")
		var h, c map[string]any
		hb, err1 := base64.RawURLEncoding.DecodeString(hSeg)
		pb, err2 := base64.RawURLEncoding.DecodeString(pSeg)
		if err1 != nil || err2 != nil || json.Unmarshal(hb, &h) != nil || json.Unmarshal(pb, &c) != nil {
			t.Fatalf("accepted a proof encoding/json cannot read: %q", raw)
		}
		if h["alg"] != "EdDSA" && h["alg"] != "Ed25519" || c["htm"] != "POST" {
			t.Fatalf("accepted %v %v", h, c)
		}
		canon := `{"crv":"Ed25519","kty":"OKP","x":"` + base64.RawURLEncoding.EncodeToString(fuzzKey.Public().(ed25519.PublicKey)) + `"}` // RFC 7638 §3.3
		sum := sha256.Sum256([]byte(canon))
		if p.jkt != base64.RawURLEncoding.EncodeToString(sum[:]) {
			t.Fatalf("accepted with thumbprint %s", p.jkt)
		}
	})
}
