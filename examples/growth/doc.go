// Package growth holds benchmarks of the costs of rsguard that grow with the
// work a server is given, and tests that the bounds the documentation
// promises hold. It has no code of its own: everything is in its test files.
//
// Each benchmark runs at two or three sizes, so that its figures show how
// the cost grows; the time per request should stay flat (or, for bodies,
// grow no faster than the body), and the memory grow linearly in the
// entries held:
//
//   - BenchmarkCachedTokens: 1k, 10k and 100k distinct live tokens in the
//     verified-token cache (validate.CacheOptions raised to hold them all):
//     B/entry of the cache, and the time of a request with one of them
//     (rsguard.Guard over the validate.Validator, then a route scope);
//   - BenchmarkTools: 10, 100 and 1000 tools in the per-tool scope map
//     (scopes.MCPConfig.Tools): B/tool of scopes.NewMCP, and the time of a
//     tools/call through the Guard and scopes.MCP;
//   - BenchmarkBody: tools/call bodies of 1 KiB, 64 KiB and 1 MiB through
//     the Guard and scopes.MCP (MaxBodyBytes 2 MiB), the handler reading the
//     body the middleware replays: ns/KiB and allocated bytes per body byte;
//   - BenchmarkIssuers: 1, 10 and 50 trusted issuers (validate.Config.Issuers,
//     static keys): B/issuer of validate.New, and the time of a token of the
//     last issuer, seen before, first seen, and refused without a signature.
//
// Run them with
//
//	cd examples && go test -run '^$' -bench . -benchmem ./growth
//
// TestCacheBounds checks, by the heap a Validator retains, that the
// verified-token cache stays within validate.CacheOptions.MaxEntries and
// MaxBytes however many distinct tokens it sees; TestBodyBound that
// scopes.MCP reads no more than MCPConfig.MaxBodyBytes of a body however
// long it is, and refuses it with 413.
package growth
