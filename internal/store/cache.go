package store

import "sync"

// cache keeps settings documents in memory. A read stores what it read only
// if no invalidation of its key (and no flush) happened since the read
// began, so a slow read can never put back a value a write replaced.
type cache struct {
	mu      sync.Mutex
	on      bool
	epoch   uint64            // bumped by flush
	gens    map[string]uint64 // bumped by invalidate, per key
	entries map[string]any
}

type ticket struct{ epoch, gen uint64 }

func newCache(on bool) *cache {
	return &cache{on: on, gens: map[string]uint64{}, entries: map[string]any{}}
}

func (c *cache) get(key string) (any, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.entries[key]
	return v, ok && c.on
}

// ticket is taken before reading the database for key.
func (c *cache) ticket(key string) ticket {
	c.mu.Lock()
	defer c.mu.Unlock()
	return ticket{c.epoch, c.gens[key]}
}

// put stores what a read found, unless the key changed since its ticket.
func (c *cache) put(key string, v any, t ticket) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.on && t.epoch == c.epoch && t.gen == c.gens[key] {
		c.entries[key] = v
	}
}

func (c *cache) invalidate(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gens[key]++
	delete(c.entries, key)
}

// setOn turns caching on or off; either way it forgets everything, since
// changes may have been missed while it was off.
func (c *cache) setOn(on bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.on = on
	c.epoch++
	c.entries = map[string]any{}
}

func (c *cache) isOn() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.on
}
