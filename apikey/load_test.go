package apikey

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
			if tt.wantErr {
				require.Error(t, err)
				assert.ErrorIs(t, err, ErrInvalidRecord, "error does not wrap ErrInvalidRecord")
				assert.NotContains(t, err.Error(), r1.Hash.String(), "error carries a hash")
				return
			}
			require.NoError(t, err)
			require.Len(t, recs, tt.want, "records")
			if tt.want == 2 {
				assert.Equal(t, r1.ID, recs[0].ID, "records = %+v", recs)
				assert.Equal(t, StateDeprecated, recs[1].State, "records = %+v", recs)
				assert.Equal(t, r1.Hash, recs[0].Hash, "records = %+v", recs)
			}
		})
	}
}

func TestLoadFileAndEnv(t *testing.T) {
	_, r1 := mustKey(t, testPrefix, Record{ClientID: "c1"})
	b, _ := json.Marshal([]Record{r1})
	path := filepath.Join(t.TempDir(), "keys.json")
	require.NoError(t, os.WriteFile(path, b, 0o600))
	s, err := LoadFile(path)
	require.NoError(t, err, "LoadFile")
	require.Equal(t, 1, s.Len(), "LoadFile = %v", s)
	_, err = LoadFile(filepath.Join(t.TempDir(), "missing.json"))
	assert.ErrorIs(t, err, os.ErrNotExist, "missing file")
	bad := filepath.Join(t.TempDir(), "bad.json")
	_ = os.WriteFile(bad, []byte("[1]"), 0o600)
	_, err = LoadFile(bad)
	assert.ErrorIs(t, err, ErrInvalidRecord, "bad file")

	t.Setenv("RSGUARD_TEST_KEYS", string(b))
	s, err = LoadEnv("RSGUARD_TEST_KEYS")
	require.NoError(t, err, "LoadEnv")
	require.Equal(t, 1, s.Len(), "LoadEnv = %v", s)
	t.Setenv("RSGUARD_TEST_KEYS_EMPTY", "")
	s, err = LoadEnv("RSGUARD_TEST_KEYS_EMPTY")
	assert.NoError(t, err, "empty env")
	assert.Equal(t, 0, s.Len(), "empty env: %v", s)
	_, err = LoadEnv("RSGUARD_TEST_KEYS_UNSET_" + r1.ID)
	assert.Error(t, err, "unset env: no error")
	t.Setenv("RSGUARD_TEST_KEYS_BAD", "nope")
	_, err = LoadEnv("RSGUARD_TEST_KEYS_BAD")
	assert.ErrorIs(t, err, ErrInvalidRecord, "bad env")
}
