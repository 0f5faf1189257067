package store

import (
	"math"
	"sync/atomic"
	"time"
)

// StaleBound is the longest this instance may go on serving sessions, roles
// and settings from memory after another instance (or the CLI) changed them
// in the database. Past it, with no fresh proof that the change feed is
// live, every read goes to the database.
const StaleBound = time.Second

// heartbeatEvery is how often an instance proves its change feed live.
// Several heartbeats fit in StaleBound, so one late or lost heartbeat does
// not turn the caches off.
const heartbeatEvery = 200 * time.Millisecond

// feed is the proof that this instance has applied every change committed
// up to some moment. An instance may answer from memory only while that
// moment is less than StaleBound old: a stalled connection, a frozen
// database backend or a half-open network path stop the proofs, and the
// caches turn themselves off without anyone having to notice the fault.
type feed struct {
	base    time.Time    // monotonic origin of the offsets below
	proven  atomic.Int64 // ns after base: every change committed before it is applied; -1 none
	forever bool         // nothing can change behind this process's back
	changes atomic.Int64 // notifications applied, other instances' and our own
	lastAt  atomic.Int64 // unix ns of the last change applied
}

func newFeed(forever bool) *feed {
	f := &feed{base: time.Now(), forever: forever}
	f.proven.Store(-1)
	return f
}

// now is the monotonic offset a proof is dated with.
func (f *feed) now() int64 { return int64(time.Since(f.base)) }

// live reports whether memory may be trusted now. It costs one clock read.
func (f *feed) live() bool {
	if f.forever {
		return true
	}
	p := f.proven.Load()
	return p >= 0 && f.now()-p < int64(StaleBound)
}

// prove records that every change committed before at (an offset from now)
// has been applied. Proofs only move forward.
func (f *feed) prove(at int64) {
	for {
		old := f.proven.Load()
		if at <= old || f.proven.CompareAndSwap(old, at) {
			return
		}
	}
}

// lose forgets the proof: the caches stay off until the next one.
func (f *feed) lose() { f.proven.Store(-1) }

// applied counts a change taken from the feed.
func (f *feed) applied() {
	f.changes.Add(1)
	f.lastAt.Store(time.Now().UnixNano())
}

// FeedStatus is how current an instance's view of the database is.
type FeedStatus struct {
	// Live: sessions, roles and settings may be served from memory.
	Live bool
	// Lag is the age of the newest proof that every change before it was
	// applied (+Inf seconds without one). Memory is trusted while it is
	// under StaleBound.
	Lag time.Duration
	// Changes is the number of change notifications applied; LastChange
	// when the newest was.
	Changes    int64
	LastChange time.Time
}

func (f *feed) status() FeedStatus {
	st := FeedStatus{Live: f.live(), Changes: f.changes.Load()}
	if ns := f.lastAt.Load(); ns != 0 {
		st.LastChange = time.Unix(0, ns)
	}
	switch p := f.proven.Load(); {
	case f.forever:
	case p < 0:
		st.Lag = time.Duration(math.MaxInt64)
	default:
		st.Lag = time.Duration(f.now() - p)
	}
	return st
}

// Feed reports how current the instance's cached view is: on PostgreSQL the
// change listener's lag, on SQLite that of the poll that notices the CLI's
// changes to users and roles.
func (s *Store) Feed() FeedStatus { return s.auth.feed.status() }
