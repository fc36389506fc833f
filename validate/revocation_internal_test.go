package validate

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rsguard/rsguard"
)

// entries returns the number of entries d holds, expired ones not yet
// dropped included.
func (d *DenyList) entries() int { return int(d.n.Load()) }

// purgeNow drops the expired entries, as the next Revoke call would, and
// returns how many it dropped.
func (d *DenyList) purgeNow() int {
	now := d.now()
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.purge(now)
}

// testClock is a settable clock for DenyList tests.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

var denyNow = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

func newTestDenyList(t *testing.T, clk *testClock, lifetime time.Duration) *DenyList {
	t.Helper()
	d, err := NewDenyList(DenyListConfig{MaxTokenLifetime: lifetime, Now: clk.Now})
	require.NoError(t, err)
	return d
}

func TestDenyListRefuses(t *testing.T) {
	_, err := NewDenyList(DenyListConfig{MaxTokenLifetime: -time.Second})
	require.ErrorIs(t, err, rsguard.ErrInvalidConfig)
	d := newTestDenyList(t, &testClock{t: denyNow}, 0)
	assert.Error(t, d.RevokeToken("", "jti", time.Time{}), "an empty issuer revokes nothing: an error, not a silent no-op")
	assert.Error(t, d.RevokeSubject("https://as.example", "", denyNow))
	assert.Error(t, d.RevokeClient("https://as.example", "c", time.Time{}), "the cut-off time is required")
	assert.Zero(t, d.entries())
}

// Entries expire when the longest token they can match would have, plus the
// largest leeway a Validator can have, and the Revoke methods purge them.
func TestDenyListExpiry(t *testing.T) {
	const iss = "https://as.example"
	clk := &testClock{t: denyNow}
	d := newTestDenyList(t, clk, time.Hour)
	require.NoError(t, d.RevokeToken(iss, "short", denyNow.Add(10*time.Minute)))
	require.NoError(t, d.RevokeSubject(iss, "alice", denyNow))
	require.NoError(t, d.RevokeToken(iss, "unknown-exp", time.Time{}))
	require.NoError(t, d.RevokeToken(iss, "already-dead", denyNow.Add(-time.Hour)))
	assert.Equal(t, 3, d.entries(), "an entry that can match nothing is not stored")

	clk.Advance(10*time.Minute + 5*time.Minute - time.Second)
	assert.Zero(t, d.purgeNow())
	clk.Advance(time.Second)
	assert.Equal(t, 1, d.purgeNow(), "the token entry lives until exp + MaxLeeway")

	// Extending an entry keeps it past its first expiry.
	require.NoError(t, d.RevokeSubject(iss, "alice", denyNow.Add(30*time.Minute)))
	clk.Advance(50 * time.Minute) // denyNow + 1h + MaxLeeway
	require.NoError(t, d.RevokeSubject(iss, "bob", clk.Now()), "a Revoke call purges")
	assert.Equal(t, 2, d.entries(), "unknown-exp expired with the first alice entry; alice extended; bob new")
	ok, _ := d.Revoked(context.Background(), &Claims{Issuer: iss, Subject: "alice", IssuedAt: denyNow.Add(time.Minute)})
	assert.True(t, ok)
	clk.Advance(30 * time.Minute)
	assert.Equal(t, 1, d.purgeNow())
	assert.Equal(t, 1, d.entries())
}

// TestDenyListPurgeBounded: the Revoke methods alone keep a DenyList
// bounded: after a burst of revocations has expired, the next Revoke call
// drops the burst's entries and their expiry items, each once.
func TestDenyListPurgeBounded(t *testing.T) {
	const iss = "https://as.example"
	clk := &testClock{t: denyNow}
	d := newTestDenyList(t, clk, time.Hour)
	for i := range 1000 {
		require.NoError(t, d.RevokeToken(iss, "jti-"+strconv.Itoa(i), denyNow.Add(time.Minute)))
		require.NoError(t, d.RevokeSubject(iss, "user-"+strconv.Itoa(i%10), denyNow.Add(time.Duration(i)*time.Millisecond)))
	}
	assert.Equal(t, 1010, d.entries())
	assert.LessOrEqual(t, len(d.expiry), 2000, "at most one expiry item per Revoke call")

	clk.Advance(2*time.Hour + maxLeeway)
	require.NoError(t, d.RevokeToken(iss, "later", clk.Now().Add(time.Minute)))
	assert.Equal(t, 1, d.entries(), "the expired burst was dropped by the next Revoke")
	assert.Len(t, d.expiry, 1, "and so were its expiry items, extended ones included")
	for _, m := range d.issuers[iss] {
		assert.LessOrEqual(t, len(m), 1)
	}
}

func TestDenyListConcurrent(t *testing.T) {
	const iss = "https://as.example"
	d := newTestDenyList(t, &testClock{t: denyNow}, 0)
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for j := range 200 {
				_ = d.RevokeToken(iss, strings.Repeat("x", i+1)+string(rune('a'+j%26)), denyNow.Add(time.Hour))
			}
		}()
		go func() {
			defer wg.Done()
			for range 200 {
				_, _ = d.Revoked(context.Background(), &Claims{Issuer: iss, ID: "xa"})
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, 4*26, d.entries())
}
