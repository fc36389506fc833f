package apikey

import (
	"crypto/subtle"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/audit"
)

// checkKey checks key, found in header where, and returns the principal
// it proves. An accepted key's header is removed from r.
func (a *Authenticator) checkKey(r *http.Request, key, where string) (*rsguard.Principal, error) {
	now := a.now()
	pol := a.policy.Load()
	u := &Use{Time: now, Header: where}
	id, err := Parse(a.prefix, key)
	if err != nil {
		e := refusal(refusedShape)
		switch {
		case errors.Is(err, errChecksum):
			e = refusal(refusedChecksum)
		case !strings.HasPrefix(key, a.prefix):
			// Say what is expected, never what was sent (the prefix is
			// public; the key may be another service's secret).
			e = refusal(a.refusals.prefix)
		}
		return nil, a.refuse(r, u, nil, e)
	}
	u.ID = id
	h := HashKey(key)
	rec, err := a.store.Lookup(r.Context(), h)
	switch {
	case errors.Is(err, audit.ReasonUnknownAPIKey) || err == nil && rec == nil:
		return nil, a.refuse(r, u, nil, refusal(refusedUnknown))
	case err != nil:
		a.logStoreFailure(r, id, err)
		return nil, a.refuse(r, u, nil, storeFailed(err))
	}
	// The store found the record by hash; compare again in constant time
	// (a store's index may be looser than equality) and check the id.
	if subtle.ConstantTimeCompare(rec.Hash[:], h[:]) != 1 || rec.ID != id {
		return nil, a.refuse(r, u, nil, refusal(refusedUnknown))
	}
	u.Owner, u.ClientID, u.Tenant = rec.Owner, rec.ClientID, rec.Tenant
	granted, dropped := rsguard.ParseScopeList(rec.Scopes) // a new slice: the request's own
	if len(dropped) > 0 && a.logger.Enabled(r.Context(), slog.LevelDebug) {
		a.logger.DebugContext(r.Context(), "apikey: scope tokens outside RFC 6749 §3.3 not granted", "key_id", id, "dropped", len(dropped))
	}
	p := &rsguard.Principal{
		Subject:    rec.subject(),
		Credential: audit.CredentialAPIKey,
		ClientID:   rec.ClientID,
		Tenant:     rec.Tenant,
		Scopes:     granted,
		Expiry:     rec.Expires,
		TokenID:    id, // the key's public id, never the key
	}
	var e *rsguard.Error
	switch {
	case rec.Revoked:
		e = refusal(refusedRevoked)
	case !rec.Expires.IsZero() && !now.Before(rec.Expires):
		e = refusal(refusedExpired)
	}
	if e == nil {
		st, perr := pol.Evaluate(rec, now)
		u.Status = st
		switch {
		case errors.Is(perr, audit.ReasonAPIKeyBlocked):
			e = refusal(refusedBlocked)
		case errors.Is(perr, audit.ReasonAPIKeyRetired):
			e = retired(st.Cutoff)
		}
	}
	if e != nil {
		e.Principal = p // proved by the key, then refused: for the audit trail
		a.usage.recordKey(rec, u.Status.State, now, false)
		return nil, a.refuse(r, u, rec, e)
	}
	a.usage.keyAccepted.Add(1)
	a.usage.recordKey(rec, u.Status.State, now, true)
	p.Details = u
	if u.Status.State == StateDeprecated {
		p.Header = make(http.Header, 5)
		u.Status.setHeaders(p.Header, pol.Link)
	}
	if a.onUse != nil {
		a.onUse(r, *u)
	}
	if a.logger.Enabled(r.Context(), slog.LevelDebug) {
		a.logger.DebugContext(r.Context(), "apikey: key accepted", "key_id", id, "client", rec.Client(), "state", string(u.Status.State))
	}
	// The key stops here: neither the next handler nor an upstream the
	// request is forwarded to sees it.
	r.Header.Del(where)
	return p, nil
}

// storeLogInterval is the least time between two error lines about store
// failures: an outage gives one line, not one per request.
const storeLogInterval = time.Minute

// logStoreFailure logs a failed lookup of the key id: at error level at
// most once per storeLogInterval (the Store's own clock does not matter:
// this is the real one), at debug level otherwise.
func (a *Authenticator) logStoreFailure(r *http.Request, id string, err error) {
	now, last := time.Now().UnixNano(), a.storeLog.Load()
	if (last == 0 || now-last >= int64(storeLogInterval)) && a.storeLog.CompareAndSwap(last, now) {
		a.logger.ErrorContext(r.Context(), "apikey: key store lookup failed (further failures within a minute are logged at debug level)", "key_id", id, "error", err)
		return
	}
	if a.logger.Enabled(r.Context(), slog.LevelDebug) {
		a.logger.DebugContext(r.Context(), "apikey: key store lookup failed", "key_id", id, "error", err)
	}
}

// refuse counts a refused key and reports it to OnUse and the logger, and
// returns e.
func (a *Authenticator) refuse(r *http.Request, u *Use, rec *Record, e *rsguard.Error) error {
	a.usage.keyReject.Add(1)
	u.Err = e
	if a.onUse != nil {
		a.onUse(r, *u)
	}
	if a.logger.Enabled(r.Context(), slog.LevelDebug) {
		client := ""
		if rec != nil {
			client = rec.Client()
		}
		a.logger.DebugContext(r.Context(), "apikey: key refused", "key_id", u.ID, "client", client, "reason", e.Err.Error(), "status", e.Status)
	}
	return e
}
