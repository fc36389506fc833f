package apikey

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/rsguard/rsguard"
)

// ReadRecords decodes key records from r, in either of two forms:
//
//   - a JSON array of record objects (convenient in one environment
//     variable), or
//   - JSON lines: one record object per line (convenient to append to).
//
// A record object has the members "id" and "hash" (required; the hash is the
// 64-hex-digit SHA-256 of the key), "owner" and/or "client_id" (at least
// one), and optionally "tenant", "scopes" (array of strings), "created" and
// "expires" (RFC 3339), "revoked" (boolean) and "state" ("allowed",
// "deprecated", "blocked"). For example:
//
//	[{"id":"3kTMd9QvB2xA","hash":"9f86d0…","client_id":"billing-cron","scopes":["invoices:read"],"state":"deprecated"}]
//
// The JSON form of a [Record] returned by [Generate] is exactly such an
// object. Unknown members are refused, and every record must pass
// [Record.Validate]. Records are configuration: errors wrap
// [rsguard.ErrInvalidConfig] (or the reader's error) and name records by
// position or id only.
//
// Load the records into a [MemoryStore] with [NewMemoryStore], from a file
// or an environment variable:
//
//	f, err := os.Open("keys.json") // or strings.NewReader(os.Getenv("API_KEYS"))
//	…
//	recs, err := apikey.ReadRecords(f)
//	…
//	store, err := apikey.NewMemoryStore(recs...)
//
// To reload, read them again and call [MemoryStore.Replace].
func ReadRecords(r io.Reader) ([]Record, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("apikey: reading key records: %w", err)
	}
	b = bytes.TrimSpace(b)
	var recs []Record
	switch {
	case len(b) == 0:
		return nil, nil
	case b[0] == '[':
		if err := json.Unmarshal(b, &recs); err != nil {
			return nil, badRecords("key records", err)
		}
	case b[0] == '{':
		dec := json.NewDecoder(bytes.NewReader(b))
		for {
			var rec Record
			err := dec.Decode(&rec)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, badRecords(fmt.Sprintf("key record %d", len(recs)+1), err)
			}
			recs = append(recs, rec)
		}
	default:
		return nil, invalidRecord("key records: expected a JSON array or JSON lines of objects")
	}
	for i := range recs {
		if err := recs[i].Validate(); err != nil {
			return nil, fmt.Errorf("record %d: %w", i+1, err)
		}
	}
	return recs, nil
}

// badRecords returns err, an error decoding key records, wrapping
// rsguard.ErrInvalidConfig once: a Hash's own error already does.
func badRecords(where string, err error) error {
	if errors.Is(err, rsguard.ErrInvalidConfig) {
		return fmt.Errorf("%s: %w", where, err)
	}
	return fmt.Errorf("%w: %s: %w", rsguard.ErrInvalidConfig, where, err)
}

// decodeStrict decodes one JSON value from b into v, refusing unknown
// object members.
func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}
