package validate

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestKnownHeadersBound: the memo keeps the first maxKnownHeaders headers
// and no more, also when they come at once.
func TestKnownHeadersBound(t *testing.T) {
	var k knownHeaders
	rs := supportedAlgorithms["RS256"]
	for i := range 2 * maxKnownHeaders {
		k.remember(fmt.Sprintf("seg-%03d", i), joseHeader{alg: []byte("RS256")}, rs)
	}
	n := 0
	k.m.Range(func(any, any) bool { n++; return true })
	assert.Equal(t, maxKnownHeaders, n)
	_, _, ok := k.get("seg-000")
	assert.True(t, ok)
	_, _, ok = k.get(fmt.Sprintf("seg-%03d", maxKnownHeaders))
	assert.False(t, ok, "the memo was full")

	var c knownHeaders
	var wg sync.WaitGroup
	const goroutines = 8
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2 * maxKnownHeaders {
				c.remember(fmt.Sprintf("seg-%d-%03d", g%2, i), joseHeader{alg: []byte("RS256")}, rs)
				c.get(fmt.Sprintf("seg-%d-%03d", (g+1)%2, i))
			}
		}()
	}
	wg.Wait()
	n = 0
	c.m.Range(func(any, any) bool { n++; return true })
	assert.LessOrEqual(t, n, maxKnownHeaders+goroutines)
	assert.EqualValues(t, n, c.n.Load())
}

// TestKnownHeadersOwnMemory: the memo keeps copies, never the token it
// read a header from (which CacheOptions.Disable promises no memo holds)
// nor the buffer the header was decoded into.
func TestKnownHeadersOwnMemory(t *testing.T) {
	var k knownHeaders
	raw := "eyJhbGciOiJSUzI1NiJ9." + strings.Repeat("p", 15000) + ".c2ln"
	d1 := strings.IndexByte(raw, '.')
	buf := []byte("RS256kid-1at+jwt")
	h := joseHeader{alg: buf[:5], kid: buf[5:10], typ: buf[10:], hasKid: true, hasTyp: true}
	k.remember(raw[:d1], h, supportedAlgorithms["RS256"])
	k.m.Range(func(key, _ any) bool {
		assert.NotSame(t, unsafe.StringData(raw), unsafe.StringData(key.(string)), "the memo keeps the token")
		return true
	})
	copy(buf, "XXXXXXXXXXXXXXXX")
	got, method, ok := k.get(raw[:d1])
	require.True(t, ok)
	assert.Equal(t, "RS256", string(got.alg))
	assert.Equal(t, "kid-1", string(got.kid))
	assert.Equal(t, "at+jwt", string(got.typ))
	assert.True(t, got.hasKid && got.hasTyp)
	assert.Equal(t, supportedAlgorithms["RS256"], method)
}
