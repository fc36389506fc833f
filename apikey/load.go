package apikey

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
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
// [Record.Validate]. Errors wrap [ErrInvalidRecord] (or the reader's error)
// and name records by position or id only.
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
			return nil, fmt.Errorf("%w: %w", ErrInvalidRecord, err)
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
				return nil, fmt.Errorf("%w: record %d: %w", ErrInvalidRecord, len(recs)+1, err)
			}
			recs = append(recs, rec)
		}
	default:
		return nil, fmt.Errorf("%w: expected a JSON array or JSON lines of objects", ErrInvalidRecord)
	}
	for i := range recs {
		if err := recs[i].Validate(); err != nil {
			return nil, fmt.Errorf("record %d: %w", i+1, err)
		}
	}
	return recs, nil
}

// LoadFile reads records from the file at path (see [ReadRecords]) into a
// new [MemoryStore]. To reload, read the file again and call
// [MemoryStore.Replace].
func LoadFile(path string) (*MemoryStore, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("apikey: %w", err)
	}
	recs, err := ReadRecords(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return NewMemoryStore(recs...)
}

// LoadEnv reads records from the environment variable name (see
// [ReadRecords]; a JSON array is the natural form) into a new
// [MemoryStore]. An unset variable is an error; an empty one gives an empty
// store.
func LoadEnv(name string) (*MemoryStore, error) {
	v, ok := os.LookupEnv(name)
	if !ok {
		return nil, fmt.Errorf("apikey: environment variable %s is not set", name)
	}
	recs, err := ReadRecords(strings.NewReader(v))
	if err != nil {
		return nil, fmt.Errorf("$%s: %w", name, err)
	}
	return NewMemoryStore(recs...)
}

// decodeStrict decodes one JSON value from b into v, refusing unknown
// object members.
func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}
