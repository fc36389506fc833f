package conformance

// AttackCase describes one case of the attacks check: its subtest is
// attacks/<Class>/<Name>. A run builds the case's request itself (see
// attacks.go); the case's Needs decides whether the run can make it.
type AttackCase struct {
	Class string
	Name  string
	Needs Needs
	Spec  string
	// Why, for a case that needs more than nothing, says in one clause why
	// a black-box run cannot tell a correct server from a wrong one with
	// it.
	Why string
}

// Reasons shared by many cases.
const (
	whySigned  = "only a token signed by the issuer's key shows whether the server checks this"
	whyValid   = "only a valid token shows whether the server reads a token sent this way"
	whyPublish = "the key must be published in the issuer's JWK Set"
)

// AttackCases returns every attack case a run may make, by class, in the
// order they run. Some apply only to some targets: "aud over http" to an
// https resource, the RS256 cases to an issuer with an RS256 key, the method
// class to MCP.
func AttackCases() []AttackCase {
	return []AttackCase{
		// algorithm: forged with the attacker's keys or the issuer's
		// public key (RFC 8725 §2.1), black-box; unless a valid signature
		// by the issuer's key is the point.
		{"algorithm", "alg none", NeedsNothing, "RFC 8725 §3.1; RFC 7519 §6", ""},
		{"algorithm", "alg None", NeedsNothing, "RFC 8725 §3.1; RFC 7519 §6", ""},
		{"algorithm", "alg NONE with a signature", NeedsNothing, "RFC 8725 §3.1; RFC 7519 §6", ""},
		{"algorithm", "HS256 keyed with the public key PEM", NeedsNothing, "RFC 8725 §2.1, §3.1", ""},
		{"algorithm", "HS256 keyed with the public key DER", NeedsNothing, "RFC 8725 §2.1, §3.1", ""},
		{"algorithm", "HS256 keyed with the JWK", NeedsNothing, "RFC 8725 §2.1, §3.1", ""},
		{"algorithm", "HS512 keyed with the public key PEM", NeedsNothing, "RFC 8725 §2.1, §3.1", ""},
		{"algorithm", "foreign key under the issuer's kid", NeedsNothing, "RFC 9068 §4; RFC 7515 §4.1.4", ""},
		{"algorithm", "foreign key under an unknown kid", NeedsNothing, "RFC 9068 §4; RFC 7515 §4.1.4", ""},
		{"algorithm", "foreign key without kid", NeedsNothing, "RFC 9068 §4", ""},
		{"algorithm", "foreign key of another type under the issuer's kid", NeedsNothing, "RFC 8725 §3.1", ""},
		{"algorithm", "foreign key in a jwk header", NeedsNothing, "RFC 8725 §3.10; RFC 7515 §4.1.3", ""},
		{"algorithm", "foreign key in a jku header", NeedsNothing, "RFC 8725 §3.10; RFC 7515 §4.1.2", ""},
		{"algorithm", "foreign key in an x5u header", NeedsNothing, "RFC 8725 §3.10; RFC 7515 §4.1.5", ""},
		{"algorithm", "stripped signature", NeedsNothing, "RFC 7515 §5.2", ""},
		{"algorithm", "signature of another token", NeedsIssuerKey, "RFC 7515 §5.2", "both tokens must be validly signed by the issuer's key"},
		{"algorithm", "payload tampered", NeedsToken, "RFC 7515 §5.2", "the header and signature must come from a valid token"},
		{"algorithm", "crit header", NeedsIssuerKey, "RFC 7515 §4.1.11", whySigned},
		{"algorithm", "crit b64", NeedsIssuerKey, "RFC 7515 §4.1.11; RFC 7797 §6", whySigned},
		{"algorithm", "key published with use enc", NeedsIssuerKey, "RFC 7517 §4.2, §4.3", whyPublish},
		{"algorithm", "RSA key of 1024 bits", NeedsIssuerKey, "RFC 7518 §3.3", whyPublish},
		{"algorithm", "hostile kid", NeedsIssuerKey, "RFC 8725 §3.10", whySigned},
		{"algorithm", "PS256 signature by the RS256 key", NeedsIssuerKey, "RFC 8725 §3.1", "the signature must be made by the issuer's RS256 key"},
		{"algorithm", "header ES256 on the RS256 key", NeedsNothing, "RFC 8725 §3.1", ""},

		// claims: a token the issuer signed, with one claim wrong.
		{"claims", "expired", NeedsIssuerKey, "RFC 7519 §4.1.4; RFC 9068 §4", whySigned},
		{"claims", "not yet valid", NeedsIssuerKey, "RFC 7519 §4.1.5", whySigned},
		{"claims", "issued in the future", NeedsIssuerKey, "RFC 9068 §4", whySigned},
		{"claims", "no exp", NeedsIssuerKey, "RFC 9068 §2.2", whySigned},
		{"claims", "exp as a string", NeedsIssuerKey, "RFC 7519 §2 (NumericDate)", whySigned},
		{"claims", "no iss", NeedsIssuerKey, "RFC 9068 §4", whySigned},
		{"claims", "other issuer", NeedsIssuerKey, "RFC 9068 §4", whySigned},
		{"claims", "issuer with a trailing slash", NeedsIssuerKey, "RFC 9068 §4; RFC 8414 §2", whySigned},
		{"claims", "issuer upper-cased", NeedsIssuerKey, "RFC 9068 §4", whySigned},
		{"claims", "no aud", NeedsIssuerKey, "RFC 8707 §2; RFC 9068 §4", whySigned},
		{"claims", "aud as a number", NeedsIssuerKey, "RFC 7519 §4.1.3", whySigned},
		{"claims", "aud another resource", NeedsToken, "RFC 8707 §2; RFC 9068 §4", "only a token the authorization server issued for another resource shows whether the server checks aud"},
		{"claims", "aud the origin only", NeedsIssuerKey, "RFC 8707 §2; RFC 9068 §4", whySigned},
		{"claims", "aud a sibling path", NeedsIssuerKey, "RFC 8707 §2; RFC 9068 §4", whySigned},
		{"claims", "aud a prefix", NeedsIssuerKey, "RFC 8707 §2; RFC 9068 §4", whySigned},
		{"claims", "aud an extension", NeedsIssuerKey, "RFC 8707 §2; RFC 9068 §4", whySigned},
		{"claims", "aud array without the resource", NeedsIssuerKey, "RFC 8707 §2; RFC 9068 §4", whySigned},
		{"claims", "aud the issuer", NeedsIssuerKey, "RFC 8707 §2; RFC 9068 §4", whySigned},
		{"claims", "typ dpop+jwt", NeedsIssuerKey, "RFC 9068 §2.1, §4; RFC 8725 §3.11", whySigned},
		{"claims", "typ id_token+jwt", NeedsIssuerKey, "RFC 9068 §2.1, §4; RFC 8725 §3.11", whySigned},
		{"claims", "typ logout+jwt", NeedsIssuerKey, "RFC 9068 §2.1, §4; RFC 8725 §3.11", whySigned},
		{"claims", "cnf jkt (DPoP-bound) as Bearer", NeedsIssuerKey, "RFC 9449 §7.1; RFC 7800 §3.1", whySigned},
		{"claims", "cnf x5t#S256 (mTLS-bound) as Bearer", NeedsIssuerKey, "RFC 8705 §3; RFC 7800 §3.1", whySigned},
		{"claims", "auth_time a year ahead", NeedsIssuerKey, "RFC 9068 §2.2.1; RFC 9470", whySigned},
		{"claims", "aud over http", NeedsIssuerKey, "RFC 8707 §2; RFC 9068 §4", whySigned},

		// malformed: garbage is black-box; a signed payload is not.
		{"malformed", "not a JWT", NeedsNothing, "RFC 7515 §7.1", ""},
		{"malformed", "two segments", NeedsNothing, "RFC 7515 §7.1", ""},
		{"malformed", "four segments", NeedsToken, "RFC 7515 §7.1", "a server that ignores the extra segment accepts only a valid token"},
		{"malformed", "JWE", NeedsNothing, "RFC 7516 §9; RFC 9068 §4", ""},
		{"malformed", "header not JSON", NeedsNothing, "RFC 7515 §7.2", ""},
		{"malformed", "header a JSON array", NeedsNothing, "RFC 7515 §4", ""},
		{"malformed", "payload a JSON array", NeedsIssuerKey, "RFC 7519 §7.2", whySigned},
		{"malformed", "header in the standard base64 alphabet", NeedsNothing, "RFC 7515 §2 (base64url)", ""},
		{"malformed", "deeply nested header", NeedsNothing, "RFC 8259 §9", ""},
		{"malformed", "duplicate sub", NeedsIssuerKey, "RFC 7515 §5.2; RFC 7519 §4", whySigned},
		{"malformed", "duplicate sub spelled with an escape", NeedsIssuerKey, "RFC 7515 §5.2; RFC 7519 §4", whySigned},
		{"malformed", "duplicate custom claim", NeedsIssuerKey, "RFC 7515 §5.2; RFC 7519 §4", whySigned},
		{"malformed", "duplicate member in a nested object", NeedsIssuerKey, "RFC 7515 §5.2; RFC 8259 §4", whySigned},
		{"malformed", "lone surrogate in sub", NeedsIssuerKey, "RFC 8259 §8.2", whySigned},
		{"malformed", "number out of float64 range", NeedsIssuerKey, "RFC 8259 §6", whySigned},
		{"malformed", "oversized token", NeedsIssuerKey, "RFC 6585 §5; RFC 9110 §15.5", "a server without a size bound accepts only a valid oversized token"},

		// request: where the token travels. Without a token, black-box;
		// a token elsewhere than the Authorization header, valid only.
		{"request", "no Authorization header", NeedsNothing, "RFC 6750 §3.1; MCP authorization", ""},
		{"request", "Basic scheme", NeedsToken, "RFC 6750 §2.1", whyValid},
		{"request", "token without scheme", NeedsToken, "RFC 6750 §2.1", whyValid},
		{"request", "empty Bearer", NeedsNothing, "RFC 6750 §2.1, §3.1", ""},
		{"request", "two tokens in one header", NeedsToken, "RFC 6750 §2.1; RFC 9110 §11.6.2", whyValid},
		{"request", "two Authorization headers", NeedsToken, "RFC 6750 §2.1; RFC 9110 §5.3", whyValid},
		{"request", "token in the query string", NeedsToken, "RFC 6750 §2.3; MCP authorization (token handling)", whyValid},
		{"request", "token in the form body", NeedsToken, "RFC 6750 §2.2; MCP authorization (token handling)", whyValid},
		{"request", "token in a cookie", NeedsToken, "RFC 6750 §2", whyValid},
		{"request", "token in a custom header", NeedsToken, "RFC 6750 §2", whyValid},
		{"request", "spoofed Host header", NeedsNothing, "RFC 9728 §5.1, §7.3", ""},
		{"request", "spoofed X-Forwarded headers", NeedsNothing, "RFC 9728 §5.1, §7.3", ""},

		// method (MCP): a session and a tool call the token may not make.
		{"method", "PUT with a tool call body", NeedsToken, "RFC 9110 §15.5.6; MCP transport (Streamable HTTP)", "the request must get past authentication"},
		{"method", "PATCH with a tool call body", NeedsToken, "RFC 9110 §15.5.6; MCP transport (Streamable HTTP)", "the request must get past authentication"},
		{"method", "lowercase post with a tool call body", NeedsToken, "RFC 9110 §9.1, §15.5.6; MCP transport (Streamable HTTP)", "the request must get past authentication"},
	}
}

// attackCase looks a case up in AttackCases.
func attackCase(class, name string) (AttackCase, bool) {
	for _, a := range AttackCases() {
		if a.Class == class && a.Name == name {
			return a, true
		}
	}
	return AttackCase{}, false
}
