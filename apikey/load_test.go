package apikey

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadRecords(t *testing.T) {
	_, r1 := mustKey(t, testPrefix, Record{ClientID: "c1", Scopes: []string{"a"}})
	_, r2 := mustKey(t, testPrefix, Record{Owner: "o2", State: StateDeprecated})
	j1, _ := json.Marshal(r1)
	j2, _ := json.Marshal(r2)
	tests := []struct {
		name    string
		in      string
		want    int
		wantErr bool
	}{
		{"empty", "", 0, false},
		{"blank", " \n", 0, false},
		{"empty array", "[]", 0, false},
		{"array", "[" + string(j1) + "," + string(j2) + "]", 2, false},
		{"json lines", string(j1) + "\n" + string(j2) + "\n", 2, false},
		{"json lines, no final newline", string(j1) + "\n" + string(j2), 2, false},
		{"unknown member", `[{"id":"` + r1.ID + `","hash":"` + r1.Hash.String() + `","owner":"o","scope":"x"}]`, 0, true},
		{"invalid record", `[{"id":"short","hash":"` + r1.Hash.String() + `","owner":"o"}]`, 0, true},
		{"bad hash", `{"id":"` + r1.ID + `","hash":"xyz","owner":"o"}`, 0, true},
		{"not JSON", "id=foo", 0, true},
		{"trailing garbage", "[" + string(j1) + "] x", 0, true},
		{"broken line", string(j1) + "\n{", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs, err := ReadRecords(strings.NewReader(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err != nil {
				if !errors.Is(err, ErrInvalidRecord) {
					t.Errorf("error does not wrap ErrInvalidRecord: %v", err)
				}
				if strings.Contains(err.Error(), r1.Hash.String()) {
					t.Errorf("error carries a hash: %v", err)
				}
				return
			}
			if len(recs) != tt.want {
				t.Fatalf("got %d records, want %d", len(recs), tt.want)
			}
			if tt.want == 2 && (recs[0].ID != r1.ID || recs[1].State != StateDeprecated || recs[0].Hash != r1.Hash) {
				t.Errorf("records = %+v", recs)
			}
		})
	}
}

func TestLoadFileAndEnv(t *testing.T) {
	_, r1 := mustKey(t, testPrefix, Record{ClientID: "c1"})
	b, _ := json.Marshal([]Record{r1})
	path := filepath.Join(t.TempDir(), "keys.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := LoadFile(path)
	if err != nil || s.Len() != 1 {
		t.Fatalf("LoadFile = %v, %v", s, err)
	}
	if _, err := LoadFile(filepath.Join(t.TempDir(), "missing.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	bad := filepath.Join(t.TempDir(), "bad.json")
	_ = os.WriteFile(bad, []byte("[1]"), 0o600)
	if _, err := LoadFile(bad); !errors.Is(err, ErrInvalidRecord) {
		t.Errorf("bad file: %v", err)
	}

	t.Setenv("RSGUARD_TEST_KEYS", string(b))
	if s, err := LoadEnv("RSGUARD_TEST_KEYS"); err != nil || s.Len() != 1 {
		t.Fatalf("LoadEnv = %v, %v", s, err)
	}
	t.Setenv("RSGUARD_TEST_KEYS_EMPTY", "")
	if s, err := LoadEnv("RSGUARD_TEST_KEYS_EMPTY"); err != nil || s.Len() != 0 {
		t.Errorf("empty env: %v, %v", s, err)
	}
	if _, err := LoadEnv("RSGUARD_TEST_KEYS_UNSET_" + r1.ID); err == nil {
		t.Error("unset env: no error")
	}
	t.Setenv("RSGUARD_TEST_KEYS_BAD", "nope")
	if _, err := LoadEnv("RSGUARD_TEST_KEYS_BAD"); !errors.Is(err, ErrInvalidRecord) {
		t.Errorf("bad env: %v", err)
	}
}
