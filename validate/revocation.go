package validate

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rsguard/rsguard/audit"
)

// Revocations is a store of revoked access tokens, asked by a [Validator]
// about every token it has verified (see [Config.Revocations]). [DenyList] is
// a ready in-memory one; implement Revocations over a shared store (Redis,
// SQL) when several replicas must see the same revocations.
//
// Revoked reports whether the token with verified claims c is revoked. It
// runs on every request, cache hits included, so keep it fast: one indexed
// lookup, bounded by a timeout of its own (ctx is the request's). An error
// means the store could not answer: the Validator then refuses the request
// with 503 (reason [audit.ReasonRevocationUnavailable]) unless
// [Config.RevocationFailOpen] is set. Implementations must be safe for
// concurrent use, must treat c as read-only, and should scope every entry by
// c.Issuer: a subject, client or token id of issuer A says nothing about
// issuer B's.
//
// # Consistency across replicas
//
// A [DenyList] lives in one process: a revocation made on one replica is
// unknown to the others. With several replicas choose one of:
//
//   - A shared store implementing Revocations, asked on every request: a
//     revocation applies everywhere at once, at the price of a round trip
//     per request and a new way to fail (see RevocationFailOpen; failing
//     closed makes the store's availability the resource's).
//   - A DenyList per replica, each fed the same revocations (a message bus,
//     or a poll of a table of revocations newer than the last seen):
//     no per-request round trip, no outage mode, but a revocation takes
//     effect on a replica only when it arrives there, and a replica that
//     starts must first load the revocations still in force.
//
// Either way a revocation only needs to live as long as the tokens it can
// match: until their expiry (plus the leeway) for a token id, until T plus
// the longest token lifetime for "everything issued before T".
type Revocations interface {
	Revoked(ctx context.Context, c *Claims) (bool, error)
}

// defaultMaxTokenLifetime is [DenyListConfig.MaxTokenLifetime] when zero.
const defaultMaxTokenLifetime = 24 * time.Hour

// DenyListConfig configures a [DenyList].
type DenyListConfig struct {
	// MaxTokenLifetime is the longest lifetime ("exp" minus "iat") of the
	// access tokens your issuers issue. A revocation of a client, subject or
	// session ("every token issued before T") can match no token after
	// T + MaxTokenLifetime (+ 5 min), and is dropped then. If zero,
	// 24 h. Set it from your authorization
	// server's token lifetime: a token that lives longer may be accepted
	// again once the entry that revoked it is gone. Negative is refused.
	MaxTokenLifetime time.Duration

	// Now returns the current time, for entry expiry. If nil, time.Now.
	Now func() time.Time
}

// DenyList is an in-memory [Revocations]: revoked token ids ("jti"), and
// clients ("client_id"), subjects ("sub") and sessions ("sid") whose tokens
// issued before a given time are revoked, each scoped to one issuer. Use it
// as [Config.Revocations]; several Validators (behind several Guards
// in one process) can share one. It is safe for concurrent use; build it with
// [NewDenyList].
//
// Every entry expires when the longest-lived token it can match would have:
// an entry for a token id at that token's expiry, one for "tokens issued
// before T" at T + MaxTokenLifetime, both plus 5 minutes, the largest leeway
// a Validator may have: no Validator accepts such a token later than that.
// The list needs no background goroutine and no purge call: each Revoke
// call first drops the entries that have expired, earliest first, from a
// min-heap holding one expiry item per Revoke call that stored or extended
// an entry. Each item is pushed once and popped once, so dropping costs
// amortised O(log n) per Revoke call (n the items held), and the list holds
// only the entries in force and their items, plus, until the next Revoke
// call, those that expired since the last one (an expired entry still held
// matches only tokens no Validator accepts any more).
//
// A lookup takes a read lock, one map read for the issuer and one per claim
// whose kind has entries, and allocates nothing; when the list is empty it
// takes no lock at all.
//
// A DenyList lives in one process: see [Revocations] for several replicas.
type DenyList struct {
	maxLifetime time.Duration
	now         func() time.Time

	n       atomic.Int64 // number of entries, read without the lock
	mu      sync.RWMutex
	issuers map[string]*issuerEntries
	expiry  expiryHeap
}

// issuerEntries are the entries of one issuer, by kind and value.
type issuerEntries [denyKinds]map[string]denyEntry

// denyKind is what a DenyList entry matches.
type denyKind uint8

const (
	denyToken denyKind = iota
	denyClient
	denySubject
	denySession
	denyKinds
)

type denyKey struct {
	kind   denyKind
	issuer string
	value  string
}

type denyEntry struct {
	before time.Time // tokens issued before it are revoked; zero for denyToken
	until  time.Time // when the entry is dropped
}

// NewDenyList checks cfg and returns an empty DenyList. Errors wrap
// [rsguard.ErrInvalidConfig].
func NewDenyList(cfg DenyListConfig) (*DenyList, error) {
	if cfg.MaxTokenLifetime < 0 {
		return nil, configErr("DenyListConfig.MaxTokenLifetime must not be negative")
	}
	d := &DenyList{
		maxLifetime: orDefault(cfg.MaxTokenLifetime, defaultMaxTokenLifetime),
		now:         cfg.Now,
		issuers:     make(map[string]*issuerEntries),
	}
	if d.now == nil {
		d.now = time.Now
	}
	return d, nil
}

// errEmpty is returned by the Revoke methods for an empty issuer or value.
var errEmpty = errors.New("validate: DenyList: issuer and value must not be empty")

// RevokeToken revokes the token of issuer whose "jti" is jti (RFC 7519
// §4.1.7). exp is the token's expiry, after which the entry is dropped; if
// zero (unknown), the entry is kept for MaxTokenLifetime. Tokens without a
// "jti" cannot be revoked this way: revoke their session, subject or client.
func (d *DenyList) RevokeToken(issuer, jti string, exp time.Time) error {
	now := d.now()
	if exp.IsZero() {
		exp = now.Add(d.maxLifetime)
	}
	return d.add(denyKey{denyToken, issuer, jti}, denyEntry{until: exp.Add(maxLeeway)}, now)
}

// RevokeClient revokes every token of issuer for the OAuth client clientID
// (the "client_id" claim, or "azp": [Claims.ClientID]) issued before the
// time before (its "iat"); a token without "iat" is revoked whenever its
// client is. Tokens issued at or after before are accepted: typically pass
// the time of the revocation, so that tokens the authorization server issues
// afterwards work. "iat" has whole seconds, so a token issued in the same
// second as before may be revoked too.
func (d *DenyList) RevokeClient(issuer, clientID string, before time.Time) error {
	return d.revokeBefore(denyClient, issuer, clientID, before)
}

// RevokeSubject revokes every token of issuer for the subject sub (the "sub"
// claim) issued before the time before, as [DenyList.RevokeClient] does for
// a client: for example when a user's account is locked, or a user logs out
// everywhere.
func (d *DenyList) RevokeSubject(issuer, sub string, before time.Time) error {
	return d.revokeBefore(denySubject, issuer, sub, before)
}

// RevokeSession revokes every token of issuer for the authentication
// session sid (the "sid" claim, OpenID Connect Front-/Back-Channel Logout)
// issued before the time before, as [DenyList.RevokeClient] does for a
// client: for example on a back-channel logout.
func (d *DenyList) RevokeSession(issuer, sid string, before time.Time) error {
	return d.revokeBefore(denySession, issuer, sid, before)
}

func (d *DenyList) revokeBefore(kind denyKind, issuer, value string, before time.Time) error {
	if before.IsZero() {
		return fmt.Errorf("validate: DenyList: the time before which tokens are revoked is required")
	}
	return d.add(denyKey{kind, issuer, value}, denyEntry{before: before, until: before.Add(d.maxLifetime + maxLeeway)}, d.now())
}

// add records e under k, merged with an entry already there (the later
// cut-off and expiry win), and drops expired entries.
func (d *DenyList) add(k denyKey, e denyEntry, now time.Time) error {
	if k.issuer == "" || k.value == "" {
		return errEmpty
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.purge(now)
	if !now.Before(e.until) {
		return nil // matches no token that any Validator would still accept
	}
	ie := d.issuers[k.issuer]
	if ie == nil {
		ie = new(issuerEntries)
		d.issuers[k.issuer] = ie
	}
	m := ie[k.kind]
	if m == nil {
		m = make(map[string]denyEntry)
		ie[k.kind] = m
	}
	old, ok := m[k.value]
	if ok {
		if old.before.After(e.before) {
			e.before = old.before
		}
		if old.until.After(e.until) {
			e.until = old.until
		}
		if e == old {
			return nil
		}
	} else {
		d.n.Add(1)
	}
	m[k.value] = e
	heap.Push(&d.expiry, expiryItem{until: e.until, key: k})
	return nil
}

// Revoked implements [Revocations]: it reports whether a revocation matches
// c's "jti", or its "client_id", "sub" or "sid" with c issued before the
// revocation's time. It never fails.
func (d *DenyList) Revoked(_ context.Context, c *Claims) (bool, error) {
	if d.n.Load() == 0 {
		return false, nil
	}
	d.mu.RLock()
	defer d.mu.RUnlock()
	ie := d.issuers[c.Issuer]
	if ie == nil {
		return false, nil
	}
	return ie.match(denyToken, c.ID, c) || ie.match(denyClient, c.ClientID, c) ||
		ie.match(denySubject, c.Subject, c) || ie.match(denySession, c.SessionID, c), nil
}

func (ie *issuerEntries) match(kind denyKind, value string, c *Claims) bool {
	m := ie[kind]
	if len(m) == 0 || value == "" {
		return false
	}
	e, ok := m[value]
	// An entry still held matches, even past its expiry: dropping it is the
	// purge's job, so a lookup needs no clock.
	return ok && (kind == denyToken || c.IssuedAt.IsZero() || c.IssuedAt.Before(e.before))
}

// purge drops expired entries, earliest first; d.mu must be held.
func (d *DenyList) purge(now time.Time) int {
	dropped := 0
	for len(d.expiry) > 0 && !now.Before(d.expiry[0].until) {
		it := heap.Pop(&d.expiry).(expiryItem)
		ie := d.issuers[it.key.issuer]
		if e, ok := ie[it.key.kind][it.key.value]; ok && e.until.Equal(it.until) {
			delete(ie[it.key.kind], it.key.value) // not extended since this item was pushed
			dropped++
		}
	}
	d.n.Add(-int64(dropped))
	return dropped
}

// expiryItem is when an entry of a DenyList expires; an entry extended later
// has a newer item, and the old one is skipped.
type expiryItem struct {
	until time.Time
	key   denyKey
}

// expiryHeap is a min-heap of expiry items (container/heap).
type expiryHeap []expiryItem

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].until.Before(h[j].until) }
func (h expiryHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *expiryHeap) Push(x any)        { *h = append(*h, x.(expiryItem)) }
func (h *expiryHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	old[len(old)-1] = expiryItem{}
	*h = old[:len(old)-1]
	return it
}

// afterVerify returns the hook Verify runs on every verified token, cache
// hits included: the revocation store, then Config.Check. Without a store it
// is Check itself. Its errors are made refusals by applicationChecks.
func (v *Validator) afterVerify(rev Revocations, failOpen bool, check func(context.Context, *Claims) error) func(context.Context, *Claims) error {
	if rev == nil {
		return check
	}
	// One line a minute while the store fails, not one per request.
	var failures failureLog
	logFailure := func(ctx context.Context, msg string, err error) {
		failures.log(ctx, v.logger, slog.LevelError, time.Now(), msg, err)
	}
	return func(ctx context.Context, c *Claims) error {
		revoked, err := rev.Revoked(ctx, c)
		switch {
		case err != nil && failOpen:
			logFailure(ctx, "rsguard: revocation store failed; token accepted (RevocationFailOpen)", err)
		case err != nil:
			logFailure(ctx, "rsguard: revocation store failed; request refused", err)
			e := reject(errRevocationUnavailable)
			e.Err = fmt.Errorf("%w: %w", audit.ReasonRevocationUnavailable, err)
			return e
		case revoked:
			return reject(errRevoked)
		}
		if check == nil {
			return nil
		}
		return check(ctx, c)
	}
}
