package apikey

import (
	"crypto/sha256"
	"hash/crc32"
	"regexp"
	"strings"
	"testing"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/audit"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const testPrefix = "sk_test_"

// countingReader is a deterministic stand-in for crypto/rand: byte i is i.
type countingReader struct{ n byte }

func (r *countingReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = r.n
		r.n++
	}
	return len(p), nil
}

// mustKey generates a key with a deterministic source, for golden tests.
func mustKey(t testing.TB, prefix string, rec Record) (string, Record) {
	t.Helper()
	if rec.Owner == "" && rec.ClientID == "" {
		rec.Owner = "owner"
	}
	key, rec, err := Generate(prefix, rec)
	require.NoError(t, err)
	return key, rec
}

func TestGenerateDeterministic(t *testing.T) {
	key, rec, err := generate(&countingReader{}, "sk_live_", Record{Owner: "alice"})
	require.NoError(t, err)
	// Bytes 0..61 map to base62 digits in order; 62 and 63 are rejected.
	const want = "sk_live_0123456789AB_CDEFGHIJKLMNOPQRSTUVWXYZabcdefgh"
	require.True(t, strings.HasPrefix(key, want), "key = %q, want %q + checksum", key, want)
	require.Len(t, key, len(want)+checksumLen, "key = %q, want %q + checksum", key, want)
	assert.Equal(t, "0123456789AB", rec.ID, "ID")
	assert.Equal(t, Hash(sha256.Sum256([]byte(key))), rec.Hash, "Hash is not the SHA-256 of the key")
	id, err := Parse("sk_live_", key)
	assert.NoError(t, err, "Parse")
	assert.Equal(t, rec.ID, id, "Parse")
}

func TestGenerate(t *testing.T) {
	seen := map[string]bool{}
	re := regexp.MustCompile("^" + Pattern(testPrefix) + "$")
	for range 200 {
		key, rec := mustKey(t, testPrefix, Record{ClientID: "c1", Scopes: []string{"read"}})
		require.False(t, seen[key], "duplicate key")
		require.False(t, seen[rec.ID], "duplicate id")
		seen[key], seen[rec.ID] = true, true
		require.Regexp(t, re, key, "Pattern does not match a generated key")
		id, err := Parse(testPrefix, key)
		require.NoError(t, err, "Parse(generated)")
		require.Equal(t, rec.ID, id, "Parse(generated)")
		require.Equal(t, HashKey(key), rec.Hash, "record not filled in: %+v", rec)
		require.Equal(t, "c1", rec.ClientID, "record not filled in: %+v", rec)
		require.Equal(t, "read", rec.Scopes[0], "record not filled in: %+v", rec)
	}
}

func TestGenerateErrors(t *testing.T) {
	_, _, err := Generate("bad prefix", Record{Owner: "o"})
	assert.ErrorIs(t, err, rsguard.ErrInvalidConfig, "bad prefix")
	_, _, err = Generate(testPrefix, Record{})
	assert.ErrorIs(t, err, rsguard.ErrInvalidConfig, "no owner")
	_, _, err = generate(strings.NewReader("short"), testPrefix, Record{Owner: "o"})
	assert.Error(t, err, "short random source: no error")
}

func TestChecksumMatchesCRC32(t *testing.T) {
	for _, s := range []string{"", "a", "sk_live_0123456789AB_CDEFGHIJKLMNOPQRSTUVWXYZabcdefgh", strings.Repeat("xyz", 100)} {
		assert.Equal(t, crc32.ChecksumIEEE([]byte(s)), checksum(s), "checksum(%q)", s)
	}
	assert.Equal(t, "4gfFC3", string(appendChecksum(nil, 0xffffffff)), "appendChecksum(max)")
	assert.Equal(t, "000000", string(appendChecksum(nil, 0)), "appendChecksum(0)")
}

func TestParse(t *testing.T) {
	key, rec := mustKey(t, testPrefix, Record{})
	flip := func(i int) string {
		b := []byte(key)
		if b[i] == 'a' {
			b[i] = 'b'
		} else {
			b[i] = 'a'
		}
		return string(b)
	}
	sep := len(testPrefix) + idLen
	tests := []struct {
		name    string
		prefix  string
		key     string
		wantErr error
	}{
		{"valid", testPrefix, key, nil},
		{"empty", testPrefix, "", errShape},
		{"other prefix", "sk_live_", strings.Replace(key, "test", "live", 1), errChecksum},
		{"wrong prefix configured", "sk_live_", key, errShape},
		{"truncated", testPrefix, key[:len(key)-1], errShape},
		{"extra char", testPrefix, key + "a", errShape},
		{"no separator", testPrefix, key[:sep] + "a" + key[sep+1:], errShape},
		{"bad alphabet in secret", testPrefix, key[:sep+3] + "-" + key[sep+4:], errShape},
		{"bad alphabet in checksum", testPrefix, key[:len(key)-1] + "+", errShape},
		{"non-ASCII", testPrefix, key[:sep+3] + "\xff" + key[sep+4:], errShape},
		{"typo in id", testPrefix, flip(len(testPrefix) + 2), errChecksum},
		{"typo in secret", testPrefix, flip(sep + 5), errChecksum},
		{"typo in checksum", testPrefix, flip(len(key) - 1), errChecksum},
		{"jwt", testPrefix, "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln", errShape},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := Parse(tt.prefix, tt.key)
			require.ErrorIs(t, err, tt.wantErr)
			if err == nil {
				assert.Equal(t, rec.ID, id, "id")
			} else {
				assert.ErrorIs(t, err, audit.ReasonMalformed, "Parse")
				assert.Empty(t, id, "error carries key material: err=%v", err)
				if tt.key != "" {
					assert.NotContains(t, err.Error(), tt.key, "error carries key material")
				}
			}
		})
	}
}

func TestParseAllocs(t *testing.T) {
	key, _ := mustKey(t, testPrefix, Record{})
	bad := key[:len(key)-1] + "0"
	n := testing.AllocsPerRun(100, func() {
		_, _ = Parse(testPrefix, key)
		_, _ = Parse(testPrefix, bad)
		_ = HashKey(key)
	})
	assert.Zero(t, n, "Parse+HashKey allocate %v times", n)
}

func TestCheckPrefix(t *testing.T) {
	for _, p := range []string{"sk_live_", "ak_", "Acme_", "x_", "rsg_test_v2_", strings.Repeat("a", 31) + "_"} {
		assert.NoError(t, checkPrefix(p), "checkPrefix(%q)", p)
	}
	for _, p := range []string{"", "_", "sk", "sk-live_", "1sk_", "_sk_", "sk live_", "sk_live", "ey_", "eyJ_", strings.Repeat("a", 32) + "_", "é_"} {
		assert.ErrorIs(t, checkPrefix(p), rsguard.ErrInvalidConfig, "checkPrefix(%q)", p)
	}
}

func TestHashText(t *testing.T) {
	h := HashKey("sk_test_x")
	txt, err := h.MarshalText()
	require.NoError(t, err, "MarshalText")
	require.Equal(t, h.String(), string(txt), "MarshalText")
	require.Len(t, txt, 64, "MarshalText = %q", txt)
	for _, s := range []string{string(txt), strings.ToUpper(string(txt))} {
		var got Hash
		err := got.UnmarshalText([]byte(s))
		assert.NoError(t, err, "UnmarshalText(%q)", s)
		assert.Equal(t, h, got, "UnmarshalText(%q)", s)
	}
	for _, s := range []string{"", "00", string(txt[:63]) + "g", string(txt) + "0"} {
		got := h
		err := got.UnmarshalText([]byte(s))
		assert.ErrorIs(t, err, rsguard.ErrInvalidConfig, "UnmarshalText(%q)", s)
		assert.Equal(t, h, got, "UnmarshalText(%q) changed the hash on error", s)
		if s != "" && len(s) > 4 && err != nil {
			assert.NotContains(t, err.Error(), s, "error echoes input")
		}
	}
	v := h.LogValue().String()
	assert.NotContains(t, v, string(txt[:8]), "LogValue = %q", v)
}
