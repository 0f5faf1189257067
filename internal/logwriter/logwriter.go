// Package logwriter writes a log from a goroutine of its own, so that a
// request never waits on the log's sink (a pipe to a supervisor, a
// terminal, a slow disk): Write copies the line and returns, and the
// goroutine writes whatever has gathered in one write.
//
// Unlike the access log, it drops nothing: the application log carries
// security events (lockouts, settings changes), and all of them must reach
// the sink. When the sink falls behind by more than a bound, Write waits
// for it, as a synchronous writer always would.
package logwriter

import (
	"bytes"
	"fmt"
	"io"
	"sync"
	"time"
)

// maxPending bounds what waits for the sink; past it, Write waits.
const maxPending = 1 << 20

// closeWait bounds how long Close waits for the sink to take what is
// queued (a supervisor that stopped reading the pipe takes nothing): past
// it the process may exit, and the lines still queued are lost, which
// Close reports.
const closeWait = 5 * time.Second

// maxWrite bounds one write to the sink, cut at a line's end: at most
// PIPE_BUF, so that on a pipe shared with other writers (stderr under a
// supervisor, the access log) lines never interleave.
const maxWrite = 4096

// Writer is an asynchronous io.Writer for a log whose every Write is one
// or more whole lines, as a slog handler's are.
type Writer struct {
	out    io.Writer
	mu     sync.Mutex
	room   sync.Cond // broadcast when the goroutine takes what is pending
	buf    []byte    // pending, guarded by mu
	closed bool
	stuck  bool          // Close gave up on the sink; guarded by mu
	wake   chan struct{} // capacity 1: there is something pending
	done   chan struct{} // closed when the goroutine has written everything
	once   sync.Once
	err    error // Close's
	wait   time.Duration
}

// New starts a Writer that writes to out.
func New(out io.Writer) *Writer {
	w := &Writer{out: out, wake: make(chan struct{}, 1), done: make(chan struct{}), wait: closeWait}
	w.room.L = &w.mu
	go w.run()
	return w
}

// Write queues a copy of p. It never fails: the sink's errors have nowhere
// better to go than the sink. After Close it writes p itself, unless Close
// gave up on the sink: then p is dropped.
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	for len(w.buf) >= maxPending && !w.closed {
		w.room.Wait()
	}
	if w.closed {
		stuck := w.stuck
		w.mu.Unlock()
		if stuck {
			return len(p), nil
		}
		<-w.done // after what was queued before Close
		return w.out.Write(p)
	}
	w.buf = append(w.buf, p...)
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default: // already woken: the goroutine takes p with the rest
	}
	return len(p), nil
}

// Close writes what is queued and stops the goroutine; later writes are
// written synchronously. A sink that has not taken the queue in closeWait is given
// up on, so that a stuck pipe cannot keep the process from exiting: Close
// then returns an error, and later writes are dropped. It may be called
// more than once.
func (w *Writer) Close() error {
	w.once.Do(func() {
		w.mu.Lock()
		w.closed = true
		w.room.Broadcast()
		w.mu.Unlock()
		select {
		case w.wake <- struct{}{}:
		default:
		}
		t := time.NewTimer(w.wait)
		defer t.Stop()
		select {
		case <-w.done:
		case <-t.C:
			w.mu.Lock()
			w.stuck = true
			w.err = fmt.Errorf("logwriter: the log's sink did not take what was queued within %v; %d bytes or more not written", w.wait, len(w.buf))
			w.mu.Unlock()
		}
	})
	return w.err
}

func (w *Writer) run() {
	defer close(w.done)
	var spare []byte
	for range w.wake {
		w.mu.Lock()
		b, closed := w.buf, w.closed
		w.buf = spare[:0]
		w.room.Broadcast()
		w.mu.Unlock()
		writeLines(w.out, b)
		spare = b
		if closed {
			return
		}
	}
}

// writeLines writes b in writes of at most maxWrite, each ending at a
// line's end, unless one line is longer than that.
func writeLines(out io.Writer, b []byte) {
	for len(b) > maxWrite {
		n := bytes.LastIndexByte(b[:maxWrite], '\n') + 1
		if n == 0 { // one line longer than maxWrite: whole, in one write
			if n = bytes.IndexByte(b, '\n') + 1; n == 0 {
				n = len(b)
			}
		}
		out.Write(b[:n])
		b = b[n:]
	}
	if len(b) > 0 {
		out.Write(b)
	}
}
