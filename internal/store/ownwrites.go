package store

import (
	"sync"
	"sync/atomic"
	"time"
)

// ownWrites remembers which database backends this instance's settings
// writes went through, so that the change notification of its own write
// does not drop the value the write has just put in the cache (Update does
// that itself, under its ticket): without it every write made the next
// read on this instance a database read. A notification is taken as this
// instance's own only if it comes from a backend (PID) this instance wrote
// that key through within ownWriteWindow: PostgreSQL gives a PID to one
// connection at a time, and one is not given again so soon.
type ownWrites struct {
	m sync.Map     // ownWrite -> int64, unix nanoseconds of the last write
	n atomic.Int64 // entries, roughly: past ownWritesSweep the old ones go
}

type ownWrite struct {
	pid uint32
	key string
}

const (
	ownWriteWindow = 5 * time.Second
	ownWritesSweep = 4096
)

// wrote records that key was written through backend pid, before the
// write commits (and so before its notification is sent).
func (o *ownWrites) wrote(pid uint32, key string, now time.Time) {
	if _, loaded := o.m.Swap(ownWrite{pid, key}, now.UnixNano()); !loaded && o.n.Add(1) > ownWritesSweep {
		o.sweep(now)
	}
}

// mine reports whether the notification of key from backend pid is of a
// write this instance made.
func (o *ownWrites) mine(pid uint32, key string, now time.Time) bool {
	v, ok := o.m.Load(ownWrite{pid, key})
	return ok && now.UnixNano()-v.(int64) < int64(ownWriteWindow)
}

func (o *ownWrites) sweep(now time.Time) {
	o.m.Range(func(k, v any) bool {
		if now.UnixNano()-v.(int64) >= int64(ownWriteWindow) {
			o.m.Delete(k)
			o.n.Add(-1)
		}
		return true
	})
}
