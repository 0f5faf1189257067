package store

import (
	"strings"
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
	entries sync.Map    // cacheKey -> any

	mu     sync.Mutex          // guards epoch, gens and invals; taken by puts and invalidations only
	epoch  uint64              // bumped by setOn
	gens   map[cacheKey]uint64 // bumped by invalidate and replace, per key: guards reads' puts
	invals map[cacheKey]uint64 // bumped by invalidate, per key: guards writes' replaces

	// changes is bumped after every change to entries but a read's put
	// (which stores what is already current): what was derived from
	// entries read after it showed n is current while it still shows n.
	changes atomic.Uint64
}

// cacheKey names a cached value: a settings object (kind, business) or a
// business ("business", id). A struct, not a joined string, so that a read
// builds nothing.
type cacheKey struct{ kind, id string }

// businessKind is the cacheKey kind of businesses.
const businessKind = "business"

// parseChangeKey is the cacheKey of a change notification's key, as
// settingKey writes it ("settings:BUSINESS:KIND").
func parseChangeKey(key string) (cacheKey, bool) {
	rest, ok := strings.CutPrefix(key, "settings:")
	i := strings.LastIndexByte(rest, ':')
	if !ok || i < 0 {
		return cacheKey{}, false
	}
	return cacheKey{kind: rest[i+1:], id: rest[:i]}, true
}

type ticket struct{ epoch, gen, inval uint64 }

func newCache(on bool, f *feed) *cache {
	c := &cache{gens: map[cacheKey]uint64{}, invals: map[cacheKey]uint64{}, feed: f}
	c.on.Store(on)
	return c
}

func (c *cache) get(key cacheKey) (any, bool) {
	if !c.on.Load() || !c.feed.live() {
		return nil, false
	}
	return c.entries.Load(key)
}

// ticket is taken before reading or writing the database for key.
func (c *cache) ticket(key cacheKey) ticket {
	c.mu.Lock()
	defer c.mu.Unlock()
	return ticket{c.epoch, c.gens[key], c.invals[key]}
}

// put stores what a read found, unless the key changed since its ticket.
// It may store while the feed is not proven live: a change missed meanwhile
// is applied before the next proof, and nothing is served until then.
func (c *cache) put(key cacheKey, v any, t ticket) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.on.Load() && t.epoch == c.epoch && t.gen == c.gens[key] {
		c.entries.Store(key, v)
	}
}

// replace stores v for key after a write committed it (t was taken before
// the write began), unless newer says the entry already holds a later
// value. If key was invalidated since t (another instance's write, a write
// that failed, a flush), which value is latest is unknown: the entry is
// dropped instead, and the next read loads it. Without that, a replace
// arriving late could put back its value after a later one had been
// written and the entry dropped, and serve it until the next change.
func (c *cache) replace(key cacheKey, v any, t ticket, newer func(old any) bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gens[key]++ // reads begun before the write must not put back the old value
	defer c.changes.Add(1)
	if !c.on.Load() {
		return
	}
	if t.epoch != c.epoch || t.inval != c.invals[key] {
		c.entries.Delete(key)
		return
	}
	if old, ok := c.entries.Load(key); ok && newer(old) {
		return
	}
	c.entries.Store(key, v)
}

func (c *cache) invalidate(key cacheKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gens[key]++
	c.invals[key]++
	c.entries.Delete(key)
	c.changes.Add(1)
}

// setOn turns caching on or off; either way it forgets everything, since
// changes may have been missed while it was off.
func (c *cache) setOn(on bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.on.Store(on)
	c.epoch++
	c.entries.Clear()
	c.changes.Add(1)
}

// generation is the count of changes, and whether entries are served now.
func (c *cache) generation() (uint64, bool) {
	n := c.changes.Load() // before the test: a change racing it makes n stale, not the answer
	return n, c.on.Load() && c.feed.live()
}
