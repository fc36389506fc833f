package apikey

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rsguard/rsguard/validate"
)

// Stores of every kind of type that can hold nil, to check that [New]
// refuses a typed nil whatever the Store's type.
type (
	ptrStore   struct{ rec *Record }
	funcStore  func(context.Context, Hash) (*Record, error)
	mapStore   map[Hash]*Record
	sliceStore []*Record
	chanStore  chan *Record
)

func (s *ptrStore) Lookup(context.Context, Hash) (*Record, error) { return s.rec, nil }
func (f funcStore) Lookup(ctx context.Context, h Hash) (*Record, error) {
	return f(ctx, h)
}

func (m mapStore) Lookup(_ context.Context, h Hash) (*Record, error) {
	if r := m[h]; r != nil {
		return r, nil
	}
	return nil, ErrUnknown
}

func (s sliceStore) Lookup(_ context.Context, h Hash) (*Record, error) {
	for _, r := range s {
		if r.Hash == h {
			return r, nil
		}
	}
	return nil, ErrUnknown
}

func (chanStore) Lookup(context.Context, Hash) (*Record, error) { return nil, ErrUnknown }

// TestNewRefusesTypedNil: a Config field that holds something unusable
// (a Store interface holding a nil pointer, map, func, slice or channel; a
// zero slog.Logger; a zero validate.Validator) is refused by New, naming the
// field, rather than accepted and panicking on the first request. The
// positive controls beside each case are accepted and serve a request.
func TestNewRefusesTypedNil(t *testing.T) {
	f := newFixture(t)
	key := f.keys["valid"]
	rec := f.recs["valid"]
	for _, tc := range []struct {
		name   string
		mod    func(*Config)
		field  string // named in the error; "" means New must succeed
		status int    // for accepted configs: the answer to a valid key
	}{
		// Refused.
		{name: "nil *MemoryStore", mod: func(c *Config) { var s *MemoryStore; c.Store = s }, field: "Store"},
		{name: "nil pointer of another Store type", mod: func(c *Config) { var s *ptrStore; c.Store = s }, field: "Store"},
		{name: "nil func Store", mod: func(c *Config) { var s funcStore; c.Store = s }, field: "Store"},
		{name: "nil map Store", mod: func(c *Config) { var s mapStore; c.Store = s }, field: "Store"},
		{name: "nil slice Store", mod: func(c *Config) { var s sliceStore; c.Store = s }, field: "Store"},
		{name: "nil chan Store", mod: func(c *Config) { var s chanStore; c.Store = s }, field: "Store"},
		{name: "untyped nil Store", mod: func(c *Config) { c.Store = nil }, field: "Store"},
		{name: "zero slog.Logger", mod: func(c *Config) { c.Logger = new(slog.Logger) }, field: "Logger"},
		{name: "zero validate.Validator", mod: func(c *Config) { c.Validator = new(validate.Validator) }, field: "Validator"},
		{name: "zero validate.Validator, keys-only metadata set", mod: func(c *Config) {
			c.Validator, c.ResourceMetadata = new(validate.Validator), resourceMetadata
		}, field: "Validator"},

		// Positive controls: accepted, and the valid key works.
		{name: "control: *MemoryStore", mod: func(*Config) {}, status: 200},
		{name: "control: empty *MemoryStore", mod: func(c *Config) { c.Store = new(MemoryStore) }, status: 401},
		{name: "control: pointer Store", mod: func(c *Config) { c.Store = &ptrStore{rec: &rec} }, status: 200},
		{name: "control: func Store", mod: func(c *Config) {
			c.Store = funcStore(func(context.Context, Hash) (*Record, error) { return &rec, nil })
		}, status: 200},
		{name: "control: map Store", mod: func(c *Config) { c.Store = mapStore{rec.Hash: &rec} }, status: 200},
		{name: "control: empty non-nil map Store", mod: func(c *Config) { c.Store = mapStore{} }, status: 401},
		{name: "control: slice Store", mod: func(c *Config) { c.Store = sliceStore{&rec} }, status: 200},
		{name: "control: value Store", mod: func(c *Config) { c.Store = lyingStore{rec: rec} }, status: 200},
		{name: "control: nil Logger", mod: func(c *Config) { c.Logger = nil }, status: 200},
		{name: "control: real Logger", mod: func(c *Config) { c.Logger = slog.New(slog.NewTextHandler(new(bytes.Buffer), nil)) }, status: 200},
		{name: "control: nil Validator, keys only", mod: func(c *Config) { c.Validator, c.ResourceMetadata = nil, resourceMetadata }, status: 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := f.config()
			tc.mod(&cfg)
			a, err := New(cfg)
			if tc.field != "" {
				if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tc.field) {
					t.Fatalf("New = %v, want an error wrapping ErrInvalidConfig that names %s", err, tc.field)
				}
				if a != nil {
					t.Error("New returned an Authenticator with its error")
				}
				return
			}
			if err != nil {
				t.Fatalf("New = %v", err)
			}
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.Header.Set("X-Api-Key", key)
			w := httptest.NewRecorder()
			a.Middleware(echo(new(seen))).ServeHTTP(w, r)
			if w.Code != tc.status {
				t.Errorf("status = %d, want %d", w.Code, tc.status)
			}
		})
	}
}

// TestMemoryStoreNilReceiver: a nil *MemoryStore (which New refuses) is an
// empty store for readers, and refuses writes with an error, rather than
// panicking if it reaches code that wraps it.
func TestMemoryStoreNilReceiver(t *testing.T) {
	var s *MemoryStore
	_, rec := mustKey(t, testPrefix, Record{Owner: "a"})
	if r, err := s.Lookup(context.Background(), rec.Hash); r != nil || !errors.Is(err, ErrUnknown) {
		t.Errorf("Lookup = %v, %v; want ErrUnknown", r, err)
	}
	cctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Lookup(cctx, rec.Hash); !errors.Is(err, context.Canceled) {
		t.Errorf("Lookup, cancelled = %v", err)
	}
	if _, ok := s.Get(rec.ID); ok {
		t.Error("Get found a record")
	}
	if s.Len() != 0 || len(s.Records()) != 0 {
		t.Error("nil store not empty")
	}
	if s.Revoke(rec.ID) || s.Delete(rec.ID) {
		t.Error("Revoke or Delete reported a record")
	}
	if err := s.Put(rec); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("Put = %v, want ErrInvalidConfig", err)
	}
	if err := s.Replace([]Record{rec}); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("Replace = %v, want ErrInvalidConfig", err)
	}
	// Positive control: the zero MemoryStore is a usable, empty store.
	z := new(MemoryStore)
	if err := z.Put(rec); err != nil || z.Len() != 1 {
		t.Errorf("zero store: Put = %v, Len = %d", err, z.Len())
	}
}
