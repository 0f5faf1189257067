// Package heapfloor keeps the garbage collector from running every few
// megabytes when little is live. bizsec's live heap is small (SQLite keeps
// its pages outside the Go heap, caches hold small values), so at Go's
// default (GOGC=100, a goal of twice the live heap) a server under load
// collects dozens of times a second, and the runtime hands back to the
// kernel, and faults in again, the same pages between collections.
//
// A floor lets the heap grow at least Floor past what is live before the
// next collection, and never less than the default lets it: the goal is
// the larger of twice the live heap and the live heap plus Floor. It is
// kept as a soft memory limit (GOMEMLIMIT), set again after every
// collection from what that collection found live, with GOGC raised so
// that the limit is what paces the collector. A limit that lags behind a
// heap that has just grown (a flood of request bodies) errs towards
// collecting more often, never towards more memory: until the next
// collection is done the old, lower limit holds.
package heapfloor

import (
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// Floor is how far past the live heap the heap may grow before a
// collection.
const Floor = 32 << 20

// percent is GOGC while the floor is kept: high enough that the limit,
// not GOGC, sets the goal of a small heap.
const percent = 2000

// slack is what the limit adds for the runtime's own memory beside the
// heap (stacks, metadata), and a tenth for the collector's overshoot.
const slack = 16 << 20

// Limit is the memory limit that gives a heap of live bytes its goal:
// the larger of 2*live and live+floor, plus slack.
func Limit(live, floor uint64) int64 {
	if live > 1<<60 || floor > 1<<60 {
		return math.MaxInt64 // no limit: past what any machine holds
	}
	goal := max(2*live, live+floor)
	return int64(goal + goal/10 + slack)
}

// Start keeps the floor until stop is called, which restores GOGC and
// the memory limit. It does nothing when GOGC or GOMEMLIMIT is set in the
// environment: the operator's choice wins.
func Start(floor uint64) (stop func()) {
	for _, v := range []string{"GOGC", "GOMEMLIMIT"} {
		if _, set := os.LookupEnv(v); set {
			return func() {}
		}
	}
	t := &tuner{floor: floor}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.prevLimit = debug.SetMemoryLimit(Limit(live(), floor))
	t.prevPercent = debug.SetGCPercent(percent)
	t.arm()
	return t.stop
}

// tuner sets the limit after each collection.
type tuner struct {
	floor       uint64
	mu          sync.Mutex
	prevPercent int   // GOGC before Start
	prevLimit   int64 // the memory limit before Start
	stopped     bool  // stop was called: cycle neither sets the limit nor arms again
}

// sentinel is garbage the next collection finds: its cleanup runs once
// that collection is done. A pointer keeps it out of the tiny allocator,
// whose blocks are freed together and late.
type sentinel struct{ _ *byte }

func (t *tuner) arm() { runtime.AddCleanup(new(sentinel), (*tuner).cycle, t) }

// cycle runs after each collection.
func (t *tuner) cycle() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped {
		return
	}
	debug.SetMemoryLimit(Limit(live(), t.floor))
	t.arm()
}

func (t *tuner) stop() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.stopped {
		t.stopped = true
		debug.SetGCPercent(t.prevPercent)
		debug.SetMemoryLimit(t.prevLimit)
	}
}

// live is the heap the last collection found live.
func live() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}
