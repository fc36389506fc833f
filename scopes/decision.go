package scopes

import (
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/audit"
)

// classify returns the audit reason and status of a refusal as
// [WriteError] answers it.
func classify(err error) (audit.Reason, int) {
	var se *Error
	switch {
	case errors.As(err, &se) && errors.Is(se.Err, ErrNoPrincipal):
		return audit.ReasonNoGrant, http.StatusUnauthorized
	case se != nil && errors.Is(se.Err, ErrInsufficientScope):
		return audit.ReasonInsufficientScope, http.StatusForbidden
	case se != nil && errors.Is(se.Err, ErrInsufficientUserAuthentication) && se.Authentication != nil:
		return audit.ReasonInsufficientUserAuthentication, http.StatusUnauthorized
	case se != nil && errors.Is(se.Err, ErrNotPermitted):
		return audit.ReasonUnknownTool, http.StatusForbidden
	case errors.Is(err, ErrBodyTooLarge):
		return audit.ReasonBodyTooLarge, http.StatusRequestEntityTooLarge
	case errors.Is(err, ErrMethodNotAllowed):
		return audit.ReasonMethodNotAllowed, http.StatusMethodNotAllowed
	case errors.Is(err, ErrMalformed):
		return audit.ReasonInvalidRequest, http.StatusBadRequest
	}
	return audit.ReasonInternalError, http.StatusInternalServerError
}

// authorizeDecision starts the authorize-stage decision of r, taken up at
// start, with principal p and the outcome err.
func authorizeDecision(r *http.Request, p *rsguard.Principal, start time.Time, err error) audit.Decision {
	d := rsguard.NewDecision(r, audit.StageAuthorize, p)
	d.Time, d.Allowed, d.Reason = start, err == nil, audit.ReasonOK
	if err != nil {
		d.Reason, d.Status = classify(err)
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
		d.MCPMethod = audit.Text(string(method))
	}
	if string(method) == methodToolsCall && msgs[pick].nameErr == nil {
		d.Tool = audit.Text(string(unquote(msgs[pick].name)))
	}
}
