package conformance

import "strings"

// Needs is what a check needs to tell a correct server from a wrong one.
// A run given less reports the check skipped as [NotCheckable], never as
// passed.
type Needs int

const (
	// NeedsNothing: black-box. No token at all, or forged ones: signed
	// with the checker's own keys, keyed with the authorization server's
	// public key, or not signed.
	NeedsNothing Needs = iota

	// NeedsToken: a real access token for the resource, with chosen
	// scopes (client credentials at the authorization server, or the
	// kit's issuer). See [TokenSource].
	NeedsToken

	// NeedsIssuerKey: tokens with chosen claims and headers signed by the
	// authorization server's key, and keys published in its JWK Set: the
	// kit only. See [Minter].
	NeedsIssuerKey
)

// DoesNotApply begins the skip message of a case that does not apply to the
// target as configured (a DPoP case when DPoP is off…); a clause saying why
// follows it.
const DoesNotApply = "does not apply"

// DPoPMode is the DPoP mode of the server under test (RFC 9449), as
// validate.DPoPMode says it.
type DPoPMode int

const (
	DPoPOff      DPoPMode = iota // bearer tokens only
	DPoPAllowed                  // bearer tokens, and DPoP-bound tokens with their proof
	DPoPRequired                 // DPoP-bound tokens with their proof only
)

func (m DPoPMode) String() string {
	switch m {
	case DPoPOff:
		return "off"
	case DPoPAllowed:
		return "allowed"
	case DPoPRequired:
		return "required"
	}
	return "unknown"
}

// notIssued begins the skip message of a case a run with a token source
// could not make because the authorization server did not issue the token
// it needs: it refused a token for another resource (invalid_target…), or
// issued one that names this resource too (it ignores RFC 8707
// "resource"), or refused the scopes a 403 named; a clause saying why
// follows it. Unlike [NotCheckable], better credentials would not help: the
// authorization server decides.
const notIssued = "the authorization server did not issue the token"

// NotCheckable begins the skip message of every check a run cannot make
// with what it was given, the one prefix front ends classify such skips by.
// What the run lacks and, after a colon, why in one clause follow it: "not
// checkable without credentials: …" in a run without a token (black-box);
// "not checkable without the authorization server's signing key: …" in a
// run with a [TokenSource] but no [Minter]; "not checkable without the
// authorization server's public key: …" for a forged token that names or
// uses a key the run did not find.
const NotCheckable = "not checkable"

// notCheckable is the skip message of a check that needs more than the run
// has, why saying what in one clause.
func (c *Target) notCheckable(why string) string {
	lacks := "credentials"
	if c.have >= NeedsToken {
		lacks = "the authorization server's signing key"
	}
	return NotCheckable + " without " + lacks + ": " + why
}

func (n Needs) String() string {
	switch n {
	case NeedsNothing:
		return "nothing"
	case NeedsToken:
		return "a token"
	case NeedsIssuerKey:
		return "the issuer's key"
	}
	return "unknown"
}

// why says, in one clause, what a check that needs n needs.
func (n Needs) why() string {
	switch n {
	case NeedsToken:
		return "it needs a valid access token for the resource"
	case NeedsIssuerKey:
		return "it needs tokens with chosen claims signed by the authorization server's key"
	}
	return "it needs nothing"
}

// Check is one check of a protected resource: a subtest of
// validatetest.Conformance, a line of the checker command's report.
type Check struct {
	// Name is the subtest's name.
	Name string

	// Needs is what the check needs. A check with sub-checks of their own
	// Needs (attacks) needs the least of them.
	Needs Needs

	// Spec names the specification sections the check checks.
	Spec string

	// When, if non-nil, says whether the check applies to the target at
	// all (the MCP checks): a check that does not apply is not run, nor
	// reported.
	When func(*Target) bool

	// NotFor, if non-nil, says why the check does not apply to the target
	// as configured ("": it applies): it is then reported skipped as
	// DoesNotApply, with that reason.
	NotFor func(*Target) string

	// ProvesDPoP says that the check's requests carry the kit's tokens as
	// the target takes them: as bearer tokens, or, DPoP required, bound to
	// a DPoP key of the kit (cnf jkt) and sent as `Authorization: DPoP`
	// with a fresh proof of that key for the request (RFC 9449 §4.2, §7.1).
	// The dpop and introspection checks make their own proofs.
	ProvesDPoP bool

	// Run runs the check against the target, reporting to r.
	Run func(*Target, Reporter)
}

// Checks returns the checks, in the order they run: the one list both front
// ends (validatetest.Conformance and the checker command) run.
func Checks() []Check {
	return []Check{
		{Name: "metadata", Needs: NeedsNothing, Spec: "RFC 9728 §3, §3.3; RFC 8414 §2; MCP authorization", Run: (*Target).checkMetadata},
		{Name: "authorization servers", Needs: NeedsNothing, Spec: "RFC 8414 §3, §3.3; OpenID Connect Discovery §4; MCP authorization (authorization server discovery)", Run: (*Target).checkAuthorizationServers},
		{Name: "cors", Needs: NeedsNothing, Spec: "MCP authorization (browser-based clients); MCP transport (Origin validation)", Run: (*Target).checkCORS},
		{Name: "challenge", Needs: NeedsNothing, Spec: "RFC 6750 §3, §3.1; RFC 9728 §3.1, §5.1; MCP authorization (scope selection strategy)", Run: (*Target).checkChallenge},
		{Name: "accept", Needs: NeedsToken, Spec: "RFC 6750 §2.1; RFC 8707; MCP lifecycle (initialize)", ProvesDPoP: true, Run: (*Target).checkAccept},
		{Name: "session", Needs: NeedsIssuerKey, Spec: "MCP security best practices (session hijacking); MCP transport, session management",
			When: func(t *Target) bool { return t.MCP }, ProvesDPoP: true, Run: (*Target).checkSession},
		{Name: "stepup", Needs: NeedsToken, Spec: "MCP authorization (scope challenge handling); RFC 6750 §3.1",
			When: func(t *Target) bool { return t.MCP && (len(t.Tools) > 0 || len(t.StepUpTools) > 0) }, ProvesDPoP: true, Run: (*Target).checkStepUps},
		{Name: "attacks", Needs: NeedsNothing, Spec: "RFC 8725; RFC 7515; RFC 9068 §4; RFC 6750 §2, §3.1; RFC 9449 §7.1; see AttackCases", ProvesDPoP: true, Run: (*Target).checkAttacks},
		{Name: "dpop", Needs: NeedsNothing, Spec: "RFC 9449 §4.3, §7.1, §11.1; RFC 7638; see DPoPCases", Run: (*Target).checkDPoP},
		{Name: "introspection", Needs: NeedsIssuerKey, Spec: "RFC 7662 §2.2, §4; RFC 9068 §4; see IntrospectionCases",
			When: func(t *Target) bool { return t.Introspection }, Run: (*Target).checkIntrospection},
	}
}

// caseSpec is the Spec of the sub-check r is running: that of its attack,
// DPoP or introspection case, else that of the check it belongs to.
func (c *Target) caseSpec(r Reporter) string {
	under := func(s string) string { return strings.ReplaceAll(s, " ", "_") }
	path := under(strings.TrimPrefix(r.Name(), c.base+"/"))
	top, rest, _ := strings.Cut(path, "/")
	tables := map[string]func() []AttackCase{"attacks": AttackCases, "dpop": DPoPCases, "introspection": IntrospectionCases}
	if cases, ok := tables[top]; ok {
		for _, a := range cases() {
			if key := under(a.Class + "/" + a.Name); rest == key || strings.HasPrefix(rest, key+"/") {
				return a.Spec
			}
		}
	}
	for _, ch := range Checks() {
		if under(ch.Name) == top {
			return ch.Spec
		}
	}
	return "see the check's specification"
}
