package validate

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/audit"
	"github.com/rsguard/rsguard/internal/check"
)

// KeySet is where a [Validator] finds an issuer's signature-verification keys
// ([Config.Keys], [IssuerConfig.Keys]), as go-oidc's KeySet. Without one, an
// issuer's keys are its JWK Set, fetched from its JWKSURL (or the jwks_uri
// of its metadata), cached, refreshed, and served stale while the issuer is
// down. [NewStaticKeySet] pins a JWK Set instead; implement KeySet to take
// keys from elsewhere: a KMS, or a store shared between replicas.
//
// Key returns the public key that verifies a token whose protected header
// names kid (empty when the header has none) and alg (already on the
// issuer's allow-list). A kid the set does not know is answered with an error
// wrapping [audit.ReasonUnknownKey], a key that may not verify alg with one
// wrapping [audit.ReasonBadAlgorithm] (either way the token gets 401
// invalid_token, with that reason); any other error means the set could not
// answer (503 with Retry-After, reason [audit.ReasonKeysUnavailable]). The
// error's text never reaches the client. ctx is the request's, bounded by
// [FetchOptions.Timeout].
//
// The Validator guards the requests and the keys of a KeySet it did not
// build itself:
//
//   - Unknown kids are rate-limited, per issuer: the set is asked about a
//     kid it has not yet returned a key for at most once per
//     [FetchOptions.MinRefreshInterval], one such question at a time (the
//     others wait for it, then ask in turn or are refused), so a flood of
//     forged kids costs the set one question per interval. A kid it
//     returned a key for is asked about as often as tokens name it; the
//     Validator remembers up to 4096 such kids per issuer (beyond, it
//     forgets one at random, which is asked about under the limit again).
//   - Every key returned is checked before it verifies anything: it must be
//     an *rsa.PublicKey of 2048 bits or more, an *ecdsa.PublicKey on P-256,
//     P-384 or P-521 whose point is on the curve, or an ed25519.PublicKey
//     canonically encoded and not of small order; and its type and curve
//     must fit alg (RS* and PS* RSA, ES256 P-256, ES384 P-384, ES512 P-521,
//     EdDSA Ed25519). Any other key refuses the token (reasons unknown_key,
//     bad_algorithm).
//   - A token found in the verified-token cache is used only if Key still
//     returns the same key (crypto's Equal) for its kid and alg, so a key
//     the set withdraws stops its tokens at once.
//
// Key is therefore called for every request with a token: keep it fast
// (answer from memory, refresh in the background) and safe for concurrent
// use.
type KeySet interface {
	Key(ctx context.Context, kid, alg string) (crypto.PublicKey, error)
}

// NewStaticKeySet returns a KeySet that holds the keys of jwks, a JWK Set
// document (RFC 7517 §5), for deployments that pin keys and for tests: no
// discovery, no HTTP, no refresh. Its keys get the checks of a fetched set:
// a key whose "use" is not "sig", whose "key_ops" lack "verify", whose "alg"
// its type cannot do, a symmetric ("oct") key, or a weak or degenerate key
// (see [KeySet]) stays in the set but verifies nothing (a token naming it is
// refused at once). What a fetched set would skip with a warning fails here,
// with an error wrapping rsguard.ErrInvalidConfig: a key that cannot be
// parsed, two keys with one kid, a key with its private part; so does a set
// with no usable key. Give each issuer a set of its own.
//
// Its Key method looks up kid as the Validator does: with an empty kid, the
// one usable key that fits alg, if exactly one does.
func NewStaticKeySet(jwks []byte) (KeySet, error) {
	var problems []string
	snap, err := parseJWKS(jwks, nil, func(msg string, args ...any) {
		var b strings.Builder
		b.WriteString(strings.TrimPrefix(msg, "rsguard: "))
		for i := 0; i+1 < len(args); i += 2 {
			fmt.Fprintf(&b, " %v=%v", args[i], args[i+1])
		}
		problems = append(problems, b.String())
	})
	if err != nil {
		return nil, configErr("static JWK Set: %v", err)
	}
	if len(problems) > 0 {
		return nil, configErr("static JWK Set: %s", strings.Join(problems, "; "))
	}
	return &staticKeySet{snap: snap}, nil
}

// keySource is where a Validator finds the keys of one issuer: a fetched JWK
// Set (remoteKeys), a static one (staticKeySet), or a KeySet of the
// application behind its guards (appKeys). Each also has a method
//
//	find(ctx context.Context, kid []byte, hasKid bool, alg []byte) (*key, *rsguard.Error)
//
// returning the key a token names (hasKid false: its header has no "kid"),
// or the refusal, called through findKey.
type keySource interface {
	// holds reports whether k, which verified a token signed with alg, is
	// still the source's key: a cached token is used only then.
	holds(ctx context.Context, k *key, alg string) bool
}

// findKey calls the find method of ks's concrete type. It is not an
// interface method because kid and alg may point into a header decoded on
// Verify's stack, which a call through an interface would move to the heap
// (the compiler cannot see that no find keeps them).
func findKey(ctx context.Context, ks keySource, kid []byte, hasKid bool, alg []byte) (*key, *rsguard.Error) {
	switch ks := ks.(type) {
	case *remoteKeys:
		return ks.find(ctx, kid, hasKid, alg)
	case *staticKeySet:
		return ks.find(ctx, kid, hasKid, alg)
	case *appKeys:
		return ks.find(ctx, kid, hasKid, alg)
	}
	return nil, reject(errUnknownKey) // no other keySource exists
}

// staticKeySet is the KeySet of NewStaticKeySet.
type staticKeySet struct{ snap *keySnapshot }

func (s *staticKeySet) Key(_ context.Context, kid, alg string) (crypto.PublicKey, error) {
	k, e := s.find(context.Background(), []byte(kid), kid != "", []byte(alg))
	if e != nil {
		return nil, e
	}
	return k.pub, nil
}

func (s *staticKeySet) find(_ context.Context, kid []byte, hasKid bool, alg []byte) (*key, *rsguard.Error) {
	k, found, e := s.snap.lookup(kid, hasKid, alg)
	if e != nil {
		return nil, e
	}
	if !found {
		return nil, reject(errUnknownKey)
	}
	return k, nil
}

func (s *staticKeySet) holds(_ context.Context, k *key, _ string) bool { return s.snap.holds(k) }

// maxKnownKids bounds the kids remembered per issuer as known to an
// application's KeySet; past it, one is forgotten for each new one (and is
// then asked about under the rate limit again).
const maxKnownKids = 4096

// appKeys puts an application's KeySet behind the guards the KeySet
// documentation lists: the rate limit on unknown kids, and the checks of the
// keys it returns. One per issuer.
type appKeys struct {
	set      KeySet
	issuer   string
	now      func() time.Time
	interval time.Duration // FetchOptions.MinRefreshInterval
	timeout  time.Duration // FetchOptions.Timeout
	logger   *slog.Logger

	mu    sync.Mutex
	known map[string]*key // kids the set returned a key for, with that key as checked
	// inflight is closed when the running question about an unknown kid
	// ends; nil when none runs. next is the earliest time of the next one.
	inflight chan struct{}
	next     time.Time
}

func newAppKeys(set KeySet, issuer string, v *Validator, f *FetchOptions) *appKeys {
	return &appKeys{
		set: set, issuer: issuer, now: v.now, logger: v.logger,
		interval: orDefault(f.MinRefreshInterval, defaultMinRefreshInterval),
		timeout:  orDefault(f.Timeout, defaultFetchTimeout),
		known:    make(map[string]*key),
	}
}

func (a *appKeys) find(ctx context.Context, kid []byte, _ bool, alg []byte) (*key, *rsguard.Error) {
	return a.key(ctx, string(kid), string(alg))
}

func (a *appKeys) holds(ctx context.Context, k *key, alg string) bool {
	got, e := a.key(ctx, k.kid, alg)
	return e == nil && got == k
}

// key asks the set for the key of kid and alg: at once when the set has
// returned a key for kid before; otherwise one question at a time, at most
// one per interval.
func (a *appKeys) key(ctx context.Context, kid, alg string) (*key, *rsguard.Error) {
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	for {
		a.mu.Lock()
		if a.known[kid] != nil {
			a.mu.Unlock()
			k, e, _ := a.ask(ctx, kid, alg)
			return k, e
		}
		if ch := a.inflight; ch != nil {
			a.mu.Unlock()
			select {
			case <-ch:
				continue // the set may know kid now, or the limit applies
			case <-ctx.Done():
				return nil, keysUnavailable(a.timeout)
			}
		}
		start := a.now()
		if start.Before(a.next) {
			a.mu.Unlock()
			return nil, reject(errUnknownKey)
		}
		ch := make(chan struct{})
		a.inflight = ch
		a.mu.Unlock()
		return a.askUnknown(ctx, kid, alg, start, ch)
	}
}

// askUnknown asks the set about a kid it has not returned a key for, and
// holds off the next such question for the interval unless the set returned
// a key. It releases the waiters however the question ends.
func (a *appKeys) askUnknown(ctx context.Context, kid, alg string, start time.Time, ch chan struct{}) (k *key, e *rsguard.Error) {
	answered := false
	defer func() {
		a.mu.Lock()
		if !answered {
			a.next = start.Add(a.interval)
		}
		a.inflight = nil
		a.mu.Unlock()
		close(ch)
	}()
	k, e, answered = a.ask(ctx, kid, alg)
	return k, e
}

// ask calls the set and checks the key it returns. answered reports that
// the set returned a key (usable or not).
func (a *appKeys) ask(ctx context.Context, kid, alg string) (k *key, e *rsguard.Error, answered bool) {
	pub, err := a.set.Key(ctx, kid, alg)
	switch {
	case errors.Is(err, audit.ReasonUnknownKey):
		a.mu.Lock()
		delete(a.known, kid)
		a.mu.Unlock()
		return nil, reject(errUnknownKey), false
	case errors.Is(err, audit.ReasonBadAlgorithm):
		return nil, reject(errKeyAlgorithm), false
	case err != nil:
		a.logger.Warn("rsguard: the issuer's KeySet failed", "issuer", a.issuer, "error", err.Error())
		return nil, keysUnavailable(a.timeout), false
	case check.IsNil(pub):
		a.logger.Error("rsguard: the issuer's KeySet returned neither a key nor an error", "issuer", a.issuer)
		return nil, keysUnavailable(a.timeout), false
	}
	k = a.checked(kid, pub)
	switch {
	case k.unusable != nil:
		return nil, reject(*k.unusable), true
	case k.family != algFamily(alg):
		return nil, reject(errKeyAlgorithm), true
	}
	return k, nil, true
}

// checked returns the checked key of kid when pub equals it (so a key keeps
// its identity, and is checked once), or checks pub and remembers it.
func (a *appKeys) checked(kid string, pub crypto.PublicKey) *key {
	a.mu.Lock()
	k := a.known[kid]
	a.mu.Unlock()
	if eq, ok := pub.(interface{ Equal(crypto.PublicKey) bool }); ok && k != nil && eq.Equal(k.pub) {
		return k
	}
	k = &key{kid: kid, pub: pub}
	family, weak, err := checkPublicKey(pub)
	switch {
	case err != nil:
		a.logger.Warn("rsguard: the issuer's KeySet returned a key it may not return", "issuer", a.issuer, "kid", kid, "reason", err.Error())
		k.unusable = ptr(errUnusableKey)
	case weak != nil:
		k.family, k.unusable = family, weak
	default:
		k.family = family
	}
	a.mu.Lock()
	if a.known[kid] == nil && len(a.known) >= maxKnownKids {
		for other := range a.known {
			delete(a.known, other)
			break
		}
	}
	a.known[kid] = k
	a.mu.Unlock()
	return k
}

// keysUnavailable is the refusal of a token whose key cannot be found now
// (no key set loaded yet, or the application's KeySet failed): 503, retry
// once a fetch bounded by timeout may be done.
func keysUnavailable(timeout time.Duration) *rsguard.Error {
	e := reject(errKeysUnavailable)
	e.RetryAfter = timeout.Truncate(time.Second) + time.Second
	return e
}
