// Package audit is the vocabulary of rsguard's decisions: every request an
// rsguard middleware lets through or refuses produces a [Decision] — the
// stage that decided ([StageAuthenticate], [StageAuthorize]), a stable
// [Reason] code, the HTTP status, the kind of [Credential] and the verified
// identity — delivered to a [Func] configured as OnDecision.
//
// The package writes nothing on its own. [Slog] turns decisions into
// log/slog records, [Count] into metrics through the small [Metrics]
// interface (examples/metrics implements it over Prometheus), and [Multi]
// sends them to several sinks. A Decision never holds a credential: no
// token, no API key, no hash of one.
//
// Credential kinds and reason codes are fixed lists: a code is never renamed
// or reused for another cause, and new ones may be added (an authenticator
// of a new credential kind adds its own). Reason codes are safe as metric
// labels.
package audit
