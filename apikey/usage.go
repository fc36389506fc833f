package apikey

import (
	"cmp"
	"encoding/json"
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
// start at zero when the Authenticator is built and are kept in memory only,
// for this process (Source [SourceProcess]): replicas count apart.
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
//	 "clients":[{"client":"billing-cron","keys":1,"accepted":1,"rejected":1,"last_seen":"2026-03-01T13:00:00Z"}],
//	 "since":"2026-03-01T12:00:00Z","source":"process",
//	 "days":[{"day":"2026-03-01T00:00:00Z","api_key":{"accepted":1,"rejected":1},"bearer":2}],
//	 "activity":[{"client":"billing-cron","last_api_key":"2026-03-01T13:00:00Z","policy_refused":0,
//	              "days":[{"day":"2026-03-01T00:00:00Z","api_key":{"accepted":1,"rejected":1},"bearer":0}]}]}
type Snapshot struct {
	// Time is when the snapshot was taken ("time").
	Time time.Time `json:"time"`
	// Since is when these counters started ("since"): the time of the
	// first request counted or of the first snapshot, whichever came
	// first, in UTC.
	Since time.Time `json:"since"`
	// Source names where the counts come from ("source"): [SourceProcess]
	// for an Authenticator's own in-memory counters.
	Source string `json:"source"`
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
	// Days ("days") counts requests per UTC day, over every client, for
	// the last [ActivityDays] days at most, oldest first; days without a
	// request are left out. API key requests are those that matched a
	// record (as in Keys); bearer requests are the accepted ones.
	Days []DayUsage `json:"days,omitempty"`
	// Activity ("activity") is the same per client, sorted by client: API
	// keys counted by [Record.Client], bearer requests by the ClientID of
	// the [rsguard.Principal] that Bearer returned ("" when it had none).
	// Every client that presented a key matching a record is tracked from
	// that request on (there are no more of them than the store's
	// records). Clients that have only used bearer tokens are tracked up to
	// [MaxActivityClients], the first ones seen; the requests of later ones
	// count only in Days and the totals, and ActivityTruncated is set. A
	// client that uses a key after being left out is tracked from its key
	// request on: its earlier bearer requests are not in its Activity.
	Activity []ClientActivity `json:"activity,omitempty"`
	// ActivityTruncated ("activity_truncated", omitted when false) reports
	// that some clients that only used bearer tokens were left out of
	// Activity (see Activity): more than [MaxActivityClients] of them.
	ActivityTruncated bool `json:"activity_truncated,omitempty"`
}

// SourceProcess is the [Snapshot].Source of an [Authenticator]'s counters:
// the requests this process saw since it started, in memory.
const SourceProcess = "process"

// ActivityDays is how many UTC days of per-day counts ([Snapshot].Days and
// Activity) are kept: the current day and the 31 before it. Older days are
// dropped as new ones begin, so memory stays bounded however long the
// process runs.
const ActivityDays = 32

// MaxActivityClients bounds the clients that only used bearer tokens that
// [Snapshot].Activity tracks (about 1 KiB each), so that a flood of new
// OAuth clients (with dynamic client registration, anyone can make one)
// cannot grow memory without limit. Clients that used an API key are
// tracked beside them, whatever their number (one per client of the
// store's records), so that such a flood cannot hide them.
const MaxActivityClients = 4096

// DayUsage counts the requests of one UTC day.
type DayUsage struct {
	// Day is the day's first instant, midnight UTC ("day").
	Day time.Time `json:"day"`
	// APIKey counts API key requests, accepted and refused ("api_key").
	APIKey Counts `json:"api_key"`
	// Bearer counts the bearer requests accepted ("bearer").
	Bearer uint64 `json:"bearer"`
}

// ClientActivity is the request mix of one client over time: API keys
// against OAuth (bearer) access tokens.
type ClientActivity struct {
	// Client is the client ("client"): a key's [Record.Client], or a
	// bearer principal's ClientID.
	Client string `json:"client"`
	// LastAPIKey is the time of the client's last API key request,
	// accepted or refused ("last_api_key", omitted when zero).
	LastAPIKey time.Time `json:"last_api_key"`
	// LastBearer is the time of the client's last accepted bearer request
	// ("last_bearer", omitted when zero).
	LastBearer time.Time `json:"last_bearer"`
	// PolicyRefused counts the client's key requests that the migration
	// [Policy] refused, blocked or retired, since Snapshot.Since
	// ("policy_refused"): clients still trying after their cutoff.
	PolicyRefused uint64 `json:"policy_refused"`
	// Days are the client's counts per UTC day, oldest first, over the
	// last [ActivityDays] days; days without a request are left out
	// ("days").
	Days []DayUsage `json:"days"`
}

// MarshalJSON implements [json.Marshaler]: zero times are left out.
func (c ClientActivity) MarshalJSON() ([]byte, error) {
	days := c.Days
	if days == nil {
		days = []DayUsage{}
	}
	return json.Marshal(struct {
		Client        string     `json:"client"`
		LastAPIKey    *time.Time `json:"last_api_key,omitempty"`
		LastBearer    *time.Time `json:"last_bearer,omitempty"`
		PolicyRefused uint64     `json:"policy_refused"`
		Days          []DayUsage `json:"days"`
	}{c.Client, timePtr(c.LastAPIKey), timePtr(c.LastBearer), c.PolicyRefused, days})
}

// UnmarshalJSON implements [json.Unmarshaler], the inverse of MarshalJSON.
func (c *ClientActivity) UnmarshalJSON(b []byte) error {
	var j struct {
		Client        string     `json:"client"`
		LastAPIKey    *time.Time `json:"last_api_key"`
		LastBearer    *time.Time `json:"last_bearer"`
		PolicyRefused uint64     `json:"policy_refused"`
		Days          []DayUsage `json:"days"`
	}
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*c = ClientActivity{Client: j.Client, LastAPIKey: timeVal(j.LastAPIKey), LastBearer: timeVal(j.LastBearer),
		PolicyRefused: j.PolicyRefused, Days: j.Days}
	return nil
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

	since     atomic.Int64 // unix nanoseconds of the first event; 0 before
	all       activity     // per day, every client
	clients   sync.Map     // client -> *activity: every client with key use, at most MaxActivityClients others
	oauthOnly atomic.Int64 // entries in clients without key use
	truncated atomic.Bool  // a client without key use was not tracked
}

// activity is the per-day counters of one client (or of all): a ring of
// ActivityDays slots indexed by day number. Counting is atomic; only the
// first request of a new day in a slot takes the mutex, to reset the slot.
type activity struct {
	mu            sync.Mutex // held to move a slot to a new day
	days          [ActivityDays]dayCounter
	lastKey       atomic.Int64 // unix nanoseconds; 0 = never
	lastBearer    atomic.Int64
	policyRefused atomic.Uint64
	keyed         atomic.Bool // the client presented a key; not counted in usage.oauthOnly
}

type dayCounter struct {
	day                              atomic.Int64 // days since 1970-01-01 UTC, plus one; 0 = unused
	keyAccepted, keyRejected, bearer atomic.Uint64
}

const nanosPerDay = int64(24 * time.Hour)

// dayOf returns the UTC day number of the unix-nanosecond time n.
func dayOf(n int64) int64 {
	d := n / nanosPerDay
	if n%nanosPerDay < 0 {
		d-- // before 1970: floor, not truncation
	}
	return d
}

// slot returns the counters of day d, moving the day's ring slot to d when
// it held an older day, or nil when the slot holds a later day (d is older
// than the ring keeps).
func (a *activity) slot(d int64) *dayCounter {
	i := d % ActivityDays
	if i < 0 {
		i += ActivityDays
	}
	s := &a.days[i]
	if s.day.Load() == d+1 {
		return s
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	switch cur := s.day.Load(); {
	case cur == d+1:
	case cur > d+1:
		return nil
	default:
		s.keyAccepted.Store(0)
		s.keyRejected.Store(0)
		s.bearer.Store(0)
		s.day.Store(d + 1)
	}
	return s
}

// countKey counts a key request at n (unix nanoseconds).
func (a *activity) countKey(n int64, ok, byPolicy bool) {
	storeMax(&a.lastKey, n)
	if byPolicy {
		a.policyRefused.Add(1)
	}
	if s := a.slot(dayOf(n)); s != nil {
		if ok {
			s.keyAccepted.Add(1)
		} else {
			s.keyRejected.Add(1)
		}
	}
}

// countBearer counts an accepted bearer request at n.
func (a *activity) countBearer(n int64) {
	storeMax(&a.lastBearer, n)
	if s := a.slot(dayOf(n)); s != nil {
		s.bearer.Add(1)
	}
}

// daysSince returns the non-empty days from day first on, oldest first.
func (a *activity) daysSince(first int64) []DayUsage {
	var out []DayUsage
	for i := range a.days {
		s := &a.days[i]
		d := s.day.Load() - 1
		if d < first {
			continue
		}
		du := DayUsage{
			Day:    time.Unix(0, d*nanosPerDay).UTC(),
			APIKey: Counts{Accepted: s.keyAccepted.Load(), Rejected: s.keyRejected.Load()},
			Bearer: s.bearer.Load(),
		}
		if du.APIKey.Accepted != 0 || du.APIKey.Rejected != 0 || du.Bearer != 0 {
			out = append(out, du)
		}
	}
	slices.SortFunc(out, func(a, b DayUsage) int { return a.Day.Compare(b.Day) })
	return out
}

// storeMax raises v to n.
func storeMax(v *atomic.Int64, n int64) {
	for {
		cur := v.Load()
		if cur >= n || v.CompareAndSwap(cur, n) {
			return
		}
	}
}

// client returns the activity of client c; key says the request presented
// a key that matched a record. A client with key use is always tracked (and
// no longer counts among the bearer-only ones); another one is not, and nil
// is returned, once MaxActivityClients bearer-only clients are tracked.
func (u *usage) client(c string, key bool) *activity {
	v, ok := u.clients.Load(c)
	if !ok {
		if !key && !u.reserve() {
			u.truncated.Store(true)
			return nil
		}
		a := new(activity)
		a.keyed.Store(key)
		var loaded bool
		if v, loaded = u.clients.LoadOrStore(c, a); loaded && !key {
			u.oauthOnly.Add(-1) // another request stored it first
		}
	}
	a := v.(*activity)
	if key && !a.keyed.Load() && a.keyed.CompareAndSwap(false, true) {
		u.oauthOnly.Add(-1) // it was counted when stored as bearer-only
	}
	return a
}

// reserve takes one of the MaxActivityClients places of bearer-only
// clients, and reports whether there was one.
func (u *usage) reserve() bool {
	for {
		n := u.oauthOnly.Load()
		if n >= MaxActivityClients {
			return false
		}
		if u.oauthOnly.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// start records n as the start of counting, if none was.
func (u *usage) start(n int64) {
	if u.since.Load() == 0 {
		u.since.CompareAndSwap(0, n)
	}
}

// recordBearer counts one accepted bearer request of client at now.
func (u *usage) recordBearer(client string, now time.Time) {
	n := now.UnixNano()
	u.start(n)
	u.all.countBearer(n)
	if a := u.client(client, false); a != nil {
		a.countBearer(n)
	}
}

type keyCounter struct {
	client             string
	accepted, rejected atomic.Uint64
	first, last        atomic.Int64 // unix nanoseconds
	state              atomic.Pointer[State]
}

// recordKey counts one use of a key that matched a record. A refused key
// with a state was refused by the policy (blocked or retired): the record's
// own refusals (revoked, expired) come before the policy is evaluated.
func (u *usage) recordKey(rec *Record, st State, now time.Time, ok bool) {
	n := now.UnixNano()
	u.start(n)
	byPolicy := !ok && st != ""
	u.all.countKey(n, ok, byPolicy)
	u.client(rec.Client(), true).countKey(n, ok, byPolicy)
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
	storeMax(&kc.last, n)
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
	u.start(now.UnixNano())
	seen, acc := u.bearerSeen.Load(), u.bearerAccepted.Load()
	s := Snapshot{
		Time:      now,
		Since:     time.Unix(0, u.since.Load()).UTC(),
		Source:    SourceProcess,
		Bearer:    Counts{Accepted: acc, Rejected: seen - min(acc, seen)},
		APIKey:    Counts{Accepted: u.keyAccepted.Load(), Rejected: u.keyReject.Load()},
		Anonymous: u.anonymous.Load(),
	}
	s.ActivityTruncated = u.truncated.Load()
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

	first := dayOf(now.UnixNano()) - ActivityDays + 1
	s.Days = u.all.daysSince(first)
	u.clients.Range(func(k, v any) bool {
		a := v.(*activity)
		ca := ClientActivity{Client: k.(string), PolicyRefused: a.policyRefused.Load(), Days: a.daysSince(first)}
		if n := a.lastKey.Load(); n != 0 {
			ca.LastAPIKey = time.Unix(0, n).UTC()
		}
		if n := a.lastBearer.Load(); n != 0 {
			ca.LastBearer = time.Unix(0, n).UTC()
		}
		s.Activity = append(s.Activity, ca)
		return true
	})
	slices.SortFunc(s.Activity, func(a, b ClientActivity) int { return cmp.Compare(a.Client, b.Client) })
	return s
}
