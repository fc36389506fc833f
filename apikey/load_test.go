package apikey

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rsguard/rsguard"
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
				assert.ErrorIs(t, err, rsguard.ErrInvalidConfig, "error does not wrap rsguard.ErrInvalidConfig")
				assert.Equal(t, 1, strings.Count(err.Error(), rsguard.ErrInvalidConfig.Error()), "error %q: wraps rsguard.ErrInvalidConfig more than once", err)
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

// TestLoadRecords loads records into a MemoryStore the documented way,
// from a file and from an environment variable.
func TestLoadRecords(t *testing.T) {
	_, r1 := mustKey(t, testPrefix, Record{ClientID: "c1"})
	b, _ := json.Marshal([]Record{r1})
	load := func(r io.Reader) (*MemoryStore, error) {
		recs, err := ReadRecords(r)
		if err != nil {
			return nil, err
		}
		return NewMemoryStore(recs...)
	}

	path := filepath.Join(t.TempDir(), "keys.json")
	require.NoError(t, os.WriteFile(path, b, 0o600))
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	s, err := load(f)
	require.NoError(t, err, "file")
	require.Equal(t, []Record{r1}, s.Records(), "file")
	bad := filepath.Join(t.TempDir(), "bad.json")
	require.NoError(t, os.WriteFile(bad, []byte("[1]"), 0o600))
	fb, err := os.Open(bad)
	require.NoError(t, err)
	defer fb.Close()
	_, err = load(fb)
	assert.ErrorIs(t, err, rsguard.ErrInvalidConfig, "bad file")

	t.Setenv("RSGUARD_TEST_KEYS", string(b))
	s, err = load(strings.NewReader(os.Getenv("RSGUARD_TEST_KEYS")))
	require.NoError(t, err, "env")
	require.Equal(t, []Record{r1}, s.Records(), "env")
	t.Setenv("RSGUARD_TEST_KEYS_EMPTY", "")
	s, err = load(strings.NewReader(os.Getenv("RSGUARD_TEST_KEYS_EMPTY")))
	assert.NoError(t, err, "empty env")
	assert.Empty(t, s.Records(), "empty env")
	t.Setenv("RSGUARD_TEST_KEYS_BAD", "nope")
	_, err = load(strings.NewReader(os.Getenv("RSGUARD_TEST_KEYS_BAD")))
	assert.ErrorIs(t, err, rsguard.ErrInvalidConfig, "bad env")
}
