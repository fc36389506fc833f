package apikey

import (
	"bytes"
	"hash/crc32"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// FuzzParse checks Parse against a slow reference (a regular expression
// and the standard library's CRC-32), and that it never panics.
// Seeds: f.Add below and testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	f.Add(testPrefix, "sk_test_0123456789AB_CDEFGHIJKLMNOPQRSTUVWXYZabcdefgh3QsRlB")
	f.Add("sk_live_", "sk_live_0123456789AB_CDEFGHIJKLMNOPQRSTUVWXYZabcdefgh000000")
	f.Add(testPrefix, "")
	f.Add(testPrefix, "eyJhbGciOiJSUzI1NiJ9.e30.c2ln")
	body := regexp.MustCompile(`^[0-9A-Za-z]{12}_[0-9A-Za-z]{38}$`)
	f.Fuzz(func(t *testing.T, prefix, key string) {
		id, err := Parse(prefix, key)
		shapeOK := strings.HasPrefix(key, prefix) && body.MatchString(key[len(prefix):])
		switch {
		case !shapeOK:
			require.ErrorIs(t, err, errShape, "Parse(%q, %q) = %q", prefix, key, id)
		default:
			n := len(key) - checksumLen
			var sum uint64
			for i := n; i < len(key); i++ {
				sum = sum*62 + uint64(bytes.IndexByte([]byte(base62), key[i]))
			}
			want := sum == uint64(crc32.ChecksumIEEE([]byte(key[:n])))
			require.Equal(t, want, err == nil, "Parse(%q, %q) = %v, checksum ok %v", prefix, key, err, want)
			if !want {
				require.ErrorIs(t, err, errChecksum, "Parse(%q, %q), checksum ok %v", prefix, key, want)
			}
			if err == nil {
				require.Equal(t, key[len(prefix):len(prefix)+idLen], id, "id")
			}
		}
	})
}

// FuzzReadRecords checks that the key-file reader never panics and that
// whatever it accepts is valid and survives a round trip.
func FuzzReadRecords(f *testing.F) {
	f.Add(`[{"id":"0123456789AB","hash":"` + HashKey("k").String() + `","owner":"o","scopes":["a"],"state":"deprecated"}]`)
	f.Add(`{"id":"0123456789AB","hash":"` + HashKey("k").String() + `","client_id":"c","expires":"2026-01-01T00:00:00Z"}` + "\n")
	f.Add(`[]`)
	f.Add(`{`)
	f.Fuzz(func(t *testing.T, in string) {
		recs, err := ReadRecords(bytes.NewReader([]byte(in)))
		if err != nil {
			return
		}
		for i := range recs {
			require.NoError(t, recs[i].Validate(), "accepted invalid record")
		}
	})
}
