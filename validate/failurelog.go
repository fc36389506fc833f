package validate

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// failureLogInterval is the least time between two log lines of one
// failing store.
const failureLogInterval = time.Minute

// failureLog logs a failing store once a minute at most, not once per
// request: while the store keeps failing, the count of the lines left out
// goes with the next one. Its zero value is ready to use; it is safe for
// concurrent use.
type failureLog struct {
	mu         sync.Mutex
	next       time.Time
	suppressed int
}

// log logs msg and err at level, unless a line was logged less than
// failureLogInterval before now.
func (f *failureLog) log(ctx context.Context, logger *slog.Logger, level slog.Level, now time.Time, msg string, err error) {
	f.mu.Lock()
	if !f.next.IsZero() && now.Before(f.next) {
		f.suppressed++
		f.mu.Unlock()
		return
	}
	n := f.suppressed
	f.next, f.suppressed = now.Add(failureLogInterval), 0
	f.mu.Unlock()
	logger.Log(ctx, level, msg, "error", err.Error(), "suppressed", n)
}
