package validate_test

// The introspection attack corpus at the unit level, beside
// introspect_test.go: the categories of issue 14 its tables cover with fewer
// than five cases — wrong "iss", a slow endpoint, huge answers and floods —
// each get a table here (the conformance kit's introspection section sends
// the same answers over HTTP).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rsguard/rsguard/audit"
	"github.com/rsguard/rsguard/validate"
)

func TestIntrospectionCorpusIssuer(t *testing.T) {
	as := newFakeAS(t)
	v := introValidator(t, as, newIntroClock(), nil)
	for _, tc := range []struct {
		name   string
		iss    any
		reason audit.Reason
	}{
		{"iss upper-cased", strings.ToUpper(as.issuer), audit.ReasonBadIssuer},
		{"iss the resource", introResource, audit.ReasonBadIssuer},
		{"iss empty", "", audit.ReasonBadIssuer},
		{"iss a number", 7, audit.ReasonBadClaims},
		{"iss an array of the issuer", []string{as.issuer}, audit.ReasonBadClaims},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok := "tok-" + strings.ReplaceAll(tc.name, " ", "-")
			as.set(tok, as.good(map[string]any{"iss": tc.iss}))
			a := guardAnswer(t, v, tok)
			assert.Equal(t, http.StatusUnauthorized, a.status)
			assert.Equal(t, "invalid_token", a.code)
			_, err := v.Verify(context.Background(), tok)
			assert.ErrorIs(t, err, tc.reason)
		})
	}
}

// craftedEndpoint serves the introspection requests of a Validator with h;
// h gets a channel closed when the test ends, so that a slow h returns.
func craftedEndpoint(t *testing.T, as *fakeAS, mod func(*validate.Config), h func(w http.ResponseWriter, r *http.Request, stop <-chan struct{})) (*validate.Validator, *atomicCount) {
	t.Helper()
	stop := make(chan struct{})
	var calls atomicCount
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.add()
		h(w, r, stop)
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(stop) }) // runs first: the handlers return
	v := introValidator(t, as, newIntroClock(), func(c *validate.Config) {
		c.Introspection.Endpoint = srv.URL + "/introspect"
		if mod != nil {
			mod(c)
		}
	})
	return v, &calls
}

// goodAnswer is the JSON of as's answer about an active token, with mod.
func goodAnswer(t *testing.T, as *fakeAS, mod map[string]any) []byte {
	t.Helper()
	b, err := json.Marshal(as.good(mod))
	require.NoError(t, err)
	return b
}

// TestIntrospectionCorpusSlow: an endpoint that does not answer costs a
// request Timeout at most, and gets 503 (never a cached verdict).
func TestIntrospectionCorpusSlow(t *testing.T) {
	wait := func(r *http.Request, stop <-chan struct{}) {
		select {
		case <-r.Context().Done():
		case <-stop:
		}
	}
	fast := func(c *validate.Config) { c.Introspection.Timeout = 200 * time.Millisecond }
	verifyIn := func(t *testing.T, v *validate.Validator, tok string) error {
		done := make(chan error, 1)
		go func() {
			_, err := v.Verify(context.Background(), tok)
			done <- err
		}()
		return receive(t, done, "the answer while the endpoint does not answer")
	}
	t.Run("headers then nothing", func(t *testing.T) {
		as := newFakeAS(t)
		v, _ := craftedEndpoint(t, as, fast, func(w http.ResponseWriter, r *http.Request, stop <-chan struct{}) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusOK)
			_ = http.NewResponseController(w).Flush()
			wait(r, stop)
		})
		assert.ErrorIs(t, verifyIn(t, v, "tok"), audit.ReasonIntrospectionUnavailable)
	})
	t.Run("half an answer then nothing", func(t *testing.T) {
		as := newFakeAS(t)
		b := goodAnswer(t, as, nil)
		v, _ := craftedEndpoint(t, as, fast, func(w http.ResponseWriter, r *http.Request, stop <-chan struct{}) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Length", strconv.Itoa(len(b)))
			_, _ = w.Write(b[:len(b)/2])
			_ = http.NewResponseController(w).Flush()
			wait(r, stop)
		})
		assert.ErrorIs(t, verifyIn(t, v, "tok"), audit.ReasonIntrospectionUnavailable)
	})
	t.Run("one token twice", func(t *testing.T) {
		as := newFakeAS(t)
		v, calls := craftedEndpoint(t, as, fast, func(_ http.ResponseWriter, r *http.Request, stop <-chan struct{}) { wait(r, stop) })
		for range 2 {
			assert.ErrorIs(t, verifyIn(t, v, "tok"), audit.ReasonIntrospectionUnavailable)
		}
		assert.Equal(t, 2, calls.get(), "a failure is not remembered")
	})
	t.Run("distinct tokens at once", func(t *testing.T) {
		as := newFakeAS(t)
		v, _ := craftedEndpoint(t, as, fast, func(_ http.ResponseWriter, r *http.Request, stop <-chan struct{}) { wait(r, stop) })
		const n = 4
		done := make(chan error, n)
		for i := range n {
			go func() {
				_, err := v.Verify(context.Background(), fmt.Sprint("tok-", i))
				done <- err
			}()
		}
		for range n {
			assert.ErrorIs(t, receive(t, done, "an answer while the endpoint does not answer"), audit.ReasonIntrospectionUnavailable)
		}
	})
	t.Run("the request's deadline before Timeout", func(t *testing.T) {
		as := newFakeAS(t)
		v, _ := craftedEndpoint(t, as, nil, func(_ http.ResponseWriter, r *http.Request, stop <-chan struct{}) { wait(r, stop) })
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		done := make(chan error, 1)
		go func() {
			_, err := v.Verify(ctx, "tok")
			done <- err
		}()
		err := receive(t, done, "the answer at the request's deadline")
		assert.ErrorIs(t, err, audit.ReasonIntrospectionUnavailable)
		assert.ErrorIs(t, err, context.DeadlineExceeded)
	})
}

// TestIntrospectionCorpusHuge: an answer larger than MaxBytes, however it
// comes, is a failure of the endpoint (503), and one at MaxBytes is read.
func TestIntrospectionCorpusHuge(t *testing.T) {
	const limit = 2048
	for _, tc := range []struct {
		name  string
		limit int64 // Introspection.MaxBytes; 0: the default 64 KiB
		serve func(w http.ResponseWriter, good func(pad int) []byte)
		ok    bool
	}{
		{"exactly MaxBytes", limit, func(w http.ResponseWriter, good func(int) []byte) { _, _ = w.Write(good(limit)) }, true},
		{"MaxBytes and one", limit, func(w http.ResponseWriter, good func(int) []byte) { _, _ = w.Write(good(limit + 1)) }, false},
		{"4 MiB without a length", 0, func(w http.ResponseWriter, good func(int) []byte) {
			_ = http.NewResponseController(w).Flush()
			_, _ = w.Write(good(4 << 20))
		}, false},
		{"a length of 1 GiB announced", limit, func(w http.ResponseWriter, good func(int) []byte) {
			w.Header().Set("Content-Length", strconv.Itoa(1<<30))
			_, _ = w.Write(good(200))
		}, false},
		{"a sub of 1 MiB", 0, func(w http.ResponseWriter, _ func(int) []byte) {
			_, _ = fmt.Fprintf(w, `{"active":true,"sub":%q}`, strings.Repeat("s", 1<<20))
		}, false},
		{"an aud of 200000 entries", 0, func(w http.ResponseWriter, _ func(int) []byte) {
			aud := make([]string, 200000)
			for i := range aud {
				aud[i] = introResource
			}
			b, _ := json.Marshal(map[string]any{"active": true, "aud": aud})
			_, _ = w.Write(b)
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			as := newFakeAS(t)
			// good returns the active answer padded to size bytes (at
			// least its unpadded size). Built here: the handler may not
			// stop the test.
			base := string(goodAnswer(t, as, map[string]any{"pad": ""}))
			good := func(size int) []byte {
				pad := max(0, size-len(base))
				return []byte(strings.Replace(base, `"pad":""`, `"pad":"`+strings.Repeat("p", pad)+`"`, 1))
			}
			v, _ := craftedEndpoint(t, as, func(c *validate.Config) { c.Introspection.MaxBytes = tc.limit },
				func(w http.ResponseWriter, _ *http.Request, _ <-chan struct{}) {
					w.Header().Set("Content-Type", "application/json")
					tc.serve(w, good)
				})
			_, err := v.Verify(context.Background(), "tok")
			if tc.ok {
				assert.NoError(t, err)
				return
			}
			assert.ErrorIs(t, err, audit.ReasonIntrospectionUnavailable)
		})
	}
}

// TestIntrospectionCorpusFlood: made-up tokens, however sent, cost the
// authorization server no more than the rate limit (the clock stands
// still: no refill) and the negative cache allow.
func TestIntrospectionCorpusFlood(t *testing.T) {
	const rate = 5
	limited := func(c *validate.Config) { c.Introspection.RateLimit = rate }
	refused := func(t *testing.T, err error) {
		t.Helper()
		if !assert.Error(t, err) {
			return
		}
		assert.True(t, errors.Is(err, audit.ReasonInactive) || errors.Is(err, audit.ReasonIntrospectionUnavailable),
			"refused as inactive or unavailable: %v", err)
	}
	t.Run("one made-up token again and again", func(t *testing.T) {
		as := newFakeAS(t)
		v := introValidator(t, as, newIntroClock(), limited)
		for range 50 {
			_, err := v.Verify(context.Background(), "made-up")
			assert.ErrorIs(t, err, audit.ReasonInactive)
		}
		assert.Equal(t, int64(1), as.calls.Load(), "the negative cache answers the repeats")
	})
	t.Run("one made-up token again and again without a negative cache", func(t *testing.T) {
		as := newFakeAS(t)
		v := introValidator(t, as, newIntroClock(), func(c *validate.Config) { limited(c); c.Introspection.NegativeTTL = -1 })
		for range 50 {
			_, err := v.Verify(context.Background(), "made-up")
			refused(t, err)
		}
		assert.Equal(t, int64(rate), as.calls.Load(), "the rate limit alone bounds them")
	})
	t.Run("distinct made-up tokens at once", func(t *testing.T) {
		as := newFakeAS(t)
		v := introValidator(t, as, newIntroClock(), limited)
		const workers, each = 8, 10
		var wg sync.WaitGroup
		errs := make(chan error, workers*each)
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range each {
					_, err := v.Verify(context.Background(), fmt.Sprintf("made-up-%d-%d", w, i))
					errs <- err
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			refused(t, err)
		}
		assert.LessOrEqual(t, as.calls.Load(), int64(rate))
	})
	t.Run("large made-up tokens", func(t *testing.T) {
		as := newFakeAS(t)
		v := introValidator(t, as, newIntroClock(), limited)
		for i := range 30 {
			a := guardAnswer(t, v, fmt.Sprintf("made-up-%d-%s", i, strings.Repeat("x", 8<<10)))
			assert.Contains(t, []int{http.StatusUnauthorized, http.StatusServiceUnavailable}, a.status)
		}
		assert.Equal(t, int64(rate), as.calls.Load())
	})
	t.Run("tokens no Authorization header could carry", func(t *testing.T) {
		as := newFakeAS(t)
		v := introValidator(t, as, newIntroClock(), limited)
		for i := range 30 {
			_, err := v.Verify(context.Background(), fmt.Sprintf("made up %d\x00", i))
			assert.ErrorIs(t, err, audit.ReasonMalformed)
		}
		assert.Zero(t, as.calls.Load(), "never sent to the authorization server")
	})
}
