package apikey

import (
	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/rsmeta"
)

// Challenges implements [rsguard.Challenger]: the challenges of
// [Config].Bearer when it is a Challenger (a validate.Validator that
// accepts DPoP-bound tokens names Bearer and DPoP, or DPoP alone), so that
// the Guard advertises what the composed authenticator accepts; nil
// otherwise (the Guard's one Bearer challenge). The key challenge of
// [Config].AdvertiseKeyChallenge still follows them on 401s.
func (a *Authenticator) Challenges() []rsmeta.Challenge {
	if a == nil {
		return nil
	}
	if c, ok := a.bearer.(rsguard.Challenger); ok {
		return c.Challenges()
	}
	return nil
}
