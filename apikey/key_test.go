package apikey

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"hash/crc32"
	"regexp"
	"strings"
	"testing"
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
	if err != nil {
		t.Fatal(err)
	}
	return key, rec
}

func TestGenerateDeterministic(t *testing.T) {
	key, rec, err := generate(&countingReader{}, "sk_live_", Record{Owner: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	// Bytes 0..61 map to base62 digits in order; 62 and 63 are rejected.
	const want = "sk_live_0123456789AB_CDEFGHIJKLMNOPQRSTUVWXYZabcdefgh"
	if !strings.HasPrefix(key, want) || len(key) != len(want)+ChecksumLen {
		t.Fatalf("key = %q, want %q + checksum", key, want)
	}
	if rec.ID != "0123456789AB" {
		t.Errorf("ID = %q", rec.ID)
	}
	if rec.Hash != sha256.Sum256([]byte(key)) {
		t.Error("Hash is not the SHA-256 of the key")
	}
	if id, err := Parse("sk_live_", key); err != nil || id != rec.ID {
		t.Errorf("Parse = %q, %v", id, err)
	}
}

func TestGenerate(t *testing.T) {
	seen := map[string]bool{}
	re := regexp.MustCompile("^" + Pattern(testPrefix) + "$")
	for range 200 {
		key, rec := mustKey(t, testPrefix, Record{ClientID: "c1", Scopes: []string{"read"}})
		if seen[key] || seen[rec.ID] {
			t.Fatal("duplicate key or id")
		}
		seen[key], seen[rec.ID] = true, true
		if !re.MatchString(key) {
			t.Fatalf("Pattern does not match a generated key")
		}
		id, err := Parse(testPrefix, key)
		if err != nil || id != rec.ID {
			t.Fatalf("Parse(generated) = %q, %v", id, err)
		}
		if rec.Hash != HashKey(key) || rec.ClientID != "c1" || rec.Scopes[0] != "read" {
			t.Fatalf("record not filled in: %+v", rec)
		}
	}
}

func TestGenerateErrors(t *testing.T) {
	if _, _, err := Generate("bad prefix", Record{Owner: "o"}); !errors.Is(err, ErrInvalidPrefix) {
		t.Errorf("bad prefix: err = %v", err)
	}
	if _, _, err := Generate(testPrefix, Record{}); !errors.Is(err, ErrInvalidRecord) {
		t.Errorf("no owner: err = %v", err)
	}
	if _, _, err := generate(strings.NewReader("short"), testPrefix, Record{Owner: "o"}); err == nil {
		t.Error("short random source: no error")
	}
}

func TestChecksumMatchesCRC32(t *testing.T) {
	for _, s := range []string{"", "a", "sk_live_0123456789AB_CDEFGHIJKLMNOPQRSTUVWXYZabcdefgh", strings.Repeat("xyz", 100)} {
		if got, want := checksum(s), crc32.ChecksumIEEE([]byte(s)); got != want {
			t.Errorf("checksum(%q) = %x, want %x", s, got, want)
		}
	}
	if got := string(appendChecksum(nil, 0xffffffff)); got != "4gfFC3" {
		t.Errorf("appendChecksum(max) = %q", got)
	}
	if got := string(appendChecksum(nil, 0)); got != "000000" {
		t.Errorf("appendChecksum(0) = %q", got)
	}
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
	sep := len(testPrefix) + IDLen
	tests := []struct {
		name    string
		prefix  string
		key     string
		wantErr error
	}{
		{"valid", testPrefix, key, nil},
		{"empty", testPrefix, "", ErrMalformed},
		{"other prefix", "sk_live_", strings.Replace(key, "test", "live", 1), ErrChecksum},
		{"wrong prefix configured", "sk_live_", key, ErrMalformed},
		{"truncated", testPrefix, key[:len(key)-1], ErrMalformed},
		{"extra char", testPrefix, key + "a", ErrMalformed},
		{"no separator", testPrefix, key[:sep] + "a" + key[sep+1:], ErrMalformed},
		{"bad alphabet in secret", testPrefix, key[:sep+3] + "-" + key[sep+4:], ErrMalformed},
		{"bad alphabet in checksum", testPrefix, key[:len(key)-1] + "+", ErrMalformed},
		{"non-ASCII", testPrefix, key[:sep+3] + "\xff" + key[sep+4:], ErrMalformed},
		{"typo in id", testPrefix, flip(len(testPrefix) + 2), ErrChecksum},
		{"typo in secret", testPrefix, flip(sep + 5), ErrChecksum},
		{"typo in checksum", testPrefix, flip(len(key) - 1), ErrChecksum},
		{"jwt", testPrefix, "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln", ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := Parse(tt.prefix, tt.key)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err == nil && id != rec.ID {
				t.Errorf("id = %q, want %q", id, rec.ID)
			}
			if err != nil && (id != "" || tt.key != "" && strings.Contains(err.Error(), tt.key)) {
				t.Errorf("error carries key material: id=%q err=%v", id, err)
			}
		})
	}
}

func TestParseAllocs(t *testing.T) {
	key, _ := mustKey(t, testPrefix, Record{})
	bad := key[:len(key)-1] + "0"
	if n := testing.AllocsPerRun(100, func() {
		_, _ = Parse(testPrefix, key)
		_, _ = Parse(testPrefix, bad)
		_ = HashKey(key)
	}); n != 0 {
		t.Errorf("Parse+HashKey allocate %v times", n)
	}
}

func TestCheckPrefix(t *testing.T) {
	for _, p := range []string{"sk_live_", "ak_", "Acme_", "x_", "rsg_test_v2_", strings.Repeat("a", 31) + "_"} {
		if err := CheckPrefix(p); err != nil {
			t.Errorf("CheckPrefix(%q) = %v", p, err)
		}
	}
	for _, p := range []string{"", "_", "sk", "sk-live_", "1sk_", "_sk_", "sk live_", "sk_live", "ey_", "eyJ_", strings.Repeat("a", 32) + "_", "é_"} {
		if err := CheckPrefix(p); !errors.Is(err, ErrInvalidPrefix) {
			t.Errorf("CheckPrefix(%q) = %v, want ErrInvalidPrefix", p, err)
		}
	}
}

func TestHashText(t *testing.T) {
	h := HashKey("sk_test_x")
	txt, err := h.MarshalText()
	if err != nil || string(txt) != h.String() || len(txt) != 64 {
		t.Fatalf("MarshalText = %q, %v", txt, err)
	}
	for _, s := range []string{string(txt), strings.ToUpper(string(txt))} {
		got, err := ParseHash(s)
		if err != nil || got != h {
			t.Errorf("ParseHash(%q) = %v, %v", s, got, err)
		}
	}
	for _, s := range []string{"", "00", string(txt[:63]) + "g", string(txt) + "0"} {
		_, err := ParseHash(s)
		if !errors.Is(err, ErrInvalidRecord) {
			t.Errorf("ParseHash(%q) err = %v", s, err)
		}
		if s != "" && len(s) > 4 && err != nil && strings.Contains(err.Error(), s) {
			t.Errorf("error echoes input: %v", err)
		}
	}
	if (Hash{}).IsZero() != true || h.IsZero() {
		t.Error("IsZero")
	}
	if v := h.LogValue().String(); bytes.Contains([]byte(v), txt[:8]) {
		t.Errorf("LogValue = %q", v)
	}
}
