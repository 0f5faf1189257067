package httpapi

import (
	"context"
	"sync"
	"time"
)

// deadlineCtx is a request's database deadline: a context that ends d
// after it starts, or d after restart, which the route calls once the body
// has arrived, so that the time a body takes to arrive is not taken from
// the database work after it. It ends earlier when its parent does.
type deadlineCtx struct {
	context.Context // the parent, for its values
	d               time.Duration

	mu    sync.Mutex
	at    time.Time
	err   error
	done  chan struct{}
	timer *time.Timer
}

func newDeadline(parent context.Context, d time.Duration) (*deadlineCtx, func()) {
	c := &deadlineCtx{Context: parent, d: d, at: time.Now().Add(d), done: make(chan struct{})}
	c.timer = time.AfterFunc(d, func() { c.finish(context.DeadlineExceeded) })
	stop := context.AfterFunc(parent, func() { c.finish(parent.Err()) })
	return c, func() {
		stop()
		c.timer.Stop()
		c.finish(context.Canceled)
	}
}

func (c *deadlineCtx) finish(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil {
		c.err = err
		close(c.done)
	}
}

// restart counts the deadline again from now, unless it has passed.
func (c *deadlineCtx) restart() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil && c.timer.Stop() {
		c.at = time.Now().Add(c.d)
		c.timer.Reset(c.d)
	}
}

func (c *deadlineCtx) Deadline() (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.at, true
}

func (c *deadlineCtx) Done() <-chan struct{} { return c.done }

func (c *deadlineCtx) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}
