package validate_test

import (
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/rsmeta"
	"github.com/rsguard/rsguard/validate"
)

// The fake authorization server of the introspection tests: a real HTTP
// server on 127.0.0.1 with an RFC 7662 endpoint that authenticates its
// client by each method, and RFC 8414 metadata.

const introResource = "https://mcp.example.com/mcp"

// introEpoch is the injected clock's start in these tests.
var introEpoch = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

type fakeAS struct {
	t      testing.TB
	srv    *httptest.Server
	issuer string

	// Client authentication the endpoint requires.
	method   string // client_secret_basic (default), client_secret_post, private_key_jwt
	clientID string
	secret   string
	pub      crypto.PublicKey
	kid      string

	mu          sync.Mutex
	answers     map[string]string // token -> JSON answer; {"active":false} when absent
	status      int               // if set, every answer has it
	contentType string            // if set, the answers' Content-Type
	metadata    map[string]any    // the RFC 8414 document; nil: the default one
	block       chan struct{}     // if set, the endpoint waits for it to close (or the request to end)
	now         func() time.Time  // the clock of the client assertions' checks

	calls     atomic.Int64           // requests to the endpoint
	metaCalls atomic.Int64           // requests for metadata
	authFails atomic.Int64           // requests whose client authentication failed
	entered   chan struct{}          // one value per request to the endpoint, if room
	problems  atomic.Pointer[string] // the first thing the endpoint found wrong with a request
}

func newFakeAS(t testing.TB) *fakeAS {
	as := &fakeAS{
		t: t, method: "client_secret_basic", clientID: "rs:1", secret: "s3cret p@ss+%",
		answers: map[string]string{}, entered: make(chan struct{}, 1024),
	}
	as.setNow(func() time.Time { return introEpoch })
	mux := http.NewServeMux()
	mux.HandleFunc("/introspect", as.introspect)
	mux.HandleFunc("/.well-known/oauth-authorization-server", func(w http.ResponseWriter, r *http.Request) {
		as.metaCalls.Add(1)
		as.mu.Lock()
		doc := as.metadata
		as.mu.Unlock()
		if doc == nil {
			doc = map[string]any{"issuer": as.issuer, "introspection_endpoint": as.endpoint()}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(doc)
	})
	as.srv = httptest.NewServer(mux)
	as.issuer = as.srv.URL
	t.Cleanup(as.srv.Close)
	return as
}

func (as *fakeAS) endpoint() string { return as.srv.URL + "/introspect" }

func (as *fakeAS) setNow(now func() time.Time) {
	as.mu.Lock()
	as.now = now
	as.mu.Unlock()
}

func (as *fakeAS) clock() time.Time {
	as.mu.Lock()
	now := as.now
	as.mu.Unlock()
	return now()
}

// problem records the first thing wrong with a request (read by the test
// goroutine through as.check).
func (as *fakeAS) problem(msg string) {
	as.problems.CompareAndSwap(nil, &msg)
}

// check fails the test if the endpoint found anything wrong.
func (as *fakeAS) check(t testing.TB) {
	t.Helper()
	if p := as.problems.Load(); p != nil {
		t.Errorf("authorization server: %s", *p)
	}
}

// set makes the endpoint answer tok with the JSON of answer.
func (as *fakeAS) set(tok string, answer any) {
	b, ok := answer.(string)
	if !ok {
		j, err := json.Marshal(answer)
		if err != nil {
			panic(err)
		}
		b = string(j)
	}
	as.mu.Lock()
	as.answers[tok] = b
	as.mu.Unlock()
}

// good returns a positive answer for the test resource, changed by mod
// (a nil value deletes a member).
func (as *fakeAS) good(mod map[string]any) map[string]any {
	a := map[string]any{
		"active":     true,
		"iss":        as.issuer,
		"aud":        introResource,
		"exp":        introEpoch.Add(time.Hour).Unix(),
		"iat":        introEpoch.Unix(),
		"client_id":  "agent",
		"sub":        "alice",
		"scope":      "read write",
		"token_type": "Bearer",
		"jti":        "jti-1",
		"team":       "blue",
	}
	for k, v := range mod {
		if v == nil {
			delete(a, k)
			continue
		}
		a[k] = v
	}
	return a
}

func (as *fakeAS) introspect(w http.ResponseWriter, r *http.Request) {
	as.calls.Add(1)
	select {
	case as.entered <- struct{}{}:
	default:
	}
	as.mu.Lock()
	block, status, ct := as.block, as.status, as.contentType
	as.mu.Unlock()
	if block != nil {
		select {
		case <-block:
		case <-r.Context().Done():
			return
		}
	}
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" || r.Header.Get("Accept") != "application/json" {
		as.problem("not a form POST accepting JSON: " + r.Method + " " + r.Header.Get("Content-Type"))
	}
	if err := r.ParseForm(); err != nil {
		as.problem("form: " + err.Error())
	}
	if len(r.URL.RawQuery) > 0 {
		as.problem("the token went in the URL")
	}
	if got := r.PostForm.Get("token_type_hint"); got != "access_token" {
		as.problem("token_type_hint " + got)
	}
	if err := as.authenticate(r); err != nil {
		as.authFails.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"error":"invalid_client"}`))
		return
	}
	as.mu.Lock()
	answer, ok := as.answers[r.PostForm.Get("token")]
	as.mu.Unlock()
	if !ok {
		answer = `{"active":false}`
	}
	if ct == "" {
		ct = "application/json; charset=utf-8"
	}
	w.Header().Set("Content-Type", ct)
	if status != 0 {
		w.WriteHeader(status)
	}
	_, _ = w.Write([]byte(answer))
}

// authenticate checks the client's authentication as the AS's method asks.
func (as *fakeAS) authenticate(r *http.Request) error {
	f := r.PostForm
	switch as.method {
	case "client_secret_basic":
		id, secret, ok := r.BasicAuth()
		if !ok {
			return errors.New("no Basic credentials")
		}
		// RFC 6749 §2.3.1: form-urlencoded before Basic.
		id, err1 := url.QueryUnescape(id)
		secret, err2 := url.QueryUnescape(secret)
		if err1 != nil || err2 != nil || id != as.clientID || secret != as.secret || f.Has("client_secret") {
			return errors.New("bad Basic credentials")
		}
	case "client_secret_post":
		if r.Header.Get("Authorization") != "" || f.Get("client_id") != as.clientID || f.Get("client_secret") != as.secret {
			return errors.New("bad form credentials")
		}
	case "private_key_jwt":
		if f.Get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" || f.Has("client_secret") {
			return errors.New("bad assertion type")
		}
		claims := jwt.MapClaims{}
		tok, err := jwt.ParseWithClaims(f.Get("client_assertion"), claims, func(t *jwt.Token) (any, error) {
			if as.kid != "" && t.Header["kid"] != as.kid {
				return nil, errors.New("kid")
			}
			return as.pub, nil
		},
			jwt.WithValidMethods([]string{"RS256", "ES256", "EdDSA"}), jwt.WithIssuer(as.clientID), jwt.WithSubject(as.clientID),
			jwt.WithAudience(as.issuer), jwt.WithExpirationRequired(), jwt.WithIssuedAt(), jwt.WithTimeFunc(as.clock))
		if err != nil || !tok.Valid {
			return errors.New("bad assertion")
		}
		if jti, _ := claims["jti"].(string); len(jti) < 16 {
			return errors.New("no jti")
		}
		exp, _ := claims.GetExpirationTime()
		iat, _ := claims.GetIssuedAt()
		if iat == nil || exp.Sub(iat.Time) != time.Minute {
			return errors.New("assertion lifetime")
		}
	}
	return nil
}

// introClock is a settable clock.
type introClock struct{ ns atomic.Int64 }

func newIntroClock() *introClock {
	c := &introClock{}
	c.ns.Store(introEpoch.UnixNano())
	return c
}
func (c *introClock) Now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *introClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// introValidator returns a Validator trusting as, which introspects with
// client_secret_basic at as's endpoint; mod changes the configuration first.
func introValidator(t testing.TB, as *fakeAS, clk *introClock, mod func(*validate.Config)) *validate.Validator {
	t.Helper()
	cfg := validate.Config{
		Issuer:   as.issuer,
		Resource: introResource,
		Keys:     staticKeySet(t, ed25519JWKS(t)),
		Leeway:   -1, // none: the clock edges below are exact
		Now:      clk.Now,
		Introspection: &validate.Introspection{
			Endpoint:     as.endpoint(),
			ClientID:     as.clientID,
			ClientSecret: as.secret,
		},
	}
	as.setNow(clk.Now)
	if mod != nil {
		mod(&cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	v, err := validate.New(ctx, cfg)
	require.NoError(t, err)
	return v
}

// introAnswer is what the Guard answered a request.
type introAnswer struct {
	status     int
	code       string // the error of the Bearer challenge
	retryAfter string
	principal  *rsguard.Principal
}

// guardAnswer sends a request with tok as a bearer token through a Guard
// over v, and returns the answer.
func guardAnswer(t testing.TB, v *validate.Validator, tok string) introAnswer {
	t.Helper()
	var got *rsguard.Principal
	h := guarded(t, v, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, _ = rsguard.FromContext(r.Context())
	}), nil)
	req := httptest.NewRequest(http.MethodGet, introResource, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	a := introAnswer{status: rec.Code, retryAfter: rec.Header().Get("Retry-After"), principal: got}
	for _, line := range rec.Header().Values("WWW-Authenticate") {
		cs, err := rsmeta.ParseChallenges(line)
		require.NoError(t, err, line)
		for _, c := range cs {
			if strings.EqualFold(c.Scheme, "Bearer") && c.Error != "" {
				a.code = c.Error
			}
		}
	}
	return a
}

// assertNoSecrets checks that text holds neither the tokens nor the
// client's secret.
func assertNoSecrets(t testing.TB, text string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		assert.NotContains(t, text, s)
	}
}
