package validate

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/audit"
	"github.com/rsguard/rsguard/internal/authheader"
	"github.com/rsguard/rsguard/internal/check"
	"github.com/rsguard/rsguard/rsmeta"
)

// DPoPMode says which presentations of an access token a [Validator]
// accepts ([DPoPConfig].Mode): plain bearer tokens (RFC 6750), DPoP-bound
// tokens with their proof (RFC 9449), or both.
type DPoPMode int

const (
	// DPoPOff (the default) accepts bearer tokens only. A token bound to a
	// key (a "cnf" claim) is refused (reason sender_constrained), and
	// `Authorization: DPoP …` is not a credential this Validator reads:
	// such a request is answered as one without a credential
	// (no_credential), with the Bearer challenge.
	DPoPOff DPoPMode = iota
	// DPoPAllowed accepts both: unbound tokens as Bearer, bound tokens only
	// as DPoP with a valid proof of their key. Challenges name both
	// schemes.
	DPoPAllowed
	// DPoPRequired accepts only DPoP: every token must be bound to the key
	// of the proof that comes with it. A bearer token is refused (401,
	// reason dpop_required, no error code: RFC 6750 §3.1, an
	// authentication scheme this resource does not accept), and challenges
	// name the DPoP scheme only.
	DPoPRequired
)

// String returns "off", "allowed" or "required".
func (m DPoPMode) String() string {
	switch m {
	case DPoPOff:
		return "off"
	case DPoPAllowed:
		return "allowed"
	case DPoPRequired:
		return "required"
	}
	return fmt.Sprintf("DPoPMode(%d)", int(m))
}

// DPoPConfig configures DPoP, OAuth 2.0 Demonstrating Proof of Possession
// (RFC 9449), on the resource-server side ([Config].DPoP): which tokens
// must come with a proof, the proofs' algorithms and lifetime, replay
// detection and server nonces. Its zero value is DPoP off. See the package
// documentation, "DPoP".
type DPoPConfig struct {
	// Mode chooses bearer only (DPoPOff, the default), both
	// (DPoPAllowed), or DPoP only (DPoPRequired).
	Mode DPoPMode

	// Algorithms is the allow-list of the proofs' JWS "alg" values, sent
	// in the DPoP challenge's algs auth-param (RFC 9449 §7.1) and
	// published as dpop_signing_alg_values_supported. If empty: ES256,
	// EdDSA, Ed25519, RS256, PS256. Allowed values: RS256/384/512,
	// PS256/384/512, ES256/384/512, EdDSA and Ed25519 (RFC 9864, the fully
	// specified name of EdDSA with an Ed25519 key; a proof with either
	// name is verified the same way). "none" and HS* are refused:
	// a proof's key is a public key in its header.
	Algorithms []string

	// ProofLifetime is how long a proof is accepted after its "iat": a
	// proof is accepted when now-ProofLifetime-Leeway ≤ iat ≤ now+Leeway
	// ([Config].Leeway), and its "jti" is remembered that long and one
	// second more (see [ReplayStore]). With
	// Nonce, it is also the lifetime of a server nonce (see Nonce). If
	// zero, 60 s; at most 10 min.
	ProofLifetime time.Duration

	// Replay remembers the proofs seen, so that each proof is accepted
	// once (RFC 9449 §11.1). Several replicas behind one name must share
	// it, or a proof accepted by one is accepted again by the others. Its
	// failure refuses the proof with 503 (reason store_unavailable), with
	// Retry-After. If nil (the default), an in-memory store of this
	// Validator, bounded by MaxProofs.
	Replay ReplayStore

	// MaxProofs bounds the in-memory replay store (Replay nil): the most
	// proofs remembered at once. A proof is never forgotten while it could
	// still be accepted, so when the store is full of live proofs a new
	// proof gets 503 store_unavailable, with Retry-After the time until
	// the oldest is forgotten. If zero, 100 000 (about 15 MiB).
	MaxProofs int

	// Nonce requires every proof to carry a nonce this resource gave
	// (RFC 9449 §9). A proof without one, or with one that is stale or not
	// this resource's, gets 401 with error="use_dpop_nonce" and a
	// DPoP-Nonce header with a fresh nonce, which the client puts in its
	// next proof. Nonces are stateless (an HMAC of a time slot of
	// ProofLifetime), valid for one to two ProofLifetimes; a successful
	// response carries a fresh one in DPoP-Nonce (rsguard.Principal.Header)
	// when the one used is from the previous slot. If false (the
	// default), no nonce is required and one sent is ignored.
	Nonce bool

	// NonceSecret is the HMAC key of the nonces, at least 32 bytes. Give
	// the same secret to every replica behind one name so that a nonce one
	// gives is accepted by the others. If nil (the default), a random key
	// of this Validator: each replica accepts only its own nonces.
	NonceSecret []byte
}

// SigningAlgorithms returns the proof algorithms accepted under c, in a new
// slice: Algorithms, or the default list when it is empty; nil when Mode is
// DPoPOff. It is the list to publish as dpop_signing_alg_values_supported
// (RFC 9728 §2), which package mcpguard does.
func (c DPoPConfig) SigningAlgorithms() []string {
	if c.Mode == DPoPOff {
		return nil
	}
	if len(c.Algorithms) == 0 {
		return defaultDPoPAlgorithms()
	}
	return append([]string(nil), c.Algorithms...)
}

// ReplayStore remembers DPoP proof ids for [DPoPConfig].Replay. It must be
// safe for concurrent use.
type ReplayStore interface {
	// Use records id until the given time and reports whether it was
	// already recorded and is not yet past its own until time. Use must be
	// atomic: of two concurrent calls with one id, one at most reports
	// false. An error (store down, full) refuses the proof with 503
	// store_unavailable; an error that has a RetryAfter() time.Duration
	// method chooses the Retry-After.
	//
	// The id is an opaque string of 43 characters (base64url, a SHA-256 of
	// the proof key's thumbprint and the proof's "jti"), never the proof
	// or the token.
	//
	// A store must keep an id at least until until, and report it seen
	// while now is before until: the proof is accepted up to its iat +
	// ProofLifetime + Leeway inclusive, and until is one second later, so a
	// store that rounds times to whole seconds (a TTL in seconds) is still
	// safe when it rounds until up, never when it rounds down or forgets
	// early.
	Use(ctx context.Context, id string, until time.Time) (seen bool, err error)
}

// Defaults and bounds of [DPoPConfig].
const (
	defaultProofLifetime = 60 * time.Second
	maxProofLifetime     = 10 * time.Minute
	defaultMaxProofs     = 100000
	maxProofBytes        = 8 << 10 // a DPoP header value
	maxJTIBytes          = 256
	minNonceSecret       = 32
	dpopScheme           = "DPoP"
	// replayMargin is added to a proof's window end for its until time (see
	// ReplayStore.Use): the window includes its end, the store must still
	// hold the id then.
	replayMargin = time.Second
)

// defaultDPoPAlgorithms returns the allow-list of [DPoPConfig].Algorithms
// when empty, in a new slice.
func defaultDPoPAlgorithms() []string {
	return []string{"ES256", "EdDSA", "Ed25519", "RS256", "PS256"}
}

// dpopMethods are the proof algorithms a DPoPConfig may allow: those of
// tokens, and Ed25519 (RFC 9864), EdDSA with an Ed25519 key, which is all
// EdDSA verifies.
var dpopMethods = func() map[string]sigAlg {
	m := maps.Clone(supportedAlgorithms)
	m["Ed25519"] = m["EdDSA"]
	return m
}()

// dpopState is a Validator's DPoP configuration, ready to check proofs.
type dpopState struct {
	mode       DPoPMode
	methods    map[string]sigAlg // the allow-list
	algs       string            // the allow-list, space-separated: the algs auth-param
	lifetime   time.Duration
	replay     ReplayStore
	replayLog  failureLog // the replay store's failures, one line a minute
	nonces     *nonces    // nil unless Nonce
	origin     string     // scheme://host[:port] of Config.Resource, normalised
	keys       proofKeys
	challenges []rsmeta.Challenge
}

// initDPoP checks cfg (Config.DPoP) and sets v.dpop. It runs after the
// Validator's clock, leeway and logger are set.
func (v *Validator) initDPoP(cfg DPoPConfig) error {
	d := &v.dpop
	d.mode = cfg.Mode
	switch cfg.Mode {
	case DPoPOff:
		if len(cfg.Algorithms) != 0 || cfg.ProofLifetime != 0 || cfg.Replay != nil || cfg.MaxProofs != 0 || cfg.Nonce || cfg.NonceSecret != nil {
			return configErr("DPoP: fields are set but Mode is DPoPOff: set Mode to DPoPAllowed or DPoPRequired")
		}
		return nil
	case DPoPAllowed, DPoPRequired:
	default:
		return configErr("DPoP.Mode %d is not a DPoPMode", int(cfg.Mode))
	}
	algs := cfg.SigningAlgorithms()
	d.methods = make(map[string]sigAlg, len(algs))
	for _, a := range algs {
		m, ok := dpopMethods[a]
		if !ok {
			return configErr("DPoP.Algorithms: %q is not an accepted proof algorithm (RS256/384/512, PS256/384/512, ES256/384/512, EdDSA, Ed25519)", a)
		}
		if _, ok := d.methods[a]; ok {
			return configErr("DPoP.Algorithms: %q is listed twice", a)
		}
		d.methods[a] = m
	}
	d.algs = strings.Join(algs, " ")
	switch {
	case cfg.ProofLifetime < 0:
		return configErr("DPoP.ProofLifetime must not be negative")
	case cfg.ProofLifetime > maxProofLifetime:
		return configErr("DPoP.ProofLifetime %v exceeds the maximum %v", cfg.ProofLifetime, maxProofLifetime)
	case cfg.MaxProofs < 0:
		return configErr("DPoP.MaxProofs must not be negative")
	case cfg.Replay != nil && check.IsNil(cfg.Replay):
		return configErr("DPoP.Replay is a nil %T", cfg.Replay)
	case cfg.Replay != nil && cfg.MaxProofs != 0:
		return configErr("DPoP.MaxProofs bounds the in-memory store: it is not used with Replay")
	case cfg.NonceSecret != nil && !cfg.Nonce:
		return configErr("DPoP.NonceSecret is set but Nonce is false")
	case cfg.NonceSecret != nil && len(cfg.NonceSecret) < minNonceSecret:
		return configErr("DPoP.NonceSecret has %d bytes: at least %d", len(cfg.NonceSecret), minNonceSecret)
	}
	d.lifetime = orDefault(cfg.ProofLifetime, defaultProofLifetime)
	d.replay = cfg.Replay
	if d.replay == nil {
		d.replay = newMemoryReplay(orDefault(cfg.MaxProofs, defaultMaxProofs), v.now)
	}
	if cfg.Nonce {
		secret := cfg.NonceSecret
		if secret == nil {
			secret = make([]byte, minNonceSecret)
			if _, err := rand.Read(secret); err != nil {
				return fmt.Errorf("validate: DPoP nonce secret: %w", err)
			}
		}
		d.nonces = newNonces(secret, d.lifetime)
	}
	u, err := url.Parse(v.resource)
	if err != nil {
		return configErr("Resource: %v", err) // not reached: checked by New
	}
	origin, ok := normalOrigin(u)
	if !ok {
		return configErr("Resource %q: no origin for DPoP htu", v.resource)
	}
	d.origin = origin
	dpop := rsmeta.Challenge{Scheme: dpopScheme, Params: []rsmeta.Param{{Name: "algs", Value: d.algs}}}
	if cfg.Mode == DPoPAllowed {
		d.challenges = []rsmeta.Challenge{{Scheme: "Bearer"}, dpop}
	} else {
		d.challenges = []rsmeta.Challenge{dpop}
	}
	return nil
}

// Challenges implements [rsguard.Challenger]: the challenges an
// [rsguard.Guard] sends for this Validator, to which it adds its realm,
// resource_metadata and scope. With DPoPOff, none (the Guard's one Bearer
// challenge); with DPoPAllowed, Bearer and `DPoP algs="…"` (RFC 9449 §7.1),
// in that order; with DPoPRequired, the DPoP challenge alone. A refusal's
// error code goes on the challenge of the scheme the request used
// (rsguard.Error.Scheme).
func (v *Validator) Challenges() []rsmeta.Challenge {
	if v == nil || len(v.dpop.challenges) == 0 {
		return nil
	}
	out := make([]rsmeta.Challenge, len(v.dpop.challenges))
	for i, c := range v.dpop.challenges {
		c.Params = append([]rsmeta.Param(nil), c.Params...)
		out[i] = c
	}
	return out
}

// The refusals of the DPoP path, on the DPoP challenge (Scheme "DPoP").
// Like the other templates they are never handed out: reject copies them.
// Their Credential "jwt" is replaced by the token's kind, "introspection"
// for a token that would be introspected (see authenticateDPoP).
var (
	errProofMissing   = badProof("the request has no DPoP proof")
	errProofMultiple  = badProof("the request has more than one DPoP proof")
	errProofMalformed = badProof("the DPoP proof is malformed")
	errProofType      = badProof("the DPoP proof's typ is not dpop+jwt")
	errProofAlgorithm = badProof("the DPoP proof's signing algorithm is not accepted")
	errProofKey       = badProof("the DPoP proof's jwk is not an acceptable public key")
	errProofHeader    = badProof("the DPoP proof's header has members that are not accepted")
	errProofSignature = badProof("the DPoP proof's signature is invalid")
	errProofMethod    = badProof("the DPoP proof was made for another HTTP method")
	errProofURL       = badProof("the DPoP proof was made for another URL")
	errProofTime      = badProof("the DPoP proof was issued outside the accepted time window")
	errProofID        = badProof("the DPoP proof has no valid jti")
	errProofTokenHash = badProof("the DPoP proof was made for another access token")
	errProofReplay    = rsguard.Error{
		Status: http.StatusUnauthorized, Code: rsmeta.ErrorInvalidDPoPProof, Description: "the DPoP proof was already used",
		Err: audit.ReasonDPoPReplay, Reason: audit.ReasonDPoPReplay, Credential: audit.CredentialJWT, Scheme: dpopScheme,
	}
	errUseNonce = rsguard.Error{
		Status: http.StatusUnauthorized, Code: rsmeta.ErrorUseDPoPNonce, Description: "the DPoP proof must carry the nonce of the DPoP-Nonce header",
		Err: audit.ReasonUseDPoPNonce, Reason: audit.ReasonUseDPoPNonce, Credential: audit.CredentialJWT, Scheme: dpopScheme,
	}
	// A bearer token where only DPoP is accepted: no error code (RFC 6750
	// §3.1, "attempted using an unsupported authentication method").
	errDPoPRequired = rsguard.Error{
		Status: http.StatusUnauthorized, Description: "this resource accepts only DPoP-bound access tokens",
		Err: audit.ReasonDPoPRequired, Reason: audit.ReasonDPoPRequired, Credential: audit.CredentialJWT, Scheme: dpopScheme,
	}
	errDPoPHeader = rsguard.Error{
		Status: http.StatusBadRequest, Code: rsmeta.ErrorInvalidRequest, Description: "malformed Authorization header",
		Err: audit.ReasonInvalidRequest, Reason: audit.ReasonInvalidRequest, Scheme: dpopScheme,
	}
	// The token's binding (RFC 9449 §7.1): on the DPoP challenge,
	// invalid_token (the proof itself is good), reason sender_constrained.
	errNotBound = rsguard.Error{
		Status: http.StatusUnauthorized, Code: rsmeta.ErrorInvalidToken, Description: "the access token is not bound to a key (not a DPoP-bound token)",
		Err: audit.ReasonSenderConstrained, Reason: audit.ReasonSenderConstrained, Credential: audit.CredentialJWT, Scheme: dpopScheme,
	}
	errKeyBinding = rsguard.Error{
		Status: http.StatusUnauthorized, Code: rsmeta.ErrorInvalidToken, Description: "the access token is bound to another key than the DPoP proof's",
		Err: audit.ReasonSenderConstrained, Reason: audit.ReasonSenderConstrained, Credential: audit.CredentialJWT, Scheme: dpopScheme,
	}
	errReplayUnavailable = rsguard.Error{
		Status: http.StatusServiceUnavailable, Description: "the DPoP proof cannot be checked right now",
		Err: audit.ReasonStoreUnavailable, Reason: audit.ReasonStoreUnavailable, Credential: audit.CredentialJWT, Scheme: dpopScheme,
		RetryAfter: 5 * time.Second,
	}
)

func badProof(desc string) rsguard.Error {
	return rsguard.Error{
		Status: http.StatusUnauthorized, Code: rsmeta.ErrorInvalidDPoPProof, Description: desc,
		Err: audit.ReasonBadDPoPProof, Reason: audit.ReasonBadDPoPProof, Credential: audit.CredentialJWT, Scheme: dpopScheme,
	}
}

// binding checks the key binding of verified claims whose "cnf" "jkt" is
// jkt: want is "" on the bearer path, where a bound token is refused (RFC
// 9449 §7.1: never downgraded), and the proof key's thumbprint on the DPoP
// path, where the token must be bound to it.
func binding(jkt, want string) *rsguard.Error {
	switch {
	case want == "" && jkt == "":
		return nil
	case want == "":
		return reject(errSenderConstrained)
	case jkt == "":
		return reject(errNotBound)
	case subtle.ConstantTimeCompare([]byte(jkt), []byte(want)) != 1:
		return reject(errKeyBinding)
	}
	return nil
}

// dpopToken returns the access token of `Authorization: DPoP <token>` (RFC
// 9449 §7.1: the token68 syntax of RFC 6750 §2.1's b64token), refusing a
// malformed header, or a token in the query, as rsguard.BearerToken does.
func dpopToken(r *http.Request) (string, *rsguard.Error) {
	tok, p := authheader.Token(r, dpopScheme)
	if p != authheader.OK {
		return "", reject(errDPoPHeader)
	}
	return tok, nil
}

// authenticateDPoP authenticates a request with `Authorization: DPoP`: the
// proof first (RFC 9449 §4.3), cheapest checks before its signature, then
// the token, as the bearer path verifies it but bound to the proof's key
// (§7.1), then the proof's jti in the replay store — only once everything
// else passed, so that refused requests cannot fill it.
func (v *Validator) authenticateDPoP(r *http.Request) (*rsguard.Principal, error) {
	tok, e := dpopToken(r)
	if e != nil {
		return nil, e
	}
	// A refusal of the proof, before the token is verified, names the kind
	// of credential the token is.
	refuse := func(e *rsguard.Error) (*rsguard.Principal, error) {
		e.Credential = v.tokenCredential(tok)
		return nil, e
	}
	vals := r.Header["Dpop"]
	switch {
	case len(vals) == 0:
		return refuse(reject(errProofMissing))
	case len(vals) > 1 || strings.IndexByte(vals[0], ',') >= 0:
		return refuse(reject(errProofMultiple))
	}
	now := v.now()
	d := &v.dpop
	p, e := d.parseProof(strings.Trim(vals[0], " \t"))
	if e != nil {
		return refuse(e)
	}
	if e := d.checkClaims(p, r, tok, now, v.leeway); e != nil {
		return refuse(e)
	}
	var refresh bool // the nonce used is from the previous slot
	if d.nonces != nil {
		ok, old := d.nonces.check(p.nonce, p.hasNonce, now, v.leeway)
		if !ok {
			e := reject(errUseNonce)
			e.Header = http.Header{"Dpop-Nonce": {d.nonces.current(now)}}
			return refuse(e)
		}
		refresh = old
	}
	if err := p.method.verify(p.signed, p.sig, p.key); err != nil {
		return refuse(reject(errProofSignature))
	}
	c, err := v.verify(r.Context(), tok, p.jkt)
	if err != nil {
		return nil, onDPoPChallenge(err)
	}
	// The proof is accepted up to iat+lifetime+leeway inclusive (see
	// checkClaims): the store keeps its id a margin longer.
	until := p.iat.t.Add(d.lifetime + v.leeway + replayMargin)
	seen, err := d.replay.Use(r.Context(), replayID(p.jkt, p.jti), until)
	switch {
	case err != nil:
		d.replayLog.log(r.Context(), v.logger, slog.LevelWarn, v.now(), "rsguard: DPoP replay store failed; request refused", err)
		e := reject(errReplayUnavailable)
		e.Err = fmt.Errorf("%w: %w", audit.ReasonStoreUnavailable, err)
		var ra interface{ RetryAfter() time.Duration }
		if errors.As(err, &ra) {
			e.RetryAfter = ra.RetryAfter()
		}
		e.Principal = c.principalOf()
		e.Credential = c.credential()
		return nil, e
	case seen:
		e := reject(errProofReplay)
		e.Principal = c.principalOf()
		e.Credential = c.credential()
		return nil, e
	}
	pr := c.principalOf()
	if refresh {
		pr.Header = http.Header{"Dpop-Nonce": {d.nonces.current(now)}}
	}
	return pr, nil
}

// tokenCredential returns the kind of credential tok would be verified as
// (before it is): "introspection" for a token this Validator would send to
// an introspection endpoint — not a JWS compact serialisation (jwsShaped), or a JWS of
// an issuer that introspects its JWTs — else "jwt".
func (v *Validator) tokenCredential(tok string) audit.Credential {
	if v.intro == nil {
		return audit.CredentialJWT
	}
	if !jwsShaped(tok) || (v.intro.jwts && v.jwsIntrospector(tok) != nil) {
		return audit.CredentialIntrospection
	}
	return audit.CredentialJWT
}

// onDPoPChallenge returns err, the refusal of a token presented with DPoP,
// as a refusal on the DPoP challenge.
func onDPoPChallenge(err error) error {
	var e *rsguard.Error
	if !errors.As(err, &e) {
		return err
	}
	cp := *e
	cp.Scheme = dpopScheme
	return &cp
}

// replayID is the replay store's id of a proof: base64url(SHA-256(jkt "."
// jti)). A thumbprint has no ".", so two proofs share an id only when they
// share key and jti.
func replayID(jkt string, jti []byte) string {
	h := sha256.New()
	h.Write([]byte(jkt))
	h.Write([]byte{'.'})
	h.Write(jti)
	var sum [sha256.Size]byte
	return b64.EncodeToString(h.Sum(sum[:0]))
}

// nonces are the stateless server nonces of RFC 9449 §9: the nonce of time
// slot n (slots of one ProofLifetime) is base64url of the first 16 bytes of
// HMAC-SHA256(secret, "rsguard dpop nonce" || n). The current and the
// previous slot's are accepted (and the next one's within the leeway, for
// replicas whose clocks differ), so a nonce is good for one to two slots.
type nonces struct {
	secret []byte
	slot   time.Duration
	cache  atomic.Pointer[nonceSlot] // the current slot's nonces
}

type nonceSlot struct {
	n               int64
	prev, cur, next string
}

func newNonces(secret []byte, slot time.Duration) *nonces {
	return &nonces{secret: append([]byte(nil), secret...), slot: slot}
}

func (s *nonces) of(n int64) string {
	m := hmac.New(sha256.New, s.secret)
	m.Write([]byte("rsguard dpop nonce"))
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(n))
	m.Write(b[:])
	return b64.EncodeToString(m.Sum(nil)[:16])
}

// at returns the nonces around slot n.
func (s *nonces) at(n int64) *nonceSlot {
	if c := s.cache.Load(); c != nil && c.n == n {
		return c
	}
	c := &nonceSlot{n: n, prev: s.of(n - 1), cur: s.of(n), next: s.of(n + 1)}
	s.cache.Store(c)
	return c
}

func (s *nonces) slotOf(t time.Time) int64 { return t.UnixNano() / int64(s.slot) }

// current returns the nonce to give a client now.
func (s *nonces) current(now time.Time) string { return s.at(s.slotOf(now)).cur }

// check reports whether nonce is good now, and whether it is from the
// previous slot (a fresh one should be given).
func (s *nonces) check(nonce []byte, present bool, now time.Time, leeway time.Duration) (ok, old bool) {
	if !present {
		return false, false
	}
	n := s.slotOf(now)
	c := s.at(n)
	eq := func(want string) bool { return subtle.ConstantTimeCompare(nonce, []byte(want)) == 1 }
	switch {
	case eq(c.cur):
		return true, false
	case eq(c.prev):
		return true, true
	case s.slotOf(now.Add(leeway)) > n && eq(c.next):
		return true, false
	}
	return false, false
}
