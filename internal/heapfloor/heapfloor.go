// Package heapfloor keeps the garbage collector from running every few
// megabytes when little is live. bizsec's live heap is small (SQLite keeps
// its pages outside the Go heap, caches hold small values), so at Go's
// default (GOGC=100, a goal of twice the live heap) a server under load
// collects dozens of times a second, and the runtime hands back to the
// kernel, and faults in again, the same pages between collections.
//
// A floor lets the heap grow at least Floor past what is live before the
// next collection, and never less than the default lets it: after every
// collection GOGC is set from what that collection found live, to the
// larger of 100 and the percentage that puts the goal Floor past it. A
// percentage set from a small heap applies, until the next collection is
// done, to a heap that may have just grown (a flood of request bodies); a
// soft memory limit (GOMEMLIMIT), set with it, well above the goal,
// bounds that. The limit is not the goal: a limit near the heap makes the
// runtime hand pages back to the kernel as it nears it, and logins, each
// a fresh 19 MiB of argon2 memory, then fault them in again (a sixth
// slower, measured).
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

// maxPercent bounds GOGC: a heap that is almost all garbage is still
// collected at some point.
const maxPercent = 2000

// minHeap is the live heap the runtime assumes below 4 MiB (its minimum
// goal at GOGC=100).
const minHeap = 4 << 20

// Percent is the GOGC that lets a heap of live bytes grow floor past it:
// never below the default (100), never above maxPercent.
func Percent(live, floor uint64) int {
	p := floor * 100 / max(live, minHeap)
	return int(min(max(p, 100), maxPercent))
}

// slack is what the limit adds for the runtime's own memory beside the
// heap (stacks, metadata).
const slack = 16 << 20

// Limit is the memory limit kept beside Percent: the larger of four times
// the live heap and the live heap plus four floors, plus slack; twice the
// goal or more, so that it never paces a heap that stays what it was.
func Limit(live, floor uint64) int64 {
	if live > 1<<60 || floor > 1<<60 {
		return math.MaxInt64 // no limit: past what any machine holds
	}
	return int64(max(4*live, live+4*floor) + slack)
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
	l := live()
	t.prevLimit = debug.SetMemoryLimit(Limit(l, floor))
	t.prevPercent = debug.SetGCPercent(Percent(l, floor))
	t.arm()
	return t.stop
}

// tuner sets GOGC and the limit after each collection.
type tuner struct {
	floor       uint64
	mu          sync.Mutex
	prevPercent int   // GOGC before Start
	prevLimit   int64 // the memory limit before Start
	stopped     bool  // stop was called: cycle neither sets nor arms again
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
	l := live()
	debug.SetMemoryLimit(Limit(l, t.floor))
	debug.SetGCPercent(Percent(l, t.floor))
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
