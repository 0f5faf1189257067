// Package accesslog writes one line per HTTP request without making the
// request wait: a request hands its entry to a bounded queue (a copy of a
// small struct, no allocation, no lock held across I/O) and one goroutine
// encodes the lines and writes them in batches. When the queue is full the
// entry is dropped and counted, so a slow log sink slows no request.
package accesslog

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// Entry is one request as logged.
type Entry struct {
	At        time.Time // when the answer was done
	Method    string
	Path      string // clipped by the caller
	Route     string
	Status    int
	Duration  time.Duration
	RequestID string
}

// queueSize bounds the entries waiting for the writer.
const queueSize = 16384

// gather is how long the writer waits, once a line has arrived, for
// others to join it in one write: under load a write carries a batch
// instead of a line, and the goroutine wakes at most 1/gather times a
// second; a line reaches the log at most gather late.
const gather = 10 * time.Millisecond

// pipeWrite bounds one write to a pipe, a terminal, a socket or any
// writer that is not a regular file: at most PIPE_BUF, so that on a pipe
// shared with other writers (stderr under a supervisor) lines never
// interleave.
const pipeWrite = 4096

// fileWrite bounds one write to a regular file. A write to a file moves
// the shared offset atomically, so lines cannot interleave there, and
// under load one write carries a batch instead of a dozen: the syscalls of
// the log were the largest cost of the access log under load.
const fileWrite = 64 << 10

// writeLimit is the largest write out takes whole.
func writeLimit(out io.Writer) int {
	if f, ok := out.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
			return fileWrite
		}
	}
	return pipeWrite
}

// Writer is an asynchronous access log.
type Writer struct {
	queue   chan Entry
	dropped atomic.Uint64
	out     io.Writer     // hand-encoded JSON lines, or
	limit   int           // the largest write to out (writeLimit)
	handler slog.Handler  // when out is nil: records through a slog handler
	stop    chan struct{} // closed by Close
	done    chan struct{} // closed when the goroutine has written everything
	once    sync.Once
	closed  atomic.Bool
	stuck   atomic.Bool   // Close gave up on the sink
	wait    time.Duration // Close's bound, closeWait
	mu      sync.Mutex    // serialises writes after Close with the last flush
	batch   []Entry
	stamps  stamps // the goroutine's, then Close's (under mu)
}

// New starts a Writer that writes JSON lines, in the fields and format of
// slog's JSON handler, to out.
func New(out io.Writer) *Writer { return start(&Writer{out: out, limit: writeLimit(out)}) }

// NewSlog returns a Writer that hands each entry to h as a record, at once
// and on the caller's goroutine: for tests and embedders that read their
// logger's output right after a request. It starts nothing.
func NewSlog(h slog.Handler) *Writer { return &Writer{handler: h} }

func start(w *Writer) *Writer {
	w.wait = closeWait
	w.queue = make(chan Entry, queueSize)
	w.stop, w.done = make(chan struct{}), make(chan struct{})
	w.batch = make([]Entry, 0, max(256, w.limit/128))
	go w.run()
	return w
}

// Log queues e; it never blocks. After Close it writes e itself.
func (w *Writer) Log(e Entry) {
	if w.out == nil {
		w.write([]Entry{e}, nil)
		return
	}
	if w.closed.Load() {
		if w.stuck.Load() {
			w.dropped.Add(1)
			return
		}
		w.mu.Lock()
		defer w.mu.Unlock()
		w.write([]Entry{e}, nil)
		return
	}
	select {
	case w.queue <- e:
	default:
		w.dropped.Add(1)
	}
}

// Dropped is the number of entries dropped because the queue was full.
func (w *Writer) Dropped() uint64 { return w.dropped.Load() }

// closeWait bounds how long Close waits for the sink to take what is
// queued: a sink that takes nothing (a supervisor that stopped reading the
// pipe) must not keep the process from exiting.
const closeWait = 5 * time.Second

// Close writes what is queued and stops the goroutine; later entries are
// written synchronously. A sink that has not taken the queue in closeWait
// is given up on: what is left, and every later entry, is dropped and
// counted. It may be called more than once.
func (w *Writer) Close() {
	if w.out == nil {
		return
	}
	w.once.Do(func() {
		w.closed.Store(true)
		close(w.stop)
		t := time.NewTimer(w.wait)
		defer t.Stop()
		select {
		case <-w.done:
		case <-t.C:
			w.stuck.Store(true)
			w.dropped.Add(uint64(len(w.queue)))
			return
		}
		// What a request queued as Close began.
		w.mu.Lock()
		defer w.mu.Unlock()
		w.drain(nil)
	})
}

func (w *Writer) run() {
	defer close(w.done)
	buf := make([]byte, 0, 2*w.limit)
	wait := time.NewTimer(gather)
	wait.Stop()
	for {
		select {
		case e := <-w.queue:
			if len(w.queue) < w.limit/256 { // fewer than a write's worth yet: let others join
				wait.Reset(gather)
				select {
				case <-wait.C:
				case <-w.stop:
					wait.Stop()
				}
			}
			buf = w.drain(buf, e)
		case <-w.stop:
			w.drain(buf)
			return
		}
	}
}

// drain writes first and whatever else is queued, in batches.
func (w *Writer) drain(buf []byte, first ...Entry) []byte {
	batch := append(w.batch[:0], first...) // the goroutine's, then Close's
	defer func() { w.batch = batch[:0] }()
	for {
	more:
		for len(batch) < cap(batch) {
			select {
			case e := <-w.queue:
				batch = append(batch, e)
			default:
				break more
			}
		}
		if len(batch) == 0 {
			return buf
		}
		buf = w.write(batch, buf)
		batch = batch[:0]
	}
}

// write writes entries, reusing buf, and returns it.
func (w *Writer) write(entries []Entry, buf []byte) []byte {
	if w.out == nil {
		for _, e := range entries {
			r := slog.NewRecord(e.At, slog.LevelInfo, "request", 0)
			r.AddAttrs(slog.String("method", e.Method), slog.String("path", e.Path), slog.String("route", e.Route),
				slog.Int("status", e.Status), slog.Float64("duration_ms", millis(e.Duration)), slog.String("request_id", e.RequestID))
			w.handler.Handle(context.Background(), r)
		}
		return buf
	}
	buf = buf[:0]
	for _, e := range entries {
		n := len(buf)
		buf = appendJSON(buf, e, &w.stamps)
		if len(buf) > w.limit && n > 0 {
			w.out.Write(buf[:n])
			buf = append(buf[:0], buf[n:]...)
		}
	}
	if len(buf) > 0 {
		w.out.Write(buf)
	}
	return buf
}

// stamps formats times as time.RFC3339Nano does, the date, the clock to
// the second and the zone once per second and zone: a line's time is
// most of its encoding's cost otherwise.
type stamps struct {
	sec        int64
	loc        *time.Location
	head, zone []byte // "2006-01-02T15:04:05", "Z07:00"
}

func (s *stamps) append(b []byte, t time.Time) []byte {
	if y := t.Year(); y < 0 || y > 9999 {
		return t.AppendFormat(b, time.RFC3339Nano)
	}
	if sec := t.Unix(); s.head == nil || sec != s.sec || t.Location() != s.loc {
		s.sec, s.loc = sec, t.Location()
		s.head = t.AppendFormat(s.head[:0], "2006-01-02T15:04:05")
		s.zone = t.AppendFormat(s.zone[:0], "Z07:00")
	}
	b = append(b, s.head...)
	if ns := t.Nanosecond(); ns != 0 {
		var frac [10]byte
		frac[0] = '.'
		for i := 9; i > 0; i-- {
			frac[i] = byte('0' + ns%10)
			ns /= 10
		}
		n := 10
		for frac[n-1] == '0' {
			n--
		}
		b = append(b, frac[:n]...)
	}
	return append(b, s.zone...)
}

func millis(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// AppendJSON appends e as one JSON line, as slog's JSON handler writes it.
func AppendJSON(b []byte, e Entry) []byte { return appendJSON(b, e, nil) }

// appendJSON is AppendJSON with the time formatted through ts, if not nil.
func appendJSON(b []byte, e Entry, ts *stamps) []byte {
	b = append(b, `{"time":"`...)
	if ts != nil {
		b = ts.append(b, e.At)
	} else {
		b = e.At.AppendFormat(b, time.RFC3339Nano)
	}
	b = append(b, `","level":"INFO","msg":"request","method":`...)
	b = appendString(b, e.Method)
	b = append(b, `,"path":`...)
	b = appendString(b, e.Path)
	b = append(b, `,"route":`...)
	b = appendString(b, e.Route)
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(e.Status), 10)
	b = append(b, `,"duration_ms":`...)
	b = strconv.AppendFloat(b, millis(e.Duration), 'g', -1, 64)
	b = append(b, `,"request_id":`...)
	b = appendString(b, e.RequestID)
	return append(b, "}\n"...)
}

const hex = "0123456789abcdef"

// appendString appends s as a JSON string; invalid UTF-8 becomes U+FFFD.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case safe(c):
			j := i + 1 // a run of bytes that need no escape, appended at once
			for j < len(s) && safe(s[j]) {
				j++
			}
			b = append(b, s[i:j]...)
			i = j
		case c < utf8.RuneSelf:
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
		default:
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				b = append(b, `\ufffd`...)
			} else {
				b = append(b, s[i:i+size]...)
			}
			i += size
		}
	}
	return append(b, '"')
}

// safe reports whether c stands for itself in a JSON string.
func safe(c byte) bool { return c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf }
