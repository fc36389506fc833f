package validate_test

// Failing-first tests of the second security round: each attack next to its
// positive control (the same request minus the attack succeeds).

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/audit"
	"github.com/rsguard/rsguard/validate"
	"github.com/rsguard/rsguard/validate/validatetest"
)

// TestPrincipalKindsNeverCollide: a client acting for itself and a user are
// different principals whatever their ids, so a client whose id an attacker
// chose ("alice") can never drive the session of the user "alice".
func TestPrincipalKindsNeverCollide(t *testing.T) {
	is := newIssuer(t, nil)
	v := newValidator(t, is, nil)
	principal := func(t *testing.T, claims map[string]any) string { // t: the caller's, for require
		t.Helper()
		c, err := v.Verify(context.Background(), is.Token(claims))
		require.NoError(t, err)
		return c.Principal()
	}
	user := principal(t, map[string]any{"sub": "alice", "client_id": "web-app"})
	assert.Equal(t, "user:"+is.URL+"#alice", user)
	for name, claims := range map[string]map[string]any{
		"no sub":            {"sub": nil, "client_id": "alice"},
		"sub is the client": {"sub": "alice", "client_id": "alice"},
		"azp, no sub":       {"sub": nil, "client_id": nil, "azp": "alice"},
	} {
		t.Run(name, func(t *testing.T) {
			p := principal(t, claims)
			assert.Equal(t, "client:"+is.URL+"#alice", p)
			assert.NotEqual(t, user, p)
		})
	}

	// A token that names no one has no principal: refused.
	_, err := v.Verify(context.Background(), is.Token(map[string]any{"sub": nil, "client_id": nil}))
	require.ErrorIs(t, err, audit.ReasonBadClaims)
}

// TestPrincipalIsInjective: over hostile ids, two claim sets get the same
// principal only when they have the same kind, issuer and id. (Issuers never
// contain "#": TestIssuerWithoutHashOrQuery.)
func TestPrincipalIsInjective(t *testing.T) {
	ids := []string{"", "alice", "alice#", "#alice", "user:alice", "client:alice", "a#b", "client:https://x#y", ":", "apikey:alice", "\ufffd"}
	issuers := []string{"https://as.example", "https://as.example/", "https://as.example/t", "https://as.example/t/"}
	type who struct{ kind, iss, id string }
	seen := map[string]who{}
	for _, iss := range issuers {
		for _, sub := range ids {
			for _, cid := range ids {
				c := validate.Claims{Issuer: iss, Subject: sub, ClientID: cid}
				w := who{"user", iss, sub}
				if sub == "" || sub == cid {
					w = who{"client", iss, cid}
				}
				p := c.Principal()
				if prev, ok := seen[p]; ok {
					require.Equal(t, prev, w, "two claim sets share the principal %q", p)
				}
				seen[p] = w
			}
		}
	}
}

// TestSenderConstrainedTokensRefusedAsBearer: a token bound to a key (any
// "cnf") is refused when presented as Bearer, with its own reason code.
func TestSenderConstrainedTokensRefusedAsBearer(t *testing.T) {
	is := newIssuer(t, nil)
	v := newValidator(t, is, nil)
	srv := httptest.NewServer(guarded(t, v, whoami, nil))
	t.Cleanup(srv.Close)

	get := func(t *testing.T, tok string) (*http.Response, string) { // t: the caller's, for require
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := srv.Client().Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}

	resp, _ := get(t, is.Token(map[string]any{"scope": "tools:read"}))
	require.Equal(t, http.StatusOK, resp.StatusCode, "positive control: the same token without cnf")

	for name, cnf := range map[string]any{
		"dpop jkt":      map[string]any{"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"},
		"mtls x5t#S256": map[string]any{"x5t#S256": "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"},
		"jwk":           map[string]any{"jwk": map[string]any{"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}},
		"empty object":  map[string]any{},
		"a string":      "jkt",
		"an array":      []any{},
	} {
		t.Run(name, func(t *testing.T) {
			tok := is.Token(map[string]any{"scope": "tools:read", "cnf": cnf})
			_, err := v.Verify(context.Background(), tok)
			require.ErrorIs(t, err, audit.ReasonSenderConstrained)
			var e *rsguard.Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, audit.ReasonSenderConstrained, e.Reason)

			resp, body := get(t, tok)
			assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
			assert.Contains(t, resp.Header.Get("WWW-Authenticate"), `error="invalid_token"`)
			assert.NotContains(t, body, "tools:read")
		})
	}
	t.Run("null cnf", func(t *testing.T) {
		_, err := v.Verify(context.Background(), is.TokenWith(validatetest.TokenOptions{}, map[string]any{"cnf": json.RawMessage("null")}))
		require.ErrorIs(t, err, audit.ReasonSenderConstrained, "a cnf member of any value marks a bound token")
	})
}

// TestFutureAuthTimeRefused: an "auth_time" in the future would satisfy
// every max_age (the age comes out negative).
func TestFutureAuthTimeRefused(t *testing.T) {
	is := newIssuer(t, nil)
	v := newValidator(t, is, nil)
	for _, tc := range []struct {
		name     string
		authTime time.Time
		wantErr  error
	}{
		{"a year ahead", fixedNow.AddDate(1, 0, 0), audit.ReasonNotYetValid},
		{"just past the leeway", fixedNow.Add(30*time.Second + 2*time.Second), audit.ReasonNotYetValid},
		{"within the leeway", fixedNow.Add(30*time.Second - 2*time.Second), nil},
		{"now", fixedNow, nil},
		{"an hour ago", fixedNow.Add(-time.Hour), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := v.Verify(context.Background(), is.Token(map[string]any{"auth_time": tc.authTime.Unix()}))
			if tc.wantErr == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tc.wantErr)
		})
	}
	_, err := v.Verify(context.Background(), is.Token(map[string]any{"iat": fixedNow.AddDate(1, 0, 0).Unix()}))
	require.ErrorIs(t, err, audit.ReasonNotYetValid, "iat in the future")
}

// TestScopeSyntax: one rule for every shape of the scope claims: split a
// string on single spaces, never split an array element, never grant a
// token outside RFC 6749 §3.3.
func TestScopeSyntax(t *testing.T) {
	is := newIssuer(t, nil)
	logs := &logBuffer{}
	v := newValidator(t, is, func(c *validate.Config) { c.Logger = logs.logger() })
	for _, tc := range []struct {
		name   string
		claims map[string]any
		want   []string
	}{
		{"scope, single spaces", map[string]any{"scope": "a b c"}, []string{"a", "b", "c"}},
		{"scope, two spaces", map[string]any{"scope": "a  b"}, []string{"a", "b"}},
		{"scope, tab is no separator", map[string]any{"scope": "a\tb c"}, []string{"c"}},
		{"scope, newline is no separator", map[string]any{"scope": "a\nb c"}, []string{"c"}},
		{"scope, quote", map[string]any{"scope": `a "admin"`}, []string{"a"}},
		{"scope, backslash", map[string]any{"scope": `a ad\min`}, []string{"a"}},
		{"scope, non-ASCII", map[string]any{"scope": "a \u017fcope"}, []string{"a"}},
		{"scope, control", map[string]any{"scope": "a \x01b"}, []string{"a"}},
		{"scp string is split", map[string]any{"scp": "a b"}, []string{"a", "b"}},
		{"scp one-element array is not split", map[string]any{"scp": []string{"a admin"}}, nil},
		{"scp array is not split", map[string]any{"scp": []string{"a admin", "b"}}, []string{"b"}},
		{"scp array, invalid element", map[string]any{"scp": []string{"a", "\"b\"", "c"}}, []string{"a", "c"}},
		{"scp array, duplicates", map[string]any{"scp": []string{"a", "a"}}, []string{"a"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := v.Verify(context.Background(), is.Token(tc.claims))
			require.NoError(t, err)
			if len(tc.want) == 0 {
				assert.Empty(t, c.Scopes)
				return
			}
			assert.Equal(t, tc.want, c.Scopes)
		})
	}
	assert.Contains(t, logs.String(), "not granted", "dropped tokens are logged at debug level")
}

// TestHandlersCannotChangeOtherRequests: everything a handler receives —
// Claims (Decode, into any type, and Get included) and the Principal — may be changed by it without
// changing what a later request with the same token sees, cache or no cache.
func TestHandlersCannotChangeOtherRequests(t *testing.T) {
	for _, disableCache := range []bool{false, true} {
		t.Run(fmt.Sprintf("Cache.Disable=%v", disableCache), func(t *testing.T) {
			is := newIssuer(t, nil)
			v := newValidator(t, is, func(c *validate.Config) {
				c.Cache.Disable = disableCache
				c.TenantClaim = "tid"
			})
			tok := is.Token(map[string]any{
				"scope": "tools:read tools:write", "aud": []string{"https://mcp.example.com/mcp", "https://other.example"},
				"tid": "tenant-a", "org": map[string]any{"id": "o1", "roles": []any{"viewer"}}, "acr": "urn:mfa", "sid": "s1",
			})
			type seen struct {
				claims    validate.Claims
				principal rsguard.Principal
				raw       string
				org       string
			}
			var views []seen
			srv := httptest.NewServer(guarded(t, v, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				c, _ := validate.ClaimsFromContext(r.Context())
				p, _ := rsguard.FromContext(r.Context())
				org, _ := c.Get("org")
				orgJSON, _ := json.Marshal(org)
				var payload json.RawMessage
				assert.NoError(t, c.Decode(&payload))
				views = append(views, seen{claims: snapshotClaims(c), principal: snapshotPrincipal(p), raw: string(payload), org: string(orgJSON)})

				// The handler changes everything it can reach.
				mutate(reflect.ValueOf(c))
				mutate(reflect.ValueOf(p))
				for i := range payload {
					payload[i] = 'X'
				}
				var all map[string]any
				assert.NoError(t, c.Decode(&all))
				mutate(reflect.ValueOf(all))
				mutate(reflect.ValueOf(org))
				tid, _ := c.Get("tid")
				mutate(reflect.ValueOf(&tid))
				// encoding/json hands an Unmarshaler a slice of the text it
				// decodes: one that writes into it must write into a copy.
				var app struct {
					Org inPlace `json:"org"`
					Tid inPlace `json:"tid"`
				}
				_ = c.Decode(&app)
			}), nil))
			t.Cleanup(srv.Close)
			for range 3 {
				req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
				req.Header.Set("Authorization", "Bearer "+tok)
				resp, err := srv.Client().Do(req)
				require.NoError(t, err)
				resp.Body.Close()
				require.Equal(t, http.StatusOK, resp.StatusCode)
			}
			require.Len(t, views, 3)
			first := views[0]
			assert.Equal(t, []string{"tools:read", "tools:write"}, first.principal.Scopes)
			assert.Equal(t, "tenant-a", first.principal.Tenant)
			assert.Contains(t, first.org, `"viewer"`)
			for _, later := range views[1:] {
				assert.Equal(t, first, later, "a later request sees what the first saw before its handler changed it")
			}
			c, err := v.Verify(context.Background(), tok)
			require.NoError(t, err)
			assert.Equal(t, first.claims, snapshotClaims(c))
			var payload json.RawMessage
			require.NoError(t, c.Decode(&payload))
			assert.Equal(t, first.raw, string(payload))
		})
	}
}

// inPlace is an application's claim type whose UnmarshalJSON writes over the
// text it is given.
type inPlace struct{}

func (inPlace) UnmarshalJSON(b []byte) error {
	for i := range b {
		b[i] = 'X'
	}
	return nil
}

// snapshotClaims copies the exported fields of c, slices included.
func snapshotClaims(c *validate.Claims) validate.Claims {
	return validate.Claims{
		Issuer: c.Issuer, Subject: c.Subject, Audience: append([]string(nil), c.Audience...),
		ExpiresAt: c.ExpiresAt, NotBefore: c.NotBefore, IssuedAt: c.IssuedAt, ID: c.ID, ClientID: c.ClientID,
		Scopes: append([]string(nil), c.Scopes...), AuthTime: c.AuthTime, ACR: c.ACR, SessionID: c.SessionID,
	}
}

// snapshotPrincipal copies p, its scopes included, without its Details (the
// claims, which snapshotClaims copies).
func snapshotPrincipal(p *rsguard.Principal) rsguard.Principal {
	s := *p
	s.Scopes = append([]string(nil), p.Scopes...)
	s.Details = nil
	return s
}

// mutate changes, through reflection, every settable field, slice element
// and map entry reachable from v, and grows slices and maps.
func mutate(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			if v.Kind() == reflect.Interface && v.CanSet() {
				// Values inside an interface are not addressable: change
				// a copy's contents (maps and slices share them), then
				// store a changed value.
				inner := v.Elem()
				mutate(inner)
				if inner.Kind() == reflect.String {
					v.Set(reflect.ValueOf("MUTATED"))
				}
				return
			}
			mutate(v.Elem())
		}
	case reflect.Struct:
		if v.Type() == reflect.TypeOf(time.Time{}) {
			if v.CanSet() {
				v.Set(reflect.ValueOf(time.Unix(1, 0)))
			}
			return
		}
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				mutate(v.Field(i))
			}
		}
	case reflect.Slice:
		for i := range v.Len() {
			mutate(v.Index(i))
		}
		if v.CanSet() && v.Type().Elem().Kind() == reflect.String {
			v.Set(reflect.Append(v, reflect.ValueOf("admin").Convert(v.Type().Elem())))
		}
	case reflect.Map:
		if v.IsNil() {
			return
		}
		for _, k := range v.MapKeys() {
			e := reflect.New(v.Type().Elem()).Elem()
			e.Set(v.MapIndex(k))
			mutate(e)
			v.SetMapIndex(k, e)
		}
		if v.Type().Key().Kind() == reflect.String {
			v.SetMapIndex(reflect.ValueOf("injected").Convert(v.Type().Key()), reflect.Zero(v.Type().Elem()))
		}
	case reflect.String:
		if v.CanSet() {
			v.SetString("MUTATED")
		}
	case reflect.Int, reflect.Int64, reflect.Int32:
		if v.CanSet() {
			v.SetInt(-1)
		}
	case reflect.Float64:
		if v.CanSet() {
			v.SetFloat(-1)
		}
	case reflect.Bool:
		if v.CanSet() {
			v.SetBool(!v.Bool())
		}
	}
}

// TestCacheBytesBoundWhatItHolds: whatever the verified-token cache keeps is
// counted against Cache.MaxBytes, also after Claims.Get decoded the payload of
// every token: the heap after GC stays within Cache.MaxBytes plus a constant.
func TestCacheBytesBoundWhatItHolds(t *testing.T) {
	if testing.Short() {
		t.Skip("heap measurement")
	}
	is := newIssuer(t, nil)
	const budget = 1 << 20
	v := newValidator(t, is, func(c *validate.Config) {
		c.Cache.MaxBytes = budget
		c.TenantClaim = "tid"
		c.MaxTokenBytes = 64 << 10
	})
	// Many small members: a decoded map[string]any is many times larger
	// than the payload it comes from.
	extra := map[string]any{"tid": "tenant-a"}
	for i := range 900 {
		extra[fmt.Sprintf("k%d", i)] = i
	}
	heap := func() uint64 {
		var m runtime.MemStats
		runtime.GC()
		runtime.GC()
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	before := heap()
	for i := range 300 {
		extra["jti"] = fmt.Sprintf("token-%d", i)
		tok := is.Token(extra)
		for range 2 { // first sight, then a cache hit
			c, err := v.Verify(context.Background(), tok)
			require.NoError(t, err)
			_, ok := c.Get("k7")
			require.True(t, ok)
		}
	}
	grown := int64(heap()) - int64(before)
	const slack = 1 << 20 // the validator's other state, test garbage not yet swept
	t.Logf("heap grew %d KiB for a %d KiB cache", grown>>10, budget>>10)
	assert.LessOrEqual(t, grown, int64(budget+slack), "the cache holds more than Cache.MaxBytes counts")
	runtime.KeepAlive(v)
}

// TestTenantClaimIsAString: the tenant is read at verification; a tenant
// claim of another type is refused rather than read as no tenant.
func TestTenantClaimIsAString(t *testing.T) {
	is := newIssuer(t, nil)
	var asked []string
	v := newValidator(t, is, func(c *validate.Config) {
		c.TenantClaim = "tid"
		c.Check = func(_ context.Context, c *validate.Claims) error {
			asked = append(asked, c.Tenant())
			if c.Tenant() == "blocked" {
				return fmt.Errorf("tenant %q: %w", c.Tenant(), audit.ReasonBadIssuer)
			}
			return nil
		}
	})
	p, err := authenticate(v, is.Token(map[string]any{"tid": "acme"}))
	require.NoError(t, err, "positive control")
	assert.Equal(t, "acme", p.Tenant)
	for _, bad := range []any{42, true, []string{"acme"}, map[string]any{"id": "acme"}} {
		_, err := v.Verify(context.Background(), is.Token(map[string]any{"tid": bad}))
		require.ErrorIs(t, err, audit.ReasonBadClaims, "tid %v", bad)
	}
	_, err = v.Verify(context.Background(), is.Token(map[string]any{"tid": "blocked"}))
	require.ErrorIs(t, err, audit.ReasonBadIssuer)
	var e *rsguard.Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, audit.ReasonBadIssuer, e.Reason)
	if assert.NotNil(t, e.Principal, "refused after verification: the audit trail names who") {
		assert.Equal(t, "blocked", e.Principal.Tenant)
	}
	assert.Equal(t, []string{"acme", "blocked"}, asked)

	_, err = validate.New(context.Background(), validate.Config{Issuer: is.URL, Resource: "https://mcp.example.com/mcp", TenantClaim: "sub"})
	require.ErrorIs(t, err, rsguard.ErrInvalidConfig)
}

// TestTypedNilRevocations: a nil *DenyList is a configuration error, not a
// panic on the first request.
func TestTypedNilRevocations(t *testing.T) {
	is := newIssuer(t, nil)
	var deny *validate.DenyList
	_, err := validate.New(context.Background(), validate.Config{Issuer: is.URL, Resource: "https://mcp.example.com/mcp", Fetch: validate.FetchOptions{HTTPClient: is.Client()}, Revocations: deny})
	require.ErrorIs(t, err, rsguard.ErrInvalidConfig)
	list, err := validate.NewDenyList(validate.DenyListConfig{})
	require.NoError(t, err)
	_, err = validate.New(context.Background(), validate.Config{Issuer: is.URL, Resource: "https://mcp.example.com/mcp", Fetch: validate.FetchOptions{HTTPClient: is.Client()}, Revocations: list})
	require.NoError(t, err, "positive control")
}

// TestIssuerWithoutHashOrQuery: an issuer with a "#" or "?", even an empty
// fragment or query, is refused, so "ISSUER#subject" reads one way only.
func TestIssuerWithoutHashOrQuery(t *testing.T) {
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	jwks := staticKeySet(t, []byte(`{"keys":[{"kty":"OKP","crv":"Ed25519","use":"sig","kid":"k","x":"`+base64.RawURLEncoding.EncodeToString(pub)+`"}]}`))
	try := func(iss string) (error, error) {
		_, one := validate.New(context.Background(), validate.Config{Issuer: iss, Resource: "https://mcp.example.com/mcp", Keys: jwks})
		_, many := validate.New(context.Background(), validate.Config{Resource: "https://mcp.example.com/mcp",
			Issuers: []validate.IssuerConfig{{Issuer: iss, Keys: jwks}}})
		return one, many
	}
	one, many := try("https://as.example/")
	require.NoError(t, one, "positive control")
	require.NoError(t, many, "positive control")
	for _, iss := range []string{"https://as.example/#", "https://as.example/?", "https://as.example/#x", "https://as.example/?a=b", "https://as.example/t#"} {
		one, many := try(iss)
		require.ErrorIs(t, one, rsguard.ErrInvalidConfig, iss)
		require.ErrorIs(t, many, rsguard.ErrInvalidConfig, iss)
	}
}
