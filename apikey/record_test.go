package apikey

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rsguard/rsguard"
)

func TestRecordValidate(t *testing.T) {
	_, good := mustKey(t, testPrefix, Record{Owner: "alice", Scopes: []string{"a:read", "b"}})
	tests := []struct {
		name   string
		modify func(*Record)
		ok     bool
	}{
		{"valid", func(*Record) {}, true},
		{"client only", func(r *Record) { r.Owner, r.ClientID = "", "svc" }, true},
		{"all states", func(r *Record) { r.State = StateBlocked }, true},
		{"short id", func(r *Record) { r.ID = r.ID[1:] }, false},
		{"bad id char", func(r *Record) { r.ID = "-" + r.ID[1:] }, false},
		{"no hash", func(r *Record) { r.Hash = Hash{} }, false},
		{"no owner", func(r *Record) { r.Owner = "" }, false},
		{"empty scope", func(r *Record) { r.Scopes = []string{""} }, false},
		{"scope with space", func(r *Record) { r.Scopes = []string{"a b"} }, false},
		{"scope with quote", func(r *Record) { r.Scopes = []string{`a"`} }, false},
		{"unknown state", func(r *Record) { r.State = "retired" }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := good
			r.Scopes = append([]string(nil), good.Scopes...)
			tt.modify(&r)
			err := r.Validate()
			if tt.ok {
				require.NoError(t, err, "Validate()")
				return
			}
			require.Error(t, err, "Validate(), want ok=false")
			assert.ErrorIs(t, err, rsguard.ErrInvalidConfig, "error does not wrap rsguard.ErrInvalidConfig")
			assert.NotContains(t, err.Error(), good.Hash.String(), "error carries the hash")
		})
	}
}

func TestRecordJSON(t *testing.T) {
	created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	_, rec := mustKey(t, testPrefix, Record{
		Owner: "alice", ClientID: "cli", Tenant: "acme", Scopes: []string{"x"},
		Created: created, Expires: created.Add(time.Hour), Revoked: true, State: StateDeprecated,
	})
	b, err := json.Marshal(rec)
	require.NoError(t, err)
	want := `{"id":"` + rec.ID + `","hash":"` + rec.Hash.String() + `","owner":"alice","client_id":"cli","tenant":"acme","scopes":["x"],"created":"2026-01-02T03:04:05Z","expires":"2026-01-02T04:04:05Z","revoked":true,"state":"deprecated"}`
	assert.Equal(t, want, string(b), "Marshal")
	var back Record
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Equal(t, rec.ID, back.ID, "round trip: %+v", back)
	assert.Equal(t, rec.Hash, back.Hash, "round trip: %+v", back)
	assert.True(t, back.Expires.Equal(rec.Expires), "round trip: %+v", back)
	assert.Equal(t, rec.State, back.State, "round trip: %+v", back)
	assert.True(t, back.Revoked, "round trip: %+v", back)

	minimal := Record{ID: rec.ID, Hash: rec.Hash, ClientID: "c"}
	b, _ = json.Marshal(minimal)
	assert.Equal(t, `{"id":"`+rec.ID+`","hash":"`+rec.Hash.String()+`","client_id":"c"}`, string(b), "zero values not omitted")

	err = json.Unmarshal([]byte(`{"id":"x","hash":"`+rec.Hash.String()+`","expire":"2026-01-01T00:00:00Z"}`), &back)
	assert.Error(t, err, "unknown member accepted")
}

func TestRecordLogValueHidesHash(t *testing.T) {
	_, rec := mustKey(t, testPrefix, Record{Owner: "alice"})
	v := rec.LogValue().String()
	assert.NotContains(t, v, rec.Hash.String(), "LogValue = %s", v)
	assert.Contains(t, v, rec.ID, "LogValue = %s", v)
}
