package accesslog

import (
	"bufio"
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
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

// TestWritesStayUnderPipeBuf: no write is longer than maxWrite, so lines
// sharing a pipe with other writers never interleave.
func TestWritesStayUnderPipeBuf(t *testing.T) {
	var sizes sizeRecorder
	w := New(&sizes)
	for range 5000 {
		w.Log(Entry{At: time.Unix(0, 0), Method: "GET", Path: strings.Repeat("/seg", 20), Status: 200})
	}
	w.Close()
	if sizes.max > maxWrite || sizes.total == 0 {
		t.Errorf("largest write %d bytes (limit %d), %d bytes in all", sizes.max, maxWrite, sizes.total)
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
