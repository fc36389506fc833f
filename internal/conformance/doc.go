// Package conformance holds the checks of a protected resource (RFC 6750,
// RFC 9728, RFC 8707, RFC 8414, the MCP authorization specification) that
// validatetest.Conformance runs inside go test, so that the checker command
// (cmd/mcpcheck, through internal/checker) runs the very same ones against
// a deployed server.
//
// [Checks] is the one ordered list: each [Check] has its subtest name, the
// specification it checks, its function, and what it [Needs] to tell a
// correct server from a wrong one: nothing (black-box: no token, or forged
// ones), a real token for the resource ([TokenSource]: client credentials,
// or the kit's issuer), or tokens with chosen claims signed by the
// authorization server's key ([Minter]: the kit only). The attacks check
// runs [AttackCases], each with Needs of its own.
//
// A front end describes the server as a [Target] and calls [Run] with a
// [Reporter] (a *testing.T through validatetest's adaptor, or a [Recorder]:
// the command's, and the tests'). A run given less than a check needs
// reports it skipped, never as passed, with a message that begins with
// [NotCheckable] and says what the run lacks ("without credentials" in a
// black-box run, "without the authorization server's signing key" in a run
// with a token source) and why, in one clause; a case the authorization
// server would not give a token for (a token for another resource, from a
// [ResourceTokenSource]) is skipped saying so. Without a Minter, forged
// tokens claim Target.Issuer and use Target.IssuerKey, the authorization
// server's published key.
//
// The authorization servers check fetches the metadata of each
// authorization server the resource metadata names that is an issuer
// identifier ([ParseIssuer]) at the URLs MCP clients try, in their order
// ([FetchASMetadata], which the checker's discovery uses too), with
// Target.ASClient; a challenge whose resource_metadata is not
// Target.MetadataURL must name a URL on the resource's origin (the kit
// fetches nothing elsewhere) serving this resource's metadata, judged as the
// metadata check judges the well-known URL's: MCP clients use the URL the
// challenge names (RFC 9728 §5.1). When the run does not know the scopes the
// challenge must name (Target.Scopes nil), those it names must be in the
// metadata's scopes_supported, and, with Target.ChallengeScopeRequired, it
// must name some.
//
// Every failure a check reports cites the specification it applies, in its
// text or through its case's Spec (TestMessagesCite holds the engine to
// it), and ends with one sentence saying what to change in the server.
//
// The dpop and introspection checks run [DPoPCases] and
// [IntrospectionCases], tables of the same form, against a server in the
// Target's DPoP mode; a case that does not apply to it is skipped as
// [DoesNotApply]. The DPoP proofs are the kit's own ([DPoPKey], which
// validatetest.DPoPKey wraps); the crafted introspection answers need a
// Minter that is also an [Introspector]. Against a server that requires
// DPoP, the checks marked [Check].ProvesDPoP (accept, session, stepup,
// attacks) bind every token they mint to a kit-held DPoP key, and the one
// function that gives their requests credentials (Target.sendAs) sends
// each token as `Authorization: DPoP` with a fresh proof; their cases that
// need a token then need the issuer's key (a TokenSource's tokens are not
// bound to the kit's key).
//
// The files: list.go (Needs, Check, Checks), attackcases.go (the attack
// table), target.go (Target, Reporter, Run), record.go (Recorder),
// tokens.go (TokenSource, ResourceTokenSource, Minter, Introspector, the
// forger), http.go (requests, JSON-RPC over Streamable HTTP), sse.go (a
// JSON-RPC response read from an SSE stream),
// checks.go (metadata, cors, challenge, accept, step-up), asmeta.go (the
// authorization servers and their metadata), session.go, attacks.go (the corpus), attackchecks.go (how
// refusals are judged), dpopcases.go (the DPoP and introspection tables),
// dpopkey.go (the DPoP client's keys and proofs), dpop.go and
// introspection.go (those checks), prove.go (the tokens of the ProvesDPoP
// checks against a server that requires DPoP).
//
// Besides rsguard's rsmeta and internal packages, it uses only the standard
// library and golang-jwt, never package testing.
package conformance
