package apikey

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
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
			if tt.ok != (err == nil) {
				t.Fatalf("Validate() = %v, want ok=%v", err, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalidRecord) {
				t.Errorf("error does not wrap ErrInvalidRecord: %v", err)
			}
			if err != nil && strings.Contains(err.Error(), good.Hash.String()) {
				t.Errorf("error carries the hash: %v", err)
			}
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
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":"` + rec.ID + `","hash":"` + rec.Hash.String() + `","owner":"alice","client_id":"cli","tenant":"acme","scopes":["x"],"created":"2026-01-02T03:04:05Z","expires":"2026-01-02T04:04:05Z","revoked":true,"state":"deprecated"}`
	if string(b) != want {
		t.Errorf("Marshal =\n%s\nwant\n%s", b, want)
	}
	var back Record
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.ID != rec.ID || back.Hash != rec.Hash || !back.Expires.Equal(rec.Expires) || back.State != rec.State || !back.Revoked {
		t.Errorf("round trip: %+v", back)
	}

	minimal := Record{ID: rec.ID, Hash: rec.Hash, ClientID: "c"}
	b, _ = json.Marshal(minimal)
	if want := `{"id":"` + rec.ID + `","hash":"` + rec.Hash.String() + `","client_id":"c"}`; string(b) != want {
		t.Errorf("zero values not omitted: %s", b)
	}

	if err := json.Unmarshal([]byte(`{"id":"x","hash":"`+rec.Hash.String()+`","expire":"2026-01-01T00:00:00Z"}`), &back); err == nil {
		t.Error("unknown member accepted")
	}
}

func TestRecordLogValueHidesHash(t *testing.T) {
	_, rec := mustKey(t, testPrefix, Record{Owner: "alice"})
	if v := rec.LogValue().String(); strings.Contains(v, rec.Hash.String()) || !strings.Contains(v, rec.ID) {
		t.Errorf("LogValue = %s", v)
	}
}
