package apikey

import (
	"cmp"
	"encoding/json"
	"slices"
	"time"
)

// Report is the migration report: per client, the mix of API key and OAuth
// (bearer) requests per day, the keys in use (by id), the client's state and
// cutoff, and what the cutoff breaks; and totals over every client. The
// [ReportHandler] serves it; [NewReport] builds it from a [Snapshot] and a
// [Policy].
//
// Its JSON form (?format=json) has the snake_case members named in the field
// docs; times are RFC 3339 strings, and times that are zero are left out.
type Report struct {
	// Time is the report's time: "now" for today and the countdowns
	// ("time").
	Time time.Time
	// Source and Since are the Snapshot's: where the counts come from and
	// since when ("source", "since").
	Source string
	Since  time.Time
	// Cutoff is the global cutoff, Policy.Cutoff ("cutoff"); zero if none.
	Cutoff time.Time
	// Default is the state of clients the policy does not name
	// ("default_state"), never empty.
	Default State
	// Link is the policy's migration documentation ("link", omitted when
	// empty).
	Link string
	// Days are every UTC day of the report's window, oldest first, today
	// last, summed over every client (Snapshot.Days), days without
	// requests included ("days").
	Days []DayUsage
	// Totals sum the window ("totals").
	Totals ReportTotals
	// Clients has one entry per client that the usage or the policy names,
	// sorted by client ("clients"). Every client that used an API key is
	// here; clients that only used bearer tokens may not all be (see
	// ActivityTruncated).
	Clients []ReportClient
	// ActivityTruncated is the Snapshot's ("activity_truncated"): more
	// clients used only bearer tokens than the source tracks
	// ([MaxActivityClients]), and those left out are not in Clients (nor
	// counted in Totals.Clients and ClientsOnOAuth), only in Days and the
	// request totals. Clients that used a key are never left out.
	ActivityTruncated bool
}

// ReportTotals are the report's totals over its window.
type ReportTotals struct {
	// APIKey counts the API key requests of the window ("api_key").
	APIKey Counts `json:"api_key"`
	// Bearer counts the accepted bearer requests of the window ("bearer").
	Bearer uint64 `json:"bearer"`
	// APIKeyShare is the share of accepted requests made with an API key
	// over the window, from 0 to 1 ("api_key_share"); 0 without requests.
	APIKeyShare float64 `json:"api_key_share"`
	// APIKeyShareLast7Days and APIKeySharePrevious7Days are the same share
	// over the last 7 days, today included, and the 7 days before: the
	// trend ("api_key_share_last_7_days", "api_key_share_previous_7_days").
	APIKeyShareLast7Days     float64 `json:"api_key_share_last_7_days"`
	APIKeySharePrevious7Days float64 `json:"api_key_share_previous_7_days"`
	// Clients counts the report's clients ("clients"); the next three,
	// those of each status ("clients_on_oauth", "clients_on_keys",
	// "clients_breaking_at_cutoff"; clients_on_keys includes those that
	// break at the cutoff).
	Clients                 int `json:"clients"`
	ClientsOnOAuth          int `json:"clients_on_oauth"`
	ClientsOnKeys           int `json:"clients_on_keys"`
	ClientsBreakingAtCutoff int `json:"clients_breaking_at_cutoff"`
}

// ClientStatus is where a client stands in the migration, in a [Report].
type ClientStatus string

// recentDays is how many days, today included, a client's status looks
// back on: a client that used a key last week still uses keys.
const recentDays = 7

// The statuses of a client, from its requests of the last 7 days (today
// included; the whole window when it is shorter) and the policy.
const (
	// StatusBreaksAtCutoff: the client made accepted API key requests in
	// the last 7 days, and a cutoff is set that has not passed: it breaks
	// then unless it moves.
	StatusBreaksAtCutoff ClientStatus = "breaks_at_cutoff"
	// StatusOnKeys: accepted API key requests in the last 7 days, no
	// cutoff.
	StatusOnKeys ClientStatus = "on_keys"
	// StatusCutOff: the client's keys are refused now, blocked or past
	// their cutoff (see ReportClient.PolicyRefused for its attempts).
	StatusCutOff ClientStatus = "cut_off"
	// StatusOnOAuth: accepted bearer requests and no accepted API key
	// request in the last 7 days: the client has moved.
	StatusOnOAuth ClientStatus = "on_oauth"
	// StatusIdle: no accepted request in the last 7 days.
	StatusIdle ClientStatus = "idle"
)

// ReportClient is one client of a [Report].
type ReportClient struct {
	// Client is the client: a key's [Record.Client], or a bearer
	// principal's ClientID ("client"; "" for bearer tokens without one).
	Client string
	// State is the client's state under the policy ([Policy.Evaluate] of a
	// key of this client without a state of its own) ("state"); a key's own
	// state is in Keys.
	State State
	// Cutoff is the client's effective cutoff, its own or the global one
	// ("cutoff"); zero if none.
	Cutoff time.Time
	// Status is where the client stands ("status").
	Status ClientStatus
	// Keys are the client's keys seen since Since, by id, never a key or
	// a hash ("keys").
	Keys []KeyUsage
	// LastAPIKey and LastBearer are the times of the client's last API key
	// request (accepted or refused) and last accepted bearer request
	// ("last_api_key", "last_bearer").
	LastAPIKey, LastBearer time.Time
	// APIKey and Bearer count the client's requests in the window
	// ("api_key", "bearer"). When the Snapshot's Activity missed some of
	// the client's key requests, APIKey is at least its Keys' counts if
	// every key was first seen in the window (see [NewReport]).
	APIKey Counts
	Bearer uint64
	// PolicyRefused counts the client's key requests refused by the
	// policy, blocked or retired, since Since ("policy_refused").
	PolicyRefused uint64
	// Days are every day of the window, oldest first ("days").
	Days []DayUsage
}

// NewReport builds the report of s under policy p at now, over the days UTC
// days ending with now's (at least 1, at most [ActivityDays]).
//
// A client's counts per day and status come from s.Activity, and its keys'
// usage (s.Keys) is read too, so that a source whose Activity missed some
// of a client's key requests (a client left out, or tracked late) cannot
// hide it: when the client's Activity is missing or its LastAPIKey is
// before its keys' last use, a key accepted at least once and used in the
// last 7 days makes the client one on keys (breaking at the cutoff, if
// one is set), and, when all its keys were first seen within the window,
// its key request counts are at least its keys' (its Days stay those of its
// Activity).
func NewReport(s Snapshot, p Policy, now time.Time, days int) *Report {
	days = min(max(days, 1), ActivityDays)
	now = now.UTC()
	today := dayOf(now.UnixNano())
	first := today - int64(days) + 1
	r := &Report{
		Time: now, Source: s.Source, Since: s.Since, Cutoff: p.Cutoff,
		Default: cmp.Or(p.Default, StateAllowed), Link: p.Link,
		Days: window(s.Days, first, days), ActivityTruncated: s.ActivityTruncated,
	}
	for _, d := range r.Days {
		r.Totals.APIKey.Accepted += d.APIKey.Accepted
		r.Totals.APIKey.Rejected += d.APIKey.Rejected
		r.Totals.Bearer += d.Bearer
	}
	r.Totals.APIKeyShare = share(r.Days)
	r.Totals.APIKeyShareLast7Days = share(window(s.Days, today-6, 7))
	r.Totals.APIKeySharePrevious7Days = share(window(s.Days, today-13, 7))

	// What the clients' keys say, beside their Activity.
	type keyUse struct {
		counts   Counts
		last     time.Time // the latest LastSeen
		recent   bool      // a key accepted once, used in the last recentDays days, not blocked
		inWindow bool      // every key first seen within the window
	}
	windowStart := time.Unix(0, first*nanosPerDay).UTC()
	recentStart := time.Unix(0, max(first, today-recentDays+1)*nanosPerDay).UTC()
	type client struct {
		ReportClient
		activityLastKey time.Time
		keys            keyUse
	}
	clients := map[string]*client{}
	get := func(name string) *client {
		c := clients[name]
		if c == nil {
			c = &client{ReportClient: ReportClient{Client: name}, keys: keyUse{inWindow: true}}
			clients[name] = c
		}
		return c
	}
	for _, a := range s.Activity {
		c := get(a.Client)
		c.LastAPIKey, c.LastBearer, c.PolicyRefused = a.LastAPIKey, a.LastBearer, a.PolicyRefused
		c.activityLastKey = a.LastAPIKey
		c.Days = window(a.Days, first, days)
	}
	for _, k := range s.Keys {
		c := get(k.Client)
		c.Keys = append(c.Keys, k)
		if k.LastSeen.After(c.LastAPIKey) {
			c.LastAPIKey = k.LastSeen
		}
		ku := &c.keys
		ku.counts.Accepted += k.Accepted
		ku.counts.Rejected += k.Rejected
		if k.LastSeen.After(ku.last) {
			ku.last = k.LastSeen
		}
		if k.Accepted > 0 && !k.LastSeen.Before(recentStart) && (k.State == StateAllowed || k.State == StateDeprecated) {
			ku.recent = true
		}
		if k.FirstSeen.Before(windowStart) {
			ku.inWindow = false
		}
	}
	for name := range p.Clients {
		get(name)
	}

	r.Clients = make([]ReportClient, 0, len(clients))
	for _, cl := range clients {
		c := &cl.ReportClient
		if c.Days == nil {
			c.Days = window(nil, first, days)
		}
		st, _ := p.Evaluate(&Record{ClientID: c.Client}, now)
		c.State, c.Cutoff = st.State, st.Cutoff
		var recentKeys, recentBearer uint64
		for i, d := range c.Days {
			c.APIKey.Accepted += d.APIKey.Accepted
			c.APIKey.Rejected += d.APIKey.Rejected
			c.Bearer += d.Bearer
			if i >= len(c.Days)-recentDays {
				recentKeys += d.APIKey.Accepted
				recentBearer += d.Bearer
			}
		}
		if ku := cl.keys; ku.last.After(cl.activityLastKey) { // Activity missed key requests
			if ku.recent {
				recentKeys = max(recentKeys, 1)
			}
			if ku.inWindow {
				c.APIKey.Accepted = max(c.APIKey.Accepted, ku.counts.Accepted)
				c.APIKey.Rejected = max(c.APIKey.Rejected, ku.counts.Rejected)
			}
		}
		switch {
		case c.State == StateBlocked || (!c.Cutoff.IsZero() && !now.Before(c.Cutoff)):
			c.Status = StatusCutOff
		case recentKeys > 0 && !c.Cutoff.IsZero():
			c.Status = StatusBreaksAtCutoff
		case recentKeys > 0:
			c.Status = StatusOnKeys
		case recentBearer > 0:
			c.Status = StatusOnOAuth
		default:
			c.Status = StatusIdle
		}
		switch c.Status {
		case StatusBreaksAtCutoff:
			r.Totals.ClientsBreakingAtCutoff++
			r.Totals.ClientsOnKeys++
		case StatusOnKeys:
			r.Totals.ClientsOnKeys++
		case StatusOnOAuth:
			r.Totals.ClientsOnOAuth++
		}
		r.Clients = append(r.Clients, *c)
	}
	slices.SortFunc(r.Clients, func(a, b ReportClient) int { return cmp.Compare(a.Client, b.Client) })
	r.Totals.Clients = len(r.Clients)
	return r
}

// window returns the n days from day number first on, oldest first, with
// the counts of days (sorted, without duplicates) and zeros elsewhere.
func window(days []DayUsage, first int64, n int) []DayUsage {
	out := make([]DayUsage, n)
	for i := range out {
		out[i].Day = time.Unix(0, (first+int64(i))*nanosPerDay).UTC()
	}
	for _, d := range days {
		if i := dayOf(d.Day.UnixNano()) - first; i >= 0 && i < int64(n) {
			out[i].APIKey, out[i].Bearer = d.APIKey, d.Bearer
		}
	}
	return out
}

// share is the share of accepted requests of days made with an API key.
func share(days []DayUsage) float64 {
	var keys, all uint64
	for _, d := range days {
		keys += d.APIKey.Accepted
		all += d.APIKey.Accepted + d.Bearer
	}
	if all == 0 {
		return 0
	}
	return float64(keys) / float64(all)
}

// MarshalJSON implements [json.Marshaler] (see [Report]).
func (r *Report) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Time              time.Time      `json:"time"`
		Source            string         `json:"source"`
		Since             *time.Time     `json:"since,omitempty"`
		Cutoff            *time.Time     `json:"cutoff,omitempty"`
		Default           State          `json:"default_state"`
		Link              string         `json:"link,omitempty"`
		Days              []DayUsage     `json:"days"`
		Totals            ReportTotals   `json:"totals"`
		Clients           []ReportClient `json:"clients"`
		ActivityTruncated bool           `json:"activity_truncated"` // always present
	}{r.Time, r.Source, timePtr(r.Since), timePtr(r.Cutoff), r.Default, r.Link,
		nonNil(r.Days), r.Totals, nonNil(r.Clients), r.ActivityTruncated})
}

// MarshalJSON implements [json.Marshaler] (see [ReportClient]).
func (c ReportClient) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Client        string       `json:"client"`
		State         State        `json:"state"`
		Cutoff        *time.Time   `json:"cutoff,omitempty"`
		Status        ClientStatus `json:"status"`
		Keys          []KeyUsage   `json:"keys"`
		LastAPIKey    *time.Time   `json:"last_api_key,omitempty"`
		LastBearer    *time.Time   `json:"last_bearer,omitempty"`
		APIKey        Counts       `json:"api_key"`
		Bearer        uint64       `json:"bearer"`
		PolicyRefused uint64       `json:"policy_refused"`
		Days          []DayUsage   `json:"days"`
	}{c.Client, c.State, timePtr(c.Cutoff), c.Status, nonNil(c.Keys), timePtr(c.LastAPIKey), timePtr(c.LastBearer),
		c.APIKey, c.Bearer, c.PolicyRefused, nonNil(c.Days)})
}

// nonNil returns s, or an empty slice for nil, so that JSON shows [].
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
