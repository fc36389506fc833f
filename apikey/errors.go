package apikey

import "errors"

// Sentinel errors. Every error this package returns about a key wraps exactly
// one of them, so callers match with [errors.Is]. The middleware reports them
// to clients as a *validate.Error whose Err field wraps the sentinel and whose
// Description is a fixed, client-safe text: neither the key nor its hash ever
// appears in an error.
var (
	// ErrMalformed means the string is not a key of the configured format
	// (wrong prefix, length, separator or alphabet). Detected without a
	// store lookup. When the prefix is wrong, the [Authenticator]'s error
	// and error_description name the expected prefix, never the key.
	ErrMalformed = errors.New("apikey: malformed key")

	// ErrChecksum means the key has the right shape but its checksum does
	// not match: a typo, a truncated copy or a made-up string. Detected
	// without a store lookup.
	ErrChecksum = errors.New("apikey: key checksum mismatch")

	// ErrUnknown means the key is well formed but no record has its hash.
	// A [Store] returns it (possibly wrapped) from Lookup.
	ErrUnknown = errors.New("apikey: unknown key")

	// ErrExpired means the key's record has an expiry time that has passed.
	ErrExpired = errors.New("apikey: key expired")

	// ErrRevoked means the key's record is marked revoked.
	ErrRevoked = errors.New("apikey: key revoked")

	// ErrBlocked means the migration policy blocks API keys for the key's
	// client (state [StateBlocked]).
	ErrBlocked = errors.New("apikey: keys blocked for this client")

	// ErrRetired means the key's cutoff date (its client's, or the global
	// one) has passed: API keys are retired for it.
	ErrRetired = errors.New("apikey: keys retired for this client")

	// ErrMultipleCredentials means a request carried both an API key and a
	// bearer token, or the key header more than once (RFC 6750 §3.1
	// invalid_request).
	ErrMultipleCredentials = errors.New("apikey: more than one credential")

	// ErrBearerKey means an API key was sent as a Bearer token while
	// [Config].AcceptBearerKeys is off.
	ErrBearerKey = errors.New("apikey: API key sent as bearer token")

	// ErrBearerNotAccepted means a bearer token was sent to an
	// [Authenticator] configured without a validator (keys only).
	ErrBearerNotAccepted = errors.New("apikey: bearer tokens not accepted")

	// ErrStore means the [Store] failed for a reason other than an unknown
	// key (a database outage, a cancelled context).
	ErrStore = errors.New("apikey: key store unavailable")

	// ErrInvalidPrefix means a key prefix does not follow the rules of
	// [CheckPrefix].
	ErrInvalidPrefix = errors.New("apikey: invalid key prefix")

	// ErrInvalidRecord means a [Record] fails [Record.Validate], or a key
	// file cannot be decoded.
	ErrInvalidRecord = errors.New("apikey: invalid key record")

	// ErrInvalidConfig means a [Config] or [Policy] was refused by [New]
	// or [Authenticator.SetPolicy] (or a nil *[MemoryStore] was written
	// to).
	ErrInvalidConfig = errors.New("apikey: invalid configuration")
)
