package apikey

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/audit"
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
	return nil, audit.ReasonUnknownAPIKey
}

func (s sliceStore) Lookup(_ context.Context, h Hash) (*Record, error) {
	for _, r := range s {
		if r.Hash == h {
			return r, nil
		}
	}
	return nil, audit.ReasonUnknownAPIKey
}

func (chanStore) Lookup(context.Context, Hash) (*Record, error) {
	return nil, audit.ReasonUnknownAPIKey
}

// TestNewRefusesTypedNil: a Config field that holds something unusable
// (a Store or a Bearer interface holding a nil pointer, map, func, slice or
// channel; a zero slog.Logger) is refused by New, naming the field, rather
// than accepted and panicking on the first request. The positive controls
// beside each case are accepted and serve a request.
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
		{name: "nil pointer Bearer", mod: func(c *Config) { var b *fakeBearer; c.Bearer = b }, field: "Bearer"},
		{name: "nil func Bearer", mod: func(c *Config) { var b bearerFunc; c.Bearer = b }, field: "Bearer"},

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
		{name: "control: nil Bearer, keys only", mod: func(c *Config) { c.Bearer = nil }, status: 200},
		{name: "control: func Bearer", mod: func(c *Config) { c.Bearer = bearerFunc(f.bearer.Authenticate) }, status: 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := f.config()
			tc.mod(&cfg)
			a, err := New(cfg)
			if tc.field != "" {
				require.ErrorIs(t, err, rsguard.ErrInvalidConfig, "New, want an error wrapping rsguard.ErrInvalidConfig that names %s", tc.field)
				require.ErrorContains(t, err, tc.field, "New, want an error wrapping rsguard.ErrInvalidConfig that names %s", tc.field)
				assert.Nil(t, a, "New returned an Authenticator with its error")
				return
			}
			require.NoError(t, err, "New")
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.Header.Set("X-Api-Key", key)
			w := httptest.NewRecorder()
			serve(t, a, echo(new(seen))).ServeHTTP(w, r)
			assert.Equal(t, tc.status, w.Code, "status")
		})
	}
}

// TestMemoryStoreNilReceiver: a nil *MemoryStore (which New refuses) is an
// empty store for readers, and refuses writes with an error, rather than
// panicking if it reaches code that wraps it.
func TestMemoryStoreNilReceiver(t *testing.T) {
	var s *MemoryStore
	_, rec := mustKey(t, testPrefix, Record{Owner: "a"})
	r, err := s.Lookup(context.Background(), rec.Hash)
	assert.Nil(t, r, "Lookup")
	assert.ErrorIs(t, err, audit.ReasonUnknownAPIKey, "Lookup")
	cctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = s.Lookup(cctx, rec.Hash)
	assert.ErrorIs(t, err, context.Canceled, "Lookup, cancelled")
	assert.NotNil(t, s.Records(), "nil store: Records")
	assert.Empty(t, s.Records(), "nil store not empty")
	assert.False(t, s.Delete(rec.ID), "Delete reported a record")
	assert.ErrorIs(t, s.Put(rec), rsguard.ErrInvalidConfig, "Put")
	assert.ErrorIs(t, s.Replace([]Record{rec}), rsguard.ErrInvalidConfig, "Replace")
	// Positive control: the zero MemoryStore is a usable, empty store.
	z := new(MemoryStore)
	assert.NoError(t, z.Put(rec), "zero store: Put")
	assert.Len(t, z.Records(), 1, "zero store: Records")
}
