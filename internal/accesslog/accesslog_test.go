package accesslog

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestAppendJSONIsSlogJSON: the hand-encoded line is what slog's JSON
// handler writes for the same record, field for field, including strings
// that need escaping and invalid UTF-8.
func TestAppendJSONIsSlogJSON(t *testing.T) {
	at := time.Date(2026, 12, 1, 23, 59, 58, 123456789, time.FixedZone("x", 3600))
	for _, e := range []Entry{
		{At: at, Method: "GET", Path: "/api/businesses/b/loginpolicy", Route: "GET /api/businesses/{BusinessID}/loginpolicy", Status: 200, Duration: 1234567, RequestID: "abc"},
		{At: at, Method: "OTHER", Path: "/a\"b\\c\n\t\x01\u00e9\xff", Route: "", Status: 404, Duration: 0, RequestID: ""},
		{At: at, Method: "PUT", Path: "/x", Route: "/", Status: 503, Duration: 3 * time.Second, RequestID: "r-1:2/3+4=5"},
	} {
		t.Run(e.Path, func(t *testing.T) {
			var want bytes.Buffer
			w := NewSlog(slog.NewJSONHandler(&want, nil))
			w.Log(e)
			got := AppendJSON(nil, e)
			if !bytes.HasSuffix(got, []byte("\n")) || bytes.Count(got, []byte("\n")) != 1 {
				t.Fatalf("not one line: %q", got)
			}
			var g, s map[string]any
			if err := json.Unmarshal(got, &g); err != nil {
				t.Fatalf("%q: %v", got, err)
			}
			if err := json.Unmarshal(want.Bytes(), &s); err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(s, g); d != "" {
				t.Errorf("AppendJSON differs from slog's JSON handler (-slog +ours):\n%s", d)
			}
		})
	}
}

// blockingWriter holds every write until released, and keeps the lines.
type blockingWriter struct {
	release chan struct{}
	mu      sync.Mutex
	buf     bytes.Buffer
}

func (b *blockingWriter) Write(p []byte) (int, error) {
	<-b.release
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// TestFullQueueDropsAndCounts: with the sink stalled, Log never blocks;
// what does not fit is dropped and counted, and once the sink moves again
// Close writes every line that was queued, whole: written + dropped =
// logged.
func TestFullQueueDropsAndCounts(t *testing.T) {
	out := &blockingWriter{release: make(chan struct{})}
	w := New(out)
	const logged = queueSize + 1000
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range logged {
			w.Log(Entry{At: time.Unix(0, 0), Method: "GET", Path: "/p", Status: 200, RequestID: strings.Repeat("x", i%7)})
		}
	}()
	select {
	case <-done:
	case <-time.After(time.Minute): // a bound on a hang, not a timing assertion
		t.Fatal("Log blocked while the sink was stalled")
	}
	if w.Dropped() == 0 {
		t.Errorf("%d entries logged into a queue of %d with the sink stalled: none dropped", logged, queueSize)
	}
	close(out.release)
	w.Close()
	lines := 0
	sc := bufio.NewScanner(&out.buf)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %d is not whole JSON: %q", lines, sc.Text())
		}
		lines++
	}
	if got := uint64(lines) + w.Dropped(); got != logged {
		t.Errorf("%d lines written + %d dropped = %d, want %d logged", lines, w.Dropped(), got, logged)
	}
	// After Close a line is written at once, not lost.
	w.Log(Entry{At: time.Unix(0, 0), Method: "GET", Path: "/after", Status: 200})
	if !strings.Contains(out.buf.String(), `"/after"`) {
		t.Error("a line logged after Close was not written")
	}
}

// TestWritesStayUnderPipeBuf: no write to a writer that is not a regular
// file is longer than PIPE_BUF, so lines sharing a pipe with other
// writers never interleave.
func TestWritesStayUnderPipeBuf(t *testing.T) {
	var sizes sizeRecorder
	w := New(&sizes)
	for range 5000 {
		w.Log(Entry{At: time.Unix(0, 0), Method: "GET", Path: strings.Repeat("/seg", 20), Status: 200})
	}
	w.Close()
	if sizes.max > pipeWrite || sizes.total == 0 {
		t.Errorf("largest write %d bytes (limit %d), %d bytes in all", sizes.max, pipeWrite, sizes.total)
	}
}

// TestWriteLimit: only a regular file takes writes longer than PIPE_BUF.
func TestWriteLimit(t *testing.T) {
	r, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer pw.Close()
	file, err := os.Create(filepath.Join(t.TempDir(), "access.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	for _, c := range []struct {
		name string
		out  io.Writer
		want int
	}{
		{"pipe", pw, pipeWrite},
		{"regular file", file, fileWrite},
		{"device", null, pipeWrite},
		{"not a file", &sizeRecorder{}, pipeWrite},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := writeLimit(c.out); got != c.want {
				t.Errorf("writeLimit = %d, want %d", got, c.want)
			}
		})
	}
}

// TestFileGetsEveryLineWhole: into a regular file, in writes up to
// fileWrite, every line logged arrives whole and once.
func TestFileGetsEveryLineWhole(t *testing.T) {
	name := filepath.Join(t.TempDir(), "access.log")
	f, err := os.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := New(f)
	const n = 5000
	for i := range n {
		w.Log(Entry{At: time.Unix(0, 0), Method: "GET", Path: "/p/" + strconv.Itoa(i), Status: 200})
	}
	w.Close()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines)+int(w.Dropped()) != n {
		t.Fatalf("%d lines + %d dropped, want %d", len(lines), w.Dropped(), n)
	}
	for i, l := range lines {
		var e struct{ Path string }
		if err := json.Unmarshal([]byte(l), &e); err != nil || !strings.HasPrefix(e.Path, "/p/") {
			t.Fatalf("line %d is not a whole entry: %q (%v)", i, l, err)
		}
	}
}

type sizeRecorder struct {
	mu         sync.Mutex
	max, total int
}

func (s *sizeRecorder) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.max, s.total = max(s.max, len(p)), s.total+len(p)
	return len(p), nil
}

// TestStampsAreRFC3339Nano: the per-second cache formats every time as
// time.RFC3339Nano does, across seconds, zones and fractions, in order.
func TestStampsAreRFC3339Nano(t *testing.T) {
	base := time.Date(2026, 12, 1, 23, 59, 58, 0, time.UTC)
	plus1 := time.FixedZone("x", 3600)
	var ts stamps
	for _, c := range []struct {
		name string
		at   time.Time
	}{
		{"whole second", base},
		{"nanoseconds", base.Add(123456789)},
		{"trailing zeros trimmed", base.Add(120 * time.Millisecond)},
		{"one nanosecond", base.Add(1)},
		{"same second, other zone", base.Add(5).In(plus1)},
		{"back in UTC", base.Add(999999999)},
		{"next second, across midnight", base.Add(2*time.Second + 7)},
		{"a second earlier", base.Add(-time.Second + 40)},
		{"half-hour zone", base.In(time.FixedZone("y", -(9*3600 + 1800)))},
		{"year 10000", time.Date(10000, 1, 1, 0, 0, 0, 5, time.UTC)},
		{"local", base.Local()},
	} {
		t.Run(c.name, func(t *testing.T) {
			want := c.at.Format(time.RFC3339Nano)
			if got := string(ts.append(nil, c.at)); got != want {
				t.Errorf("got %s, want %s", got, want)
			}
		})
	}
}

// TestCloseGivesUpOnAStuckSink: a sink that never takes a write keeps
// Close no longer than closeWait; what was queued and what is logged
// after is dropped and counted, not waited on.
func TestCloseGivesUpOnAStuckSink(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		out := &blockingWriter{release: make(chan struct{})} // never released
		w := New(out)
		const logged = 10
		for range logged {
			w.Log(Entry{At: time.Unix(0, 0), Method: "GET", Path: "/p", Status: 200})
		}
		start := time.Now()
		w.Close()
		if waited := time.Since(start); waited != closeWait {
			t.Errorf("Close returned after %v, want closeWait (%v)", waited, closeWait)
		}
		w.Log(Entry{At: time.Unix(0, 0), Method: "GET", Path: "/after", Status: 200})
		// The goroutine holds the batch it is stuck writing; the rest is counted.
		if d := w.Dropped(); d < 1 || d > logged+1 {
			t.Errorf("%d dropped, want the entry after Close and those still queued (at most %d)", d, logged+1)
		}
		close(out.release) // let the stuck goroutine end inside the bubble
	})
}
