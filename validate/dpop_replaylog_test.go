package validate_test

import (
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rsguard/rsguard/audit"
	"github.com/rsguard/rsguard/validate"
)

// TestDPoPReplayStoreFailureLoggedOnceAMinute: a failing replay store
// refuses every request with 503, but is logged once a minute, not once
// per request; the next line counts the ones left out.
func TestDPoPReplayStoreFailureLoggedOnceAMinute(t *testing.T) {
	clock := newHardClock(fixedNow)
	store := &countingStore{err: errors.New("store down: connection refused")}
	var logs logBuffer
	is, v := dpopSetup(t, validate.DPoPAllowed, func(c *validate.Config) {
		c.Now = clock.Now
		c.DPoP.Replay = store
		c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	k := newDPoPKey(t, "ES256")
	tok := is.Token(map[string]any{"cnf": map[string]any{"jkt": k.jkt}, "exp": fixedNow.Add(time.Hour).Unix()})
	lines := func() []string {
		var out []string
		for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
			if strings.Contains(l, "DPoP replay store failed") {
				out = append(out, l)
			}
		}
		return out
	}
	refuse := func(n int) {
		t.Helper()
		for range n {
			_, err := v.Authenticate(dpopRequest(tok, k.proof(t, tok, map[string]any{"iat": clock.Now().Unix()}, nil)))
			require.ErrorIs(t, err, audit.ReasonStoreUnavailable)
		}
	}

	refuse(5)
	got := lines()
	require.Len(t, got, 1, "five refusals within a minute, one line:\n%s", logs.String())
	assert.Contains(t, got[0], "level=WARN")
	assert.Contains(t, got[0], "connection refused", "the store's error is logged")
	assert.Contains(t, got[0], "suppressed=0")
	assert.NotContains(t, logs.String(), tok)

	clock.Advance(59 * time.Second)
	refuse(1)
	require.Len(t, lines(), 1, "59 s later, still one line")

	clock.Advance(2 * time.Second)
	refuse(1)
	got = lines()
	require.Len(t, got, 2, "a minute after the first line, the second:\n%s", logs.String())
	assert.Contains(t, got[1], "suppressed=5", "the second line counts the five left out")
	assert.Equal(t, 7, store.calls, "every request asked the store")
}
