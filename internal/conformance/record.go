package conformance

import (
	"fmt"
	"runtime"
	"sync"
)

// Outcome is how a check or sub-check ended.
type Outcome int

const (
	// Passed: it ran to its end, and neither it nor a sub-check failed.
	Passed Outcome = iota
	// Failed: it or a sub-check reported an error.
	Failed
	// Skipped: it called Skipf without having failed, or a halted
	// [Recorder] did not start it.
	Skipped
)

func (o Outcome) String() string {
	switch o {
	case Passed:
		return "pass"
	case Failed:
		return "fail"
	case Skipped:
		return "skip"
	}
	return "unknown"
}

// Result is what a [Recorder] recorded of one check or sub-check.
type Result struct {
	// Name is the check's path below the root, its parts joined with "/"
	// as the engine names them (spaces kept): "attacks/algorithm/alg none".
	// The root's is "".
	Name string

	// Outcome is how it ended.
	Outcome Outcome

	// Errors are the messages of its Errorf and Fatalf calls, in order
	// (not those of its sub-checks).
	Errors []string

	// Skip is the message of its Skipf call, or why a halted Recorder did
	// not start it; "" if it was not skipped.
	Skip string

	// Logs are the messages of its Logf calls, in order.
	Logs []string

	// Fatal says that it called Fatalf.
	Fatal bool

	// Leaf says that it ran no sub-check.
	Leaf bool

	// Running says that it had not returned when Results was called (its
	// Outcome is then not final).
	Running bool
}

// Recorder is a [Reporter] that records what a run reports, check by check,
// for a front end that is not package testing (the checker command) and for
// tests that watch the checks fail. As in package testing, each check and
// sub-check runs on a goroutine of its own, so that Skipf and Fatalf can end
// it with runtime.Goexit, and the cleanups it registers run when it ends, last
// registered first. A panic in a check is recorded as its failure instead of
// ending the process. A Recorder is safe for concurrent use.
type Recorder struct {
	root string

	mu      sync.Mutex
	results []*Result // in the order the checks started; the root first
	halt    string
}

// NewRecorder returns a Recorder whose root reporter is named root (what
// Reporter.Name returns for it; its sub-checks are root/name…).
func NewRecorder(root string) *Recorder {
	return &Recorder{root: root}
}

// Run calls f with the root reporter, on a goroutine of its own, and
// returns when f and every sub-check it ran have returned.
func (rec *Recorder) Run(f func(Reporter)) {
	root := &recNode{rec: rec, res: rec.add("")}
	root.run(f)
}

// Halt makes every sub-check that has not started yet be recorded as
// skipped, with reason as its message, instead of running: for a run cut
// short (a deadline, a request budget). Sub-checks already running go on.
// The first reason given stays.
func (rec *Recorder) Halt(reason string) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.halt == "" {
		rec.halt = reason
	}
}

// Halted returns the reason given to Halt, or "".
func (rec *Recorder) Halted() string {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return rec.halt
}

// Results returns a copy of what was recorded, in the order the checks
// started, the root first.
func (rec *Recorder) Results() []Result {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	out := make([]Result, len(rec.results))
	for i, r := range rec.results {
		out[i] = *r
		out[i].Errors = append([]string(nil), r.Errors...)
		out[i].Logs = append([]string(nil), r.Logs...)
	}
	return out
}

func (rec *Recorder) add(name string) *Result {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	r := &Result{Name: name, Leaf: true}
	rec.results = append(rec.results, r)
	return r
}

// recNode is the Reporter of one check.
type recNode struct {
	rec      *Recorder
	res      *Result
	parent   *recNode
	failed   bool // guarded by rec.mu
	cleanups []func()
}

// run runs f on its own goroutine and waits for it.
func (n *recNode) run(f func(Reporter)) {
	done := make(chan struct{})
	n.rec.mu.Lock()
	n.res.Running = true
	n.rec.mu.Unlock()
	go func() {
		defer close(done)
		defer func() {
			n.rec.mu.Lock()
			n.res.Running = false
			n.rec.mu.Unlock()
		}()
		defer func() {
			for i := len(n.cleanups) - 1; i >= 0; i-- {
				n.cleanups[i]()
			}
		}()
		defer func() {
			if p := recover(); p != nil {
				n.fail(fmt.Sprintf("internal error: the check panicked: %v", p))
			}
		}()
		f(n)
	}()
	<-done
}

func (n *recNode) fail(msg string) {
	n.rec.mu.Lock()
	defer n.rec.mu.Unlock()
	n.res.Errors = append(n.res.Errors, msg)
	for p := n; p != nil; p = p.parent {
		p.failed = true
		p.res.Outcome = Failed
	}
}

func (n *recNode) Helper() {}

func (n *recNode) Name() string {
	if n.res.Name == "" {
		return n.rec.root
	}
	return n.rec.root + "/" + n.res.Name
}

func (n *recNode) Errorf(format string, args ...any) { n.fail(fmt.Sprintf(format, args...)) }

func (n *recNode) Fatalf(format string, args ...any) {
	n.fail(fmt.Sprintf(format, args...))
	n.rec.mu.Lock()
	n.res.Fatal = true
	n.rec.mu.Unlock()
	runtime.Goexit()
}

func (n *recNode) Logf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	n.rec.mu.Lock()
	n.res.Logs = append(n.res.Logs, msg)
	n.rec.mu.Unlock()
}

func (n *recNode) Skipf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	n.rec.mu.Lock()
	n.res.Skip = msg
	if !n.failed {
		n.res.Outcome = Skipped
	}
	n.rec.mu.Unlock()
	runtime.Goexit()
}

func (n *recNode) Failed() bool {
	n.rec.mu.Lock()
	defer n.rec.mu.Unlock()
	return n.failed
}

func (n *recNode) Cleanup(f func()) { n.cleanups = append(n.cleanups, f) }

func (n *recNode) Run(name string, f func(Reporter)) bool {
	path := name
	if n.res.Name != "" {
		path = n.res.Name + "/" + name
	}
	child := &recNode{rec: n.rec, res: n.rec.add(path), parent: n}
	n.rec.mu.Lock()
	n.res.Leaf = false
	halt := n.rec.halt
	if halt != "" {
		child.res.Skip, child.res.Outcome = halt, Skipped
	}
	n.rec.mu.Unlock()
	if halt == "" {
		child.run(f)
	}
	return !child.Failed()
}
