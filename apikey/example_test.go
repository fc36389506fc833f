package apikey_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"time"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/apikey"
	"github.com/rsguard/rsguard/audit"
	"github.com/rsguard/rsguard/scopes"
)

// oauthTokens stands in, in these examples, for the bearer side of a
// migration: in production a *validate.Validator (validate.New), or any
// other rsguard.Authenticator. It knows a fixed set of access tokens.
type oauthTokens map[string]rsguard.Principal

func (t oauthTokens) Authenticate(r *http.Request) (*rsguard.Principal, error) {
	tok, err := rsguard.BearerToken(r)
	if err != nil {
		return nil, err // no bearer token, or a malformed request
	}
	p, ok := t[tok]
	if !ok {
		return nil, &rsguard.Error{Status: http.StatusUnauthorized, Code: "invalid_token", Description: "the access token is not valid",
			Err: audit.ReasonBadSignature, Reason: audit.ReasonBadSignature, Credential: audit.CredentialJWT}
	}
	p.Scopes = slices.Clone(p.Scopes) // the request's own
	return &p, nil
}

// A server in the middle of a migration from API keys to OAuth: one client
// still on keys, one told to move (deprecated), one already moved (blocked),
// and an OAuth client. One Guard serves them all, and one scope check
// applies to every credential.
func Example_migration() {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

	// The OAuth side: a *validate.Validator in production.
	tokens := oauthTokens{"eyJhbGciOiJFUzI1NiJ9.mobile-app.c2ln": {
		Subject: "client:https://auth.example.com#mobile-app", Credential: audit.CredentialJWT,
		Issuer: "https://auth.example.com", ClientID: "mobile-app", Scopes: []string{"tools:read"},
	}}

	// The legacy keys, one per client. Only their hashes are stored.
	store := new(apikey.MemoryStore)
	keys := map[string]string{}
	for _, client := range []string{"reporting", "legacy-cli", "mobile-app"} {
		key, rec, err := apikey.Generate("sk_live_", apikey.Record{ClientID: client, Scopes: []string{"tools:read"}, Created: now})
		if err != nil {
			panic(err)
		}
		if err := store.Put(rec); err != nil {
			panic(err)
		}
		keys[client] = key
	}

	auth, err := apikey.New(apikey.Config{
		Store:  store,
		Prefix: "sk_live_",
		Bearer: tokens,
		Now:    func() time.Time { return now },
		Policy: apikey.Policy{
			Deprecated: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC),
			Cutoff:     time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC),
			Link:       "https://docs.example.com/oauth-migration",
			Clients: map[string]apikey.ClientPolicy{
				"legacy-cli": {State: apikey.StateDeprecated},
				"mobile-app": {State: apikey.StateBlocked},
			},
		},
	})
	if err != nil {
		panic(err)
	}
	guard, err := rsguard.New(rsguard.Config{
		Authenticator:    auth,
		ResourceMetadata: "https://api.example.com/.well-known/oauth-protected-resource/mcp",
	})
	if err != nil {
		panic(err)
	}

	mux := http.NewServeMux()
	mux.Handle("/mcp", guard.Middleware(scopes.Middleware("tools:read")(http.HandlerFunc(
		func(w http.ResponseWriter, r *http.Request) {
			p, _ := rsguard.FromContext(r.Context())
			fmt.Fprintf(w, "hello %s via %s", p.ClientID, p.Credential)
		}))))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	call := func(header, value string) {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/mcp", nil)
		req.Header.Set(header, value)
		resp, err := srv.Client().Do(req)
		if err != nil {
			panic(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Println(resp.StatusCode, string(body))
		for _, h := range []string{"Deprecation", "Sunset", "Link", "WWW-Authenticate"} {
			for _, v := range resp.Header.Values(h) {
				fmt.Printf("  %s: %s\n", h, v)
			}
		}
	}
	call("X-API-Key", keys["reporting"])
	call("X-API-Key", keys["legacy-cli"])
	call("X-API-Key", keys["mobile-app"])
	call("Authorization", "Bearer eyJhbGciOiJFUzI1NiJ9.mobile-app.c2ln")

	u := auth.Usage()
	fmt.Printf("bearer %+v, keys %+v\n", u.Bearer, u.APIKey)
	for _, c := range u.Clients {
		fmt.Printf("client %s: %+v, last seen %s\n", c.Client, c.Counts, c.LastSeen.UTC().Format(time.RFC3339))
	}

	// Output:
	// 200 hello reporting via apikey
	// 200 hello legacy-cli via apikey
	//   Deprecation: @1772323200
	//   Sunset: Tue, 01 Sep 2026 00:00:00 GMT
	//   Link: <https://docs.example.com/oauth-migration>; rel="deprecation"
	//   Link: <https://docs.example.com/oauth-migration>; rel="sunset"
	// 401 {"error":"invalid_token","error_description":"API keys are no longer accepted for this client: get an OAuth access token (see resource_metadata)"}
	//   WWW-Authenticate: Bearer resource_metadata="https://api.example.com/.well-known/oauth-protected-resource/mcp", error="invalid_token", error_description="API keys are no longer accepted for this client: get an OAuth access token (see resource_metadata)"
	// 200 hello mobile-app via jwt
	// bearer {Accepted:1 Rejected:0}, keys {Accepted:2 Rejected:1}
	// client legacy-cli: {Accepted:1 Rejected:0}, last seen 2026-06-01T12:00:00Z
	// client mobile-app: {Accepted:0 Rejected:1}, last seen 2026-06-01T12:00:00Z
	// client reporting: {Accepted:1 Rejected:0}, last seen 2026-06-01T12:00:00Z
}

// Generate issues a key: the plaintext goes to its owner once, the record
// (with the hash, never the key) to the store.
func ExampleGenerate() {
	key, rec, err := apikey.Generate("sk_live_", apikey.Record{
		Owner:    "alice@example.com",
		ClientID: "billing-export",
		Scopes:   []string{"invoices:read"},
	})
	if err != nil {
		panic(err)
	}
	id, err := apikey.Parse("sk_live_", key)
	fmt.Println(len(key), strings.HasPrefix(key, "sk_live_"+rec.ID+"_"), id == rec.ID, err)
	fmt.Println(rec.Hash == apikey.HashKey(key))

	b, _ := json.Marshal(rec) // what goes into a key file: no key, only its hash
	fmt.Println(!strings.Contains(string(b), key[len("sk_live_"+rec.ID+"_"):]))
	// Output:
	// 59 true true <nil>
	// true
	// true
}

// Parse rejects typos and invented strings without a store lookup.
func ExampleParse() {
	const key = "sk_live_0123456789AB_CDEFGHIJKLMNOPQRSTUVWXYZabcdefgh0XmZgl"
	fmt.Println(apikey.Parse("sk_live_", key))
	fmt.Println(apikey.Parse("sk_live_", strings.Replace(key, "CDEF", "CDFE", 1)))
	fmt.Println(apikey.Parse("sk_live_", "sk_live_hunter2"))
	fmt.Println(apikey.Parse("sk_test_", key))
	// Output:
	// 0123456789AB <nil>
	//  apikey: malformed: API key checksum mismatch
	//  apikey: malformed: not an API key of this format
	//  apikey: malformed: not an API key of this format
}

// Pattern gives secret scanners the shape of a leaked key.
func ExamplePattern() {
	fmt.Println(apikey.Pattern("sk_live_"))
	// Output:
	// sk_live_[0-9A-Za-z]{12}_[0-9A-Za-z]{38}
}

// Records for a small deployment come from a file or an environment
// variable (os.Open, or strings.NewReader(os.Getenv(…))): a JSON array (or
// JSON lines) of hashed keys.
func ExampleReadRecords() {
	const file = `[
	  {"id": "0123456789AB", "hash": "` + "0e4bf2d0b4fb6b6cb1dc61fd1b7df5b2bd3ed6e0e4e4a0b8d8cb0d0e1f0a7c5b" + `",
	   "client_id": "reporting", "scopes": ["tools:read"], "state": "deprecated",
	   "expires": "2027-01-01T00:00:00Z"}
	]`
	recs, err := apikey.ReadRecords(strings.NewReader(file))
	if err != nil {
		panic(err)
	}
	store, err := apikey.NewMemoryStore(recs...)
	if err != nil {
		panic(err)
	}
	r := store.Records()[0]
	fmt.Println(r.Client(), r.Scopes, r.State, r.Expires.Format(time.DateOnly))
	// Output:
	// reporting [tools:read] deprecated 2027-01-01
}

// Evaluate tells what the migration policy says about a key at a given
// time.
func ExamplePolicy_Evaluate() {
	p := apikey.Policy{
		Cutoff:  time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC),
		Default: apikey.StateDeprecated,
		Clients: map[string]apikey.ClientPolicy{
			"partner": {State: apikey.StateAllowed, Cutoff: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)},
		},
	}
	for _, at := range []time.Time{time.Date(2026, 8, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)} {
		for _, client := range []string{"cli", "partner"} {
			st, err := p.Evaluate(&apikey.Record{ClientID: client}, at)
			fmt.Println(at.Format("Jan"), client, st.State, st.Cutoff.Format(time.DateOnly), err)
		}
	}
	// Output:
	// Aug cli deprecated 2026-09-01 <nil>
	// Aug partner allowed 2026-12-01 <nil>
	// Oct cli deprecated 2026-09-01 api_key_retired
	// Oct partner allowed 2026-12-01 <nil>
}

// sqlStore keeps keys in a database table indexed by hash: the Store of a
// team whose keys already live in its own database.
type sqlStore struct{ db *sql.DB }

func (s sqlStore) Lookup(ctx context.Context, h apikey.Hash) (*apikey.Record, error) {
	rec := apikey.Record{Hash: h}
	var scopeList string // space-separated
	var expires sql.NullTime
	err := s.db.QueryRowContext(ctx,
		`SELECT id, owner, client_id, tenant, scopes, created, expires, revoked, state
		   FROM api_keys WHERE hash = $1`, h.String(),
	).Scan(&rec.ID, &rec.Owner, &rec.ClientID, &rec.Tenant, &scopeList,
		&rec.Created, &expires, &rec.Revoked, &rec.State)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, audit.ReasonUnknownAPIKey
	}
	if err != nil {
		return nil, err // logged by id only; never put the hash in it
	}
	rec.Scopes, _ = rsguard.ParseScopes(scopeList) // the one scope rule
	rec.Expires = expires.Time
	return &rec, nil
}

// A Store over your own database is one method. (This example compiles but
// does not run: it needs a database driver.)
func ExampleStore() {
	var db *sql.DB // sql.Open("pgx", dsn)
	auth, err := apikey.New(apikey.Config{
		Store:  sqlStore{db: db},
		Prefix: "sk_live_",
	})
	if err != nil {
		panic(err)
	}
	guard, err := rsguard.New(rsguard.Config{
		Authenticator:    auth,
		ResourceMetadata: "https://api.example.com/.well-known/oauth-protected-resource/mcp",
	})
	if err != nil {
		panic(err)
	}
	_ = guard.Middleware(http.NotFoundHandler())
}

// FromContext and rsguard.FromContext tell a handler which credential
// authenticated the request, for migration reporting; the key itself never
// reaches the handler.
func ExampleFromContext() {
	key, rec, _ := apikey.Generate("sk_live_", apikey.Record{ClientID: "reporting"})
	store, _ := apikey.NewMemoryStore(rec)
	auth, _ := apikey.New(apikey.Config{Store: store, Prefix: "sk_live_"})
	guard, _ := rsguard.New(rsguard.Config{
		Authenticator:    auth,
		ResourceMetadata: "https://api.example.com/.well-known/oauth-protected-resource/mcp",
	})
	h := guard.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := rsguard.FromContext(r.Context())
		u, isKey := apikey.FromContext(r.Context())
		fmt.Println(p.Credential, isKey, u.ID == rec.ID, u.ClientID, u.Status.State)
		fmt.Printf("key forwarded: %q\n", r.Header.Get("X-API-Key"))
	}))
	r := httptest.NewRequest(http.MethodGet, "/mcp", nil)
	r.Header.Set("X-API-Key", key)
	h.ServeHTTP(httptest.NewRecorder(), r)
	// Output:
	// apikey true true reporting allowed
	// key forwarded: ""
}

// Authenticate refuses with an *rsguard.Error whose Reason is the refusal's
// class: match it with errors.Is, as for any credential kind.
func ExampleAuthenticator_Authenticate() {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	key, rec, _ := apikey.Generate("sk_live_", apikey.Record{ClientID: "legacy-cli"})
	rec.Expires = now.Add(-time.Hour)
	store, _ := apikey.NewMemoryStore(rec)
	auth, _ := apikey.New(apikey.Config{Store: store, Prefix: "sk_live_", Now: func() time.Time { return now }})

	for _, k := range []string{key, "sk_live_hunter2", "ghp_0123456789"} {
		r := httptest.NewRequest(http.MethodGet, "/mcp", nil)
		r.Header.Set("X-API-Key", k)
		_, err := auth.Authenticate(r)
		var e *rsguard.Error
		errors.As(err, &e)
		fmt.Println(errors.Is(err, audit.ReasonExpired), errors.Is(err, audit.ReasonMalformed), e.Status, string(e.Reason), e.Description)
	}
	// Output:
	// true false 401 expired the API key has expired
	// false true 401 malformed the API key is malformed
	// false true 401 malformed the API key must start with sk_live_
}
