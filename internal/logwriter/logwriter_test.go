package logwriter

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// sink records each write; while gate is open (not nil and not closed),
// writes wait on it.
type sink struct {
	mu     sync.Mutex
	writes [][]byte
	gate   chan struct{}
}

func (s *sink) Write(p []byte) (int, error) {
	if s.gate != nil {
		<-s.gate
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes = append(s.writes, bytes.Clone(p))
	return len(p), nil
}

func (s *sink) all() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return string(bytes.Join(s.writes, nil))
}

func TestLinesArriveWholeAndInOrder(t *testing.T) {
	for _, tc := range []struct {
		name  string
		lines []string
	}{
		{"one line", []string{"a\n"}},
		{"many short lines", repeat(2000, 40)},
		{"a line longer than a write", []string{"before\n", strings.Repeat("x", 3*maxWrite) + "\n", "after\n"}},
		{"lines of every length", lengths()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &sink{}
			w := New(s)
			for _, l := range tc.lines {
				if n, err := w.Write([]byte(l)); n != len(l) || err != nil {
					t.Fatalf("Write = %d, %v; want %d, nil", n, err, len(l))
				}
			}
			w.Close()
			if got, want := s.all(), strings.Join(tc.lines, ""); got != want {
				t.Fatalf("the sink got %d bytes, want %d in order", len(got), len(want))
			}
			for i, b := range s.writes {
				if b[len(b)-1] != '\n' {
					t.Errorf("write %d does not end at a line's end", i)
				}
				if len(b) > maxWrite && bytes.Count(b, []byte("\n")) > 1 {
					t.Errorf("write %d is %d bytes of several lines, more than %d", i, len(b), maxWrite)
				}
			}
		})
	}
}

// TestStalledSink: a sink that stalls does not stall writers until more
// than maxPending waits, and then they wait rather than lose lines.
func TestStalledSink(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &sink{gate: make(chan struct{})}
		w := New(s)
		line := strings.Repeat("y", 99) + "\n"
		w.Write([]byte(line)) // the goroutine takes it and stalls in the sink
		synctest.Wait()
		var wrote atomic.Int64
		const lines = 3 * maxPending / 100
		go func() {
			for range lines {
				w.Write([]byte(line))
				wrote.Add(1)
			}
		}()
		synctest.Wait() // everyone blocked: the sink on its gate, the writer on room
		if n := wrote.Load(); n < maxPending/100 || n >= lines {
			t.Fatalf("%d of %d lines written with the sink stalled, want about %d, then a wait", n, lines, maxPending/100)
		}
		close(s.gate)
		synctest.Wait()
		if n := wrote.Load(); n != lines {
			t.Fatalf("%d of %d lines written once the sink moved", n, lines)
		}
		w.Close()
		if got := len(s.all()); got != (lines+1)*len(line) {
			t.Errorf("the sink got %d bytes, want %d: nothing dropped", got, (lines+1)*len(line))
		}
	})
}

func TestWriteAfterClose(t *testing.T) {
	s := &sink{}
	w := New(s)
	w.Write([]byte("queued\n"))
	w.Close()
	w.Close() // twice is fine
	w.Write([]byte("after\n"))
	if got := s.all(); got != "queued\nafter\n" {
		t.Errorf("the sink got %q", got)
	}
}

func repeat(n, size int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%0*d\n", size-1, i)
	}
	return out
}

func lengths() []string {
	var out []string
	for n := 1; n < 2*maxWrite; n += 97 {
		out = append(out, strings.Repeat("z", n)+"\n")
	}
	return out
}

// TestCloseGivesUpOnAStuckSink: a sink that never takes a write keeps
// Close no longer than closeWait, Close says lines were lost, and a write
// after it returns at once instead of waiting on the sink.
func TestCloseGivesUpOnAStuckSink(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &sink{gate: make(chan struct{})} // never opened
		w := New(s)
		w.Write([]byte("first\n")) // the goroutine takes it and sticks in the sink
		synctest.Wait()
		w.Write([]byte("second\n"))
		start := time.Now()
		err := w.Close()
		if waited := time.Since(start); waited != closeWait {
			t.Errorf("Close returned after %v, want closeWait (%v)", waited, closeWait)
		}
		if err == nil || !strings.Contains(err.Error(), "not written") {
			t.Errorf("Close = %v, want an error saying lines were not written", err)
		}
		if n, err := w.Write([]byte("after\n")); n != 6 || err != nil {
			t.Errorf("Write after Close = %d, %v", n, err)
		}
		if err2 := w.Close(); err2 != err {
			t.Errorf("second Close = %v, want the first's %v", err2, err)
		}
		close(s.gate) // let the stuck goroutine end inside the bubble
	})
}
