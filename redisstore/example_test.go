package redisstore_test

import (
	"context"
	"log"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rsguard/rsguard/mcpguard"
	"github.com/rsguard/rsguard/redisstore"
	"github.com/rsguard/rsguard/validate"
)

// Every replica builds the same stores on the same Redis. This example
// needs a Redis and so does not run; see the tests.
func Example() {
	ctx := context.Background()
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	client := redis.NewClient(&redis.Options{Addr: os.Getenv("REDIS_ADDR"), ContextTimeoutEnabled: true})
	defer client.Close()

	revoked, err := redisstore.NewDenyList(redisstore.DenyListConfig{Client: client, MaxTokenLifetime: time.Hour, Logger: logger})
	if err != nil {
		log.Fatal(err)
	}
	replay, err := redisstore.NewReplayStore(redisstore.ReplayStoreConfig{Client: client, Logger: logger})
	if err != nil {
		log.Fatal(err)
	}
	store, err := redisstore.NewSessionStore(redisstore.SessionStoreConfig{Client: client, Logger: logger})
	if err != nil {
		log.Fatal(err)
	}
	v, err := validate.New(ctx, validate.Config{
		Issuer: "https://auth.example.com", Resource: "https://mcp.example.com/mcp",
		Revocations: revoked, // 503 with Retry-After while Redis is down (fail closed)
		DPoP:        validate.DPoPConfig{Mode: validate.DPoPAllowed, Replay: replay},
		Logger:      logger,
	})
	if err != nil {
		log.Fatal(err)
	}
	sessions, err := mcpguard.NewSessions(mcpguard.SessionConfig{Store: store, Logger: logger})
	if err != nil {
		log.Fatal(err)
	}
	_, _ = v, sessions

	// On a back-channel logout, through any replica: every replica refuses
	// the session's tokens from its next request on.
	mux := http.NewServeMux()
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		if err := revoked.RevokeSession(r.Context(), "https://auth.example.com", r.FormValue("sid"), time.Now()); err != nil {
			http.Error(w, "try again", http.StatusServiceUnavailable)
		}
	})
}
