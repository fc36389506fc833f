package apikey

import (
	"cmp"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Use describes one request that presented an API key: what the
// [Config].OnUse hook receives, and what [FromContext] returns for an
// accepted key. It never holds the key or its hash.
type Use struct {
	// Time is when the key was checked ([Config].Now).
	Time time.Time
	// ID is the key's id; empty when the key could not be parsed.
	ID string
	// Owner, ClientID and Tenant come from the key's record; empty when no
	// record was found.
	Owner, ClientID, Tenant string
	// Header is where the key was found: [Config].Header as configured, or
	// "Authorization" for a key sent as a Bearer token.
	Header string
	// Status is the key's effective migration policy (see
	// [Policy.Evaluate]); zero when no record was found, or the key was
	// refused before the policy was applied (revoked, expired).
	Status ClientPolicy
	// Err is nil when the key was accepted, else its refusal, an
	// [*rsguard.Error]: match its class with errors.Is(u.Err,
	// audit.ReasonX) (see the package documentation for the list).
	Err error
}

// Snapshot is a point-in-time copy of an [Authenticator]'s usage counters:
// who still uses API keys, and how much, next to OAuth traffic. Counters
// start at zero when the Authenticator is built and are kept in memory only.
//
// Its JSON form, for a usage report endpoint or a log, has the snake_case
// members named in the field docs; times are RFC 3339 strings, counts are
// always present, and "keys" and "clients" are omitted when empty. It names
// keys by id only, never a key or a hash:
//
//	{"time":"2026-03-01T14:00:00Z","bearer":{"accepted":2,"rejected":1},
//	 "api_key":{"accepted":1,"rejected":1},"anonymous":4,
//	 "keys":[{"id":"3kTMd9QvB2xA","client":"billing-cron","accepted":1,"rejected":1,
//	          "first_seen":"2026-03-01T12:00:00Z","last_seen":"2026-03-01T13:00:00Z","state":"deprecated"}],
//	 "clients":[{"client":"billing-cron","keys":1,"accepted":1,"rejected":1,"last_seen":"2026-03-01T13:00:00Z"}]}
type Snapshot struct {
	// Time is when the snapshot was taken ("time").
	Time time.Time `json:"time"`
	// Bearer ("bearer") counts requests without an API key that
	// [Config].Bearer authenticated or refused (bearer JWTs, usually);
	// without a Bearer, the bearer tokens refused (audit.ReasonBearerNotAccepted). Requests
	// without any credential are counted in Anonymous; a malformed request
	// without a key (refused by rsguard.BearerToken) is not counted.
	Bearer Counts `json:"bearer"`
	// APIKey counts requests that carried an API key ("api_key").
	APIKey Counts `json:"api_key"`
	// Anonymous counts requests that carried no credential ("anonymous").
	Anonymous uint64 `json:"anonymous"`
	// Keys has one entry per key id that matched a record, sorted by id
	// ("keys").
	// Keys that matched no record (unknown, malformed) are only counted in
	// APIKey.Rejected, so a flood of invented keys cannot grow the report.
	Keys []KeyUsage `json:"keys,omitempty"`
	// Clients aggregates Keys by [Record.Client], sorted by client
	// ("clients").
	Clients []ClientUsage `json:"clients,omitempty"`
}

// Counts are accepted and rejected request totals ("accepted",
// "rejected"; in JSON, members of the object that embeds them).
type Counts struct {
	Accepted uint64 `json:"accepted"`
	Rejected uint64 `json:"rejected"`
}

// KeyUsage is the usage of one key.
type KeyUsage struct {
	// ID is the key id ("id").
	ID string `json:"id"`
	// Client is the key's [Record.Client] when first seen ("client").
	Client string `json:"client"`
	Counts
	// FirstSeen is the time of the first request with this key since the
	// Authenticator started, in UTC ("first_seen").
	FirstSeen time.Time `json:"first_seen"`
	// LastSeen is the time of the last request with this key, in UTC
	// ("last_seen").
	LastSeen time.Time `json:"last_seen"`
	// State is the key's migration state at its last use ("state",
	// omitted when empty).
	State State `json:"state,omitempty"`
}

// ClientUsage is the usage of all keys of one client.
type ClientUsage struct {
	// Client is the [Record.Client] of the keys ("client").
	Client string `json:"client"`
	// Keys is the number of distinct keys seen ("keys").
	Keys int `json:"keys"`
	Counts
	// LastSeen is the latest LastSeen of the client's keys ("last_seen").
	LastSeen time.Time `json:"last_seen"`
}

// usage holds the live counters. All fields are updated atomically, so any
// number of requests record concurrently without a lock; only the first use
// of a key id takes sync.Map's internal lock.
type usage struct {
	bearerSeen, bearerAccepted atomic.Uint64
	keyAccepted, keyReject     atomic.Uint64
	anonymous                  atomic.Uint64
	keys                       sync.Map // key id -> *keyCounter
}

type keyCounter struct {
	client             string
	accepted, rejected atomic.Uint64
	first, last        atomic.Int64 // unix nanoseconds
	state              atomic.Pointer[State]
}

// recordKey counts one use of a key that matched a record.
func (u *usage) recordKey(rec *Record, st State, now time.Time, ok bool) {
	v, found := u.keys.Load(rec.ID)
	if !found {
		kc := &keyCounter{client: rec.Client()}
		kc.first.Store(now.UnixNano())
		v, _ = u.keys.LoadOrStore(rec.ID, kc)
	}
	kc := v.(*keyCounter)
	if ok {
		kc.accepted.Add(1)
	} else {
		kc.rejected.Add(1)
	}
	n := now.UnixNano()
	for {
		last := kc.last.Load()
		if last >= n || kc.last.CompareAndSwap(last, n) {
			break
		}
	}
	for {
		first := kc.first.Load()
		if first <= n || kc.first.CompareAndSwap(first, n) {
			break
		}
	}
	if cur := kc.state.Load(); cur == nil || *cur != st {
		kc.state.Store(&st)
	}
}

func (u *usage) snapshot(now time.Time) Snapshot {
	seen, acc := u.bearerSeen.Load(), u.bearerAccepted.Load()
	s := Snapshot{
		Time:      now,
		Bearer:    Counts{Accepted: acc, Rejected: seen - min(acc, seen)},
		APIKey:    Counts{Accepted: u.keyAccepted.Load(), Rejected: u.keyReject.Load()},
		Anonymous: u.anonymous.Load(),
	}
	clients := map[string]*ClientUsage{}
	u.keys.Range(func(k, v any) bool {
		kc := v.(*keyCounter)
		ku := KeyUsage{
			ID:        k.(string),
			Client:    kc.client,
			Counts:    Counts{Accepted: kc.accepted.Load(), Rejected: kc.rejected.Load()},
			FirstSeen: time.Unix(0, kc.first.Load()).UTC(),
			LastSeen:  time.Unix(0, kc.last.Load()).UTC(),
		}
		if st := kc.state.Load(); st != nil {
			ku.State = *st
		}
		s.Keys = append(s.Keys, ku)
		c := clients[ku.Client]
		if c == nil {
			c = &ClientUsage{Client: ku.Client}
			clients[ku.Client] = c
		}
		c.Keys++
		c.Accepted += ku.Accepted
		c.Rejected += ku.Rejected
		if ku.LastSeen.After(c.LastSeen) {
			c.LastSeen = ku.LastSeen
		}
		return true
	})
	slices.SortFunc(s.Keys, func(a, b KeyUsage) int { return cmp.Compare(a.ID, b.ID) })
	for _, c := range clients {
		s.Clients = append(s.Clients, *c)
	}
	slices.SortFunc(s.Clients, func(a, b ClientUsage) int { return cmp.Compare(a.Client, b.Client) })
	return s
}
