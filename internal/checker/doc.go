// Package checker is the front end of the mcpcheck command (cmd/mcpcheck):
// it checks a deployed MCP server's resource-server behaviour from its
// endpoint URL alone, with the checks of package conformance that
// validatetest.Conformance runs inside go test.
//
// [Run] first learns what an MCP client learns (discovery): the challenges
// of a request without a token (resource_metadata, scope, and the schemes,
// which give the DPoP mode); the RFC 9728 metadata where MCP clients
// (2025-11-25) read it, at the challenge's resource_metadata when it is on
// the endpoint's origin, then at the path-inserted well-known URL, a
// document whose "resource" is not the endpoint discarded (RFC 9728 §3.3);
// the authorization servers it names; the issuer — [Config].Issuer, whose
// metadata is fetched from it, or else the first named server whose RFC
// 8414 or OpenID Connect metadata gives its own identifier as "issuer" —
// and its first signing key (for the forged tokens). With client
// credentials, which are for Config.Issuer only, it gets a token at that
// issuer's own token endpoint (client_credentials, RFC 8707 resource), if
// the server's metadata names the issuer. Then it runs conformance.Run
// with a conformance.Recorder and turns what was recorded into a [Report]:
// a table for people, JSON for CI.
//
// Every request goes through one http.Client whose transport lets through
// only the endpoint's origin and those of the authorization servers the
// metadata names and of the issuer (and of its JWK Set and token
// endpoint), over https (http only to loopback hosts, for an endpoint on
// loopback), counts requests up to a budget, follows no redirect, uses no
// proxy, and ends every request at the run's deadline. Under it, the
// dialer checks each address it connects to (dial.go): for an endpoint not
// on loopback, loopback, link-local, unspecified and multicast addresses
// are refused, and private ones unless the endpoint's own host is on one.
// A run is bounded in time and in requests, and talks to no one else.
// Nothing printed carries a token or the client secret: every string
// passes through conformance.Redact and a last guard that replaces every
// token the run got, and the secret in every form it was sent in, with
// "[redacted]"; of a token endpoint's error, only the status and the error
// code are printed.
//
// The files: checker.go (Config, Run, discovery), client.go (the guarded
// transport), dial.go (the address policy and the dialer), tokens.go (the
// client-credentials token source and the secrets), jwks.go (the issuer's
// signing key), report.go (Report, its table and JSON).
package checker
