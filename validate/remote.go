package validate

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rsguard/rsguard"
)

// remoteKeys is an issuer's JWK Set fetched over HTTP and cached.
//
// Refresh policy (rotation-safe and DoS-safe at once):
//   - a background refresh every refreshInterval (bound to the context given
//     to New), retried with backoff while failing;
//   - on a token whose kid is unknown, one refresh at most every
//     minRefreshInterval; callers arriving while a refresh is in flight wait
//     for that same refresh (single flight), bounded by fetchTimeout and their
//     own context; callers arriving inside the interval are refused at once;
//   - a failed refresh keeps the keys already cached (stale keys keep
//     verifying while the issuer is down).
type remoteKeys struct {
	issuer             string
	url                string // the JWKS URL; discovered on the first fetch when empty
	client             *http.Client
	logger             *slog.Logger
	now                func() time.Time
	fetchTimeout       time.Duration
	minRefreshInterval time.Duration
	maxBytes           int64

	snap atomic.Pointer[keySnapshot]

	mu       sync.Mutex
	inflight chan struct{} // closed when the running fetch ends; nil when none
	lastErr  error         // outcome of the latest fetch
	fetches  atomic.Int64  // number of HTTP fetches made, for tests and metrics

	// The rate limit, written under mu and readable without it (the
	// common case of a flood of unknown kids): busy while a fetch is in
	// flight, nextAllowed the earliest time (unix ns) a new one may start.
	busy        atomic.Bool
	nextAllowed atomic.Int64
}

// find returns the key a token names, from the cached snapshot; on an
// unknown kid (or before the first load) after one shared, rate-limited
// refresh. Inside the rate-limit interval the answer is known without a lock.
func (r *remoteKeys) find(ctx context.Context, kid []byte, hasKid bool, alg []byte) (*key, *rsguard.Error) {
	snap := r.snap.Load()
	k, found, e := snap.lookup(kid, hasKid, alg)
	if e != nil {
		return nil, e
	}
	if found {
		return k, nil
	}
	if snap != nil && r.rateLimited() {
		return nil, reject(errUnknownKey)
	}
	rctx, cancel := context.WithTimeout(ctx, r.fetchTimeout)
	err := r.refresh(rctx, false)
	cancel()
	snap = r.snap.Load()
	if snap == nil {
		return nil, keysUnavailable(r.fetchTimeout)
	}
	if err != nil && !errors.Is(err, errRateLimited) {
		r.logger.Debug("rsguard: key refresh for an unknown kid failed", "error", err.Error())
	}
	k, found, e = snap.lookup(kid, hasKid, alg)
	if e != nil {
		return nil, e
	}
	if !found {
		return nil, reject(errUnknownKey)
	}
	return k, nil
}

// holds reports whether k is still in the issuer's current key set.
func (r *remoteKeys) holds(_ context.Context, k *key, _ string) bool { return r.snap.Load().holds(k) }

func (r *remoteKeys) rateLimited() bool {
	return !r.busy.Load() && r.now().UnixNano() < r.nextAllowed.Load()
}

// refresh fetches the key set unless one was fetched less than
// minRefreshInterval ago (force ignores that limit); concurrent callers share
// one fetch. It waits for the fetch at most until ctx ends.
func (r *remoteKeys) refresh(ctx context.Context, force bool) error {
	r.mu.Lock()
	ch := r.inflight
	if ch == nil {
		now := r.now()
		if !force && now.UnixNano() < r.nextAllowed.Load() {
			err := r.lastErr
			r.mu.Unlock()
			if err != nil {
				return err
			}
			return errRateLimited
		}
		ch = make(chan struct{})
		r.inflight = ch
		r.busy.Store(true)
		r.nextAllowed.Store(now.Add(r.minRefreshInterval).UnixNano())
		go r.fetch(ch)
	}
	r.mu.Unlock()
	select {
	case <-ch:
		r.mu.Lock()
		err := r.lastErr
		r.mu.Unlock()
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

var errRateLimited = errors.New("refresh rate-limited")

// fetch runs one HTTP fetch detached from any request's context (so a caller
// giving up does not cancel it for the others), bounded by fetchTimeout.
func (r *remoteKeys) fetch(done chan struct{}) {
	ctx, cancel := context.WithTimeout(context.Background(), r.fetchTimeout)
	defer cancel()
	r.fetches.Add(1)
	snap, err := r.get(ctx)
	if err == nil {
		r.snap.Store(snap)
	} else {
		r.logger.Warn("rsguard: JWKS fetch failed; keeping cached keys", "url", r.url, "error", err.Error())
	}
	r.mu.Lock()
	r.lastErr = err
	r.inflight = nil
	r.busy.Store(false)
	r.mu.Unlock()
	close(done)
}

func (r *remoteKeys) get(ctx context.Context) (*keySnapshot, error) {
	if r.url == "" {
		// Only fetch goroutines touch r.url, and they run one at a time
		// (inflight is handed over under r.mu), so no lock is needed.
		u, err := discover(ctx, r.client, r.issuer, r.maxBytes)
		if err != nil {
			return nil, err
		}
		r.url = u
	}
	body, err := fetchJSON(ctx, r.client, r.url, r.maxBytes, "application/jwk-set+json, application/json")
	if err != nil {
		return nil, err
	}
	return parseJWKS(body, r.snap.Load(), r.logger.Warn)
}

// run refreshes the key set in the background until ctx ends: every interval
// after a success, and with backoff (from minRefreshInterval up to interval)
// while failing or while no key set has been loaded yet.
func (r *remoteKeys) run(ctx context.Context, interval time.Duration) {
	backoff := r.minRefreshInterval
	wait := interval
	if r.snap.Load() == nil {
		wait = 0 // lazy start: fetch at once
	}
	for {
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		fctx, cancel := context.WithTimeout(ctx, r.fetchTimeout)
		err := r.refresh(fctx, true)
		cancel()
		if err != nil || r.snap.Load() == nil {
			wait, backoff = backoff, min(2*backoff, interval)
		} else {
			wait, backoff = interval, r.minRefreshInterval
		}
	}
}
