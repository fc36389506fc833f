package conformance

// Reasons of the DPoP and introspection cases that need more than nothing.
const (
	whyBound    = "only a token the issuer bound to the proof's key shows whether the server checks the proof"
	whyBearer   = "only a valid bearer token shows whether the server refuses it without a proof"
	whyOffToken = "only a valid token shows whether the server reads the DPoP scheme"
	whyAnswer   = "only answers the issuer's introspection endpoint is made to give show whether the server checks them"
	whyCount    = "only the issuer's count of introspection requests shows whether the server bounds them"
)

// DPoPCases returns the cases of the dpop check (its subtest is
// dpop/<Class>/<Name>), by class, in the order they run: proof (the proof's
// form and key: RFC 9449 §4.2, §4.3 steps 1 to 8), headers (where the
// proof and the token travel), replay (§11.1), clock (the "iat" window),
// mismatch ("htm", "htu", "ath": §4.3 steps 9 to 12) and downgrade (bound
// tokens without their proof, and the schemes accepted: §7.1, §7.2). Before
// them, dpop/accepted checks that a bound token with a valid proof gets
// through. Which cases apply depends on Target.DPoP: with DPoP off, only
// the downgrade cases that say a bound token or the DPoP scheme is refused.
func DPoPCases() []AttackCase {
	return []AttackCase{
		{"proof", "alg none", NeedsIssuerKey, "RFC 9449 §4.3 step 5; RFC 8725 §3.1", whyBound},
		{"proof", "HS256 keyed with the jwk", NeedsIssuerKey, "RFC 9449 §4.3 step 5; RFC 8725 §2.1", whyBound},
		{"proof", "signed by another key than its jwk", NeedsIssuerKey, "RFC 9449 §4.3 step 7", whyBound},
		{"proof", "jwk with a private member", NeedsIssuerKey, "RFC 9449 §4.3 step 6; RFC 7518 §6.2.2", whyBound},
		{"proof", "jwk of another key type than alg", NeedsIssuerKey, "RFC 9449 §4.3 step 5; RFC 8725 §3.1", whyBound},
		{"proof", "jwk on another curve than alg", NeedsIssuerKey, "RFC 9449 §4.3 step 5; RFC 7518 §3.4", whyBound},
		{"proof", "jwk point off its curve", NeedsIssuerKey, "RFC 9449 §4.3 step 6; RFC 8725 §3.4", whyBound},
		{"proof", "no jwk", NeedsIssuerKey, "RFC 9449 §4.2, §4.3 step 6", whyBound},
		{"proof", "key named by kid only", NeedsIssuerKey, "RFC 9449 §4.2, §4.3 step 6", whyBound},
		{"proof", "key from a jku header", NeedsIssuerKey, "RFC 9449 §4.2; RFC 8725 §3.10", whyBound},
		{"proof", "key from an x5c header", NeedsIssuerKey, "RFC 9449 §4.2; RFC 8725 §3.10", whyBound},
		{"proof", "RSA jwk of 1024 bits", NeedsIssuerKey, "RFC 9449 §4.3 step 6; RFC 7518 §3.3", whyBound},
		{"proof", "typ JWT", NeedsIssuerKey, "RFC 9449 §4.2, §4.3 step 4; RFC 8725 §3.11", whyBound},
		{"proof", "typ absent", NeedsIssuerKey, "RFC 9449 §4.2, §4.3 step 4", whyBound},
		{"proof", "typ at+jwt", NeedsIssuerKey, "RFC 9449 §4.3 step 4; RFC 8725 §3.11", whyBound},
		{"proof", "crit header", NeedsIssuerKey, "RFC 7515 §4.1.11", whyBound},
		{"proof", "the access token as the proof", NeedsIssuerKey, "RFC 9449 §4.3 steps 4, 6; RFC 8725 §3.11", whyBound},
		{"proof", "duplicate htm", NeedsIssuerKey, "RFC 9449 §4.3 step 3; RFC 7515 §5.2", whyBound},
		{"proof", "oversized proof", NeedsIssuerKey, "RFC 9449 §4.3 step 2; RFC 9110 §15.5", whyBound},

		{"headers", "no DPoP header", NeedsIssuerKey, "RFC 9449 §4.3 step 1, §7.1", whyBound},
		{"headers", "two DPoP header fields", NeedsIssuerKey, "RFC 9449 §4.3 step 1", whyBound},
		{"headers", "two proofs in one DPoP field", NeedsIssuerKey, "RFC 9449 §4.3 step 1; RFC 9110 §5.3", whyBound},
		{"headers", "proof in another header", NeedsIssuerKey, "RFC 9449 §4.1, §7.1", whyBound},
		{"headers", "Bearer and DPoP Authorization headers", NeedsIssuerKey, "RFC 9449 §7.1; RFC 9110 §11.6.2", whyBound},
		{"headers", "two tokens in one DPoP Authorization header", NeedsIssuerKey, "RFC 9449 §7.1; RFC 9110 §11.6.2", whyBound},
		{"headers", "token in the query string with a proof", NeedsIssuerKey, "RFC 9449 §7.1; RFC 6750 §2.3; MCP authorization (token handling)", whyBound},

		{"replay", "same proof twice", NeedsIssuerKey, "RFC 9449 §4.3 step 12, §11.1", whyBound},
		{"replay", "same proof twice at once", NeedsIssuerKey, "RFC 9449 §11.1", whyBound},
		{"replay", "same jti in a new proof", NeedsIssuerKey, "RFC 9449 §4.3 step 12, §11.1", whyBound},
		{"replay", "same jti with another token of the key", NeedsIssuerKey, "RFC 9449 §11.1", whyBound},
		{"replay", "same proof with a query string added", NeedsIssuerKey, "RFC 9449 §4.3 step 9, §11.1", whyBound},
		{"replay", "same proof with white space around it", NeedsIssuerKey, "RFC 9449 §11.1; RFC 9110 §5.5", whyBound},
		{"replay", "same proof under the lower-case scheme", NeedsIssuerKey, "RFC 9449 §11.1; RFC 9110 §11.1", whyBound},

		{"clock", "iat an hour ago", NeedsIssuerKey, "RFC 9449 §4.3 step 11, §11.1", whyBound},
		{"clock", "iat a day ago", NeedsIssuerKey, "RFC 9449 §4.3 step 11, §11.1", whyBound},
		{"clock", "iat ten minutes ahead", NeedsIssuerKey, "RFC 9449 §4.3 step 11", whyBound},
		{"clock", "iat an hour ahead", NeedsIssuerKey, "RFC 9449 §4.3 step 11", whyBound},
		{"clock", "iat in the year 3000", NeedsIssuerKey, "RFC 9449 §4.3 step 11", whyBound},
		{"clock", "iat zero", NeedsIssuerKey, "RFC 9449 §4.3 step 11", whyBound},
		{"clock", "iat absent", NeedsIssuerKey, "RFC 9449 §4.2, §4.3 step 11", whyBound},
		{"clock", "iat a string", NeedsIssuerKey, "RFC 9449 §4.2; RFC 7519 §2 (NumericDate)", whyBound},

		{"mismatch", "htm another method", NeedsIssuerKey, "RFC 9449 §4.3 step 8", whyBound},
		{"mismatch", "htm in lower case", NeedsIssuerKey, "RFC 9449 §4.3 step 8; RFC 9110 §9.1", whyBound},
		{"mismatch", "htm absent", NeedsIssuerKey, "RFC 9449 §4.2, §4.3 step 8", whyBound},
		{"mismatch", "htu another path", NeedsIssuerKey, "RFC 9449 §4.3 step 9", whyBound},
		{"mismatch", "htu another host", NeedsIssuerKey, "RFC 9449 §4.3 step 9", whyBound},
		{"mismatch", "htu another scheme", NeedsIssuerKey, "RFC 9449 §4.3 step 9", whyBound},
		{"mismatch", "htu another port", NeedsIssuerKey, "RFC 9449 §4.3 step 9", whyBound},
		{"mismatch", "htu with a trailing slash", NeedsIssuerKey, "RFC 9449 §4.3 step 9; RFC 3986 §6.2.3", whyBound},
		{"mismatch", "htu absent", NeedsIssuerKey, "RFC 9449 §4.2, §4.3 step 9", whyBound},
		{"mismatch", "htu from a spoofed Host header", NeedsIssuerKey, "RFC 9449 §4.3 step 9; RFC 9728 §7.3", whyBound},
		{"mismatch", "htu from spoofed X-Forwarded headers", NeedsIssuerKey, "RFC 9449 §4.3 step 9; RFC 9728 §7.3", whyBound},
		{"mismatch", "ath of another token", NeedsIssuerKey, "RFC 9449 §4.3 step 12, §7.1", whyBound},
		{"mismatch", "ath absent", NeedsIssuerKey, "RFC 9449 §4.2, §7.1", whyBound},
		{"mismatch", "ath padded", NeedsIssuerKey, "RFC 9449 §4.2 (base64url without padding)", whyBound},
		{"mismatch", "ath in hex", NeedsIssuerKey, "RFC 9449 §4.2", whyBound},

		{"downgrade", "challenges name the accepted schemes", NeedsNothing, "RFC 9449 §7.1; RFC 6750 §3; RFC 9728 §5.1", ""},
		{"downgrade", "bound token as Bearer", NeedsIssuerKey, "RFC 9449 §7.1, §7.2; RFC 7800 §3.1", whyBound},
		{"downgrade", "bound token as Bearer with its proof", NeedsIssuerKey, "RFC 9449 §7.1, §7.2", whyBound},
		{"downgrade", "bound token as Bearer once accepted with DPoP", NeedsIssuerKey, "RFC 9449 §7.1, §7.2", whyBound},
		{"downgrade", "unbound token with a valid proof", NeedsIssuerKey, "RFC 9449 §7.1 (key binding)", whyBound},
		{"downgrade", "mTLS-bound token with a valid proof", NeedsIssuerKey, "RFC 9449 §7.1; RFC 8705 §3", whyBound},
		{"downgrade", "bound opaque token as Bearer", NeedsIssuerKey, "RFC 9449 §6.2, §7.1; RFC 7662 §2.2", whyBound},
		{"downgrade", "bearer token where DPoP is required", NeedsToken, "RFC 9449 §7.1, §7.2; RFC 6750 §3.1", whyBearer},
		{"downgrade", "DPoP scheme while DPoP is off", NeedsToken, "RFC 6750 §2.1, §3.1", whyOffToken},
		{"downgrade", "bound token with its proof while DPoP is off", NeedsIssuerKey, "RFC 9449 §7.1; RFC 6750 §3.1", whyBound},
	}
}

// IntrospectionCases returns the cases of the introspection check (its
// subtest is introspection/<Class>/<Name>), by class, in the order they
// run: the answer's "iss", "aud", "active", "token_type" and "exp"
// (RFC 7662 §2.2, checked as strictly as a JWT's claims, RFC 9068 §4), an
// endpoint that is slow, answers huge or malformed responses (RFC 7662
// §4), and floods of made-up tokens. Before them, introspection/accepted
// checks that an active opaque token for the resource gets through. Each
// case sends a new opaque token, so that no cached answer decides it; the
// floods run last, as they spend the server's introspection rate limit.
func IntrospectionCases() []AttackCase {
	const answer = "RFC 7662 §2.2; RFC 9068 §4"
	return []AttackCase{
		{"iss", "iss absent", NeedsIssuerKey, answer, whyAnswer},
		{"iss", "iss another issuer", NeedsIssuerKey, answer, whyAnswer},
		{"iss", "iss with a trailing slash", NeedsIssuerKey, answer + "; RFC 8414 §2", whyAnswer},
		{"iss", "iss upper-cased", NeedsIssuerKey, answer, whyAnswer},
		{"iss", "iss a number", NeedsIssuerKey, answer + "; RFC 7519 §4.1.1", whyAnswer},
		{"iss", "iss the resource", NeedsIssuerKey, answer, whyAnswer},

		{"aud", "aud absent", NeedsIssuerKey, answer + "; RFC 8707 §2", whyAnswer},
		{"aud", "aud another resource", NeedsIssuerKey, answer + "; RFC 8707 §2", whyAnswer},
		{"aud", "aud an empty array", NeedsIssuerKey, answer + "; RFC 8707 §2", whyAnswer},
		{"aud", "aud the origin only", NeedsIssuerKey, answer + "; RFC 8707 §2", whyAnswer},
		{"aud", "aud a number", NeedsIssuerKey, answer + "; RFC 7519 §4.1.3", whyAnswer},
		{"aud", "aud array without the resource", NeedsIssuerKey, answer + "; RFC 8707 §2", whyAnswer},
		{"aud", "aud the issuer", NeedsIssuerKey, answer + "; RFC 8707 §2", whyAnswer},

		{"active", "active false", NeedsIssuerKey, "RFC 7662 §2.2", whyAnswer},
		{"active", "active false with every other claim", NeedsIssuerKey, "RFC 7662 §2.2", whyAnswer},
		{"active", "active the string true", NeedsIssuerKey, "RFC 7662 §2.2 (a boolean)", whyAnswer},
		{"active", "active 1", NeedsIssuerKey, "RFC 7662 §2.2 (a boolean)", whyAnswer},
		{"active", "active null", NeedsIssuerKey, "RFC 7662 §2.2 (REQUIRED)", whyAnswer},
		{"active", "active absent", NeedsIssuerKey, "RFC 7662 §2.2 (REQUIRED)", whyAnswer},

		{"token_type", "token_type absent", NeedsIssuerKey, "RFC 7662 §2.2; RFC 6749 §1.5", whyAnswer},
		{"token_type", "token_type refresh_token", NeedsIssuerKey, "RFC 7662 §2.2; RFC 6749 §1.5", whyAnswer},
		{"token_type", "token_type N_A", NeedsIssuerKey, "RFC 7662 §2.2; RFC 8693 §3", whyAnswer},
		{"token_type", "token_type id_token", NeedsIssuerKey, "RFC 7662 §2.2; RFC 8725 §3.11", whyAnswer},
		{"token_type", "token_type null", NeedsIssuerKey, "RFC 7662 §2.2", whyAnswer},
		{"token_type", "token_type a number", NeedsIssuerKey, "RFC 7662 §2.2", whyAnswer},
		{"token_type", "token_use refresh_token", NeedsIssuerKey, "RFC 7662 §2.2", whyAnswer},
		{"token_type", "token_type DPoP without cnf", NeedsIssuerKey, "RFC 9449 §6.2, §7.1", whyAnswer},

		{"exp", "exp past", NeedsIssuerKey, "RFC 7662 §2.2, §4; RFC 7519 §4.1.4", whyAnswer},
		{"exp", "exp absent", NeedsIssuerKey, "RFC 9068 §2.2; RFC 7662 §4", whyAnswer},
		{"exp", "exp a string", NeedsIssuerKey, "RFC 7519 §2 (NumericDate)", whyAnswer},
		{"exp", "nbf ahead", NeedsIssuerKey, "RFC 7662 §2.2; RFC 7519 §4.1.5", whyAnswer},

		{"slow", "no answer", NeedsIssuerKey, "RFC 7662 §4; RFC 9110 §15.6.4", whyAnswer},
		{"slow", "headers then nothing", NeedsIssuerKey, "RFC 7662 §4; RFC 9110 §15.6.4", whyAnswer},
		{"slow", "half an answer then nothing", NeedsIssuerKey, "RFC 7662 §4; RFC 9110 §15.6.4", whyAnswer},
		{"slow", "answer once the request is given up", NeedsIssuerKey, "RFC 7662 §4; RFC 9110 §15.6.4", whyAnswer},
		{"slow", "no answer to requests at once", NeedsIssuerKey, "RFC 7662 §4; RFC 9110 §15.6.4", whyAnswer},
		{"slow", "no answer for one token twice", NeedsIssuerKey, "RFC 7662 §4; RFC 9110 §15.6.4", whyAnswer},

		{"huge", "4 MiB answer", NeedsIssuerKey, "RFC 7662 §4; RFC 8725 §3.1 (bounded input)", whyAnswer},
		{"huge", "4 MiB answer without a length", NeedsIssuerKey, "RFC 7662 §4", whyAnswer},
		{"huge", "4 MiB sub", NeedsIssuerKey, "RFC 7662 §4", whyAnswer},
		{"huge", "aud of 200000 entries", NeedsIssuerKey, "RFC 7662 §4", whyAnswer},
		{"huge", "a length of 1 GiB announced", NeedsIssuerKey, "RFC 7662 §4; RFC 9112 §6.3", whyAnswer},

		{"malformed", "not JSON", NeedsIssuerKey, "RFC 7662 §2.2; RFC 8259", whyAnswer},
		{"malformed", "truncated JSON", NeedsIssuerKey, "RFC 7662 §2.2; RFC 8259", whyAnswer},
		{"malformed", "a JSON array", NeedsIssuerKey, "RFC 7662 §2.2", whyAnswer},
		{"malformed", "trailing data", NeedsIssuerKey, "RFC 7662 §2.2; RFC 8259 §2", whyAnswer},
		{"malformed", "empty body", NeedsIssuerKey, "RFC 7662 §2.2", whyAnswer},
		{"malformed", "duplicate active", NeedsIssuerKey, "RFC 7662 §2.2; RFC 8259 §4; RFC 7515 §5.2", whyAnswer},
		{"malformed", "duplicate aud", NeedsIssuerKey, "RFC 7662 §2.2; RFC 8259 §4", whyAnswer},
		{"malformed", "duplicate iss", NeedsIssuerKey, "RFC 7662 §2.2; RFC 8259 §4", whyAnswer},
		{"malformed", "lone surrogate in sub", NeedsIssuerKey, "RFC 8259 §8.2", whyAnswer},
		{"malformed", "content type text/html", NeedsIssuerKey, "RFC 7662 §2.2 (application/json)", whyAnswer},
		{"malformed", "status 500", NeedsIssuerKey, "RFC 7662 §2.3, §4", whyAnswer},
		{"malformed", "status 401", NeedsIssuerKey, "RFC 7662 §2.3", whyAnswer},
		{"malformed", "redirect", NeedsIssuerKey, "RFC 7662 §2.1, §4; RFC 9110 §15.4", whyAnswer},

		{"flood", "a known token during a flood", NeedsIssuerKey, "RFC 7662 §4", whyCount},
		{"flood", "distinct made-up tokens", NeedsIssuerKey, "RFC 7662 §4; RFC 6585 §4", whyCount},
		{"flood", "distinct made-up tokens at once", NeedsIssuerKey, "RFC 7662 §4", whyCount},
		{"flood", "one made-up token again and again", NeedsIssuerKey, "RFC 7662 §4", whyCount},
		{"flood", "large made-up tokens", NeedsIssuerKey, "RFC 7662 §4", whyCount},
	}
}

// caseIn looks the case class/name up in cases.
func caseIn(cases []AttackCase, class, name string) (AttackCase, bool) {
	for _, a := range cases {
		if a.Class == class && a.Name == name {
			return a, true
		}
	}
	return AttackCase{}, false
}
