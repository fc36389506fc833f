package validate_test

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
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/audit"
	"github.com/rsguard/rsguard/rsmeta"
	"github.com/rsguard/rsguard/validate"
)

func TestIntrospectionAcceptsAnActiveToken(t *testing.T) {
	as := newFakeAS(t)
	clk := newIntroClock()
	var logs logBuffer
	v := introValidator(t, as, clk, func(c *validate.Config) {
		c.TenantClaim = "team"
		c.Logger = logs.logger()
	})
	const tok = "opaque-token-1"
	as.set(tok, as.good(nil))

	a := guardAnswer(t, v, tok)
	require.Equal(t, http.StatusOK, a.status)
	p := a.principal
	require.NotNil(t, p)
	assert.Equal(t, "user:"+as.issuer+"#alice", p.Subject)
	assert.Equal(t, audit.CredentialIntrospection, p.Credential)
	assert.Equal(t, as.issuer, p.Issuer)
	assert.Equal(t, "agent", p.ClientID)
	assert.Equal(t, "blue", p.Tenant)
	assert.Equal(t, []string{"read", "write"}, p.Scopes)
	assert.Equal(t, "jti-1", p.TokenID)
	assert.True(t, p.Expiry.Equal(introEpoch.Add(time.Hour)), "expiry %v", p.Expiry)

	c, err := v.Verify(context.Background(), tok)
	require.NoError(t, err)
	assert.Equal(t, []string{introResource}, c.Audience)
	assert.Empty(t, c.KeyThumbprint)
	team, ok := c.Get("team") // Claims.Get reads the answer
	assert.True(t, ok)
	assert.Equal(t, "blue", team)
	active, _ := c.Get("active")
	assert.Equal(t, true, active)
	assert.Equal(t, int64(1), as.calls.Load(), "the second request is answered from the cache")
	as.check(t)
	assertNoSecrets(t, logs.String(), tok, as.secret)
}

// Every check of the answer, each refusal as the Guard answers it.
func TestIntrospectionAnswerChecks(t *testing.T) {
	const (
		unavailable = http.StatusServiceUnavailable
		invalid     = rsmeta.ErrorInvalidToken
	)
	past := introEpoch.Add(-time.Second).Unix()
	future := introEpoch.Add(time.Minute).Unix()
	for _, tc := range []struct {
		name   string
		answer func(as *fakeAS) any // a map or raw JSON
		status int                  // 200 when zero
		reason audit.Reason
	}{
		{name: "active", answer: func(as *fakeAS) any { return as.good(nil) }},
		{name: "inactive", answer: func(*fakeAS) any { return `{"active":false}` }, reason: audit.ReasonInactive},
		{name: "inactive with claims", answer: func(as *fakeAS) any { return as.good(map[string]any{"active": false}) }, reason: audit.ReasonInactive},
		{name: "active a string", answer: func(as *fakeAS) any { return as.good(map[string]any{"active": "true"}) }, status: unavailable, reason: audit.ReasonIntrospectionUnavailable},
		{name: "active 1", answer: func(as *fakeAS) any { return as.good(map[string]any{"active": 1}) }, status: unavailable, reason: audit.ReasonIntrospectionUnavailable},
		{name: "active absent", answer: func(as *fakeAS) any { return as.good(map[string]any{"active": nil}) }, status: unavailable, reason: audit.ReasonIntrospectionUnavailable},
		{name: "not an object", answer: func(*fakeAS) any { return `[{"active":true}]` }, status: unavailable, reason: audit.ReasonIntrospectionUnavailable},
		{name: "malformed JSON", answer: func(*fakeAS) any { return `{"active":true,` }, status: unavailable, reason: audit.ReasonIntrospectionUnavailable},
		{name: "trailing data", answer: func(*fakeAS) any { return `{"active":false} {"active":true}` }, status: unavailable, reason: audit.ReasonIntrospectionUnavailable},
		{name: "duplicate active", answer: func(*fakeAS) any { return `{"active":false,"active":true}` }, status: unavailable, reason: audit.ReasonIntrospectionUnavailable},
		{name: "duplicate nested member", answer: func(as *fakeAS) any {
			return `{"active":true,"iss":"` + as.issuer + `","aud":"` + introResource + `","exp":` + strconv.FormatInt(future, 10) + `,"sub":"a","token_type":"Bearer","ext":{"a":1,"\u0061":2}}`
		}, status: unavailable, reason: audit.ReasonIntrospectionUnavailable},
		{name: "iss absent", answer: func(as *fakeAS) any { return as.good(map[string]any{"iss": nil}) }, reason: audit.ReasonBadIssuer},
		{name: "iss another issuer", answer: func(as *fakeAS) any { return as.good(map[string]any{"iss": "https://other.example"}) }, reason: audit.ReasonBadIssuer},
		{name: "iss with a trailing slash", answer: func(as *fakeAS) any { return as.good(map[string]any{"iss": as.issuer + "/"}) }, reason: audit.ReasonBadIssuer},
		{name: "aud absent", answer: func(as *fakeAS) any { return as.good(map[string]any{"aud": nil}) }, reason: audit.ReasonBadClaims},
		{name: "aud empty array", answer: func(as *fakeAS) any { return as.good(map[string]any{"aud": []string{}}) }, reason: audit.ReasonBadClaims},
		{name: "aud another resource", answer: func(as *fakeAS) any { return as.good(map[string]any{"aud": "https://other.example/mcp"}) }, reason: audit.ReasonBadAudience},
		{name: "aud in an array", answer: func(as *fakeAS) any {
			return as.good(map[string]any{"aud": []string{"https://other.example", introResource}})
		}},
		{name: "aud in another canonical form", answer: func(as *fakeAS) any { return as.good(map[string]any{"aud": "HTTPS://MCP.example.com:443/mcp/"}) }},
		{name: "aud a number", answer: func(as *fakeAS) any { return as.good(map[string]any{"aud": 7}) }, reason: audit.ReasonBadClaims},
		{name: "exp absent", answer: func(as *fakeAS) any { return as.good(map[string]any{"exp": nil}) }, reason: audit.ReasonBadClaims},
		{name: "exp past", answer: func(as *fakeAS) any { return as.good(map[string]any{"exp": past}) }, reason: audit.ReasonExpired},
		{name: "exp now", answer: func(as *fakeAS) any { return as.good(map[string]any{"exp": introEpoch.Unix()}) }, reason: audit.ReasonExpired},
		{name: "exp a string", answer: func(as *fakeAS) any { return as.good(map[string]any{"exp": strconv.FormatInt(future, 10)}) }, reason: audit.ReasonBadClaims},
		{name: "nbf future", answer: func(as *fakeAS) any { return as.good(map[string]any{"nbf": future}) }, reason: audit.ReasonNotYetValid},
		{name: "iat future", answer: func(as *fakeAS) any { return as.good(map[string]any{"iat": future}) }, reason: audit.ReasonNotYetValid},
		{name: "auth_time future", answer: func(as *fakeAS) any { return as.good(map[string]any{"auth_time": future}) }, reason: audit.ReasonNotYetValid},
		{name: "neither sub nor client_id", answer: func(as *fakeAS) any { return as.good(map[string]any{"sub": nil, "client_id": nil}) }, reason: audit.ReasonBadClaims},
		{name: "client only", answer: func(as *fakeAS) any { return as.good(map[string]any{"sub": nil}) }},
		{name: "scope a list", answer: func(as *fakeAS) any { return as.good(map[string]any{"scope": []string{"read"}}) }, reason: audit.ReasonBadClaims},
		// token_type: a refresh token never passes as an access token.
		{name: "token_type bearer in lower case", answer: func(as *fakeAS) any { return as.good(map[string]any{"token_type": "bearer"}) }},
		{name: "refresh token, oidc-provider shape (no token_type)", answer: func(as *fakeAS) any { return as.good(map[string]any{"token_type": nil}) }, reason: audit.ReasonBadTokenType},
		{name: "token_type null", answer: func(as *fakeAS) any { return as.good(map[string]any{"token_type": rawJSON("null")}) }, reason: audit.ReasonBadTokenType},
		{name: "token_type refresh_token", answer: func(as *fakeAS) any { return as.good(map[string]any{"token_type": "refresh_token"}) }, reason: audit.ReasonBadTokenType},
		{name: "token_type N_A", answer: func(as *fakeAS) any { return as.good(map[string]any{"token_type": "N_A"}) }, reason: audit.ReasonBadTokenType},
		{name: "token_type id_token", answer: func(as *fakeAS) any { return as.good(map[string]any{"token_type": "id_token"}) }, reason: audit.ReasonBadTokenType},
		{name: "token_type a number", answer: func(as *fakeAS) any { return as.good(map[string]any{"token_type": 1}) }, reason: audit.ReasonBadTokenType},
		{name: "token_use access_token without token_type", answer: func(as *fakeAS) any {
			return as.good(map[string]any{"token_type": nil, "token_use": "access_token"})
		}},
		{name: "token_use refresh_token with Bearer", answer: func(as *fakeAS) any { return as.good(map[string]any{"token_use": "refresh_token"}) }, reason: audit.ReasonBadTokenType},
		{name: "token_use id with token_type absent", answer: func(as *fakeAS) any {
			return as.good(map[string]any{"token_type": nil, "token_use": "id"})
		}, reason: audit.ReasonBadTokenType},
		// cnf: a bound token is refused on the bearer path, a binding we
		// cannot verify on every path.
		{name: "cnf jkt, as Bearer", answer: func(as *fakeAS) any {
			return as.good(map[string]any{"token_type": "DPoP", "cnf": map[string]string{"jkt": thumbprint43}})
		}, reason: audit.ReasonSenderConstrained},
		{name: "cnf jkt, token_type Bearer, as Bearer", answer: func(as *fakeAS) any {
			return as.good(map[string]any{"cnf": map[string]string{"jkt": thumbprint43}})
		}, reason: audit.ReasonSenderConstrained},
		{name: "token_type DPoP without cnf", answer: func(as *fakeAS) any { return as.good(map[string]any{"token_type": "DPoP"}) }, reason: audit.ReasonSenderConstrained},
		{name: "cnf empty (oidc-provider's start)", answer: func(as *fakeAS) any { return as.good(map[string]any{"cnf": map[string]string{}}) }, reason: audit.ReasonSenderConstrained},
		{name: "cnf x5t#S256", answer: func(as *fakeAS) any {
			return as.good(map[string]any{"cnf": map[string]string{"x5t#S256": thumbprint43}})
		}, reason: audit.ReasonSenderConstrained},
		{name: "cnf jkt and x5t#S256", answer: func(as *fakeAS) any {
			return as.good(map[string]any{"cnf": map[string]string{"jkt": thumbprint43, "x5t#S256": thumbprint43}})
		}, reason: audit.ReasonSenderConstrained},
		{name: "cnf null", answer: func(as *fakeAS) any { return as.good(map[string]any{"cnf": rawJSON("null")}) }, reason: audit.ReasonSenderConstrained},
		{name: "cnf a string", answer: func(as *fakeAS) any { return as.good(map[string]any{"cnf": thumbprint43}) }, reason: audit.ReasonSenderConstrained},
	} {
		t.Run(tc.name, func(t *testing.T) {
			as := newFakeAS(t)
			v := introValidator(t, as, newIntroClock(), nil)
			const tok = "tok-under-test"
			as.set(tok, tc.answer(as))
			a := guardAnswer(t, v, tok)
			_, err := v.Verify(context.Background(), tok)
			switch {
			case tc.reason == "":
				require.Equal(t, http.StatusOK, a.status)
				require.NoError(t, err)
			case tc.status == unavailable:
				assert.Equal(t, unavailable, a.status)
				assert.Empty(t, a.code)
				assert.NotEmpty(t, a.retryAfter, "Retry-After")
			default:
				assert.Equal(t, http.StatusUnauthorized, a.status)
				assert.Equal(t, invalid, a.code)
			}
			if tc.reason != "" {
				require.Error(t, err)
				assert.True(t, errors.Is(err, tc.reason), "reason: want %s, got %v", tc.reason, err)
				var e *rsguard.Error
				require.ErrorAs(t, err, &e)
				assert.Equal(t, audit.CredentialIntrospection, e.Credential)
				assert.NotContains(t, e.Error(), tok)
			}
			as.check(t)
		})
	}
}

// rawJSON marks a raw JSON value in an answer map.
type rawJSON string

func (j rawJSON) MarshalJSON() ([]byte, error) { return []byte(j), nil }

const thumbprint43 = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"

func TestIntrospectionEndpointFailures(t *testing.T) {
	for _, tc := range []struct {
		name  string
		mod   func(as *fakeAS)
		level string // of the one line logged per outage; "" WARN
	}{
		{name: "status 500", mod: func(as *fakeAS) { as.status = http.StatusInternalServerError }},
		// A configuration failure, not an outage: at error level.
		{name: "status 401 (the client's credentials refused)", mod: func(as *fakeAS) { as.secret = "another" }, level: "ERROR"},
		{name: "status 302", mod: func(as *fakeAS) { as.status = http.StatusFound }},
		{name: "content type text/html", mod: func(as *fakeAS) { as.contentType = "text/html" }},
		{name: "content type application/jwt", mod: func(as *fakeAS) { as.contentType = "application/token-introspection+jwt" }},
		{name: "content type absent-ish", mod: func(as *fakeAS) { as.contentType = "application/jsonx" }},
		{name: "answer too large", mod: func(as *fakeAS) {
			as.answers["tok"] = `{"active":true,"pad":"` + strings.Repeat("x", 64<<10) + `"}`
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			as := newFakeAS(t)
			var logs logBuffer
			v := introValidator(t, as, newIntroClock(), func(c *validate.Config) { c.Logger = logs.logger() })
			as.set("tok", as.good(nil))
			tc.mod(as)
			for i := range 2 {
				a := guardAnswer(t, v, "tok")
				assert.Equal(t, http.StatusServiceUnavailable, a.status)
				assert.NotEmpty(t, a.retryAfter)
				assert.Equal(t, int64(i+1), as.calls.Load(), "failures are not cached")
			}
			_, err := v.Verify(context.Background(), "tok")
			assert.ErrorIs(t, err, audit.ReasonIntrospectionUnavailable)
			level := orString(tc.level, "WARN")
			assert.Equal(t, 1, strings.Count(logs.String(), "level="+level), "one line per outage:\n%s", logs.String())
			assert.Equal(t, 1, strings.Count(logs.String(), "level=WARN")+strings.Count(logs.String(), "level=ERROR"), "one line per outage:\n%s", logs.String())
			assertNoSecrets(t, logs.String(), as.secret, "s3cret")
		})
	}
}

func TestIntrospectionEndpointDown(t *testing.T) {
	as := newFakeAS(t)
	v := introValidator(t, as, newIntroClock(), nil)
	as.srv.Close()
	a := guardAnswer(t, v, "tok")
	assert.Equal(t, http.StatusServiceUnavailable, a.status)
	assert.NotEmpty(t, a.retryAfter)
}

// A slow endpoint costs a request at most Timeout.
func TestIntrospectionSlowEndpoint(t *testing.T) {
	as := newFakeAS(t)
	as.block = make(chan struct{})
	t.Cleanup(func() { close(as.block) }) // runs before the server closes
	v := introValidator(t, as, newIntroClock(), func(c *validate.Config) {
		c.Introspection.Timeout = 200 * time.Millisecond
	})
	done := make(chan error, 1)
	go func() {
		_, err := v.Verify(context.Background(), "tok")
		done <- err
	}()
	err := receive(t, done, "the answer of a request to a slow endpoint")
	assert.ErrorIs(t, err, audit.ReasonIntrospectionUnavailable)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
}

// A caller whose context ends stops waiting; the others still get the answer.
func TestIntrospectionWaiterHonoursItsContext(t *testing.T) {
	as := newFakeAS(t)
	as.block = make(chan struct{})
	v := introValidator(t, as, newIntroClock(), nil)
	as.set("tok", as.good(nil))
	first := make(chan error, 1)
	go func() {
		_, err := v.Verify(context.Background(), "tok")
		first <- err
	}()
	receive(t, as.entered, "the introspection request")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := v.Verify(ctx, "tok")
	assert.ErrorIs(t, err, audit.ReasonIntrospectionUnavailable)
	assert.ErrorIs(t, err, context.Canceled)
	close(as.block)
	assert.NoError(t, receive(t, first, "the first caller's answer"))
	assert.Equal(t, int64(1), as.calls.Load())
}

// N concurrent requests with one uncached token make one request.
func TestIntrospectionSingleFlight(t *testing.T) {
	as := newFakeAS(t)
	as.block = make(chan struct{})
	v := introValidator(t, as, newIntroClock(), nil)
	as.set("tok", as.good(nil))
	const n = 8
	var returned sync.WaitGroup
	var back atomicCount
	errs := make(chan error, n)
	for range n {
		returned.Add(1)
		go func() {
			defer returned.Done()
			_, err := v.Verify(context.Background(), "tok")
			back.add()
			errs <- err
		}()
	}
	waitParkedInVerify(t, n, func() bool { return back.get() > 0 })
	close(as.block)
	returned.Wait()
	close(errs)
	for err := range errs {
		assert.NoError(t, err)
	}
	assert.Equal(t, int64(1), as.calls.Load(), "one introspection request for %d concurrent callers", n)
}

type atomicCount struct {
	mu sync.Mutex
	n  int
}

func (c *atomicCount) add() { c.mu.Lock(); c.n++; c.mu.Unlock() }
func (c *atomicCount) get() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

func TestIntrospectionCache(t *testing.T) {
	t.Run("until the CacheTTL ceiling", func(t *testing.T) {
		as, clk := newFakeAS(t), newIntroClock()
		v := introValidator(t, as, clk, nil) // CacheTTL 1 min
		as.set("tok", as.good(nil))
		verifyOK(t, v, "tok")
		clk.Advance(time.Minute - time.Second)
		verifyOK(t, v, "tok")
		assert.Equal(t, int64(1), as.calls.Load())
		clk.Advance(time.Second)
		verifyOK(t, v, "tok")
		assert.Equal(t, int64(2), as.calls.Load(), "asked again at the ceiling")
	})
	t.Run("until exp when earlier", func(t *testing.T) {
		as, clk := newFakeAS(t), newIntroClock()
		v := introValidator(t, as, clk, nil)
		as.set("tok", as.good(map[string]any{"exp": introEpoch.Add(20 * time.Second).Unix()}))
		verifyOK(t, v, "tok")
		clk.Advance(19 * time.Second)
		verifyOK(t, v, "tok")
		assert.Equal(t, int64(1), as.calls.Load())
		clk.Advance(time.Second)
		_, err := v.Verify(context.Background(), "tok")
		assert.ErrorIs(t, err, audit.ReasonExpired)
		assert.Equal(t, int64(2), as.calls.Load(), "never used past exp")
	})
	t.Run("configured CacheTTL", func(t *testing.T) {
		as, clk := newFakeAS(t), newIntroClock()
		v := introValidator(t, as, clk, func(c *validate.Config) { c.Introspection.CacheTTL = 5 * time.Second })
		as.set("tok", as.good(nil))
		verifyOK(t, v, "tok")
		clk.Advance(4 * time.Second)
		verifyOK(t, v, "tok")
		clk.Advance(time.Second)
		verifyOK(t, v, "tok")
		assert.Equal(t, int64(2), as.calls.Load())
	})
	t.Run("negative CacheTTL: every request asks", func(t *testing.T) {
		as, clk := newFakeAS(t), newIntroClock()
		v := introValidator(t, as, clk, func(c *validate.Config) { c.Introspection.CacheTTL = -1 })
		as.set("tok", as.good(nil))
		for range 3 {
			verifyOK(t, v, "tok")
		}
		assert.Equal(t, int64(3), as.calls.Load())
	})
	t.Run("a revocation bites at the ceiling", func(t *testing.T) {
		as, clk := newFakeAS(t), newIntroClock()
		v := introValidator(t, as, clk, nil)
		as.set("tok", as.good(nil))
		verifyOK(t, v, "tok")
		as.set("tok", `{"active":false}`)
		clk.Advance(time.Minute)
		_, err := v.Verify(context.Background(), "tok")
		assert.ErrorIs(t, err, audit.ReasonInactive)
	})
	t.Run("negative answers for NegativeTTL", func(t *testing.T) {
		as, clk := newFakeAS(t), newIntroClock()
		v := introValidator(t, as, clk, nil) // NegativeTTL 10 s
		for range 3 {
			_, err := v.Verify(context.Background(), "inactive")
			assert.ErrorIs(t, err, audit.ReasonInactive)
		}
		assert.Equal(t, int64(1), as.calls.Load())
		as.set("wrong-aud", as.good(map[string]any{"aud": "https://other.example"}))
		for range 3 {
			_, err := v.Verify(context.Background(), "wrong-aud")
			assert.ErrorIs(t, err, audit.ReasonBadAudience)
		}
		assert.Equal(t, int64(2), as.calls.Load(), "refused answers are remembered too")
		clk.Advance(10 * time.Second)
		_, err := v.Verify(context.Background(), "inactive")
		assert.ErrorIs(t, err, audit.ReasonInactive)
		assert.Equal(t, int64(3), as.calls.Load())
	})
	t.Run("negative NegativeTTL", func(t *testing.T) {
		as, clk := newFakeAS(t), newIntroClock()
		v := introValidator(t, as, clk, func(c *validate.Config) { c.Introspection.NegativeTTL = -1 })
		for range 3 {
			_, err := v.Verify(context.Background(), "inactive")
			assert.ErrorIs(t, err, audit.ReasonInactive)
		}
		assert.Equal(t, int64(3), as.calls.Load())
	})
	t.Run("Disable: every request asks", func(t *testing.T) {
		as, clk := newFakeAS(t), newIntroClock()
		v := introValidator(t, as, clk, func(c *validate.Config) { c.Cache.Disable = true })
		as.set("tok", as.good(nil))
		for range 3 {
			verifyOK(t, v, "tok")
			_, err := v.Verify(context.Background(), "inactive")
			assert.ErrorIs(t, err, audit.ReasonInactive)
		}
		assert.Equal(t, int64(6), as.calls.Load())
	})
	t.Run("bounded in entries", func(t *testing.T) {
		as, clk := newFakeAS(t), newIntroClock()
		v := introValidator(t, as, clk, func(c *validate.Config) { c.Cache.MaxEntries = 4 })
		const n = 12
		for i := range n {
			as.set(fmt.Sprint("tok", i), as.good(nil))
		}
		for round := range 2 {
			for i := range n {
				verifyOK(t, v, fmt.Sprint("tok", i))
			}
			if round == 0 {
				require.Equal(t, int64(n), as.calls.Load())
			}
		}
		assert.GreaterOrEqual(t, as.calls.Load(), int64(2*n-4), "at most 4 answers cached")
	})
	t.Run("bounded in bytes", func(t *testing.T) {
		as, clk := newFakeAS(t), newIntroClock()
		v := introValidator(t, as, clk, func(c *validate.Config) { c.Cache.MaxBytes = 64 << 10 })
		as.set("big", as.good(map[string]any{"pad": strings.Repeat("x", 8<<10)})) // over 1/16 of the budget
		verifyOK(t, v, "big")
		verifyOK(t, v, "big")
		assert.Equal(t, int64(2), as.calls.Load(), "an answer too large for the cache is not cached")
	})
}

func verifyOK(t *testing.T, v *validate.Validator, tok string) *validate.Claims {
	t.Helper()
	c, err := v.Verify(context.Background(), tok)
	require.NoError(t, err)
	return c
}

// Revocations and Check run on every request, cache hits included.
func TestIntrospectionApplicationChecks(t *testing.T) {
	as, clk := newFakeAS(t), newIntroClock()
	var checks atomicCount
	deny, err := validate.NewDenyList(validate.DenyListConfig{Now: clk.Now})
	require.NoError(t, err)
	v := introValidator(t, as, clk, func(c *validate.Config) {
		c.Revocations = deny
		c.Check = func(_ context.Context, c *validate.Claims) error {
			checks.add()
			if c.ClientID == "banned" {
				return errors.New("banned client")
			}
			return nil
		}
	})
	as.set("tok", as.good(nil))
	// (The token is not "banned": a member whose value is the token is
	// dropped from the answer.)
	as.set("tok-banned", as.good(map[string]any{"client_id": "banned", "jti": "jti-2"}))
	for range 3 {
		verifyOK(t, v, "tok")
	}
	assert.Equal(t, 3, checks.get())
	assert.Equal(t, int64(1), as.calls.Load())

	for range 2 {
		_, err := v.Verify(context.Background(), "tok-banned")
		assert.ErrorIs(t, err, audit.ReasonRejected)
		var e *rsguard.Error
		require.ErrorAs(t, err, &e)
		assert.Equal(t, audit.CredentialIntrospection, e.Credential)
		require.NotNil(t, e.Principal)
		assert.Equal(t, "user:"+as.issuer+"#alice", e.Principal.Subject)
		assert.Equal(t, audit.CredentialIntrospection, e.Principal.Credential)
	}
	require.NoError(t, deny.RevokeToken(as.issuer, "jti-1", introEpoch.Add(time.Hour)))
	_, err = v.Verify(context.Background(), "tok")
	assert.ErrorIs(t, err, audit.ReasonRevoked)
	assert.Equal(t, int64(2), as.calls.Load(), "the revocation bit on a cache hit")
}

// An opaque token's value given back as its "jti" is never kept.
func TestIntrospectionDropsAJTIEqualToTheToken(t *testing.T) {
	as := newFakeAS(t)
	v := introValidator(t, as, newIntroClock(), nil)
	as.set("secret-token-value", as.good(map[string]any{"jti": "secret-token-value"}))
	c := verifyOK(t, v, "secret-token-value")
	assert.Empty(t, c.ID)
}

func TestIntrospectionRouting(t *testing.T) {
	t.Run("prefixes", func(t *testing.T) {
		a, b := newFakeAS(t), newFakeAS(t)
		clk := newIntroClock()
		v := introValidator(t, a, clk, func(c *validate.Config) {
			c.Introspection.TokenPrefix = "a_"
			c.Issuers = []validate.IssuerConfig{{
				Issuer: b.issuer, Keys: staticKeySet(t, ed25519JWKS(t)),
				Introspection: &validate.Introspection{Endpoint: b.endpoint(), ClientID: b.clientID, ClientSecret: b.secret, TokenPrefix: "b_"},
			}}
		})
		a.set("a_1", a.good(nil))
		b.set("b_1", b.good(nil))
		b.set("a_2", b.good(nil)) // b would accept it: it must never be asked
		c := verifyOK(t, v, "a_1")
		assert.Equal(t, a.issuer, c.Issuer)
		c = verifyOK(t, v, "b_1")
		assert.Equal(t, b.issuer, c.Issuer)
		_, err := v.Verify(context.Background(), "a_2")
		assert.ErrorIs(t, err, audit.ReasonInactive)
		_, err = v.Verify(context.Background(), "c_1")
		assert.ErrorIs(t, err, audit.ReasonBadIssuer, "no issuer for this token")
		assert.Equal(t, int64(2), a.calls.Load())
		assert.Equal(t, int64(1), b.calls.Load())
	})
	t.Run("a prefix and the fallback", func(t *testing.T) {
		a, b := newFakeAS(t), newFakeAS(t)
		v := introValidator(t, a, newIntroClock(), func(c *validate.Config) {
			c.Introspection.TokenPrefix = "a_"
			c.Issuers = []validate.IssuerConfig{{
				Issuer: b.issuer, Keys: staticKeySet(t, ed25519JWKS(t)),
				Introspection: &validate.Introspection{Endpoint: b.endpoint(), ClientID: b.clientID, ClientSecret: b.secret},
			}}
		})
		a.set("a_1", a.good(nil))
		b.set("zz", b.good(nil))
		verifyOK(t, v, "a_1")
		verifyOK(t, v, "zz")
		// b's answer about a token of a's: its "iss" must be b.
		b.set("yy", a.good(nil))
		_, err := v.Verify(context.Background(), "yy")
		assert.ErrorIs(t, err, audit.ReasonBadIssuer)
		assert.Equal(t, int64(1), a.calls.Load())
		assert.Equal(t, int64(2), b.calls.Load())
	})
	t.Run("JWTs introspected at the issuer their iss names", func(t *testing.T) {
		a := newFakeAS(t)
		v := introValidator(t, a, newIntroClock(), func(c *validate.Config) {
			c.Keys = nil
			c.Introspection.JWTs = true
		})
		jws := unsignedJWS(map[string]any{"iss": a.issuer, "sub": "alice"})
		a.set(jws, a.good(nil))
		c := verifyOK(t, v, jws)
		assert.Equal(t, "alice", c.Subject)
		// A JWS of an untrusted issuer is refused by JWT verification,
		// without asking anyone.
		_, err := v.Verify(context.Background(), unsignedJWS(map[string]any{"iss": "https://evil.example", "sub": "alice"}))
		assert.ErrorIs(t, err, audit.ReasonBadIssuer)
		// The answer decides, not the JWS's claims.
		revoked := unsignedJWS(map[string]any{"iss": a.issuer, "sub": "bob"})
		_, err = v.Verify(context.Background(), revoked)
		assert.ErrorIs(t, err, audit.ReasonInactive)
		assert.Equal(t, int64(2), a.calls.Load())
		// Nothing that could not come in an Authorization header is sent,
		// whatever segment holds it: Verify checks the signature segment's
		// characters too before asking.
		for _, bad := range []string{jws + "!", jws + " x", jws + "%41", jws + "=x"} {
			a.set(bad, a.good(nil))
			_, err = v.Verify(context.Background(), bad)
			assert.ErrorIs(t, err, audit.ReasonMalformed, "%q", bad)
		}
		assert.Equal(t, int64(2), a.calls.Load())
	})
	t.Run("JWTs of an issuer without JWTs are verified locally", func(t *testing.T) {
		a := newFakeAS(t)
		v := introValidator(t, a, newIntroClock(), nil)
		jws := unsignedJWS(map[string]any{"iss": a.issuer, "sub": "alice", "aud": introResource, "exp": introEpoch.Add(time.Hour).Unix()})
		a.set(jws, a.good(nil))
		_, err := v.Verify(context.Background(), jws)
		assert.ErrorIs(t, err, audit.ReasonBadSignature) // verified as a JWT
		assert.Zero(t, a.calls.Load())
	})
	t.Run("three segments that are not a JWS", func(t *testing.T) {
		// A token is a JWS when its first of three segments is the
		// base64url encoding of a JSON object (RFC 7515 §7.1); any other
		// token with two dots is opaque, and introspected.
		a := newFakeAS(t)
		v := introValidator(t, a, newIntroClock(), nil)
		jws := unsignedJWS(map[string]any{"iss": a.issuer, "sub": "alice", "aud": introResource, "exp": introEpoch.Add(time.Hour).Unix()})
		notObject := base64.RawURLEncoding.EncodeToString([]byte(`["alg"]`))
		// The first three decode to bytes that start with "{" and are not
		// JSON.
		for _, tok := range []string{"eyAA.abcdefgh.ijklmnop", "e2xvbmdvcGFxdWU.abcd.efgh", "ewAAAAAA.q.r", "opq.abcdefgh.ijklmnop", "a.b.c", "..", "x..y", notObject + ".e30.c2ln", "~.-._"} {
			a.set(tok, a.good(nil))
			p, err := authenticate(v, tok)
			require.NoError(t, err, "%q", tok)
			assert.Equal(t, audit.CredentialIntrospection, p.Credential, "%q", tok)
		}
		assert.EqualValues(t, 9, a.calls.Load())
		// A JWS, even one whose header is not a JOSE header, is verified
		// as a JWT, without asking.
		broken := base64.RawURLEncoding.EncodeToString([]byte(` {"alg":1}`)) + "." + strings.SplitN(jws, ".", 2)[1]
		for _, tok := range []string{jws, broken} {
			a.set(tok, a.good(nil))
			_, err := v.Verify(context.Background(), tok)
			require.Error(t, err, "%q", tok)
		}
		assert.EqualValues(t, 9, a.calls.Load())
	})
	t.Run("not a b64token", func(t *testing.T) {
		a := newFakeAS(t)
		v := introValidator(t, a, newIntroClock(), nil)
		for _, tok := range []string{"a b", "a\nb", "tok\x00", "=abc", "a=b"} {
			_, err := v.Verify(context.Background(), tok)
			assert.ErrorIs(t, err, audit.ReasonMalformed, "%q", tok)
		}
		assert.Zero(t, a.calls.Load())
	})
	t.Run("not a b64token, through Authenticate", func(t *testing.T) {
		// Authenticate checks the characters of a token it may send to an
		// authorization server before anything else: 400 invalid_request,
		// as for any bearer token, and nothing sent.
		a := newFakeAS(t)
		v := introValidator(t, a, newIntroClock(), nil)
		jws := unsignedJWS(map[string]any{"iss": a.issuer, "sub": "alice", "aud": introResource, "exp": introEpoch.Add(time.Hour).Unix()})
		for _, tok := range []string{"opaque!token", "tok,en", "a%41b", "a=b", jws[:5] + "*" + jws[6:], jws + "!"} {
			a.set(tok, a.good(nil))
			_, err := authenticate(v, tok)
			e := refusalOf(t, err)
			assert.Equal(t, http.StatusBadRequest, e.Status, "%q", tok)
			assert.ErrorIs(t, err, audit.ReasonInvalidRequest, "%q", tok)
		}
		assert.Zero(t, a.calls.Load())
		// The same shape, well-formed, is introspected once and then
		// answered from the cache.
		a.set("opaque-token", a.good(nil))
		for range 2 {
			p, err := authenticate(v, "opaque-token")
			require.NoError(t, err)
			assert.Equal(t, audit.CredentialIntrospection, p.Credential)
		}
		assert.EqualValues(t, 1, a.calls.Load())
	})
}

// unsignedJWS returns a JWS-shaped token with these claims (its signature
// is never checked: its issuer introspects).
func unsignedJWS(claims map[string]any) string {
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			panic(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	return enc(map[string]string{"alg": "EdDSA", "typ": "at+jwt", "kid": "k"}) + "." + enc(claims) + ".c2ln"
}

func TestIntrospectionRateLimit(t *testing.T) {
	as, clk := newFakeAS(t), newIntroClock()
	var logs logBuffer
	v := introValidator(t, as, clk, func(c *validate.Config) {
		c.Introspection.RateLimit = 3
		c.Logger = logs.logger()
	})
	as.set("good", as.good(nil))
	verifyOK(t, v, "good") // cached
	for i := range 20 {
		a := guardAnswer(t, v, fmt.Sprint("garbage-", i))
		if i < 2 {
			assert.Equal(t, http.StatusUnauthorized, a.status, "within the burst")
			continue
		}
		assert.Equal(t, http.StatusServiceUnavailable, a.status)
		secs, err := strconv.Atoi(a.retryAfter)
		if assert.NoError(t, err, "Retry-After %q", a.retryAfter) {
			assert.GreaterOrEqual(t, secs, 1)
		}
	}
	assert.Equal(t, int64(3), as.calls.Load(), "the burst, then nothing")
	verifyOK(t, v, "good") // cached answers still serve
	_, err := v.Verify(context.Background(), "garbage-0")
	assert.ErrorIs(t, err, audit.ReasonInactive, "so do negative ones")
	clk.Advance(time.Second / 2)
	_, err = v.Verify(context.Background(), "garbage-x")
	assert.ErrorIs(t, err, audit.ReasonInactive, "a token half a second later")
	assert.Equal(t, int64(4), as.calls.Load())
	assert.Equal(t, 1, strings.Count(logs.String(), "level=WARN"), "one warning:\n%s", logs.String())
}

func TestIntrospectionFailOpen(t *testing.T) {
	for _, failOpen := range []bool{false, true} {
		t.Run(fmt.Sprint("FailOpen=", failOpen), func(t *testing.T) {
			as, clk := newFakeAS(t), newIntroClock()
			var logs logBuffer
			v := introValidator(t, as, clk, func(c *validate.Config) {
				c.Introspection.FailOpen = failOpen
				c.Logger = logs.logger()
			})
			as.set("cached-token-1", as.good(map[string]any{"exp": introEpoch.Add(10 * time.Minute).Unix()}))
			verifyOK(t, v, "cached-token-1")
			clk.Advance(2 * time.Minute) // past the 1 min ceiling
			as.mu.Lock()
			as.status = http.StatusBadGateway
			as.mu.Unlock()
			for range 3 {
				_, err := v.Verify(context.Background(), "cached-token-1")
				if failOpen {
					assert.NoError(t, err, "the stale answer serves while the endpoint is down")
				} else {
					assert.ErrorIs(t, err, audit.ReasonIntrospectionUnavailable)
				}
			}
			_, err := v.Verify(context.Background(), "never-seen")
			assert.ErrorIs(t, err, audit.ReasonIntrospectionUnavailable, "a token never seen")
			assert.Equal(t, 1, strings.Count(logs.String(), "level=WARN"), "one warning per outage:\n%s", logs.String())
			if failOpen {
				assert.Contains(t, logs.String(), "FailOpen")
				clk.Advance(8 * time.Minute) // the token's exp
				_, err := v.Verify(context.Background(), "cached-token-1")
				assert.Error(t, err, "never past exp")
			}
			assertNoSecrets(t, logs.String(), "cached-token-1", "never-seen", as.secret)
		})
	}
	t.Run("an inactive answer ends the stale one", func(t *testing.T) {
		as, clk := newFakeAS(t), newIntroClock()
		v := introValidator(t, as, clk, func(c *validate.Config) {
			c.Introspection.FailOpen = true
			c.Introspection.NegativeTTL = -1
		})
		as.set("cached-token-1", as.good(nil))
		verifyOK(t, v, "cached-token-1")
		clk.Advance(2 * time.Minute)
		as.set("cached-token-1", `{"active":false}`)
		_, err := v.Verify(context.Background(), "cached-token-1")
		assert.ErrorIs(t, err, audit.ReasonInactive)
		as.mu.Lock()
		as.status = http.StatusBadGateway
		as.mu.Unlock()
		_, err = v.Verify(context.Background(), "cached-token-1")
		assert.ErrorIs(t, err, audit.ReasonIntrospectionUnavailable, "the revoked token's old answer is gone")
	})
}

func TestIntrospectionClientAuthentication(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	for _, tc := range []struct {
		name, method string
		key          crypto.Signer
		kid          string
	}{
		{name: "client_secret_basic", method: "client_secret_basic"},
		{name: "client_secret_post", method: "client_secret_post"},
		{name: "private_key_jwt RS256", method: "private_key_jwt", key: rsaKey, kid: "rsa-1"},
		{name: "private_key_jwt ES256", method: "private_key_jwt", key: ecKey},
		{name: "private_key_jwt EdDSA", method: "private_key_jwt", key: edKey, kid: "ed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			as := newFakeAS(t)
			as.method, as.kid = tc.method, tc.kid
			if tc.key != nil {
				as.pub = tc.key.Public()
			}
			v := introValidator(t, as, newIntroClock(), func(c *validate.Config) {
				c.Introspection.AuthMethod = tc.method
				if tc.key != nil {
					c.Introspection.ClientSecret = ""
					c.Introspection.PrivateKey = tc.key
					c.Introspection.KeyID = tc.kid
				}
			})
			as.set("tok", as.good(nil))
			verifyOK(t, v, "tok")
			assert.Zero(t, as.authFails.Load())
			as.check(t)
		})
	}
	t.Run("the default is client_secret_basic", func(t *testing.T) {
		as := newFakeAS(t)
		v := introValidator(t, as, newIntroClock(), nil)
		as.set("tok", as.good(nil))
		verifyOK(t, v, "tok")
		assert.Zero(t, as.authFails.Load())
	})
	t.Run("another key is refused by the AS", func(t *testing.T) {
		as := newFakeAS(t)
		as.method, as.pub = "private_key_jwt", ecKey.Public()
		other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		require.NoError(t, err)
		v := introValidator(t, as, newIntroClock(), func(c *validate.Config) {
			c.Introspection.AuthMethod, c.Introspection.ClientSecret, c.Introspection.PrivateKey = "private_key_jwt", "", other
		})
		as.set("tok", as.good(nil))
		_, err = v.Verify(context.Background(), "tok")
		assert.ErrorIs(t, err, audit.ReasonIntrospectionUnavailable)
		assert.Equal(t, int64(1), as.authFails.Load())
	})
}

func TestIntrospectionDiscovery(t *testing.T) {
	discovered := func(c *validate.Config) { c.Introspection.Endpoint = "" }
	t.Run("at New", func(t *testing.T) {
		as := newFakeAS(t)
		v := introValidator(t, as, newIntroClock(), discovered)
		assert.Equal(t, int64(1), as.metaCalls.Load())
		as.set("tok", as.good(nil))
		verifyOK(t, v, "tok")
		assert.Equal(t, int64(1), as.metaCalls.Load())
	})
	t.Run("lazily", func(t *testing.T) {
		as := newFakeAS(t)
		v := introValidator(t, as, newIntroClock(), func(c *validate.Config) {
			discovered(c)
			c.Fetch.Lazy = true
		})
		assert.Zero(t, as.metaCalls.Load())
		as.set("tok", as.good(nil))
		verifyOK(t, v, "tok")
		assert.Equal(t, int64(1), as.metaCalls.Load())
	})
	for _, tc := range []struct {
		name    string
		doc     func(as *fakeAS) map[string]any
		wantErr string
	}{
		{name: "no introspection_endpoint", doc: func(as *fakeAS) map[string]any { return map[string]any{"issuer": as.issuer} }, wantErr: "no introspection_endpoint"},
		{name: "plain http off loopback", doc: func(as *fakeAS) map[string]any {
			return map[string]any{"issuer": as.issuer, "introspection_endpoint": "http://as.example.com/introspect"}
		}, wantErr: "must use https"},
		{name: "another issuer", doc: func(as *fakeAS) map[string]any {
			return map[string]any{"issuer": "https://evil.example", "introspection_endpoint": as.endpoint()}
		}, wantErr: "does not equal the configured issuer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			as := newFakeAS(t)
			as.metadata = tc.doc(as)
			_, err := validate.New(context.Background(), validate.Config{
				Issuer: as.issuer, Resource: introResource, Keys: staticKeySet(t, ed25519JWKS(t)),
				Introspection: &validate.Introspection{ClientID: "rs", ClientSecret: "x"},
			})
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.wantErr)
			assert.Contains(t, err.Error(), "introspection endpoint")
		})
	}
	t.Run("lazily, refused: 503", func(t *testing.T) {
		as := newFakeAS(t)
		as.metadata = map[string]any{"issuer": as.issuer, "introspection_endpoint": "http://as.example.com/introspect"}
		v := introValidator(t, as, newIntroClock(), func(c *validate.Config) {
			discovered(c)
			c.Fetch.Lazy = true
		})
		for range 3 {
			_, err := v.Verify(context.Background(), "tok")
			assert.ErrorIs(t, err, audit.ReasonIntrospectionUnavailable)
		}
		assert.Equal(t, int64(1), as.metaCalls.Load(), "discovery retried at most once per MinRefreshInterval")
		assert.Zero(t, as.calls.Load())
	})
}

func TestIntrospectionConfigErrors(t *testing.T) {
	rsa1024, err := rsa.GenerateKey(rand.Reader, 1024)
	require.NoError(t, err)
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	require.NoError(t, err)
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	var nilKey *ecdsa.PrivateKey
	good := func() *validate.Introspection {
		return &validate.Introspection{Endpoint: "https://as.example.com/introspect", ClientID: "rs", ClientSecret: "x"}
	}
	keys := func(t *testing.T) validate.KeySet { return staticKeySet(t, ed25519JWKS(t)) }
	for _, tc := range []struct {
		name    string
		mod     func(t *testing.T, c *validate.Config)
		wantErr string
	}{
		{name: "no ClientID", mod: func(_ *testing.T, c *validate.Config) { c.Introspection.ClientID = "" }, wantErr: "Introspection.ClientID"},
		{name: "no ClientSecret", mod: func(_ *testing.T, c *validate.Config) { c.Introspection.ClientSecret = "" }, wantErr: "Introspection.ClientSecret"},
		{name: "no ClientSecret, post", mod: func(_ *testing.T, c *validate.Config) {
			c.Introspection.ClientSecret, c.Introspection.AuthMethod = "", "client_secret_post"
		}, wantErr: "Introspection.ClientSecret"},
		{name: "unknown AuthMethod", mod: func(_ *testing.T, c *validate.Config) { c.Introspection.AuthMethod = "client_secret_jwt" }, wantErr: "Introspection.AuthMethod"},
		{name: "private_key_jwt without a key", mod: func(_ *testing.T, c *validate.Config) {
			c.Introspection.AuthMethod, c.Introspection.ClientSecret = "private_key_jwt", ""
		}, wantErr: "Introspection.PrivateKey"},
		{name: "private_key_jwt with a nil key", mod: func(_ *testing.T, c *validate.Config) {
			c.Introspection.AuthMethod, c.Introspection.ClientSecret, c.Introspection.PrivateKey = "private_key_jwt", "", nilKey
		}, wantErr: "Introspection.PrivateKey"},
		{name: "private_key_jwt with a secret", mod: func(_ *testing.T, c *validate.Config) {
			c.Introspection.AuthMethod, c.Introspection.PrivateKey = "private_key_jwt", edKey
		}, wantErr: "Introspection.ClientSecret"},
		{name: "RSA 1024", mod: func(_ *testing.T, c *validate.Config) {
			c.Introspection.AuthMethod, c.Introspection.ClientSecret, c.Introspection.PrivateKey = "private_key_jwt", "", rsa1024
		}, wantErr: "2048"},
		{name: "P-384", mod: func(_ *testing.T, c *validate.Config) {
			c.Introspection.AuthMethod, c.Introspection.ClientSecret, c.Introspection.PrivateKey = "private_key_jwt", "", p384
		}, wantErr: "P-256"},
		{name: "a key with a secret method", mod: func(_ *testing.T, c *validate.Config) { c.Introspection.PrivateKey = edKey }, wantErr: "Introspection.PrivateKey"},
		{name: "KeyID with a secret method", mod: func(_ *testing.T, c *validate.Config) { c.Introspection.KeyID = "k" }, wantErr: "KeyID"},
		{name: "negative Timeout", mod: func(_ *testing.T, c *validate.Config) { c.Introspection.Timeout = -1 }, wantErr: "Introspection.Timeout"},
		{name: "negative MaxBytes", mod: func(_ *testing.T, c *validate.Config) { c.Introspection.MaxBytes = -1 }, wantErr: "MaxBytes"},
		{name: "NaN RateLimit", mod: func(_ *testing.T, c *validate.Config) { c.Introspection.RateLimit = math.NaN() }, wantErr: "RateLimit"},
		{name: "infinite RateLimit", mod: func(_ *testing.T, c *validate.Config) { c.Introspection.RateLimit = math.Inf(1) }, wantErr: "RateLimit"},
		{name: "plain http endpoint", mod: func(_ *testing.T, c *validate.Config) { c.Introspection.Endpoint = "http://as.example.com/introspect" }, wantErr: "Introspection.Endpoint"},
		{name: "relative endpoint", mod: func(_ *testing.T, c *validate.Config) { c.Introspection.Endpoint = "/introspect" }, wantErr: "Introspection.Endpoint"},
		{name: "JWTs with Keys", mod: func(_ *testing.T, c *validate.Config) { c.Introspection.JWTs = true }, wantErr: "Introspection.JWTs"},
		{name: "Introspection without Issuer", mod: func(t *testing.T, c *validate.Config) {
			c.Issuer, c.Keys = "", nil
			c.Issuers = []validate.IssuerConfig{{Issuer: "https://as.example.com", Keys: keys(t)}}
		}, wantErr: "Introspection configure Issuer"},
		{name: "two issuers without a prefix", mod: func(t *testing.T, c *validate.Config) {
			c.Issuers = []validate.IssuerConfig{{Issuer: "https://as2.example.com", Keys: keys(t), Introspection: good()}}
		}, wantErr: "without a TokenPrefix"},
		{name: "overlapping prefixes", mod: func(t *testing.T, c *validate.Config) {
			c.Introspection.TokenPrefix = "at_"
			in := good()
			in.TokenPrefix = "at_x"
			c.Issuers = []validate.IssuerConfig{{Issuer: "https://as2.example.com", Keys: keys(t), Introspection: in}}
		}, wantErr: "overlap"},
		{name: "equal prefixes", mod: func(t *testing.T, c *validate.Config) {
			c.Introspection.TokenPrefix = "at_"
			in := good()
			in.TokenPrefix = "at_"
			c.Issuers = []validate.IssuerConfig{{Issuer: "https://as2.example.com", Keys: keys(t), Introspection: in}}
		}, wantErr: "overlap"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := validate.Config{Issuer: "https://as.example.com", Resource: introResource, Keys: keys(t), Introspection: good()}
			tc.mod(t, &cfg)
			_, err := validate.New(context.Background(), cfg)
			require.Error(t, err)
			assert.ErrorIs(t, err, rsguard.ErrInvalidConfig)
			assert.Contains(t, err.Error(), tc.wantErr)
		})
	}
	t.Run("the secret is never in an error", func(t *testing.T) {
		in := good()
		in.ClientSecret, in.AuthMethod = "hunter2-secret", "nope"
		_, err := validate.New(context.Background(), validate.Config{Issuer: "https://as.example.com", Resource: introResource, Keys: keys(t), Introspection: in})
		require.Error(t, err)
		assert.NotContains(t, err.Error(), "hunter2-secret")
	})
}
