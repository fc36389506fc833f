package apikey

import (
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/rsguard/rsguard"

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
//     (RFC 9745 §2, a structured-field Date), "Sunset: <HTTP-date>"
//     (RFC 8594 §3) when a cutoff is set, and
//     `Link: <Link>; rel="deprecation"` (RFC 9745 §3) when Link is set,
//     plus rel="sunset" (RFC 8594 §6) when a cutoff is set too.
//   - blocked: 401 invalid_token with the OAuth challenge ([ErrBlocked]).
//
// Whatever its state, a key is refused with 401 invalid_token and an
// error_description saying keys are retired ([ErrRetired]) once its cutoff
// has passed.
type Policy struct {
	// Default is the state of keys whose record and client set none. If
	// empty, [StateAllowed].
	Default State

	// Clients holds per-client settings, keyed by [Record.Client] (the
	// client id, or the owner for keys without one). Optional.
	Clients map[string]ClientPolicy

	// Deprecated is when API keys were (or will be) deprecated: the date
	// sent in the Deprecation header. A client's own date takes precedence.
	// If neither is set, the header carries the time of the response ("the
	// key is deprecated as of now").
	Deprecated time.Time

	// Cutoff is when API keys stop working for every client that has no
	// cutoff of its own. Zero means no global cutoff.
	Cutoff time.Time

	// Link is the absolute URL of the migration documentation, sent in the
	// Link header of deprecated keys' responses: https, or http on a
	// loopback host. Optional.
	Link string
}

// ClientPolicy is the migration policy of one client.
type ClientPolicy struct {
	// State is the client's state; if empty, Policy.Default.
	State State
	// Deprecated, if set, overrides Policy.Deprecated for this client.
	Deprecated time.Time
	// Cutoff, if set, overrides Policy.Cutoff for this client.
	Cutoff time.Time
}

// Status is the effective migration status of one key at one time, as
// computed by [Policy.Evaluate].
type Status struct {
	// State is the effective state (never empty).
	State State
	// Deprecated is the deprecation date (the Deprecation header), set
	// only when State is [StateDeprecated].
	Deprecated time.Time
	// Sunset is the effective cutoff, zero if none.
	Sunset time.Time
}

// Validate checks p: known states and an absolute https Link (http only on a
// loopback host, the rule of every URL rsguard checks). Errors wrap
// [rsguard.ErrInvalidConfig].
func (p *Policy) Validate() error {
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

// Evaluate returns the effective status of the key rec at time now, and an
// error wrapping [ErrBlocked] or [ErrRetired] when the policy refuses it.
func (p *Policy) Evaluate(rec *Record, now time.Time) (Status, error) {
	c := p.Clients[rec.Client()]
	st := Status{State: rec.State, Sunset: p.Cutoff}
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
		st.Sunset = c.Cutoff
	}
	if !st.Sunset.IsZero() && !now.Before(st.Sunset) {
		return st, ErrRetired
	}
	switch st.State {
	case StateBlocked:
		return st, ErrBlocked
	case StateDeprecated:
		st.Deprecated = c.Deprecated
		if st.Deprecated.IsZero() {
			st.Deprecated = p.Deprecated
		}
		if st.Deprecated.IsZero() {
			st.Deprecated = now
		}
	}
	return st, nil
}

// setHeaders adds the migration headers of a deprecated key's status to h.
func (st *Status) setHeaders(h http.Header, link string) {
	if st.State != StateDeprecated {
		return
	}
	h.Set("Deprecation", "@"+strconv.FormatInt(st.Deprecated.Unix(), 10))
	expose := "Deprecation"
	if !st.Sunset.IsZero() {
		h.Set("Sunset", st.Sunset.UTC().Format(http.TimeFormat))
		expose += ", Sunset"
	}
	if link != "" {
		h.Add("Link", "<"+link+`>; rel="deprecation"`)
		if !st.Sunset.IsZero() {
			h.Add("Link", "<"+link+`>; rel="sunset"`)
		}
		expose += ", Link"
	}
	h.Add("Access-Control-Expose-Headers", expose)
}
