package apikey

import (
	"errors"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/audit"
	"github.com/rsguard/rsguard/rsmeta"
)

// The bearer side of these tests is a fake rsguard.Authenticator, not
// validate.Validator: the Authenticator composes the interface, and these
// tests prove it needs nothing else.

const issuer = "https://auth.example.com"

var (
	errFakeToken   = errors.New("fake: unknown token")
	errFakeExpired = errors.New("fake: token expired")
)

// fakeClaims is the Details of the fake's principals, as *validate.Claims
// is the Details of a JWT's.
type fakeClaims struct{ token string }

// fakeBearer reads a bearer token with rsguard.BearerToken and knows the
// tokens it issued: each proves a principal, or gets the refusal it was
// issued with. It counts the requests it sees.
type fakeBearer struct {
	mu     sync.Mutex
	tokens map[string]fakeToken
	calls  atomic.Int64
}

type fakeToken struct {
	p   *rsguard.Principal
	err *rsguard.Error
}

func newFakeBearer() *fakeBearer { return &fakeBearer{tokens: map[string]fakeToken{}} }

// Authenticate implements rsguard.Authenticator. Principals and errors are
// fresh copies, owned by the request.
func (b *fakeBearer) Authenticate(r *http.Request) (*rsguard.Principal, error) {
	b.calls.Add(1)
	tok, err := rsguard.BearerToken(r)
	if err != nil {
		return nil, err
	}
	b.mu.Lock()
	t, ok := b.tokens[tok]
	b.mu.Unlock()
	switch {
	case !ok:
		return nil, &rsguard.Error{Status: http.StatusUnauthorized, Code: rsmeta.ErrorInvalidToken, Description: "the access token is not valid",
			Err: errFakeToken, Reason: audit.ReasonBadSignature, Credential: audit.CredentialJWT}
	case t.err != nil:
		e := *t.err
		return nil, &e
	}
	p := *t.p
	p.Scopes = slices.Clone(t.p.Scopes)
	p.Details = &fakeClaims{token: tok}
	return &p, nil
}

func (b *fakeBearer) add(t fakeToken) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	tok := "eyFake." + strconv.Itoa(len(b.tokens)) + ".sig"
	b.tokens[tok] = t
	return tok
}

// issue returns a token that proves p.
func (b *fakeBearer) issue(p rsguard.Principal) string { return b.add(fakeToken{p: &p}) }

// refused returns a token that gets e.
func (b *fakeBearer) refused(e rsguard.Error) string { return b.add(fakeToken{err: &e}) }

// userPrincipal is the principal of a user's token with the given token id
// and scope string.
func userPrincipal(sub, jti, scope string) rsguard.Principal {
	granted, _ := rsguard.ParseScopes(scope)
	return rsguard.Principal{Subject: "user:" + issuer + "#" + sub, Credential: audit.CredentialJWT, Issuer: issuer,
		ClientID: "web-app", Scopes: granted, TokenID: jti}
}

// expiredToken is the refusal of an expired token, as a JWT validator
// would answer it.
var expiredToken = rsguard.Error{Status: http.StatusUnauthorized, Code: rsmeta.ErrorInvalidToken, Description: "the access token expired",
	Err: errFakeExpired, Reason: audit.ReasonExpired, Credential: audit.CredentialJWT}

// bearerFunc is an rsguard.Authenticator made of a function (nil-able, for
// the typed-nil checks of New).
type bearerFunc func(*http.Request) (*rsguard.Principal, error)

func (f bearerFunc) Authenticate(r *http.Request) (*rsguard.Principal, error) { return f(r) }
