// Package checker is the front end of the mcpcheck command (cmd/mcpcheck):
// it checks a deployed MCP server's resource-server behaviour from its
// endpoint URL alone, with the checks of package conformance that
// validatetest.Conformance runs inside go test.
//
// [Run] first learns what an MCP client learns (discovery): the challenges
// of a request without a token (resource_metadata, scope, and the schemes,
// which give the DPoP mode), the RFC 9728 metadata at the path-inserted
// well-known URL (or, failing that, at the challenge's URL on the same
// origin), the authorization servers it names, the first whose RFC 8414 or
// OpenID Connect metadata gives its own identifier as "issuer", and that
// server's first signing key (for the forged tokens). With client
// credentials it gets a token at the token endpoint (client_credentials,
// RFC 8707 resource). Then it runs conformance.Run with a
// conformance.Recorder and turns what was recorded into a [Report]: a
// table for people, JSON for CI.
//
// Every request goes through one http.Client whose transport lets through
// only the endpoint's origin and those of the authorization servers the
// metadata names (and of the JWK Set and token endpoint of the one that
// matches), counts requests up to a budget, follows no redirect, and ends
// every request at the run's deadline: a run is bounded in time and in
// requests, and talks to no one else. Nothing printed carries a token or
// the client secret: every string passes through conformance.Redact and a
// last guard that replaces every token the run got, and the secret, with
// "[redacted]".
//
// The files: checker.go (Config, Run, discovery), client.go (the guarded
// transport), tokens.go (the client-credentials token source and the
// secrets), jwks.go (the issuer's signing key), report.go (Report, its
// table and JSON).
package checker
