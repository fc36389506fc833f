package validate

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/internal/strictjson"
)

// proof is a DPoP proof (RFC 9449 §4.2) whose form, header and key have
// been checked, and whose claims have been read; its signature is checked
// last (see Validator.authenticateDPoP). Byte slices alias the decoded
// payload.
type proof struct {
	method sigAlg
	key    crypto.PublicKey
	jkt    string // RFC 7638 thumbprint of the key
	signed string // the JWS signing input
	sig    []byte

	htm, htu, jti, ath, nonce []byte
	iat                       numericDate
	hasIat, hasNonce          bool
}

// parseProof checks a proof's form (a compact JWS of at most 8 KiB), its
// header — "typ" dpop+jwt, "alg" on the allow-list, a public "jwk" of a key
// type fit for that alg, none of "crit", "jku", "x5u", "x5c" — and reads
// its claims (RFC 9449 §4.3 steps 2 to 8, but the signature).
func (d *dpopState) parseProof(raw string) (*proof, *rsguard.Error) {
	if len(raw) == 0 {
		return nil, reject(errProofMissing)
	}
	if len(raw) > maxProofBytes || strings.IndexByte(raw, '\n') >= 0 || strings.IndexByte(raw, '\r') >= 0 {
		return nil, reject(errProofMalformed)
	}
	d1 := strings.IndexByte(raw, '.')
	if d1 <= 0 {
		return nil, reject(errProofMalformed)
	}
	d2 := strings.IndexByte(raw[d1+1:], '.')
	if d2 <= 0 {
		return nil, reject(errProofMalformed)
	}
	d2 += d1 + 1
	sSeg := raw[d2+1:]
	if len(sSeg) == 0 || strings.IndexByte(sSeg, '.') >= 0 {
		return nil, reject(errProofMalformed)
	}
	hb, ok := decodeSegment(raw[:d1])
	if !ok {
		return nil, reject(errProofMalformed)
	}
	h, err := decodeProofHeader(hb)
	if err != nil {
		return nil, reject(errProofMalformed)
	}
	if !h.hasTyp || !isDPoPType(h.typ) {
		return nil, reject(errProofType)
	}
	method, ok := d.methods[string(h.alg)]
	if !ok {
		return nil, reject(errProofAlgorithm)
	}
	p := &proof{method: method}
	if h.other {
		return nil, reject(errProofHeader)
	}
	if h.jwk == nil || len(h.jwk) > maxProofJWKBytes {
		return nil, reject(errProofKey)
	}
	if p.key, p.jkt, ok = d.keys.get(h.jwk, string(h.alg)); !ok {
		return nil, reject(errProofKey)
	}
	pb, ok := decodeSegment(raw[d1+1 : d2])
	if !ok {
		return nil, reject(errProofMalformed)
	}
	if err := decodeProofClaims(pb, p); err != nil {
		return nil, reject(errProofMalformed)
	}
	if p.sig, ok = decodeSegment(sSeg); !ok {
		return nil, reject(errProofSignature)
	}
	p.signed = raw[:d2]
	return p, nil
}

// checkClaims checks a parsed proof's claims against the request: "htm",
// "htu", "iat" in the window, a "jti", and "ath" the hash of tok (RFC 9449
// §4.3 steps 9 to 12 but the nonce).
func (d *dpopState) checkClaims(p *proof, r *http.Request, tok string, now time.Time, leeway time.Duration) *rsguard.Error {
	if string(p.htm) != r.Method {
		return reject(errProofMethod)
	}
	if !d.htuMatches(p.htu, r) {
		return reject(errProofURL)
	}
	if !p.hasIat || p.iat.t.Before(now.Add(-d.lifetime-leeway)) || p.iat.t.After(now.Add(leeway)) {
		return reject(errProofTime)
	}
	if len(p.jti) == 0 || len(p.jti) > maxJTIBytes {
		return reject(errProofID)
	}
	sum := sha256.Sum256([]byte(tok))
	var ath [43]byte // base64url of 32 bytes, unpadded
	b64.Encode(ath[:], sum[:])
	if subtle.ConstantTimeCompare(p.ath, ath[:]) != 1 {
		return reject(errProofTokenHash)
	}
	return nil
}

// isDPoPType reports whether typ is dpop+jwt: media type names compare
// case-insensitively and may omit "application/" (RFC 7515 §4.1.9).
func isDPoPType(typ []byte) bool {
	const prefix = "application/"
	if len(typ) > len(prefix) && strings.EqualFold(string(typ[:len(prefix)]), prefix) {
		typ = typ[len(prefix):]
	}
	return strings.EqualFold(string(typ), "dpop+jwt")
}

// proofHeader is what a DPoP proof's protected header holds.
type proofHeader struct {
	alg, typ []byte
	jwk      []byte // the "jwk" member's JSON text
	hasTyp   bool
	other    bool // "crit", "jku", "x5u" or "x5c": refused
}

// decodeProofHeader reads a proof's protected header strictly (as
// decodeHeader reads a token's).
func decodeProofHeader(raw []byte) (h proofHeader, err error) {
	r := strictjson.NewReader(raw)
	if r.Peek() != '{' {
		return h, errNotObject
	}
	if err := r.Open(); err != nil {
		return h, err
	}
	for {
		name, more, err := r.Member()
		if err != nil || !more {
			return h, err
		}
		switch string(name) {
		case "alg":
			if r.Peek() != '"' {
				return h, errType
			}
			h.alg, err = r.String()
		case "typ":
			if r.Peek() != '"' {
				return h, errType
			}
			h.typ, err = r.String()
			h.hasTyp = true
		case "jwk":
			if r.Peek() != '{' {
				return h, errType
			}
			h.jwk, err = r.Raw()
		case "crit", "jku", "x5u", "x5c":
			// Keys come from "jwk" alone; no extension is understood.
			h.other = true
			err = r.Skip()
		default:
			err = r.Skip()
		}
		if err != nil {
			return h, err
		}
	}
}

// decodeProofClaims reads a proof's claims strictly into p.
func decodeProofClaims(raw []byte, p *proof) error {
	r := strictjson.NewReader(raw)
	if r.Peek() != '{' {
		return errNotObject
	}
	if err := r.Open(); err != nil {
		return err
	}
	for {
		name, more, err := r.Member()
		if err != nil || !more {
			return err
		}
		var present bool
		switch string(name) {
		case "htm":
			p.htm, _, err = stringValue(&r)
		case "htu":
			p.htu, _, err = stringValue(&r)
		case "jti":
			p.jti, _, err = stringValue(&r)
		case "ath":
			p.ath, _, err = stringValue(&r)
		case "nonce":
			p.nonce, present, err = stringValue(&r)
			p.hasNonce = present
		case "iat":
			present, err = date(&r, &p.iat)
			p.hasIat = present
		default:
			err = r.Skip()
		}
		if err != nil {
			return err
		}
	}
}

// proofJWK is the "jwk" of a proof: the members RFC 7638 thumbprints and
// the key needs, the private ones that must be absent, "alg" and "use".
type proofJWK struct {
	kty, crv, x, y, n, e, alg, use []byte
	private                        bool
}

// proofKey parses a proof's "jwk" (RFC 7517, RFC 7518 §6, RFC 8037 §2): a
// public key of a type and curve fit for alg — EC P-256, P-384, P-521 for
// ES256/384/512, with the point on its curve; RSA of 2048 to 4096 bits with
// the exponent 65537 for RS* and PS*; OKP Ed25519 for EdDSA and Ed25519, not
// of small order — without private members, and with "alg" and "use", when
// present, consistent ("EdDSA" and "Ed25519" name the same algorithm for an
// Ed25519 key, RFC 9864). It returns the key and its RFC 7638 thumbprint.
func proofKey(raw []byte, alg string) (crypto.PublicKey, string, bool) {
	var j proofJWK
	if decodeProofJWK(raw, &j) != nil || j.private {
		return nil, "", false
	}
	if (j.alg != nil && !sameProofAlg(string(j.alg), alg)) || (j.use != nil && string(j.use) != "sig") {
		return nil, "", false
	}
	family := algFamily(alg)
	var pub crypto.PublicKey
	var canon string // the RFC 7638 §3.2 JSON: required members, sorted, no white space
	switch string(j.kty) {
	case "EC":
		var curve elliptic.Curve
		switch string(j.crv) {
		case "P-256":
			curve = elliptic.P256()
		case "P-384":
			curve = elliptic.P384()
		case "P-521":
			curve = elliptic.P521()
		}
		if curve == nil || family != "EC-"+strings.ReplaceAll(string(j.crv), "-", "") {
			return nil, "", false
		}
		size := (curve.Params().BitSize + 7) / 8
		x, okx := decodeSegment(string(j.x))
		y, oky := decodeSegment(string(j.y))
		if !okx || !oky || len(x) != size || len(y) != size {
			return nil, "", false
		}
		k := &ecdsa.PublicKey{Curve: curve, X: new(big.Int).SetBytes(x), Y: new(big.Int).SetBytes(y)}
		if _, err := k.ECDH(); err != nil { // off the curve, or the point at infinity
			return nil, "", false
		}
		pub = k
		canon = `{"crv":"` + string(j.crv) + `","kty":"EC","x":"` + string(j.x) + `","y":"` + string(j.y) + `"}`
	case "RSA":
		if family != "RSA" {
			return nil, "", false
		}
		n, okn := decodeSegment(string(j.n))
		e, oke := decodeSegment(string(j.e))
		// Minimal encodings (RFC 7518 §6.3.1): no leading zero octet.
		if !okn || !oke || len(n) == 0 || n[0] == 0 || len(e) == 0 || e[0] == 0 || len(e) > 4 {
			return nil, "", false
		}
		k := &rsa.PublicKey{N: new(big.Int).SetBytes(n)}
		for _, b := range e {
			k.E = k.E<<8 | int(b)
		}
		if bits := k.N.BitLen(); bits < minRSABits || bits > maxProofRSABits || k.E != proofRSAExponent {
			return nil, "", false
		}
		pub = k
		canon = `{"e":"` + string(j.e) + `","kty":"RSA","n":"` + string(j.n) + `"}`
	case "OKP":
		if family != "Ed25519" || string(j.crv) != "Ed25519" || j.y != nil {
			return nil, "", false
		}
		x, ok := decodeSegment(string(j.x))
		if !ok || len(x) != ed25519.PublicKeySize || checkEd25519(x) != nil {
			return nil, "", false
		}
		pub = ed25519.PublicKey(x)
		canon = `{"crv":"Ed25519","kty":"OKP","x":"` + string(j.x) + `"}`
	default:
		return nil, "", false
	}
	sum := sha256.Sum256([]byte(canon))
	return pub, b64.EncodeToString(sum[:]), true
}

// sameProofAlg reports whether a jwk's "alg" agrees with the proof
// header's: byte for byte, or the two names of EdDSA with an Ed25519 key.
func sameProofAlg(jwkAlg, alg string) bool {
	if jwkAlg == alg {
		return true
	}
	ed := func(a string) bool { return a == "EdDSA" || a == "Ed25519" }
	return ed(jwkAlg) && ed(alg)
}

// proofKeys remembers the keys of recent proofs, parsed and checked, by the
// SHA-256 of their "alg" and "jwk" text (at most maxProofJWKBytes): a client
// signs every proof with one key, and its checks (an Ed25519 key's order,
// an EC point's curve) and thumbprint then cost a map read. At most
// maxProofKeys are kept, each a few hundred bytes whatever its jwk's
// padding; when full the cache is emptied, so keys sprayed by an attacker
// cost their parsing each time, as without a cache, and cannot keep out a
// client's key for long. Keys refused are not kept.
type proofKeys struct {
	m sync.Map // SHA-256(alg " " jwk) → *parsedKey
	n atomic.Int64
}

type parsedKey struct {
	pub crypto.PublicKey
	jkt string
}

const maxProofKeys = 4096

func (c *proofKeys) get(jwk []byte, alg string) (crypto.PublicKey, string, bool) {
	h := sha256.New()
	h.Write([]byte(alg))
	h.Write([]byte{' '}) // no alg has a space
	h.Write(jwk)
	var id [sha256.Size]byte
	h.Sum(id[:0])
	if v, ok := c.m.Load(id); ok {
		k := v.(*parsedKey)
		return k.pub, k.jkt, true
	}
	pub, jkt, ok := proofKey(jwk, alg)
	if !ok {
		return nil, "", false
	}
	if c.n.Add(1) > maxProofKeys {
		c.m.Clear()
		c.n.Store(1)
	}
	c.m.Store(id, &parsedKey{pub: pub, jkt: jkt})
	return pub, jkt, true
}

// Bounds of a proof's key, checked before its signature, that is before the
// token: whatever a request costs before it is authenticated must be small.
// An RSA modulus over 4096 bits, or an exponent other than 65537 (F4, what
// every library makes), costs more to verify and no client needs it (an
// 8192-bit verification takes some 40 times a 2048-bit one); a jwk is a
// few hundred bytes (a 4096-bit RSA key about 750), and a larger one only
// pads the key cache.
const (
	maxProofRSABits  = 4096
	proofRSAExponent = 65537
	maxProofJWKBytes = 2 << 10
)

// decodeProofJWK reads a proof's "jwk" strictly. Member values of the key
// must be strings; base64url values are checked when decoded (which also
// keeps the thumbprint's JSON free of characters to escape).
func decodeProofJWK(raw []byte, j *proofJWK) error {
	r := strictjson.NewReader(raw)
	if err := r.Open(); err != nil {
		return err
	}
	for {
		name, more, err := r.Member()
		if err != nil || !more {
			return err
		}
		var dst *[]byte
		switch string(name) {
		case "kty":
			dst = &j.kty
		case "crv":
			dst = &j.crv
		case "x":
			dst = &j.x
		case "y":
			dst = &j.y
		case "n":
			dst = &j.n
		case "e":
			dst = &j.e
		case "alg":
			dst = &j.alg
		case "use":
			dst = &j.use
		case "d", "p", "q", "dp", "dq", "qi", "oth", "k":
			// Private (RFC 7518 §6.2.2, §6.3.2, §6.4, RFC 8037 §2): a
			// client that sends them has leaked its key.
			j.private = true
			err = r.Skip()
		default:
			err = r.Skip()
		}
		if dst != nil {
			if r.Peek() != '"' {
				return errType
			}
			*dst, err = r.String()
		}
		if err != nil {
			return err
		}
	}
}

// htuMatches reports whether htu, a proof's "htu", names the request's
// target URI: the origin of Config.Resource and r's path as the client sent
// it (requestPath; never the Host header nor X-Forwarded-*: a client
// chooses those), both normalised by RFC 3986 §6.2.2 and §6.2.3 — scheme
// and host case, the default port, the case of percent-encodings and the
// decoding of unreserved characters, dot segments, an empty path as "/" —
// and htu without its query and fragment (RFC 9449 §4.3 step 9). A trailing
// slash is significant.
func (d *dpopState) htuMatches(htu []byte, r *http.Request) bool {
	path, ok := requestPath(r)
	if !ok {
		return false
	}
	path = normalPath(path)
	if string(htu) == d.origin+path {
		return true // the common case: nothing to normalise
	}
	u, err := url.Parse(string(htu))
	if err != nil || u.Opaque != "" || u.User != nil {
		return false
	}
	origin, ok := normalOrigin(u)
	return ok && origin == d.origin && normalPath(u.EscapedPath()) == path
}

// requestPath returns the escaped path of r's target as the client sent it:
// from r.RequestURI, which the server sets from the request line and
// http.StripPrefix or a router rewriting r.URL leaves alone (a proof for
// https://mcp.example.com/x must not pass on a request to /mcp/x served
// under StripPrefix("/mcp")); from r.URL when RequestURI is empty (a
// request made in process, not read by a server). The origin form ("/p?q")
// and the absolute form ("https://host/p", RFC 9112 §3.2.2; its host is not
// used) give their path; the asterisk form ("*") and the authority form
// (CONNECT) name no path a proof can be for: ok is false.
func requestPath(r *http.Request) (path string, ok bool) {
	uri := r.RequestURI
	if uri == "" {
		if r.URL == nil {
			return "/", true
		}
		return r.URL.EscapedPath(), true
	}
	if uri == "*" {
		return "", false
	}
	u, err := url.ParseRequestURI(uri)
	if err != nil || u.Opaque != "" {
		return "", false
	}
	if uri[0] != '/' {
		if s := strings.ToLower(u.Scheme); (s != "http" && s != "https") || u.Host == "" {
			return "", false
		}
	}
	return u.EscapedPath(), true
}

// normalOrigin returns the scheme://host[:port] of an absolute http or
// https URL, lower-cased and without a default port.
func normalOrigin(u *url.URL) (string, bool) {
	scheme := strings.ToLower(u.Scheme)
	if (scheme != "https" && scheme != "http") || u.Host == "" {
		return "", false
	}
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if strings.IndexByte(host, ':') >= 0 {
		host = "[" + host + "]"
	}
	if port == "" || (scheme == "https" && port == "443") || (scheme == "http" && port == "80") {
		return scheme + "://" + host, true
	}
	return scheme + "://" + host + ":" + port, true
}

// normalPath normalises an escaped path: percent-encodings of unreserved
// characters decoded, the others upper-cased (RFC 3986 §6.2.2.1, §6.2.2.2),
// dot segments removed (§6.2.2.3, §5.2.4), and "" as "/" (§6.2.3).
func normalPath(p string) string {
	if p == "" {
		return "/"
	}
	if strings.IndexByte(p, '%') < 0 && !strings.Contains(p, "/.") {
		return p // nothing to do, the common case
	}
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c != '%' || i+2 >= len(p) || !isHex(p[i+1]) || !isHex(p[i+2]) {
			b.WriteByte(c)
			continue
		}
		v := unhex(p[i+1])<<4 | unhex(p[i+2])
		if isUnreserved(v) {
			b.WriteByte(v)
		} else {
			b.WriteByte('%')
			b.WriteString(strings.ToUpper(p[i+1 : i+3]))
		}
		i += 2
	}
	out := removeDotSegments(b.String())
	if out == "" {
		return "/"
	}
	return out
}

// removeDotSegments is RFC 3986 §5.2.4.
func removeDotSegments(in string) string {
	var out []string // output segments, each with its leading "/"
	for in != "" {
		switch {
		case strings.HasPrefix(in, "../"):
			in = in[3:]
		case strings.HasPrefix(in, "./"):
			in = in[2:]
		case strings.HasPrefix(in, "/./"):
			in = in[2:]
		case in == "/.":
			in = "/"
		case strings.HasPrefix(in, "/../"):
			in = in[3:]
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		case in == "/..":
			in = "/"
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		case in == "." || in == "..":
			in = ""
		default:
			i := strings.IndexByte(in[1:], '/')
			if i < 0 {
				out = append(out, in)
				in = ""
			} else {
				out = append(out, in[:i+1])
				in = in[i+1:]
			}
		}
	}
	return strings.Join(out, "")
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}

// isUnreserved reports whether c is an RFC 3986 §2.3 unreserved character.
func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}
