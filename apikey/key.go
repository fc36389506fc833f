package apikey

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"regexp"
	"strings"

	"github.com/rsguard/rsguard"
)

// Lengths of the parts of a key, after its prefix: <id>_<secret><checksum>.
// See the package documentation, "Key format".
const (
	// idLen is the length of a key id, in base62 characters.
	idLen = 12
	// secretLen is the length of a key's secret part, in base62 characters.
	secretLen = 32
	// checksumLen is the length of a key's checksum, in base62 characters
	// (62^6 > 2^32, so a CRC-32 always fits).
	checksumLen = 6
	// bodyLen is the length of a key after its prefix.
	bodyLen = idLen + 1 + secretLen + checksumLen
	// maxPrefixLen is the longest prefix checkPrefix accepts.
	maxPrefixLen = 32
)

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// base62Value returns the value of c as a base62 digit, or -1.
func base62Value(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'A' <= c && c <= 'Z':
		return int(c-'A') + 10
	case 'a' <= c && c <= 'z':
		return int(c-'a') + 36
	}
	return -1
}

// checkPrefix reports whether prefix may be used for keys: 2 to
// maxPrefixLen ASCII characters, starting with a letter, made of letters,
// digits and "_", and ending with "_" (for example "sk_live_" or "acme_").
// The trailing "_" keeps the prefix visually apart from the id and the
// pattern unambiguous for scanners. A prefix may not start with "ey", as
// every JWT does, so a key sent as a bearer token is told from a JWT by its
// prefix alone. Errors wrap rsguard.ErrInvalidConfig.
func checkPrefix(prefix string) error {
	if len(prefix) < 2 || len(prefix) > maxPrefixLen {
		return fmt.Errorf("%w: key prefix %q: length %d not in 2..%d", rsguard.ErrInvalidConfig, prefix, len(prefix), maxPrefixLen)
	}
	if c := prefix[0]; !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
		return fmt.Errorf("%w: key prefix %q: must start with an ASCII letter", rsguard.ErrInvalidConfig, prefix)
	}
	if strings.HasPrefix(prefix, "ey") {
		return fmt.Errorf("%w: key prefix %q: must not start with \"ey\", as JWTs do", rsguard.ErrInvalidConfig, prefix)
	}
	if prefix[len(prefix)-1] != '_' {
		return fmt.Errorf("%w: key prefix %q: must end with \"_\"", rsguard.ErrInvalidConfig, prefix)
	}
	for i := 0; i < len(prefix); i++ {
		if c := prefix[i]; c != '_' && base62Value(c) < 0 {
			return fmt.Errorf("%w: key prefix %q: character %d is not a letter, digit or \"_\"", rsguard.ErrInvalidConfig, prefix, i)
		}
	}
	return nil
}

// Pattern returns a regular expression (RE2 and PCRE syntax, unanchored)
// that matches keys with the given prefix, for secret scanners (GitHub
// custom patterns, gitleaks, trufflehog). A match can be confirmed offline
// with [Parse]. The prefix is not checked.
func Pattern(prefix string) string {
	return regexp.QuoteMeta(prefix) + fmt.Sprintf(`[0-9A-Za-z]{%d}_[0-9A-Za-z]{%d}`, idLen, secretLen+checksumLen)
}

// Parse checks that key is a well-formed key with the given prefix and a
// valid checksum, and returns its id (a substring of key). It does no store
// lookup and no allocation, and past the prefix it reads every byte
// whatever it finds, so its running time does not depend on the id or the
// secret (the prefix and the checksum algorithm are public).
//
// Its errors wrap audit.ReasonMalformed, with a message that tells a key
// of the wrong shape (prefix, length, separator or alphabet) from one whose
// checksum does not match; they never contain the key.
func Parse(prefix, key string) (id string, err error) {
	if len(key) != len(prefix)+bodyLen || !strings.HasPrefix(key, prefix) {
		return "", errShape
	}
	body := key[len(prefix):]
	bad := body[idLen] != '_'
	for i := 0; i < len(body); i++ {
		if i != idLen && base62Value(body[i]) < 0 {
			bad = true
		}
	}
	if bad {
		return "", errShape
	}
	n := len(key) - checksumLen
	var sum uint64
	for i := n; i < len(key); i++ {
		sum = sum*62 + uint64(base62Value(key[i]))
	}
	if sum != uint64(checksum(key[:n])) {
		return "", errChecksum
	}
	return body[:idLen], nil
}

// checksum is crc32.ChecksumIEEE(s) without converting s to a []byte (which
// would allocate for keys longer than 32 bytes).
func checksum(s string) uint32 {
	tab := crc32.IEEETable
	crc := ^uint32(0)
	for i := 0; i < len(s); i++ {
		crc = tab[byte(crc)^s[i]] ^ (crc >> 8)
	}
	return ^crc
}

// appendChecksum appends the checksumLen base62 digits of sum to b.
func appendChecksum(b []byte, sum uint32) []byte {
	var d [checksumLen]byte
	v := uint64(sum)
	for i := checksumLen - 1; i >= 0; i-- {
		d[i] = base62[v%62]
		v /= 62
	}
	return append(b, d[:]...)
}

// Hash is the SHA-256 digest of a whole key (prefix included): the only form
// in which a key is stored. See [HashKey] for why SHA-256 and not a password
// hash.
//
// Its text form ([Hash.String], JSON) is 64 lowercase hex digits. Its
// [slog.LogValuer] form is redacted, so a Hash passed to a logger by mistake
// never reaches a log line.
type Hash [sha256.Size]byte

// HashKey returns the SHA-256 digest of key.
//
// SHA-256, not bcrypt, scrypt or Argon2, is the right hash here: those are
// slow on purpose to protect low-entropy passwords against offline guessing,
// but a key carries about 190 random bits, so even a leaked hash table cannot
// be brute-forced at any hash speed. A fast, unsalted hash also lets the store
// find a record by hash in one indexed lookup, where a salted hash would force
// a lookup by id and a slow compare on every request (tens of milliseconds of
// CPU per request: a denial-of-service lever), and bcrypt would silently
// ignore everything past 72 bytes.
func HashKey(key string) Hash {
	var buf [128]byte // keys fit: hash them without a heap allocation
	if len(key) <= len(buf) {
		n := copy(buf[:], key)
		return sha256.Sum256(buf[:n])
	}
	return sha256.Sum256([]byte(key))
}

// String returns h as 64 lowercase hex digits.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// LogValue implements [slog.LogValuer]: a Hash is never logged.
func (h Hash) LogValue() slog.Value { return slog.StringValue("REDACTED") }

// MarshalText implements [encoding.TextMarshaler]: 64 lowercase hex digits.
func (h Hash) MarshalText() ([]byte, error) {
	return hex.AppendEncode(nil, h[:]), nil
}

// UnmarshalText implements [encoding.TextUnmarshaler]: it parses the text
// form of a Hash, exactly 64 hex digits, either case. A hash is part of a
// key record, which is configuration: errors wrap
// [rsguard.ErrInvalidConfig] and do not echo the input.
func (h *Hash) UnmarshalText(text []byte) error {
	if len(text) != hex.EncodedLen(len(h)) {
		return fmt.Errorf("%w: key hash must be %d hex digits, got %d characters", rsguard.ErrInvalidConfig, hex.EncodedLen(len(h)), len(text))
	}
	var out Hash
	if _, err := hex.Decode(out[:], text); err != nil {
		return fmt.Errorf("%w: key hash is not hex", rsguard.ErrInvalidConfig)
	}
	*h = out
	return nil
}

// Generate creates a new key with the given prefix from crypto/rand and
// returns its plaintext, shown to its owner once and never stored, and the
// record to store: rec with ID and Hash set (any values given for them are
// replaced). Created, if zero, is left zero; set it from your clock. The
// returned record is checked with [Record.Validate].
func Generate(prefix string, rec Record) (key string, _ Record, err error) {
	return generate(rand.Reader, prefix, rec)
}

func generate(random io.Reader, prefix string, rec Record) (string, Record, error) {
	if err := checkPrefix(prefix); err != nil {
		return "", Record{}, err
	}
	b := make([]byte, 0, len(prefix)+bodyLen)
	b = append(b, prefix...)
	chars, err := appendRandom(random, make([]byte, 0, idLen+secretLen), idLen+secretLen)
	if err != nil {
		return "", Record{}, err
	}
	b = append(b, chars[:idLen]...)
	b = append(b, '_')
	b = append(b, chars[idLen:]...)
	b = appendChecksum(b, checksum(string(b)))
	key := string(b)
	rec.ID = key[len(prefix) : len(prefix)+idLen]
	rec.Hash = HashKey(key)
	if err := rec.Validate(); err != nil {
		return "", Record{}, err
	}
	return key, rec, nil
}

// appendRandom appends n uniformly random base62 characters read from
// random, by rejection sampling 6-bit values (no modulo bias).
func appendRandom(random io.Reader, b []byte, n int) ([]byte, error) {
	var buf [64]byte
	for n > 0 {
		if _, err := io.ReadFull(random, buf[:]); err != nil {
			return nil, fmt.Errorf("apikey: reading randomness: %w", err)
		}
		for _, v := range buf {
			if v &= 63; v < 62 && n > 0 {
				b = append(b, base62[v])
				n--
			}
		}
	}
	return b, nil
}
