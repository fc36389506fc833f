package apikey

import (
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/audit"
	"github.com/rsguard/rsguard/internal/loopback"
)

// Policy is the migration policy from API keys to OAuth: which clients may
// still use keys, which are told to move, which are cut off, and when keys
// stop working altogether. The zero Policy allows every key, for ever.
//
// A key's effective state is the first one set of: its [Record].State, its
// client's [ClientPolicy].State, Policy.Default, [StateAllowed]. Its
// effective cutoff is its client's Cutoff when set, else Policy.Cutoff; a
// client's cutoff may come before or after the global one (an early move or
// a granted extension).
//
// Per state, a key:
//   - allowed: works; responses carry no migration headers.
//   - deprecated: works; responses carry "Deprecation: @<unix seconds>"
//     (RFC 9745 §2, a structured-field Date) when a deprecation date is
//     set (see Deprecated), "Sunset: <HTTP-date>" (RFC 8594 §3) when a
//     cutoff is set, and `Link: <Link>; rel="deprecation"` (RFC 9745 §3)
//     when Link is set, plus rel="sunset" (RFC 8594 §6) when a cutoff is
//     set too.
//   - blocked: 401 invalid_token with the OAuth challenge (reason
//     audit.ReasonAPIKeyBlocked).
//
// Whatever its state, a key is refused with 401 invalid_token and an
// error_description saying keys are retired (reason
// audit.ReasonAPIKeyRetired) once its cutoff has passed.
//
// [New] and [Authenticator.SetPolicy] check a Policy: known states, and a
// Link that is an absolute https URL (http only on a loopback host, the rule
// of every URL rsguard checks); they refuse any other with an error
// wrapping [rsguard.ErrInvalidConfig].
type Policy struct {
	// Default is the state of keys whose record and client set none. If
	// empty, [StateAllowed].
	Default State

	// Clients holds per-client settings, keyed by [Record.Client] (the
	// client id, or the owner for keys without one). Optional.
	Clients map[string]ClientPolicy

	// Deprecated is when API keys were (or will be) deprecated: the date
	// sent in the Deprecation header (RFC 9745 §2). A client's own date
	// takes precedence. If neither is set, a deprecated key's responses
	// carry no Deprecation header (RFC 9745 gives the header no value
	// without a date, and the time of each response would be a date that
	// moves at every request), only Sunset and Link when configured: set a
	// date for clients to be told.
	Deprecated time.Time

	// Cutoff is when API keys stop working for every client that has no
	// cutoff of its own. Zero means no global cutoff.
	Cutoff time.Time

	// Link is the absolute URL of the migration documentation, sent in the
	// Link header of deprecated keys' responses: https, or http on a
	// loopback host. Optional.
	Link string
}

// ClientPolicy is the migration policy of one client, in [Policy].Clients,
// where a zero field means "as the Policy says"; or the effective policy of
// one key at one time, every field resolved, as [Policy.Evaluate] returns
// it and [Use].Status holds it.
type ClientPolicy struct {
	// State is the client's state; if empty, Policy.Default. Effective:
	// never empty.
	State State
	// Deprecated, if set, overrides Policy.Deprecated for this client.
	// Effective: the date sent in the Deprecation header, set only when
	// State is [StateDeprecated] and a date is configured (zero: no
	// Deprecation header).
	Deprecated time.Time
	// Cutoff, if set, overrides Policy.Cutoff for this client. Effective:
	// the key's cutoff, sent in the Sunset header (RFC 8594); zero if none.
	Cutoff time.Time
}

// validate checks p (see [Policy]). Errors wrap [rsguard.ErrInvalidConfig].
func (p *Policy) validate() error {
	if !p.Default.valid() {
		return fmt.Errorf("%w: policy: unknown default state %q", rsguard.ErrInvalidConfig, p.Default)
	}
	for name, c := range p.Clients {
		if !c.State.valid() {
			return fmt.Errorf("%w: policy: client %q: unknown state %q", rsguard.ErrInvalidConfig, name, c.State)
		}
	}
	if p.Link != "" {
		u, err := url.Parse(p.Link)
		if err != nil || !u.IsAbs() || !loopback.AllowsScheme(u) || u.Host == "" || !linkSafe(p.Link) {
			return fmt.Errorf("%w: policy: Link must be an absolute https URL (http only on a loopback host)", rsguard.ErrInvalidConfig)
		}
	}
	return nil
}

// linkSafe reports whether s can go between "<" and ">" in a Link header
// (RFC 8288 §3): visible ASCII other than "<", ">", `"` and "\".
func linkSafe(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f || c == '<' || c == '>' || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// clone returns a copy of p whose Clients map the caller cannot change.
func (p Policy) clone() *Policy {
	p.Clients = maps.Clone(p.Clients)
	return &p
}

// Evaluate returns the effective policy of the key rec at time now (see
// [ClientPolicy]), and, when the policy refuses the key,
// audit.ReasonAPIKeyBlocked or audit.ReasonAPIKeyRetired: what the policy
// says of the key at that time (the record's own Revoked and Expires are
// not considered), for a dry run of a policy change.
func (p *Policy) Evaluate(rec *Record, now time.Time) (ClientPolicy, error) {
	c := p.Clients[rec.Client()]
	st := ClientPolicy{State: rec.State, Cutoff: p.Cutoff}
	if st.State == "" {
		st.State = c.State
	}
	if st.State == "" {
		st.State = p.Default
	}
	if st.State == "" {
		st.State = StateAllowed
	}
	if !c.Cutoff.IsZero() {
		st.Cutoff = c.Cutoff
	}
	if !st.Cutoff.IsZero() && !now.Before(st.Cutoff) {
		return st, audit.ReasonAPIKeyRetired
	}
	switch st.State {
	case StateBlocked:
		return st, audit.ReasonAPIKeyBlocked
	case StateDeprecated:
		st.Deprecated = c.Deprecated
		if st.Deprecated.IsZero() {
			st.Deprecated = p.Deprecated
		}
	}
	return st, nil
}

// setHeaders adds the migration headers of a deprecated key's effective
// policy st to h: Deprecation only when st has a date (see
// [Policy].Deprecated).
func (st *ClientPolicy) setHeaders(h http.Header, link string) {
	if st.State != StateDeprecated {
		return
	}
	var buf [3]string
	expose := buf[:0]
	if !st.Deprecated.IsZero() {
		h.Set("Deprecation", "@"+strconv.FormatInt(st.Deprecated.Unix(), 10))
		expose = append(expose, "Deprecation")
	}
	if !st.Cutoff.IsZero() {
		h.Set("Sunset", st.Cutoff.UTC().Format(http.TimeFormat))
		expose = append(expose, "Sunset")
	}
	if link != "" {
		h.Add("Link", "<"+link+`>; rel="deprecation"`)
		if !st.Cutoff.IsZero() {
			h.Add("Link", "<"+link+`>; rel="sunset"`)
		}
		expose = append(expose, "Link")
	}
	if len(expose) != 0 {
		h.Add("Access-Control-Expose-Headers", strings.Join(expose, ", "))
	}
}
