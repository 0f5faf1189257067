package store

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/bizsec/bizsec/internal/auth"
)

// authCache keeps sessions and roles in memory, so that an authenticated
// read needs no database. Reads take no lock. An entry is valid while the
// cache's epoch and its user's generation are those it was read under:
// forgetting everything bumps the epoch, revoking a user's sessions or
// roles bumps the user's generation, and ending one session deletes its
// entry. A read that raced with any revocation does not store what it read.
type authCache struct {
	on      *atomic.Bool // shared with the settings cache: off while changes may be missed
	feed    *feed        // entries are served only while the feed is proven live
	max     int64
	size    atomic.Int64
	epoch   atomic.Uint64
	revoked atomic.Uint64 // bumped by every revocation; guards stores
	users   sync.Map      // user ID -> *atomic.Uint64 generation

	sessions sync.Map // string(token hash) -> *sessionEntry
	roles    sync.Map // roleKey -> *roleEntry
}

type sessionEntry struct {
	sess     auth.Session
	lastSeen atomic.Int64 // unix ms, moved forward by use
	epoch    uint64
	userGen  uint64
}

type roleEntry struct {
	role    auth.Role
	epoch   uint64
	userGen uint64
}

// authTicket is taken before a database read whose result may be stored.
type authTicket struct{ epoch, revoked uint64 }

func newAuthCache(on *atomic.Bool, f *feed, max int) *authCache {
	return &authCache{on: on, feed: f, max: int64(max)}
}

func (c *authCache) userGen(userID string) uint64 {
	if g, ok := c.users.Load(userID); ok {
		return g.(*atomic.Uint64).Load()
	}
	return 0
}

func (c *authCache) ticket() authTicket {
	return authTicket{c.epoch.Load(), c.revoked.Load()}
}

func (c *authCache) valid(epoch, userGen uint64, userID string) bool {
	return c.on.Load() && epoch == c.epoch.Load() && userGen == c.userGen(userID) && c.feed.live()
}

func (c *authCache) session(hash []byte) (auth.Session, bool) {
	v, ok := c.sessions.Load(string(hash))
	if !ok {
		return auth.Session{}, false
	}
	e := v.(*sessionEntry)
	if !c.valid(e.epoch, e.userGen, e.sess.UserID) {
		return auth.Session{}, false
	}
	s := e.sess
	s.LastSeenAt = time.UnixMilli(e.lastSeen.Load())
	return s, true
}

// storeSession keeps a session read under t, unless anything was revoked
// since t was taken, or the cache is full.
func (c *authCache) storeSession(sess auth.Session, t authTicket) {
	gen, ok := c.admit(t, sess.UserID)
	if !ok {
		return
	}
	e := &sessionEntry{sess: sess, epoch: t.epoch, userGen: gen}
	e.lastSeen.Store(sess.LastSeenAt.UnixMilli())
	if _, loaded := c.sessions.Swap(string(sess.TokenHash), e); !loaded {
		c.size.Add(1)
	}
	if c.revoked.Load() != t.revoked { // a revocation landed while storing: undo
		c.dropSession(sess.TokenHash)
	}
}

// admit reports whether what was read under t may be stored, and the
// user's generation to store it under: nothing was revoked meanwhile (so
// the generation read now is the one the read saw), and there is room.
func (c *authCache) admit(t authTicket, userID string) (uint64, bool) {
	if !c.on.Load() || c.epoch.Load() != t.epoch || c.size.Load() >= c.max {
		return 0, false
	}
	gen := c.userGen(userID)
	return gen, c.revoked.Load() == t.revoked
}

// touch moves a cached session's last use forward.
func (c *authCache) touch(hash []byte, at time.Time) {
	if v, ok := c.sessions.Load(string(hash)); ok {
		e := v.(*sessionEntry)
		ms := at.UnixMilli()
		for {
			old := e.lastSeen.Load()
			if old >= ms || e.lastSeen.CompareAndSwap(old, ms) {
				return
			}
		}
	}
}

func (c *authCache) dropSession(hash []byte) {
	if _, loaded := c.sessions.LoadAndDelete(string(hash)); loaded {
		c.size.Add(-1)
	}
}

// revokeSession forgets one session.
func (c *authCache) revokeSession(hash []byte) {
	c.revoked.Add(1)
	c.dropSession(hash)
}

// revokeUser forgets every session and role of a user.
func (c *authCache) revokeUser(userID string) {
	c.revoked.Add(1)
	g, _ := c.users.LoadOrStore(userID, new(atomic.Uint64))
	g.(*atomic.Uint64).Add(1)
}

// flush forgets everything.
func (c *authCache) flush() {
	c.revoked.Add(1)
	c.epoch.Add(1)
	c.sessions.Clear()
	c.roles.Clear()
	c.size.Store(0)
}

// roleKey names a user's role in a business (a struct: a read builds no
// string).
type roleKey struct{ userID, business string }

func (c *authCache) role(userID, business string) (auth.Role, bool) {
	v, ok := c.roles.Load(roleKey{userID, business})
	if !ok {
		return auth.RoleNone, false
	}
	e := v.(*roleEntry)
	return e.role, c.valid(e.epoch, e.userGen, userID)
}

func (c *authCache) storeRole(userID, business string, role auth.Role, t authTicket) {
	gen, ok := c.admit(t, userID)
	if !ok {
		return
	}
	if _, loaded := c.roles.Swap(roleKey{userID, business}, &roleEntry{role: role, epoch: t.epoch, userGen: gen}); !loaded {
		c.size.Add(1)
	}
	if c.revoked.Load() != t.revoked {
		if _, loaded := c.roles.LoadAndDelete(roleKey{userID, business}); loaded {
			c.size.Add(-1)
		}
	}
}
