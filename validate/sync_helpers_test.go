package validate_test

// Synchronisation on observable state, for the concurrency tests: no test
// sleeps and hopes that the other goroutines have got somewhere.

import (
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rsguard/rsguard/validate/validatetest"
)

// syncTimeout bounds every wait below. It is generous because reaching it
// means the test has already failed: the waits return as soon as their
// condition holds.
const syncTimeout = time.Minute

// verifyFrame is how verification appears in a stack dump: every token
// that the verified-token cache does not answer goes through verifyUncached,
// whether from Verify or from Authenticate (which asks the cache first).
const verifyFrame = "github.com/rsguard/rsguard/validate.(*Validator).verifyUncached("

// waitParkedInVerify returns once n goroutines are parked on a channel
// inside verification (verifyFrame), that is waiting for a key refresh
// that one of them started; it fails the test at once if returned() reports
// that a caller is already back (it did not wait), and after syncTimeout if
// the n never park. Call it from the test goroutine.
//
// Whether a goroutine has reached a channel operation inside Verify is not
// observable through the package's API; the goroutine dump is the observable
// state: a goroutine parked in a select or a channel receive under Verify has
// passed the key lookup and the rate-limit check, and holds the refresh it
// waits for (see remoteKeys.refresh). A goroutine only runnable, or waiting
// for the refresh lock, does not count.
func waitParkedInVerify(t *testing.T, n int, returned func() bool) {
	t.Helper()
	deadline := time.Now().Add(syncTimeout)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for {
		got := parkedIn(verifyFrame)
		if got >= n {
			return
		}
		require.False(t, returned(), "a caller returned from Verify while the refresh was held (%d of %d parked)", got, n)
		require.False(t, time.Now().After(deadline), "after %v, %d of %d goroutines are parked in Verify", syncTimeout, got, n)
		<-tick.C
	}
}

// parkedIn counts the goroutines blocked in a select or a channel receive
// with frame on their stack.
func parkedIn(frame string) int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	count := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		// "goroutine 42 [select]:" or "goroutine 42 [chan receive, 2 minutes]:"
		header, stack, _ := strings.Cut(g, "\n")
		_, state, _ := strings.Cut(header, " [")
		if (strings.HasPrefix(state, "select") || strings.HasPrefix(state, "chan receive")) &&
			strings.Contains(stack, frame) {
			count++
		}
	}
	return count
}

// receive waits for a value on ch, failing the test after syncTimeout. Call
// it from the test goroutine.
func receive[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(syncTimeout):
		require.Failf(t, "timed out", "no %s within %v", what, syncTimeout)
		var zero T
		return zero
	}
}

// failures collects what goroutines other than the test's find wrong, for
// the test goroutine to assert on with assert.Empty(t, f.all(), …). The
// goroutines record only when a check fails, and never call testify or t:
// testify's assertions synchronise on t even when they pass (t.Helper locks
// it), which would order the goroutines and could hide a race from the race
// detector, and require must not be called off the test goroutine at all.
type failures struct {
	mu   sync.Mutex
	list []string
}

func (f *failures) add(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.list = append(f.list, fmt.Sprintf(format, args...))
}

// all returns the failures recorded so far.
func (f *failures) all() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.list...)
}

// settledGoroutines returns the number of goroutines once it has stopped
// falling: the lowest count seen, after 50 polls a millisecond apart without
// a lower one (or after syncTimeout). Goroutines on their way out (those of
// connections just closed) are then gone. A goroutine late to exit only
// raises the result, which makes a leak check against it more lenient,
// never flaky.
func settledGoroutines() int {
	deadline := time.Now().Add(syncTimeout)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	low := runtime.NumGoroutine()
	for still := 0; still < 50 && time.Now().Before(deadline); {
		<-tick.C
		if n := runtime.NumGoroutine(); n < low {
			low, still = n, 0
		} else {
			still++
		}
	}
	return low
}

// goroutinesAtMost polls the number of goroutines until it is at most n, or
// for 10 s, and returns the last count: more than n means goroutines that do
// not exit.
func goroutinesAtMost(n int) int {
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for {
		got := runtime.NumGoroutine()
		if got <= n || time.Now().After(deadline) {
			return got
		}
		<-tick.C
	}
}

// fetchMeter is an http.RoundTripper that counts the validator's requests
// for one URL: how many it made, and how many it had in flight at most, each
// from the moment it is sent until the validator closes the response body or
// gets an error. It is the validator's own view of its fetches: a count kept
// in the issuer's handler lags when a fetch is abandoned (the handler learns
// it only when the server notices the closed connection), so it can see two
// fetches at once where the validator never had them.
type fetchMeter struct {
	base                  http.RoundTripper
	url                   string
	total, inflight, most atomic.Int64
}

// meteredClient returns a client for is (its TLS trust) whose requests for
// is's JWK Set go through m.
func meteredClient(is *validatetest.Issuer, m *fetchMeter) *http.Client {
	c := *is.Client()
	m.base, m.url = c.Transport, is.JWKSURL
	if m.base == nil {
		m.base = http.DefaultTransport
	}
	c.Transport = m
	return &c
}

func (m *fetchMeter) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.String() != m.url {
		return m.base.RoundTrip(r)
	}
	m.total.Add(1)
	storeMax(&m.most, m.inflight.Add(1))
	resp, err := m.base.RoundTrip(r)
	if err != nil {
		m.inflight.Add(-1)
		return nil, err
	}
	resp.Body = &meteredBody{ReadCloser: resp.Body, done: sync.OnceFunc(func() { m.inflight.Add(-1) })}
	return resp, nil
}

// meteredBody ends a metered fetch when it is closed.
type meteredBody struct {
	io.ReadCloser
	done func()
}

func (b *meteredBody) Close() error {
	defer b.done()
	return b.ReadCloser.Close()
}
