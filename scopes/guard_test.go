package scopes_test

import (
	"net/http"

	"github.com/rsguard/rsguard"
)

// authFunc is a fake rsguard.Authenticator, standing in for validate or
// apikey: the scope checks work the same whatever proved the principal.
type authFunc func(r *http.Request) (*rsguard.Principal, error)

func (f authFunc) Authenticate(r *http.Request) (*rsguard.Principal, error) { return f(r) }

// guarded returns next behind a real rsguard.Guard, with resource metadata
// url, that authenticates every request as p.
func guarded(url string, p *rsguard.Principal, next http.Handler) http.Handler {
	g, err := rsguard.New(rsguard.Config{
		Authenticator: authFunc(func(*http.Request) (*rsguard.Principal, error) {
			if p != nil && p.Subject == "" { // the Guard refuses principals without one
				q := *p
				q.Subject = "user:https://as.example#test"
				return &q, nil
			}
			return p, nil
		}),
		ResourceMetadata: url,
	})
	if err != nil {
		panic(err)
	}
	return g.Middleware(next)
}
