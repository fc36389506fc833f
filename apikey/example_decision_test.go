package apikey_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"time"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/apikey"
	"github.com/rsguard/rsguard/audit"
)

// An audit log of who still uses API keys, and who was refused: one record
// per request, from the Guard's OnDecision, naming keys by id and owner,
// never the key.
func ExampleAuthenticator_audit() {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	store := new(apikey.MemoryStore)
	var keys []string
	for _, client := range []string{"reporting", "mobile-app"} {
		key, rec, err := apikey.Generate("sk_live_", apikey.Record{ClientID: client, Scopes: []string{"tools:read"}})
		if err != nil {
			panic(err)
		}
		if err := store.Put(rec); err != nil {
			panic(err)
		}
		keys = append(keys, key)
	}
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey || a.Key == "latency" || a.Key == "token_id" { // vary from run to run
				return slog.Attr{}
			}
			return a
		},
	}))
	auth, err := apikey.New(apikey.Config{
		Store:  store,
		Prefix: "sk_live_",
		Policy: apikey.Policy{Clients: map[string]apikey.ClientPolicy{"mobile-app": {State: apikey.StateBlocked}}},
		Now:    func() time.Time { return now },
	})
	if err != nil {
		panic(err)
	}
	guard, err := rsguard.New(rsguard.Config{
		Authenticator:    auth,
		ResourceMetadata: "https://api.example.com/.well-known/oauth-protected-resource/mcp",
		OnDecision:       audit.Slog(logger),
	})
	if err != nil {
		panic(err)
	}
	h := guard.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	for _, key := range keys {
		req := httptest.NewRequest("GET", "/reports", nil)
		req.Header.Set("X-API-Key", key)
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
	// Output:
	// level=INFO msg="rsguard decision" stage=authenticate outcome=allow reason=ok credential=apikey subject=apikey:client:reporting client_id=reporting method=GET path=/reports granted=tools:read
	// level=INFO msg="rsguard decision" stage=authenticate outcome=deny reason=api_key_blocked status=401 credential=apikey subject=apikey:client:mobile-app client_id=mobile-app method=GET path=/reports granted=tools:read
}
