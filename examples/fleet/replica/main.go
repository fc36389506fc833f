// Command replica is one replica of a protected service run as a fleet:
// start it as many times as you like, behind one load balancer, on one
// PostgreSQL and one Redis, and every replica makes the same decisions. It
// serves
//
//   - an MCP endpoint at <resource>/mcp (mcp-go, through mcpguard.New):
//     OAuth tokens for that audience, MCP sessions bound to their owner in
//     Redis (redisstore.SessionStore), so that a session opened through one
//     replica is honoured by every other for its owner and refused (404) for
//     anyone else;
//   - an API at <resource>/api (GET /api/whoami): API keys from PostgreSQL
//     (apikey/sqlstore: a Store with a bounded cache, the per-client policy
//     read again every third of -max-staleness, usage counted by a Recorder
//     and summed over the replicas in the database) beside OAuth tokens for
//     that audience;
//   - POST /api/admin/revoke (form jti and, optionally, exp in unix
//     seconds): an OAuth token with scope fleet:admin revokes a token by its
//     jti in the deny list every replica reads (redisstore.DenyList).
//
// Both token paths check the deny list on every request: a revocation
// through any replica is refused by every replica at its next request, and
// while Redis is down they answer 503 with Retry-After (fail closed) and
// recover by themselves when it is back. API keys do not need Redis.
//
// It prints one JSON line on stdout once it serves: its name, the address
// it listens on, its URLs and the issuer. On SIGTERM (or SIGINT) it stops
// serving, writes the usage it has counted and exits 0.
//
//	go run -C examples ./fleet/replica -issuer https://auth.example.com \
//		-resource https://api.example.com -database-url postgres://… -redis 127.0.0.1:6379
//
// Replicas must share the issuer (tokens of one are tokens of all) and the
// resource, the URL clients reach the load balancer at. Without -issuer the
// replica starts the development issuer in its own memory, whose tokens
// only that replica accepts: for trying one replica, not a fleet.
package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
	"github.com/redis/go-redis/v9"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/apikey"
	"github.com/rsguard/rsguard/apikey/sqlstore"
	"github.com/rsguard/rsguard/examples/internal/devissuer"
	"github.com/rsguard/rsguard/examples/internal/serve"
	"github.com/rsguard/rsguard/mcpguard"
	"github.com/rsguard/rsguard/redisstore"
	"github.com/rsguard/rsguard/rsmeta"
	"github.com/rsguard/rsguard/scopes"
	"github.com/rsguard/rsguard/validate"
)

// The scopes: fleet:read calls the MCP tool, fleet:admin revokes tokens.
const (
	ScopeRead  = "fleet:read"
	ScopeAdmin = "fleet:admin"
)

// KeyPrefix starts the API keys this service accepts.
const KeyPrefix = "sk_live_"

// ReplicaHeader names, in every answer, the replica that gave it.
const ReplicaHeader = "X-Replica"

// Hello is the JSON line a replica prints on stdout once it serves.
type Hello struct {
	Name     string `json:"name"`
	Addr     string `json:"addr"`                // host:port it listens on
	MCP      string `json:"mcp"`                 // the MCP endpoint's resource URL
	API      string `json:"api"`                 // the API's resource URL
	Issuer   string `json:"issuer"`              // the authorization server
	TokenURL string `json:"token_url,omitempty"` // the development issuer's token endpoint, without -issuer
}

func main() { serve.Main("replica", run) }

type options struct {
	name, addr, resource, issuer string
	databaseURL, redisAddr       string
	maxStaleness, flushInterval  time.Duration
	revokeTTL                    time.Duration
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o options
	fs := flag.NewFlagSet("replica", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.name, "name", "replica", "this replica's `name`, in the "+ReplicaHeader+" header of its answers")
	fs.StringVar(&o.addr, "addr", "127.0.0.1:0", "`host:port` to listen on (port 0 picks a free port)")
	fs.StringVar(&o.resource, "resource", "", "the `URL` clients reach the fleet at (the load balancer); the MCP endpoint is <URL>/mcp, the API <URL>/api (default: http://<addr>)")
	fs.StringVar(&o.issuer, "issuer", "", "the authorization server's issuer `URL` (default: a development issuer in memory, for one replica only)")
	fs.StringVar(&o.databaseURL, "database-url", os.Getenv("DATABASE_URL"), "PostgreSQL connection `URL` (pgx), holding the API keys ($DATABASE_URL)")
	fs.StringVar(&o.redisAddr, "redis", os.Getenv("REDIS_ADDR"), "Redis `host:port`, holding revocations and MCP sessions ($REDIS_ADDR)")
	fs.DurationVar(&o.maxStaleness, "max-staleness", 30*time.Second, "the longest a change to a key or a client in the database takes to reach this replica (sqlstore.Config.MaxStaleness; the policy is read every third of it)")
	fs.DurationVar(&o.flushInterval, "flush-interval", 10*time.Second, "how often usage counts are written to the database (also on SIGTERM)")
	fs.DurationVar(&o.revokeTTL, "revoke-ttl", 24*time.Hour, "how long a revocation without exp is kept: at least your tokens' lifetime")
	if err := serve.ParseArgs(fs, args); err != nil {
		return err
	}
	switch {
	case o.databaseURL == "":
		return errors.New("-database-url (or $DATABASE_URL) is required")
	case o.redisAddr == "":
		return errors.New("-redis (or $REDIS_ADDR) is required")
	case o.maxStaleness <= 0 || o.flushInterval <= 0 || o.revokeTTL <= 0:
		return errors.New("-max-staleness, -flush-interval and -revoke-ttl must be positive")
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil)).With("replica", o.name)
	// go-redis logs every failed dial through its own logger; the stores
	// log one line per outage.
	redis.SetLogger(quietRedis{})

	ln, base, err := serve.Listen(o.addr, strings.TrimSuffix(o.resource, "/"), func(flagAddr string, actual net.Addr) (string, error) {
		return serve.DefaultURL(flagAddr, actual, "", "the fleet")
	})
	if err != nil {
		return err
	}
	defer ln.Close()
	hello := Hello{Name: o.name, Addr: ln.Addr().String(), MCP: base + "/mcp", API: base + "/api", Issuer: o.issuer}
	if o.issuer == "" {
		is, err := devissuer.Start(hello.MCP, []string{ScopeRead, ScopeAdmin})
		if err != nil {
			return err
		}
		defer is.Close()
		hello.Issuer, hello.TokenURL = is.URL, is.TokenURL
	}

	f, err := newFleet(ctx, o, hello, logger)
	if err != nil {
		return err
	}
	defer f.close(logger)

	if err := json.NewEncoder(stdout).Encode(hello); err != nil {
		return err
	}
	return serve.Serve(ctx, ln, f.handler, logger)
}

// fleet is what one replica holds: its connections to the shared stores,
// the Recorder to flush at the end, and the handler.
type fleet struct {
	db      *sql.DB
	redis   *redis.Client
	rec     *sqlstore.Recorder
	handler http.Handler
}

func newFleet(ctx context.Context, o options, h Hello, logger *slog.Logger) (_ *fleet, err error) {
	f := &fleet{}
	defer func() {
		if err != nil {
			f.close(logger)
		}
	}()
	if f.db, err = sql.Open("pgx", o.databaseURL); err != nil {
		return nil, err
	}
	mctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	// Every replica may migrate at start: Migrate takes an advisory lock.
	if err := sqlstore.Migrate(mctx, f.db); err != nil {
		return nil, fmt.Errorf("migrating the database: %w", err)
	}
	store, err := sqlstore.New(sqlstore.Config{DB: f.db, MaxStaleness: o.maxStaleness,
		Logger: logger})
	if err != nil {
		return nil, err
	}
	if f.rec, err = sqlstore.NewRecorder(sqlstore.RecorderConfig{DB: f.db, FlushInterval: o.flushInterval, Logger: logger}); err != nil {
		return nil, err
	}

	f.redis = redis.NewClient(&redis.Options{Addr: o.redisAddr, ContextTimeoutEnabled: true})
	revoked, err := redisstore.NewDenyList(redisstore.DenyListConfig{Client: f.redis, Logger: logger})
	if err != nil {
		return nil, err
	}
	sessions, err := redisstore.NewSessionStore(redisstore.SessionStoreConfig{Client: f.redis, Logger: logger})
	if err != nil {
		return nil, err
	}

	mux := http.NewServeMux()

	// The MCP endpoint, the catch-all: it serves its document and the
	// endpoint, and 404 elsewhere.
	endpoint, err := mcpguard.New(ctx, mcpguard.Config{
		Issuer:          h.Issuer,
		Resource:        h.MCP,
		Tools:           map[string][]string{"whoami": {ScopeRead}},
		ChallengeScopes: []string{ScopeRead},
		Validate:        validate.Config{Revocations: revoked},
		Sessions:        mcpguard.SessionConfig{Store: sessions},
		Logger:          logger,
	})
	if err != nil {
		return nil, fmt.Errorf("MCP endpoint: %w", err)
	}
	mux.Handle("/", endpoint.Handler(mcpServer(o.name)))

	// The API: its own audience, API keys beside tokens.
	tokens, err := validate.New(ctx, validate.Config{Issuer: h.Issuer, Resource: h.API, Revocations: revoked, Logger: logger})
	if err != nil {
		return nil, fmt.Errorf("API validator: %w", err)
	}
	meta, err := rsmeta.Register(mux, rsmeta.Metadata{Resource: h.API, AuthorizationServers: tokens.Issuers(),
		ScopesSupported: []string{ScopeAdmin}})
	if err != nil {
		return nil, err
	}
	var base apikey.Policy
	keys, err := apikey.New(apikey.Config{
		Store:  store,
		Prefix: KeyPrefix,
		Bearer: f.rec.Bearer(tokens), // counts OAuth and anonymous requests
		OnUse:  f.rec.OnUse,          // counts API key requests
		Policy: base,
		Logger: logger,
	})
	if err != nil {
		return nil, err
	}
	go refreshPolicy(ctx, f.db, keys, base, o.maxStaleness/3, logger)
	api, err := rsguard.New(rsguard.Config{Authenticator: keys, ResourceMetadata: meta.URL()})
	if err != nil {
		return nil, err
	}
	mux.Handle("GET /api/whoami", api.Middleware(whoami(o.name)))

	// The admin route takes OAuth tokens only, with their own scope.
	admin, err := rsguard.New(rsguard.Config{Authenticator: tokens, ResourceMetadata: meta.URL()})
	if err != nil {
		return nil, err
	}
	mux.Handle("POST /api/admin/revoke", admin.Middleware(scopes.Middleware(ScopeAdmin)(revokeHandler(revoked, h.Issuer, o.revokeTTL, logger))))

	f.handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(ReplicaHeader, o.name)
		mux.ServeHTTP(w, r)
	})
	return f, nil
}

// close writes the usage still pending (after the server has stopped
// serving) and closes the connections.
func (f *fleet) close(logger *slog.Logger) {
	if f.rec != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		if err := f.rec.Close(ctx); err != nil {
			logger.Error("writing the last usage counts", "error", err)
		}
		cancel()
	}
	if f.redis != nil {
		_ = f.redis.Close()
	}
	if f.db != nil {
		_ = f.db.Close()
	}
}

// refreshPolicy reads the per-client policy from the database every
// interval and gives it to keys, so that a client blocked in the table is
// refused by every replica within interval (plus a query). A failed read
// keeps the policy in force.
func refreshPolicy(ctx context.Context, db *sql.DB, keys *apikey.Authenticator, base apikey.Policy, interval time.Duration, logger *slog.Logger) {
	failing := false
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		qctx, cancel := context.WithTimeout(ctx, min(interval, 5*time.Second))
		p, err := sqlstore.ReadPolicy(qctx, db, base)
		cancel()
		switch {
		case err == nil:
			err = keys.SetPolicy(p)
			if err == nil && failing {
				logger.Info("policy read again")
				failing = false
			}
		case ctx.Err() != nil:
			return
		}
		if err != nil && !failing {
			logger.Error("reading the policy; the one in force is kept", "error", err)
			failing = true
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// whoami answers the caller, as JSON.
func whoami(replica string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := rsguard.FromContext(r.Context())
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{
			"replica": replica, "subject": p.Subject, "client": p.ClientID, "credential": string(p.Credential),
		})
	})
}

// revokeHandler revokes the token whose jti the form names, until its exp
// (unix seconds) or, without one, for ttl.
func revokeHandler(revoked *redisstore.DenyList, issuer string, ttl time.Duration, logger *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, 4096)
		jti := r.PostFormValue("jti")
		if jti == "" || len(jti) > 256 {
			http.Error(w, "jti: required, at most 256 bytes", http.StatusBadRequest)
			return
		}
		exp := time.Now().Add(ttl)
		if s := r.PostFormValue("exp"); s != "" {
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil || n <= 0 {
				http.Error(w, "exp: unix seconds", http.StatusBadRequest)
				return
			}
			exp = time.Unix(n, 0)
		}
		if err := revoked.RevokeToken(r.Context(), issuer, jti, exp); err != nil {
			var ra interface{ RetryAfter() time.Duration }
			if errors.As(err, &ra) {
				w.Header().Set("Retry-After", strconv.Itoa(int(ra.RetryAfter().Seconds())))
			}
			logger.Error("revocation not written", "error", err)
			http.Error(w, "the deny list is unavailable; try again", http.StatusServiceUnavailable)
			return
		}
		p, _ := rsguard.FromContext(r.Context())
		logger.Info("token revoked", "by", p.Subject) // never the jti's token
		w.WriteHeader(http.StatusNoContent)
	})
}

// mcpServer is the MCP server every replica runs: one tool, whoami, which
// names the replica and the caller. mcp-go's default session manager keeps
// no state of its own between requests (it checks only the id's form), so
// a session opened through one replica is served by any other; which
// principal may use it is mcpguard.Sessions' decision, from Redis.
func mcpServer(replica string) http.Handler {
	s := server.NewMCPServer("rsguard-fleet", "0.1.0", server.WithToolCapabilities(false))
	s.AddTool(mcp.NewTool("whoami", mcp.WithDescription("the replica that serves the call, and the caller")),
		func(ctx context.Context, _ mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			p, ok := rsguard.FromContext(ctx)
			if !ok {
				return nil, errors.New("no caller")
			}
			return mcp.NewToolResultText(replica + " " + p.Subject), nil
		})
	return server.NewStreamableHTTPServer(s)
}

// quietRedis drops go-redis's own log lines (failed dials, one per
// attempt).
type quietRedis struct{}

func (quietRedis) Printf(context.Context, string, ...any) {}
