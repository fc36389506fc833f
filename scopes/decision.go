package scopes

import (
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/audit"
	"github.com/rsguard/rsguard/internal/check"
)

// classify reads err as [WriteError] answers it: its class (the first
// [audit.Reason] in its chain), the status of that class, and the [*Error]
// in the chain, if any. The classes answered from an *Error's fields
// (no_principal, insufficient_scope, unknown_tool, and
// insufficient_user_authentication, which needs its Authentication) are
// internal_error without one, as are any other class and an error without
// a class.
func classify(err error) (reason audit.Reason, status int, se *Error) {
	var r audit.Reason
	if !errors.As(err, &r) {
		return audit.ReasonInternalError, http.StatusInternalServerError, nil
	}
	errors.As(err, &se)
	switch {
	case r == audit.ReasonNoPrincipal && se != nil:
		return r, http.StatusUnauthorized, se
	case r == audit.ReasonInsufficientScope && se != nil:
		return r, http.StatusForbidden, se
	case r == audit.ReasonInsufficientUserAuthentication && se != nil && se.Authentication != nil:
		return r, http.StatusUnauthorized, se
	case r == audit.ReasonUnknownTool && se != nil:
		return r, http.StatusForbidden, se
	case r == audit.ReasonBodyTooLarge:
		return r, http.StatusRequestEntityTooLarge, se
	case r == audit.ReasonMethodNotAllowed:
		return r, http.StatusMethodNotAllowed, se
	case r == audit.ReasonInvalidRequest:
		return r, http.StatusBadRequest, se
	}
	return audit.ReasonInternalError, http.StatusInternalServerError, nil
}

// authorizeDecision starts the authorize-stage decision of r, taken up at
// start, with principal p and the outcome err.
func authorizeDecision(r *http.Request, p *rsguard.Principal, start time.Time, err error) audit.Decision {
	d := rsguard.NewDecision(r, audit.StageAuthorize, p)
	d.Time, d.Allowed, d.Reason = start, err == nil, audit.ReasonOK
	if err != nil {
		d.Reason, d.Status, _ = classify(err)
	}
	return d
}

// describe sets d's MCPMethod, Tool and Required from the messages of a
// request that p's check passed (failed false) or refused.
func (m *MCP) describe(d *audit.Decision, p *rsguard.Principal, msgs []rpcMessage, failed bool) {
	pick := -1
	owned := false // d.Required is a union of our own, not a configuration slice
	for i := range msgs {
		if msgs[i].method == nil {
			continue
		}
		n, err := m.needOf(&msgs[i], false)
		switch {
		case err != nil:
		case d.Required == nil:
			d.Required = n.scopes // shared with the configuration: never appended to
		default:
			for _, s := range n.scopes {
				if !slices.Contains(d.Required, s) {
					if !owned {
						d.Required, owned = append([]string(nil), d.Required...), true
					}
					d.Required = append(d.Required, s)
				}
			}
		}
		refused := err != nil || n.denied || !satisfiesAll(p, n.scopes, m.implies) ||
			(n.auth != nil && !n.auth.met(p, m.now()))
		if pick < 0 && (!failed || refused) {
			pick = i
		}
	}
	if pick < 0 {
		return
	}
	method := unquote(msgs[pick].method)
	if string(method) == methodToolsCall {
		d.MCPMethod = methodToolsCall
	} else {
		d.MCPMethod = check.Text(string(method))
	}
	if string(method) == methodToolsCall && msgs[pick].nameErr == nil {
		d.Tool = check.Text(string(unquote(msgs[pick].name)))
	}
}
