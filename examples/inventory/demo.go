package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rsguard/rsguard/apikey"
	"github.com/rsguard/rsguard/examples/inventory/api"
)

// The demonstration's clients. legacyClient (legacy-pos) only has a key;
// warehouse-sync is moving to OAuth; order-service has moved; nightly-report
// is blocked and still tries; ops-console reads the migration report.
const (
	warehouseClient = "warehouse-sync"
	warehouseSecret = "warehouse-secret"
	blockedClient   = "nightly-report"
	opsClientID     = "ops-console"
	opsClientSecret = "ops-secret"
)

// historyDays is how many days of traffic the demonstration replays, today
// included, so that the migration report has a history to show.
const historyDays = 21

// demoClock is the clock of the API's keys, usage counters and report: base,
// except while the demonstration replays past days, when it is set to the
// time of each replayed request.
type demoClock struct {
	base func() time.Time
	at   atomic.Int64 // unix nanoseconds while replaying; 0 otherwise
}

func (c *demoClock) Now() time.Time {
	if n := c.at.Load(); n != 0 {
		return time.Unix(0, n).UTC()
	}
	return c.base()
}

// mutable is a slog.Handler that drops every record while muted: the
// replayed traffic would log a line per request.
type mutable struct {
	slog.Handler
	muted *atomic.Bool
}

func (h mutable) Enabled(ctx context.Context, l slog.Level) bool {
	return !h.muted.Load() && h.Handler.Enabled(ctx, l)
}

func (h mutable) WithAttrs(a []slog.Attr) slog.Handler {
	return mutable{h.Handler.WithAttrs(a), h.muted}
}

func (h mutable) WithGroup(n string) slog.Handler { return mutable{h.Handler.WithGroup(n), h.muted} }

// demoKeys issues a key to each legacy client into store and returns them by
// client, with the migration policy of the demonstration: legacy-pos and
// warehouse-sync deprecated, legacy-pos with a cutoff of its own in 30 days,
// nightly-report blocked, and a global cutoff in 45 days.
func demoKeys(store *apikey.MemoryStore, now time.Time, docs string) (map[string]string, apikey.Policy, error) {
	keys := map[string]string{}
	for _, client := range []string{legacyClient, warehouseClient, orderServiceID, blockedClient} {
		key, rec, err := apikey.Generate(api.KeyPrefix, apikey.Record{
			ClientID: client, Scopes: []string{api.ScopeRead, api.ScopeWrite}, Created: now.AddDate(0, -6, 0),
		})
		if err == nil {
			err = store.Put(rec)
		}
		if err != nil {
			return nil, apikey.Policy{}, err
		}
		keys[client] = key
	}
	day := 24 * time.Hour
	policy := apikey.Policy{
		Link:       docs,
		Deprecated: now.Add(-historyDays * day).Truncate(day),
		Cutoff:     now.Add(45 * day).Truncate(day),
		Clients: map[string]apikey.ClientPolicy{
			legacyClient:    {State: apikey.StateDeprecated, Cutoff: now.Add(30 * day).Truncate(day)},
			warehouseClient: {State: apikey.StateDeprecated},
			blockedClient:   {State: apikey.StateBlocked},
		},
	}
	return keys, policy, nil
}

// demoTraffic is one day of the demonstration's requests, day 0 being
// historyDays-1 days ago and the last today: per client, with its key and
// with an OAuth token.
func demoTraffic(day int) map[string][2]int {
	return map[string][2]int{
		legacyClient:    {40 - day/2, 0},
		warehouseClient: {max(2, 30-3*day/2), 3 * day / 2},
		orderServiceID:  {max(0, 20-3*day), min(25, 3*day)},
		blockedClient:   {3, 0},
	}
}

// replayHistory sends historyDays of demonstration traffic to routes, in
// process, with the clock set to each request's time in turn: between 08:00
// and 18:00 UTC of each day, today's only up to now. tokens holds an
// access token per OAuth client.
func replayHistory(routes http.Handler, clock *demoClock, resource string, keys, tokens map[string]string) error {
	defer clock.at.Store(0)
	now := clock.base().UTC()
	today := now.Truncate(24 * time.Hour)
	for d := range historyDays {
		start := today.AddDate(0, 0, d-historyDays+1).Add(8 * time.Hour)
		for client, n := range demoTraffic(d) {
			for kind, count := range n {
				for i := range count {
					at := start.Add(time.Duration(i) * 10 * time.Hour / time.Duration(count))
					if at.After(now) {
						break
					}
					clock.at.Store(at.UnixNano())
					req := httptest.NewRequest(http.MethodGet, resource+"/items", nil)
					if kind == 0 {
						req.Header.Set("X-API-Key", keys[client])
					} else {
						req.Header.Set("Authorization", "Bearer "+tokens[client])
					}
					rec := httptest.NewRecorder()
					routes.ServeHTTP(rec, req)
					if want := map[bool]int{true: http.StatusUnauthorized, false: http.StatusOK}[client == blockedClient]; rec.Code != want {
						return fmt.Errorf("demo traffic of %s: status %d", client, rec.Code)
					}
				}
			}
		}
	}
	return nil
}

// clientToken gets an access token for the API from the token endpoint,
// with the client credentials grant.
func clientToken(ctx context.Context, tokenURL, id, secret, resource string, scopes ...string) (string, error) {
	form := url.Values{"grant_type": {"client_credentials"}, "resource": {resource}, "scope": {strings.Join(scopes, " ")}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.SetBasicAuth(id, secret)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || resp.StatusCode != http.StatusOK || tok.AccessToken == "" {
		return "", fmt.Errorf("token for %s: status %d", id, resp.StatusCode)
	}
	return tok.AccessToken, nil
}
