package store

import (
	"sync"
	"sync/atomic"
)

// cache keeps settings documents and businesses in memory. Reads take no
// lock (sync.Map, atomics), so readers on many cores never queue behind
// one another. A read stores what it read only if no invalidation of its
// key (and no flush) happened since the read began, so a slow read can
// never put back a value a write replaced.
type cache struct {
	on      atomic.Bool // off while changes may be missed (no listener)
	feed    *feed       // and, while on, trusted only as long as the feed is proven live
	entries sync.Map    // key -> any

	mu    sync.Mutex        // guards epoch and gens; taken by puts and invalidations only
	epoch uint64            // bumped by setOn
	gens  map[string]uint64 // bumped by invalidate, per key
}

type ticket struct{ epoch, gen uint64 }

func newCache(on bool, f *feed) *cache {
	c := &cache{gens: map[string]uint64{}, feed: f}
	c.on.Store(on)
	return c
}

func (c *cache) get(key string) (any, bool) {
	if !c.on.Load() || !c.feed.live() {
		return nil, false
	}
	return c.entries.Load(key)
}

// ticket is taken before reading the database for key.
func (c *cache) ticket(key string) ticket {
	c.mu.Lock()
	defer c.mu.Unlock()
	return ticket{c.epoch, c.gens[key]}
}

// put stores what a read found, unless the key changed since its ticket.
// It may store while the feed is not proven live: a change missed meanwhile
// is applied before the next proof, and nothing is served until then.
func (c *cache) put(key string, v any, t ticket) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.on.Load() && t.epoch == c.epoch && t.gen == c.gens[key] {
		c.entries.Store(key, v)
	}
}

// replace stores v for key after a write committed it, unless newer says
// the entry already holds a later value.
func (c *cache) replace(key string, v any, newer func(old any) bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gens[key]++ // reads begun before the write must not put back the old value
	if !c.on.Load() {
		return
	}
	if old, ok := c.entries.Load(key); ok && newer(old) {
		return
	}
	c.entries.Store(key, v)
}

func (c *cache) invalidate(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gens[key]++
	c.entries.Delete(key)
}

// setOn turns caching on or off; either way it forgets everything, since
// changes may have been missed while it was off.
func (c *cache) setOn(on bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.on.Store(on)
	c.epoch++
	c.entries.Clear()
}
