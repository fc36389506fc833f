package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/apikey"
	"github.com/rsguard/rsguard/internal/check"
)

// SourceDatabase is the [apikey.Snapshot].Source of [ReadUsage]: counts
// summed over every replica that writes to the usage table, which the
// migration report names as where its data comes from.
const SourceDatabase = "database"

// selectUsage reads the usage rows from a day on.
const selectUsage = `SELECT to_char(day, 'YYYY-MM-DD'), kind, client, key_id, accepted, refused,
       policy_refused, first_seen, last_seen, last_accepted, state
  FROM rsguard_api_key_usage WHERE day >= $1::date`

// usageRow is one row of the usage table.
type usageRow struct {
	key    usageKey
	counts usageCounts
}

// ReadUsage reads the usage table back as an [apikey.Snapshot], summed over
// every replica, for [apikey.NewReport] or a report handler: Source is
// [SourceDatabase], and the counts are those of the last
// [apikey.ActivityDays] UTC days up to now's (older rows are not read; the
// totals Bearer, APIKey and Anonymous are of these days too, and Since is
// the first request among them). Keys are the keys that matched a record;
// Days and Activity count, as an Authenticator's own Snapshot does, the
// key requests that matched a record and the accepted bearer requests.
// Activity holds every client with key requests that matched a record, and
// at most [apikey.MaxActivityClients] clients that only made bearer
// requests, the most recently active (ActivityTruncated says some were left
// out), so that a flood of new OAuth clients cannot push a key client out.
func ReadUsage(ctx context.Context, db *sql.DB, now time.Time) (apikey.Snapshot, error) {
	if db == nil || check.IsNil(db) {
		return apikey.Snapshot{}, fmt.Errorf("%w: sqlstore: ReadUsage needs a *sql.DB", rsguard.ErrInvalidConfig)
	}
	now = now.UTC()
	first := now.AddDate(0, 0, -(apikey.ActivityDays - 1)).Format(time.DateOnly)
	rows, err := db.QueryContext(ctx, selectUsage, first)
	if err != nil {
		return apikey.Snapshot{}, fmt.Errorf("%w: reading usage: %w", ErrUnavailable, err)
	}
	defer rows.Close()
	var all []usageRow
	for rows.Next() {
		var u usageRow
		var acc, ref, pol int64
		var lastAcc sql.NullTime
		var state string
		if err := rows.Scan(&u.key.day, &u.key.kind, &u.key.client, &u.key.keyID, &acc, &ref, &pol,
			&u.counts.first, &u.counts.last, &lastAcc, &state); err != nil {
			return apikey.Snapshot{}, fmt.Errorf("%w: reading usage: %w", ErrUnavailable, err)
		}
		u.counts.accepted, u.counts.refused, u.counts.policyRefused = uint64(max(acc, 0)), uint64(max(ref, 0)), uint64(max(pol, 0))
		u.counts.lastAccepted, u.counts.state = lastAcc.Time, apikey.State(state)
		all = append(all, u)
	}
	if err := rows.Err(); err != nil {
		return apikey.Snapshot{}, fmt.Errorf("%w: reading usage: %w", ErrUnavailable, err)
	}
	return snapshotOf(all, now), nil
}

// snapshotOf sums usage rows into a Snapshot at now. Rows whose day does
// not parse or whose kind is unknown are skipped.
func snapshotOf(rows []usageRow, now time.Time) apikey.Snapshot {
	s := apikey.Snapshot{Time: now, Since: now, Source: SourceDatabase}
	type keyAgg struct {
		apikey.KeyUsage
		firstClient time.Time
	}
	keys := map[string]*keyAgg{}
	days := map[time.Time]*apikey.DayUsage{}
	type clientAgg struct {
		a     apikey.ClientActivity
		days  map[time.Time]*apikey.DayUsage
		last  time.Time
		keyed bool // key requests that matched a record
	}
	clients := map[string]*clientAgg{}
	dayOf := func(m map[time.Time]*apikey.DayUsage, d time.Time) *apikey.DayUsage {
		du := m[d]
		if du == nil {
			du = &apikey.DayUsage{Day: d}
			m[d] = du
		}
		return du
	}
	clientOf := func(name string) *clientAgg {
		c := clients[name]
		if c == nil {
			c = &clientAgg{a: apikey.ClientActivity{Client: name}, days: map[time.Time]*apikey.DayUsage{}}
			clients[name] = c
		}
		return c
	}
	for _, r := range rows {
		day, err := time.Parse(time.DateOnly, r.key.day)
		if err != nil {
			continue
		}
		c := r.counts
		first, last := c.first.UTC(), c.last.UTC()
		switch r.key.kind {
		case KindAnonymous:
			s.Anonymous += c.accepted + c.refused
		case KindOAuth:
			s.Bearer.Accepted += c.accepted
			s.Bearer.Rejected += c.refused
			if c.accepted == 0 {
				break
			}
			dayOf(days, day).Bearer += c.accepted
			ca := clientOf(r.key.client)
			dayOf(ca.days, day).Bearer += c.accepted
			if la := c.lastAccepted.UTC(); la.After(ca.a.LastBearer) {
				ca.a.LastBearer = la
			}
			ca.last = later(ca.last, c.lastAccepted.UTC())
		case KindAPIKey:
			s.APIKey.Accepted += c.accepted
			s.APIKey.Rejected += c.refused
			if r.key.keyID == "" { // no record: counted in the totals only
				break
			}
			du := dayOf(days, day)
			du.APIKey.Accepted += c.accepted
			du.APIKey.Rejected += c.refused
			ca := clientOf(r.key.client)
			ca.keyed = true
			cd := dayOf(ca.days, day)
			cd.APIKey.Accepted += c.accepted
			cd.APIKey.Rejected += c.refused
			ca.a.PolicyRefused += c.policyRefused
			ca.a.LastAPIKey = later(ca.a.LastAPIKey, last)
			ca.last = later(ca.last, last)
			k := keys[r.key.keyID]
			if k == nil {
				k = &keyAgg{KeyUsage: apikey.KeyUsage{ID: r.key.keyID, Client: r.key.client, FirstSeen: first, LastSeen: last, State: c.state}, firstClient: first}
				keys[r.key.keyID] = k
			} else {
				if first.Before(k.firstClient) {
					k.Client, k.firstClient = r.key.client, first
				}
				if first.Before(k.FirstSeen) {
					k.FirstSeen = first
				}
				if !last.Before(k.LastSeen) {
					k.LastSeen, k.State = last, c.state
				}
			}
			k.Accepted += c.accepted
			k.Rejected += c.refused
		default:
			continue
		}
		if first.Before(s.Since) {
			s.Since = first
		}
	}

	byClient := map[string]*apikey.ClientUsage{}
	for _, k := range keys {
		s.Keys = append(s.Keys, k.KeyUsage)
		c := byClient[k.Client]
		if c == nil {
			c = &apikey.ClientUsage{Client: k.Client}
			byClient[k.Client] = c
		}
		c.Keys++
		c.Accepted += k.Accepted
		c.Rejected += k.Rejected
		c.LastSeen = later(c.LastSeen, k.LastSeen)
	}
	slices.SortFunc(s.Keys, func(a, b apikey.KeyUsage) int { return cmp.Compare(a.ID, b.ID) })
	for _, c := range byClient {
		s.Clients = append(s.Clients, *c)
	}
	slices.SortFunc(s.Clients, func(a, b apikey.ClientUsage) int { return cmp.Compare(a.Client, b.Client) })
	s.Days = sortedDays(days)

	var keyed, bearerOnly []*clientAgg
	for _, c := range clients {
		c.a.Days = sortedDays(c.days)
		if c.keyed {
			keyed = append(keyed, c)
		} else {
			bearerOnly = append(bearerOnly, c)
		}
	}
	if len(bearerOnly) > apikey.MaxActivityClients {
		slices.SortFunc(bearerOnly, func(a, b *clientAgg) int { return cmp.Or(b.last.Compare(a.last), cmp.Compare(a.a.Client, b.a.Client)) })
		bearerOnly = bearerOnly[:apikey.MaxActivityClients]
		s.ActivityTruncated = true
	}
	for _, c := range slices.Concat(keyed, bearerOnly) {
		s.Activity = append(s.Activity, c.a)
	}
	slices.SortFunc(s.Activity, func(a, b apikey.ClientActivity) int { return cmp.Compare(a.Client, b.Client) })
	return s
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func sortedDays(m map[time.Time]*apikey.DayUsage) []apikey.DayUsage {
	out := make([]apikey.DayUsage, 0, len(m))
	for _, d := range m {
		out = append(out, *d)
	}
	slices.SortFunc(out, func(a, b apikey.DayUsage) int { return a.Day.Compare(b.Day) })
	return out
}
