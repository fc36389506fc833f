package apikey

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/audit"
	"github.com/rsguard/rsguard/internal/authheader"
	"github.com/rsguard/rsguard/rsmeta"
)

// Authenticate implements [rsguard.Authenticator]: it finds the request's
// credential, an API key or whatever [Config].Bearer reads, checks it, and
// returns the caller. It counts the request in [Authenticator.Usage] and
// calls [Config].OnUse for keys. It writes no response: run it in an
// [rsguard.Guard], which answers refusals and sets the Principal's headers.
//
// An accepted key's [rsguard.Principal] has Subject "apikey:owner:<owner>"
// (or "apikey:client:<client id>" for a key without an owner), Credential
// audit.CredentialAPIKey, the record's ClientID and Tenant, its Scopes
// (read by the rule of rsguard.ParseScopeList), TokenID the key's id (never
// the key), Expiry the record's, Details the request's [*Use] (read it with
// [FromContext]), and, for a deprecated key, Header set to the Deprecation
// (RFC 9745), Sunset (RFC 8594) and Link headers of its [Policy].
// Authenticate then removes the key's header from r.Header — [Config].Header,
// or Authorization for a key sent as a bearer token — so the key never
// reaches the next handler, nor an upstream the request is forwarded to.
//
// A token sent as `Authorization: DPoP <token>` (RFC 9449) counts as a bearer
// token for these rules: with the key header too, the request is refused
// (invalid_request), and one that starts with [Config].Prefix is refused as
// a key sent as a bearer token (api_key_as_bearer) even with
// [Config].AcceptBearerKeys, never passed to Bearer.
//
// A request without an API key goes to [Config].Bearer, and what it returns
// is returned unchanged (but for the key challenge, below). The refusals of
// this package are [*rsguard.Error] values, listed with their reasons,
// statuses and codes in the package documentation ("Refusals"); match their
// class with errors.Is(err, audit.ReasonX). Their Credential is
// audit.CredentialAPIKey when they are about a key. A key refused after its
// record was found (expired, revoked, blocked, retired) carries the key's
// principal in [rsguard.Error].Principal, for the audit trail.
//
// With [Config].AdvertiseKeyChallenge, every 401 but those of blocked and
// retired keys, Bearer's included, is returned as a copy whose Header adds
// the `APIKey header="…"` challenge; an error Bearer returned is never
// modified. The copy is of the first *rsguard.Error in the error's chain
// (what the Guard answers with): an error that wraps one is not kept
// around it, but the copy wraps the same cause. An error of Bearer's that
// is not an *rsguard.Error becomes, in that copy, what the Guard would
// answer: 401 invalid_token, reason audit.ReasonRejected, wrapping the
// error.
func (a *Authenticator) Authenticate(r *http.Request) (*rsguard.Principal, error) {
	if a == nil || a.store == nil {
		return nil, errNotBuilt()
	}
	p, err := a.authenticate(r)
	if err != nil {
		return nil, a.advertise(err)
	}
	return p, nil
}

func (a *Authenticator) authenticate(r *http.Request) (*rsguard.Principal, error) {
	// BearerToken also refuses an access_token query parameter, whatever
	// else the request carries.
	tok, berr := rsguard.BearerToken(r)
	hasBearer := berr == nil
	// A token under the DPoP scheme (RFC 9449 §7.1) is a bearer token too,
	// for the rules of keys below.
	dtok, hasDPoP := "", false
	if !hasBearer {
		dtok, hasDPoP = dpopToken(r)
	}
	keys := r.Header[a.header]
	switch {
	case berr != nil && classOf(berr) != audit.ReasonNoCredential:
		if len(keys) > 0 {
			return nil, a.refuseRequest(r, keyRequestError(berr))
		}
		return nil, berr
	case len(keys) > 1:
		return nil, a.refuseRequest(r, refusal(a.refusals.twice))
	case len(keys) == 1 && (hasBearer || hasDPoP):
		return nil, a.refuseRequest(r, refusal(refusedBoth))
	case len(keys) == 1:
		return a.checkKey(r, keys[0], a.headerName)
	}
	if hasBearer && strings.HasPrefix(tok, a.prefix) {
		if a.acceptBearer {
			return a.checkKey(r, tok, "Authorization")
		}
		return nil, a.refuse(r, &Use{Time: a.now(), Header: "Authorization"}, nil, refusal(a.refusals.bearerKey))
	}
	if hasDPoP && strings.HasPrefix(dtok, a.prefix) {
		// A key is never bound to a proof key: refused even with
		// AcceptBearerKeys, and never handed to Bearer (nor, through it, to
		// an authorization server's introspection endpoint).
		return nil, a.refuse(r, &Use{Time: a.now(), Header: "Authorization"}, nil, refusal(a.refusals.bearerKey))
	}
	if a.bearer == nil {
		if hasBearer {
			a.usage.bearerSeen.Add(1)
			return nil, refusal(refusedBearer)
		}
		a.usage.anonymous.Add(1)
		return nil, berr // audit.ReasonNoCredential
	}
	p, err := a.bearer.Authenticate(r)
	switch {
	case err == nil && p != nil:
		a.usage.bearerSeen.Add(1)
		a.usage.bearerAccepted.Add(1)
		a.usage.recordBearer(p.ClientID, a.now())
	case classOf(err) == audit.ReasonNoCredential:
		a.usage.anonymous.Add(1)
	case err != nil:
		a.usage.bearerSeen.Add(1)
	}
	return p, err
}

// dpopToken returns what follows the scheme of `Authorization: DPoP …`, and
// whether r has exactly one Authorization field, of the DPoP scheme (in any
// case). The token's syntax is Bearer's to check.
func dpopToken(r *http.Request) (string, bool) {
	scheme, rest, ok := authheader.Split(r)
	return rest, ok && strings.EqualFold(scheme, "DPoP")
}

// refuseRequest refuses a malformed request that carries the key header,
// counting it as a refused key and reporting it to OnUse.
func (a *Authenticator) refuseRequest(r *http.Request, err error) error {
	a.usage.keyReject.Add(1)
	if a.onUse != nil {
		a.onUse(r, Use{Time: a.now(), Header: a.headerName, Err: err})
	}
	return err
}

// advertise returns err, or, when it is a 401 that should advertise keys
// (see Authenticate), a copy of it with the key challenge added.
func (a *Authenticator) advertise(err error) error {
	if c := classOf(err); a.keyChallenge == "" || c == audit.ReasonAPIKeyBlocked || c == audit.ReasonAPIKeyRetired {
		return err
	}
	var c rsguard.Error
	var e *rsguard.Error
	switch {
	case !errors.As(err, &e):
		c = rsguard.Error{Status: http.StatusUnauthorized, Code: rsmeta.ErrorInvalidToken,
			Description: "the credential was rejected", Reason: audit.ReasonRejected,
			Err: fmt.Errorf("%w: %w", audit.ReasonRejected, err)}
	case e.Status == http.StatusUnauthorized || e.Status == 0:
		c = *e
	default:
		return err
	}
	h := make(http.Header, len(c.Header)+1)
	for k, vs := range c.Header {
		h[k] = append([]string(nil), vs...)
	}
	h["Www-Authenticate"] = append(h["Www-Authenticate"], a.keyChallenge)
	c.Header = h
	return &c
}

// FromContext returns the [Use] of the API key that authenticated the
// request, and whether there was one: false when the request was
// authenticated by [Config].Bearer, or not at all. It reads the
// Details of the principal of rsguard.FromContext; use the Principal for
// what every credential has in common, and its Credential to tell them
// apart.
func FromContext(ctx context.Context) (Use, bool) {
	p, ok := rsguard.FromContext(ctx)
	if !ok {
		return Use{}, false
	}
	u, ok := p.Details.(*Use)
	if !ok || u == nil {
		return Use{}, false
	}
	return *u, true
}

// classOf returns the class of a refusal: the reason errors.As finds (the
// outermost *rsguard.Error's), or "" for an error without one.
func classOf(err error) audit.Reason {
	var r audit.Reason
	errors.As(err, &r)
	return r
}
