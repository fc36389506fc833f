package validate

import (
	"net/url"
	"strings"

	"github.com/rsguard/rsguard/internal/check"
)

// IssuerConfig is one trusted authorization server of [Config.Issuers].
type IssuerConfig struct {
	// Issuer is the issuer identifier (RFC 8414 §2); a token's "iss" must
	// equal it exactly. Required. As for [Config.Issuer], https or http on
	// a loopback host when keys are discovered from it.
	Issuer string

	// JWKSURL is the issuer's JWK Set URL. If empty (and Keys is nil),
	// discovered from the issuer's metadata as for [Config.JWKSURL]. https,
	// or http on a loopback host.
	JWKSURL string

	// Keys, if set, is the issuer's key set instead of its fetched JWK Set,
	// as for [Config.Keys]: [NewStaticKeySet], or a [KeySet] of your own.
	// Not with JWKSURL.
	Keys KeySet

	// Audiences are the "aud" values that address this resource in this
	// issuer's tokens (some issuers use an application id URI rather than
	// the resource URL). If empty, [Config.Resource]. Compared in canonical
	// form, like Config.Resource.
	Audiences []string

	// Algorithms is this issuer's algorithm allow-list. If empty,
	// [Config.Algorithms] (whose own default is RS256, PS256, ES256 and
	// EdDSA).
	Algorithms []string

	// Introspection, if set, checks this issuer's opaque access tokens (and,
	// with Introspection.JWTs, its JWTs) by token introspection (RFC 7662),
	// as for [Config.Introspection]. If nil, its tokens are JWTs verified
	// locally.
	Introspection *Introspection
}

// trusted is one trusted issuer, ready to verify.
type trusted struct {
	issuer    string
	keys      keySource
	methods   map[string]sigAlg
	audiences []audience
	intro     *introspector // nil when the issuer does not introspect
}

// audience is an accepted "aud" value: as configured, and in its canonical
// comparison form (see newAudience).
type audience struct {
	raw, key string
	tail     string // key's path and query, when key is a canonical URL
	url      bool   // key is a canonical URL (else a token's value must equal raw or key)
}

// newTrusted builds an issuer's verification state. The *remoteKeys is
// returned (nil when the issuer's Keys are given) so that New can load and
// refresh it.
func (v *Validator) newTrusted(ic IssuerConfig, cfg *Config) (*trusted, *remoteKeys, error) {
	// strings.ContainsAny, not the parsed parts: "https://as.example/#" has
	// an empty fragment, and no "#" may occur in an issuer (RFC 8414 §2),
	// or principals (issuer#subject) could be read two ways.
	if u, err := url.Parse(ic.Issuer); err != nil || !u.IsAbs() || u.Host == "" || strings.ContainsAny(ic.Issuer, "#?") {
		return nil, nil, configErr("Issuer %q is not an absolute URL without query or fragment", ic.Issuer)
	}
	t := &trusted{issuer: ic.Issuer, methods: make(map[string]sigAlg)}
	algs := ic.Algorithms
	if len(algs) == 0 {
		algs = cfg.Algorithms
	}
	if len(algs) == 0 {
		algs = defaultAlgorithms()
	}
	for _, a := range algs {
		m, ok := supportedAlgorithms[a]
		if !ok {
			return nil, nil, configErr("issuer %s: algorithm %q is not allowed (asymmetric JWS algorithms only)", ic.Issuer, a)
		}
		t.methods[a] = m
	}
	auds := ic.Audiences
	if len(auds) == 0 {
		auds = []string{cfg.Resource}
	}
	for _, a := range auds {
		t.audiences = append(t.audiences, newAudience(a))
	}
	if ic.Introspection != nil {
		in, err := v.newIntrospector(&ic, t, cfg)
		if err != nil {
			return nil, nil, err
		}
		t.intro = in
		if in.jwts {
			return t, nil, nil // every token introspected: no keys
		}
	}

	if ic.Keys != nil {
		if check.IsNil(ic.Keys) {
			return nil, nil, configErr("issuer %s: Keys is a nil %T", ic.Issuer, ic.Keys)
		}
		if ic.JWKSURL != "" {
			return nil, nil, configErr("issuer %s: Keys and JWKSURL are both set", ic.Issuer)
		}
		if s, ok := ic.Keys.(*staticKeySet); ok {
			t.keys = s // its keys were checked by NewStaticKeySet
		} else {
			t.keys = newAppKeys(ic.Keys, ic.Issuer, v, &cfg.Fetch)
		}
		return t, nil, nil
	}
	rk := &remoteKeys{
		issuer:             ic.Issuer,
		url:                ic.JWKSURL,
		client:             v.client,
		logger:             v.logger,
		now:                v.now,
		fetchTimeout:       orDefault(cfg.Fetch.Timeout, defaultFetchTimeout),
		minRefreshInterval: orDefault(cfg.Fetch.MinRefreshInterval, defaultMinRefreshInterval),
		maxBytes:           orDefault(cfg.Fetch.MaxBytes, defaultMaxJWKSBytes),
	}
	if rk.url != "" {
		if err := checkFetchURL(rk.url); err != nil {
			return nil, nil, configErr("issuer %s: JWKSURL: %v", ic.Issuer, err)
		}
	} else if err := checkFetchURL(ic.Issuer); err != nil {
		// Discovery fetches from the issuer itself: refuse plain http off
		// loopback before sending anything (RFC 8414 §2: issuers use https).
		return nil, nil, configErr("Issuer: %v", err)
	}
	t.keys = rk
	return t, rk, nil
}

// issuerOf returns the trusted issuer a token claims, or nil.
func (v *Validator) issuerOf(iss []byte) *trusted {
	if v.only != nil {
		if string(iss) == v.only.issuer {
			return v.only
		}
		return nil
	}
	return v.issuers[string(iss)]
}
