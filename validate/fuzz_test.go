package validate_test

// Fuzz targets of the bearer path, on top of jsonscan's own decoders
// (rsguard.BearerToken has its own, FuzzBearerToken in package rsguard):
//
//   - FuzzVerify: the token pre-parse (segments, base64url, header and
//     payload JSON) and everything after it, on arbitrary strings; nothing but
//     the seeds' signed content may ever verify;
//   - FuzzVerifySigned: arbitrary header and payload bytes, validly signed
//     by a trusted key, so that the fuzzer reaches every header and claim
//     check; whatever is accepted must satisfy a strict reference reading;
//   - FuzzMiddleware: any Authorization header and query through an
//     rsguard.Guard over the Validator; every refusal is a well-formed,
//     parseable challenge that echoes nothing of the request, and 400
//     exactly when rsguard.BearerToken refuses the request as malformed.
//
// Seeds are in f.Add calls and in testdata/fuzz/<target>. .ci/test runs each
// target for FUZZTIME (5 s by default); see README.md, "Testing", to run one
// for longer.

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/audit"
	"github.com/rsguard/rsguard/rsmeta"
	"github.com/rsguard/rsguard/validate"
)

// Fixed test keys (PKCS #8, base64) so that the tokens of the committed seed
// corpus stay valid. They protect nothing.
const (
	fuzzECKey = "" +
		"MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg/OeQE5mMOrxwhDyN5sfW653e" +
		"qJ0MQ1FFcAmbYBmtu7ehRANCAATFdTX+OTto1B48ShikAdJ496u+UHH0vJx6k532jrsne4sY" +
		"4HuXo67pcEGgHn5wipGrMOlVXLQ6mpO+KV3YnkE1"
	fuzzRSAKey = "" +
		"MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQDqFSOpzZmuaRT1QoGTCGck" +
		"IIz5zx8g/8MpAuIGe4TSqep+jl1PZ52YEGE4UUl7Rpen4WS3FtduBbyatoMsPdoi1N+lvMmX" +
		"Qgf17uZqGrx/CNhjwsSlf5sDkdsFcKPFfiyqFlBzlFTl7ywTG6Bt/1ZyOlYpyPSK72lMPthj" +
		"uJi5go6DaV4Us+3aRVkserJvxRXHa7zDE8dnpRWU9s6yi2Iv/wfP9TrTLrOoJjJHodfzPfjW" +
		"Yw1jQOWW0TDX/gK3PRvPhLZ9KbYf7Nzcr1SanGopYRdlpU7eU3P1DZzs2x4MZkehkw5MD0zg" +
		"ae2B5+yhM2s3OXF9ZuoogYvuIlclXYAbAgMBAAECggEAaDGTp8wcGY2tpgP98Cgf3O1eQv3G" +
		"QeaGhLVDTZZih3DZr46IC0W4WM0FsU9BcY15COGjdnnE17TXAFi4J5O6iqGNkVTouJrMN1Sp" +
		"HFadS8BwrWsvI+maYurj/lZml4xzrhvzoJbIeXbN/A1iikPLQ1ojK0NHUqaBjM42fKDY3k1c" +
		"SrYMYmg7kyrNLY0Gq8HXG+5iW3h45Kz11oYXCTyGB9PrStU39E433Kip4wq0PNBvY8ifI2us" +
		"ZnNUaTzIm/yE7r7c1//A6XZ6XtvLQ+94OYj4iDkL+X2EDm2a2fywCcoINJYOmBGAdRGMMTol" +
		"mbbkMZYjCLksQTtMA+q1Q3YdGQKBgQDu2RAz9P40wb+xnX5RcaSjUA4ELJvD3xelSjrMkZD3" +
		"1oehBg+myNw7e203iJvVc6l1dbtYyiOgqX/STF+oAlmppnnkJWjOw0YVz8sWwEuvg7tkN2IP" +
		"ZWZAkAr5jF146fnF3VL/My3YBqAhi1B9DJ2Lc1iQbrHBfuuJsPsFzQYYqQKBgQD65HiZJT8M" +
		"r2LTPsY2oCS2mkw7ousqSjl1pk4SAoxHN6HW9jElyWgoNjIZ46lC7eb1gONawJJMjDDeqTwc" +
		"oR/eBR3MXQXBE3nyyjHkZ5I3XNsImOC51xpbDEqDVOkzHdVjvDNb5YLoLiLA68gD5AlFU440" +
		"6i5xhOB2wraVa8a5IwKBgQCtNCFo3B+/2ESPo7sninauq24Ont6yEsTN619qW6E56ItgPMn6" +
		"06vJQr83x0viZUac1Cxwvd1KM8Bqm1G+vz2QJhY8WNiBH+BiDtaif/4ioC+zA+qLaafV597d" +
		"iml6NooXb2ExiUaUYnGbAbDzjcNtjc7KpksnG0fpCLtwQHZMSQKBgQDp973vMyjE75m9XcEC" +
		"l/0kvGdzBc9ANM+4w0nyyaV/lIW8LQJQNq6HMWMveXsTC0BimbtrmkHUWLgKLM/98tQA+8x6" +
		"FBWVpFAI9j3ovh1Au7sXHVoUdGADoEasiraeEKg6xfsvK60UUFHgjwCLgFCU8gKfnfOJsVyR" +
		"46rZVRSQ+QKBgCgT2uuZRfrBc+TjYu1SISpoY9b8CDqY9TNYw1DaUSxVoOd+LQmVrI82QUqC" +
		"VrD+u7lmgYBE0s8CraTBiT5JLFL9cr2VrAfTSNWYxzxVwpmOezJmojo8mFUKpvO4W2J+wmUK" +
		"o8m1dmcWoSr6to+E1qrr7Ua8LXAFGEkcFChM+1HS"
)

const (
	fuzzIssuer = "https://issuer.example"
	fuzzExp    = 4102444800 // 2100-01-01
	fuzzIat    = 1700000000
)

// fuzzKeys are the trusted keys of the fuzz targets, published in a static
// JWK Set.
type fuzzKeys struct {
	ed   ed25519.PrivateKey
	ec   *ecdsa.PrivateKey
	rs   *rsa.PrivateKey
	jwks []byte
}

func newFuzzKeys(tb testing.TB) *fuzzKeys {
	tb.Helper()
	seed := sha256.Sum256([]byte("rsguard validate fuzz ed25519"))
	k := &fuzzKeys{ed: ed25519.NewKeyFromSeed(seed[:])}
	parse := func(s string) crypto.Signer {
		der, err := base64.StdEncoding.DecodeString(s)
		require.NoError(tb, err)
		key, err := x509.ParsePKCS8PrivateKey(der)
		require.NoError(tb, err)
		return key.(crypto.Signer)
	}
	k.ec = parse(fuzzECKey).(*ecdsa.PrivateKey)
	k.rs = parse(fuzzRSAKey).(*rsa.PrivateKey)
	ecPub, err := k.ec.PublicKey.ECDH()
	require.NoError(tb, err)
	pt := ecPub.Bytes()
	jwks, err := json.Marshal(map[string]any{"keys": []map[string]any{
		{"kty": "OKP", "crv": "Ed25519", "kid": "fz-ed", "alg": "EdDSA", "use": "sig", "x": b64url(k.ed.Public().(ed25519.PublicKey))},
		{"kty": "EC", "crv": "P-256", "kid": "fz-ec", "alg": "ES256", "use": "sig", "x": b64url(pt[1:33]), "y": b64url(pt[33:])},
		{"kty": "RSA", "kid": "fz-rs", "alg": "RS256", "use": "sig", "n": b64url(k.rs.N.Bytes()), "e": "AQAB"},
	}})
	require.NoError(tb, err)
	k.jwks = jwks
	return k
}

// validator trusts the keys for hardResource, at hardNow, with no network.
func (k *fuzzKeys) validator(tb testing.TB) *validate.Validator {
	tb.Helper()
	v, err := validate.New(context.Background(), validate.Config{
		Issuer:   fuzzIssuer,
		Resource: hardResource,
		Keys:     staticKeySet(tb, k.jwks),
		Now:      func() time.Time { return hardNow },
	})
	require.NoError(tb, err)
	return v
}

// sign returns the compact JWS of header and payload, exactly as given,
// signed with the key for alg (EdDSA, ES256 or RS256).
func (k *fuzzKeys) sign(alg string, header, payload []byte) string {
	input := b64url(header) + "." + b64url(payload)
	var sig []byte
	switch alg {
	case "EdDSA":
		sig = ed25519.Sign(k.ed, []byte(input))
	case "ES256":
		sum := sha256.Sum256([]byte(input))
		r, s, err := ecdsa.Sign(rand.Reader, k.ec, sum[:])
		if err != nil {
			panic(err)
		}
		sig = make([]byte, 64)
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
	case "RS256":
		sum := sha256.Sum256([]byte(input))
		var err error
		if sig, err = rsa.SignPKCS1v15(nil, k.rs, crypto.SHA256, sum[:]); err != nil {
			panic(err)
		}
	}
	return input + "." + b64url(sig)
}

var (
	fuzzHeaderEd = `{"alg":"EdDSA","kid":"fz-ed","typ":"at+jwt"}`
	fuzzClaims   = `{"iss":"` + fuzzIssuer + `","aud":"` + hardResource + `","sub":"alice","client_id":"cli","iat":1700000000,"exp":4102444800,"jti":"j","scope":"tools:read"}`
)

// seedTokens are valid tokens for the fuzz validator.
func (k *fuzzKeys) seedTokens() []string {
	return []string{
		k.sign("EdDSA", []byte(fuzzHeaderEd), []byte(fuzzClaims)),
		k.sign("ES256", []byte(`{"alg":"ES256","kid":"fz-ec","typ":"at+jwt"}`), []byte(fuzzClaims)),
		k.sign("RS256", []byte(`{"alg":"RS256","kid":"fz-rs","typ":"JWT"}`), []byte(`{"iss":"`+fuzzIssuer+`","aud":["https://other.example","`+hardResource+`/"],"exp":4102444800.5,"nbf":1700000000,"scp":["a","b"],"client_id":"cli"}`)),
		k.sign("EdDSA", []byte(`{"alg":"EdDSA"}`), []byte(`{"iss":"`+fuzzIssuer+`","aud":"https://MCP.example.com:443/mcp","exp":4102444800,"sub":"bob"}`)),
	}
}

// fuzzClasses are the reasons Verify refuses malformed or forged tokens with.
var fuzzClasses = []error{
	audit.ReasonMalformed, audit.ReasonBadAlgorithm, audit.ReasonBadTokenType, audit.ReasonCriticalHeader, audit.ReasonUnknownKey,
	audit.ReasonBadSignature, audit.ReasonBadIssuer, audit.ReasonBadAudience, audit.ReasonExpired, audit.ReasonNotYetValid, audit.ReasonBadClaims,
}

// checkRejection checks the shape of a Verify error: an *rsguard.Error, 401
// invalid_token with the reason of its class and no identity, wrapping a
// rejection class, quoting nothing of raw.
func checkRejection(t *testing.T, raw string, err error) {
	t.Helper()
	var e *rsguard.Error
	require.ErrorAs(t, err, &e, "error %T %v is not a *rsguard.Error", err, err)
	require.Equal(t, http.StatusUnauthorized, e.Status, "rejection status (description %q)", e.Description)
	require.Equal(t, rsmeta.ErrorInvalidToken, e.Code, "rejection code (description %q)", e.Description)
	require.NotEmpty(t, e.Description, "rejection description")
	require.NotEmpty(t, e.Reason, "rejection reason")
	require.NotEqual(t, audit.ReasonRejected, e.Reason, "rejection reason")
	require.Equal(t, audit.CredentialJWT, e.Credential, "rejection credential")
	require.Nil(t, e.Principal, "rejection principal")
	known := false
	for _, s := range fuzzClasses {
		known = known || errors.Is(err, s)
	}
	require.True(t, known, "error %v wraps no rejection class", err)
	for _, p := range secretParts(raw) {
		if inVocabulary(p) {
			continue
		}
		require.NotContains(t, e.Error(), p, "error %q quotes the token", e.Error())
		require.NotContains(t, e.Description, p, "error %q quotes the token", e.Error())
	}
}

// vocabulary is the text refusals are made of, whatever the request: the
// reasons' messages and the client-facing descriptions, alone and
// composed as *Error.Error composes them. A request that happens to spell
// part of it is not "echoed".
var vocabulary = func() string {
	var messages []string
	for _, r := range audit.Reasons() {
		messages = append(messages, r.Error())
	}
	descriptions := []string{"multiple Authorization headers", "malformed Authorization header", "Authorization header too large",
		"access tokens are accepted only in the Authorization header", "the access token is malformed", "the access token is too large",
		"encrypted access tokens are not supported", "the token's signing algorithm is not accepted",
		"the token's signing algorithm does not match its key", "the token is not an access token",
		"the token requires unsupported header extensions", "the token's signing key is not known",
		"the token does not name its signing key", "the token's key is not a signing key", "the token's key is a symmetric key",
		"the token's key is too weak", "the token's signature is invalid", "the token was not issued by the trusted issuer",
		"the token was not issued for this resource", "the access token expired", "the access token is not valid yet",
		"the access token was issued in the future", "the token's claims are malformed", "the token has no expiry",
		"the token has no issuer", "the token has no audience", "the token lacks claims required of access tokens",
		"the access token was rejected", "the token cannot be verified right now"}
	var b strings.Builder
	for _, s := range messages {
		for _, d := range descriptions {
			b.WriteString(s + " (" + d + ")\n")
		}
	}
	return b.String()
}()

func inVocabulary(p string) bool { return strings.Contains(vocabulary, p) }

// FuzzVerify feeds arbitrary strings to Verify. Every refusal is a
// well-formed rejection; the only tokens that verify carry a seed's exact
// signed content (header and payload); verifying twice (the second time
// possibly from the verified-token cache) gives the same answer.
func FuzzVerify(f *testing.F) {
	keys := newFuzzKeys(f)
	seeds := keys.seedTokens()
	signed := map[string]bool{}
	for _, s := range seeds {
		signed[s[:strings.LastIndexByte(s, '.')]] = true
		f.Add(s)
	}
	good := seeds[0]
	for _, s := range []string{
		"", ".", "..", "a.b", "a.b.c.d", "a.b.c.d.e", good + ".", good[:len(good)-1], strings.Replace(good, ".", "..", 1),
		"eyJhbGciOiJub25lIn0.e30.", "eyJhbGciOiJIUzI1NiJ9.e30.c2ln", "e30.e30.e30", "W10.W10.W10", "bnVsbA.bnVsbA.bnVsbA",
		b64url([]byte(`{"alg":"EdDSA","crit":["b64"],"b64":false}`)) + ".e30.c2ln",
		b64url([]byte(`{"alg":"RSA-OAEP","enc":"A256GCM"}`)) + ".a.b.c.d",
	} {
		f.Add(s)
	}
	v := keys.validator(f)
	f.Fuzz(func(t *testing.T, raw string) {
		c, err := v.Verify(context.Background(), raw)
		c2, err2 := v.Verify(context.Background(), raw)
		require.Equal(t, err == nil, err2 == nil, "Verify is not repeatable: %v, then %v", err, err2)
		if err != nil {
			require.EqualError(t, err2, err.Error(), "Verify is not repeatable")
			require.Nil(t, c, "claims returned with an error")
			require.Nil(t, c2, "claims returned with an error")
			checkRejection(t, raw, err)
			return
		}
		i := strings.LastIndexByte(raw, '.')
		require.GreaterOrEqual(t, i, 0, "accepted %q, whose signed content is not a seed's", raw)
		require.Contains(t, signed, raw[:i], "accepted %q, whose signed content is not a seed's", raw)
		require.Equal(t, fuzzIssuer, c.Issuer, "issuer")
		require.Equal(t, fuzzIssuer, c2.Issuer, "issuer, verifying again")
	})
}

// FuzzVerifySigned signs arbitrary header and payload bytes with the
// trusted Ed25519 key, so that every check after the signature's is reached,
// and checks that whatever Verify accepts, a strict reference reading of the
// same bytes (exact member names, no duplicates, RFC 9068 §4 rules) accepts
// too, with the same claims.
func FuzzVerifySigned(f *testing.F) {
	keys := newFuzzKeys(f)
	base := `"iss":"` + fuzzIssuer + `","aud":"` + hardResource + `","exp":4102444800,"sub":"s"`
	for _, s := range [][2]string{
		{fuzzHeaderEd, fuzzClaims},
		{`{"alg":"EdDSA"}`, `{` + base + `}`},
		{`{"alg":"EdDSA","typ":"application/AT+JWT"}`, `{` + base + `,"scp":"a b","nbf":1700000000.25}`},
		{`{"alg":"EdDSA","typ":"dpop+jwt"}`, `{` + base + `}`},
		{`{"alg":"EdDSA","crit":["exp"],"exp":1}`, `{` + base + `}`},
		{`{"alg":"EdDSA","alg":"none"}`, `{` + base + `}`},
		{`{"ALG":"EdDSA","alg":"EdDSA"}`, `{` + base + `}`},
		{`{"alg":"EdDSA","kid":"fz-ec"}`, `{` + base + `}`},
		{`{"alg":"EdDSA","enc":"A256GCM"}`, `{` + base + `}`},
		{`{"alg":"EdDSA"}`, `{"iss":"` + fuzzIssuer + `","aud":"` + hardResource + `","EXP":4102444800}`},
		{`{"alg":"EdDSA"}`, `{` + base + `,"aud":"https://other.example"}`},
		{`{"alg":"EdDSA"}`, `{` + base + `,"AUD":"x","scope":"a","SCOPE":"b"}`},
		{`{"alg":"EdDSA"}`, `{"iss":"` + fuzzIssuer + `","aud":["` + hardResource + `"],"exp":"4102444800"}`},
		{`{"alg":"EdDSA"}`, `{"iss":"` + fuzzIssuer + `/","aud":"` + hardResource + `","exp":4102444800}`},
		{`{"alg":"EdDSA"}`, `{` + base + `,"iat":4102444800}`},
		{`{"alg":"EdDSA"}`, `{` + base + `,"x":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}`},
		{`{"alg":"EdDSA"}`, `{` + base + `,"sub":"\ud800","iss":"x"}`},
		{`{"alg":"EdDSA"}`, `[` + base + `]`},
	} {
		f.Add([]byte(s[0]), []byte(s[1]))
	}
	v := keys.validator(f)
	f.Fuzz(func(t *testing.T, header, payload []byte) {
		raw := keys.sign("EdDSA", header, payload)
		c, err := v.Verify(context.Background(), raw)
		if err != nil {
			checkRejection(t, raw, err)
			return
		}
		why := refRefuses(header, payload, c)
		require.Empty(t, why, "accepted header %q payload %q, but %s", header, payload, why)
	})
}

// refRefuses reads an accepted token strictly and returns why it should
// have been refused ("" if it should not). It is deliberately simple: it
// checks only what makes a token acceptable, so it never refuses what a
// correct validator accepts.
func refRefuses(header, payload []byte, c *validate.Claims) string {
	h, why := strictObject(header, "alg", "kid", "typ", "crit", "enc")
	if why != "" {
		return "header: " + why
	}
	var alg, kid, typ string
	if json.Unmarshal(h["alg"], &alg) != nil || alg != "EdDSA" {
		return "alg is " + string(h["alg"])
	}
	if raw, ok := h["kid"]; ok && (json.Unmarshal(raw, &kid) != nil || kid != "fz-ed") {
		return "kid is " + string(raw)
	}
	if _, ok := h["crit"]; ok {
		return "crit is present"
	}
	if _, ok := h["enc"]; ok {
		return "enc is present"
	}
	if raw, ok := h["typ"]; ok && string(raw) != "null" {
		if json.Unmarshal(raw, &typ) != nil {
			return "typ is " + string(raw)
		}
		switch strings.ToLower(strings.TrimPrefix(strings.ToLower(typ), "application/")) {
		case "at+jwt", "jwt":
		default:
			return "typ is " + typ
		}
	}

	p, why := strictObject(payload, "iss", "aud", "exp", "nbf", "iat", "scope", "scp", "sub", "client_id", "jti", "auth_time", "cnf")
	if why != "" {
		return "payload: " + why
	}
	var iss string
	if json.Unmarshal(p["iss"], &iss) != nil || iss != fuzzIssuer || c.Issuer != iss {
		return "iss is " + string(p["iss"])
	}
	var aud []string
	if json.Unmarshal(p["aud"], &aud) != nil {
		var one string
		if json.Unmarshal(p["aud"], &one) != nil {
			return "aud is " + string(p["aud"])
		}
		aud = []string{one}
	}
	ours := false
	for _, a := range aud {
		if a == hardResource {
			ours = true
		} else if canon, err := rsmeta.CanonicalResource(a); err == nil && strings.TrimSuffix(canon, "/") == hardResource {
			ours = true
		}
	}
	if !ours {
		return "aud does not name the resource: " + string(p["aud"])
	}
	leeway := (30 * time.Second).Seconds()
	now := float64(hardNow.Unix())
	date := func(name string) (float64, bool, string) {
		raw, ok := p[name]
		if !ok || string(raw) == "null" {
			return 0, false, ""
		}
		var f float64
		if json.Unmarshal(raw, &f) != nil || math.IsNaN(f) || f < -62135596800 || f > 253402300799 {
			return 0, true, name + " is " + string(raw)
		}
		return f, true, ""
	}
	exp, ok, why := date("exp")
	switch {
	case why != "":
		return why
	case !ok:
		return "exp is missing"
	case exp+leeway <= now:
		return "exp is past"
	case math.Abs(float64(c.ExpiresAt.Unix())-math.Floor(exp)) > 1:
		return "ExpiresAt is " + c.ExpiresAt.String()
	}
	if _, ok := p["cnf"]; ok {
		return "cnf is present"
	}
	for _, name := range []string{"nbf", "iat", "auth_time"} {
		t, ok, why := date(name)
		if why != "" {
			return why
		}
		if ok && t > now+leeway {
			return name + " is in the future"
		}
	}
	if raw, ok := p["scope"]; ok && string(raw) != "null" {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return "scope is " + string(raw)
		}
		if want, _ := rsguard.ParseScopes(s); strings.Join(want, " ") != strings.Join(c.Scopes, " ") {
			return "scopes are " + strings.Join(c.Scopes, ",") + ", scope says " + s
		}
	}
	return ""
}

// strictObject decodes a JSON object's members with exact names, refusing
// invalid UTF-8, trailing data and duplicates of the names listed.
func strictObject(b []byte, names ...string) (map[string]json.RawMessage, string) {
	if !utf8.Valid(b) {
		return nil, "invalid UTF-8"
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil || m == nil {
		return nil, "not a JSON object"
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, "not a JSON object"
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, "bad member name"
		}
		name := tok.(string)
		for _, n := range names {
			if name == n && seen[n] {
				return nil, "duplicate " + n
			}
		}
		seen[name] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return nil, "bad member value"
		}
	}
	return m, ""
}

// FuzzMiddleware sends any Authorization header (zero, one or two of them)
// and query through an rsguard.Guard over the Validator. Every answer is 200 (only for a seed's
// token) or a refusal whose status, challenge and body agree with each
// other, whose challenge parses and points at the metadata, and which echoes
// nothing of the request.
func FuzzMiddleware(f *testing.F) {
	keys := newFuzzKeys(f)
	seeds := keys.seedTokens()
	signed := map[string]bool{}
	for _, s := range seeds {
		signed[s[:strings.LastIndexByte(s, '.')]] = true
		f.Add("Bearer "+s, "", uint8(1))
	}
	for _, s := range []string{"", "Bearer", "Bearer x", "Basic dXNlcjpwYXNz", "bearer a.b.c", `Bearer "x"`, "Bearer a\r\nb", "Negotiate YII=",
		"Bearer resource_metadata", "Bearer " + strings.Repeat("A", 20000)} {
		f.Add(s, "", uint8(1))
	}
	f.Add("Bearer "+seeds[0], "access_token="+seeds[0], uint8(1))
	f.Add("Bearer "+seeds[0][:len(seeds[0])-9]+"!"+seeds[0][len(seeds[0])-8:], "", uint8(1)) // a cached token but for one character
	f.Add("Bearer "+seeds[0], "", uint8(2))
	f.Add("", "", uint8(0))
	v := keys.validator(f)
	h := guarded(f, v, protectedOK, nil)

	// Text every refusal may contain whatever the request: a request
	// that spells it is not echoed.
	var vocab strings.Builder
	for _, r := range []hardRequest{{}, bearer("x"), bearer("a.b.c"), {target: "/mcp?access_token=x"},
		{headers: [][2]string{{"Authorization", "Bearer a"}, {"Authorization", "Bearer b"}}}} {
		resp := (&hardServer{h: h}).local(f, r)
		vocab.Write(resp.body)
		for k, vs := range resp.header {
			vocab.WriteString(k + ": " + strings.Join(vs, ", ") + "\n")
		}
	}
	vocab.WriteString(vocabulary)
	known := vocab.String()

	f.Fuzz(func(t *testing.T, authz, query string, n uint8) {
		r := hardRequest{target: "/mcp"}
		if query != "" {
			r.target += "?" + query
		}
		for i := 0; i < int(n%3); i++ {
			r.headers = append(r.headers, [2]string{"Authorization", authz})
		}
		req := httptest.NewRequest(http.MethodGet, "http://mcp.example.com/mcp", nil)
		req.URL.RawQuery = query
		for _, hv := range r.headers {
			req.Header.Add(hv[0], hv[1])
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		resp := hardResponse{status: rec.Code, header: rec.Result().Header, body: rec.Body.Bytes()}

		// As if BearerToken read the request before anything else (the
		// Validator asks its cache first, and checks the characters of a
		// token only when verification refuses it): 400 exactly for the
		// requests BearerToken refuses as malformed.
		_, berr := rsguard.BearerToken(req)
		var be *rsguard.Error
		if errors.As(berr, &be) && be.Status == http.StatusBadRequest {
			require.Equal(t, http.StatusBadRequest, resp.status, "BearerToken refuses %q, %q: %v", authz, query, berr)
		} else {
			require.NotEqual(t, http.StatusBadRequest, resp.status, "BearerToken accepts %q, %q", authz, query)
		}

		if resp.status == http.StatusOK {
			// Only a seed's signed content verifies (ES256 signatures are
			// randomised, so compare header and payload).
			_, tok, _ := strings.Cut(strings.Trim(authz, " \t"), " ")
			tok = strings.TrimLeft(tok, " ")
			i := strings.LastIndexByte(tok, '.')
			require.GreaterOrEqual(t, i, 0, "accepted %q", authz)
			require.Contains(t, signed, tok[:i], "accepted %q", authz)
			return
		}
		var want refusal
		switch resp.status {
		case http.StatusBadRequest:
			want = refuseRequest
		case http.StatusUnauthorized:
			want = refuseToken
			if len(r.headers) == 0 || !strings.EqualFold(firstWord(authz), "Bearer") {
				want = refuseNoCreds
			}
		default:
			require.Failf(t, "unexpected status", "status %d", resp.status)
		}
		lines := resp.header.Values("WWW-Authenticate")
		require.Len(t, lines, 1, "WWW-Authenticate")
		cs, err := rsmeta.ParseChallenges(lines[0])
		require.NoError(t, err, "challenge %q for status %d", lines[0], resp.status)
		require.Len(t, cs, 1, "challenge %q for status %d", lines[0], resp.status)
		require.True(t, strings.EqualFold(cs[0].Scheme, "Bearer"), "challenge %q (scheme %q) for status %d", lines[0], cs[0].Scheme, resp.status)
		require.Equal(t, hardMetadataURL, cs[0].ResourceMetadata, "challenge %q for status %d", lines[0], resp.status)
		require.Equal(t, want.code, cs[0].Error, "challenge %q for status %d", lines[0], resp.status)
		var body map[string]string
		require.NoError(t, json.Unmarshal(resp.body, &body), "body %q", resp.body)
		require.Equal(t, want.bodyCode(), body["error"], "body %q", resp.body)
		var hay strings.Builder
		hay.Write(resp.body)
		hay.WriteString(lines[0])
		for _, p := range secretParts(authz, query) {
			if !strings.Contains(known, p) {
				require.NotContains(t, hay.String(), p, "response echoes %q of the request", p)
			}
		}
	})
}

func firstWord(s string) string {
	s = strings.Trim(s, " \t")
	w, _, _ := strings.Cut(s, " ")
	return w
}

// TestFuzzFixture guards the fuzz targets' premise: their seed tokens, and
// the valid ones of the committed corpus, do verify. If the fixed keys or
// the validator changed so that they did not, the targets would pass while
// exercising nothing but refusals.
func TestFuzzFixture(t *testing.T) {
	keys := newFuzzKeys(t)
	v := keys.validator(t)
	for _, tok := range keys.seedTokens() {
		_, err := v.Verify(context.Background(), tok)
		require.NoError(t, err)
	}
	files, err := filepath.Glob(filepath.Join("testdata", "fuzz", "FuzzVerify", "valid-*"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, name := range files {
		b, err := os.ReadFile(name)
		require.NoError(t, err)
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		require.Len(t, lines, 2, name)
		tok, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[1], "string("), ")"))
		require.NoError(t, err, name)
		_, err = v.Verify(context.Background(), tok)
		require.NoError(t, err, name)
	}
}
