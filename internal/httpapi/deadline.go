package httpapi

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"
	"unsafe"
)

// reqCtx is a request's context, and all the per-request state the front
// and the route adapter keep, in one allocation: the request ID, the
// status writer, the adapter's request, and the database deadline.
//
// The deadline is armed by the route adapter: a context that ends d after
// arm, or d after restart, which the route calls once the body has arrived,
// so that the time a body takes to arrive is not taken from the database
// work after it. It ends earlier when its parent does. Its timer and channel
// are made only when someone asks for Done: a request answered from memory
// starts no timer.
type reqCtx struct {
	context.Context // the parent, for its values

	id    string    // the request ID; may point into idBuf
	hdr   [1]string // the X-Request-Id header's value slice
	idBuf [16]byte

	w statusWriter
	q request

	armed bool // set once, by the adapter, before the context is shared
	d     time.Duration
	mu    sync.Mutex
	at    time.Time
	err   error
	done  chan struct{}
	timer *time.Timer
	stop  func() bool
}

// requestIDKey is the context key of the request ID.
type requestIDKey struct{}

// RequestID returns the ID of the request whose context ctx is (or is
// derived from), as sent in its X-Request-Id header and logged in its
// access log line; "" outside a request.
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// maxRequestID bounds a client-sent request ID.
const maxRequestID = 64

// setRequestID takes the client's X-Request-Id when it is short and made of
// safe characters, or makes one: 16 hex digits, random.
func (c *reqCtx) setRequestID(sent []string) {
	if len(sent) > 0 && saneRequestID(sent[0]) {
		c.id = sent[0]
	} else {
		const digits = "0123456789abcdef"
		n := rand.Uint64()
		for i := range c.idBuf {
			c.idBuf[i] = digits[n&0xf]
			n >>= 4
		}
		// idBuf is never written again: the string may share it.
		c.id = unsafe.String(&c.idBuf[0], len(c.idBuf))
	}
	c.hdr[0] = c.id
}

func saneRequestID(s string) bool {
	if s == "" || len(s) > maxRequestID {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '-' || c == '_' || c == '.' || c == ':' || c == '/' || c == '+' || c == '=':
		default:
			return false
		}
	}
	return true
}

func (c *reqCtx) Value(key any) any {
	if key == (requestIDKey{}) {
		return c.id
	}
	return c.Context.Value(key)
}

// arm starts the database deadline d from now.
func (c *reqCtx) arm(d time.Duration) {
	c.d, c.at, c.armed = d, time.Now().Add(d), true
}

// end releases the deadline's timer when the request is answered.
func (c *reqCtx) end() {
	if !c.armed {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stop != nil {
		c.stop()
	}
	if c.timer != nil {
		c.timer.Stop()
	}
	c.finishLocked(context.Canceled)
}

func (c *reqCtx) finish(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.finishLocked(err)
}

func (c *reqCtx) finishLocked(err error) {
	if c.err == nil {
		c.err = err
		if c.done != nil {
			close(c.done)
		}
	}
}

// restart counts the deadline again from now, unless it has passed.
func (c *reqCtx) restart() {
	if !c.armed {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	if c.err != nil || !now.Before(c.at) {
		return
	}
	if c.timer == nil {
		c.at = now.Add(c.d)
	} else if c.timer.Stop() {
		c.at = now.Add(c.d)
		c.timer.Reset(c.d)
	}
}

func (c *reqCtx) Deadline() (time.Time, bool) {
	if !c.armed {
		return c.Context.Deadline()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.at, true
}

func (c *reqCtx) Done() <-chan struct{} {
	if !c.armed {
		return c.Context.Done()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done == nil {
		c.done = make(chan struct{})
		c.expireLocked()
		if c.err != nil {
			close(c.done)
		} else {
			c.timer = time.AfterFunc(time.Until(c.at), func() { c.finish(context.DeadlineExceeded) })
			parent := c.Context
			c.stop = context.AfterFunc(parent, func() { c.finish(parent.Err()) })
		}
	}
	return c.done
}

// expireLocked ends the context if its deadline or its parent has.
func (c *reqCtx) expireLocked() {
	if c.err != nil {
		return
	}
	if err := c.Context.Err(); err != nil {
		c.err = err
	} else if !time.Now().Before(c.at) {
		c.err = context.DeadlineExceeded
	}
}

func (c *reqCtx) Err() error {
	if !c.armed {
		return c.Context.Err()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done == nil {
		c.expireLocked()
	}
	return c.err
}
