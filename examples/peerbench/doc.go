// Package peerbench compares rsguard's bearer-token middleware (an
// rsguard.Guard over a validate.Validator) with the token verification of
// its peers, side by side, in one harness: the same issuer (a
// validatetest.Issuer serving its JWK Set over loopback HTTP), the same keys,
// the same tokens, the same request and response shapes.
//
// The package holds only tests and benchmarks; see README.md for the
// command, the numbers of the last run and how to read them. The peers are
//
//   - github.com/auth0/go-jwt-middleware/v2 (jwks.CachingProvider and
//     validator.Validator, go-jose v2 underneath);
//   - github.com/modelcontextprotocol/go-sdk/auth (RequireBearerToken) with a
//     TokenVerifier built on github.com/golang-jwt/jwt/v5 and
//     github.com/MicahParks/keyfunc/v3;
//   - a minimal golang-jwt + keyfunc middleware;
//   - github.com/coreos/go-oidc/v3 (RemoteKeySet and IDTokenVerifier, go-jose
//     v4 underneath);
//   - github.com/lestrrat-go/jwx/v3 (jwk.Cache and jwt.Parse).
//
// TestVerdicts proves that every implementation accepts the valid tokens and
// refuses the bad ones the benchmarks use, so that the benchmarks compare
// equal work; TestEdgeVerdicts pins where the implementations disagree, and
// TestJWKSFetches how often each one goes back to the issuer for keys when
// it refuses a token.
//
// TestSideBySide (run only with ROUNDS set) measures rsguard alone against
// its signature floors, as the shared harness does — testing.Benchmark in
// interleaved rounds, ratios to the floor of the same round: a cached JWT
// beside a cached introspected opaque token, a DPoP request against the
// bare verification of its proof's signature, and a proof refused before
// its signature. TestSideBySideWiring checks that wiring without timing it.
package peerbench
