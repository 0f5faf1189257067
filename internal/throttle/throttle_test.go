package throttle

import (
	"testing"
	"time"
)

func TestParseRate(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Rate
		ok   bool
	}{
		{"120/1m", Rate{120, time.Minute}, true},
		{"3/15m", Rate{3, 15 * time.Minute}, true},
		{"0/1m", Rate{}, false},
		{"5", Rate{}, false},
		{"5/-1s", Rate{}, false},
		{"x/1m", Rate{}, false},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseRate(tc.in)
			if (err == nil) != tc.ok || got != tc.want {
				t.Errorf("got %v, %v; want %v ok=%v", got, err, tc.want, tc.ok)
			}
		})
	}
}

func TestLimiter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := New(Rate{N: 3, Per: time.Minute}, 2)
	for i := range 3 {
		if ok, _ := l.Allow("a", now); !ok {
			t.Fatalf("token %d refused", i+1)
		}
	}
	ok, wait := l.Allow("a", now)
	if ok || wait != 20*time.Second {
		t.Errorf("4th: ok %v wait %v, want refused for 20s", ok, wait)
	}
	if ok, _ := l.Check("a", now.Add(19*time.Second)); ok {
		t.Error("a token before it refilled")
	}
	if ok, _ := l.Check("a", now.Add(20*time.Second)); !ok {
		t.Error("no token after 20s")
	}
	if ok, _ := l.Allow("b", now); !ok {
		t.Error("a second key refused")
	}
	// Full: a third key waits until a bucket refills and is forgotten.
	if ok, _ := l.Allow("c", now); ok {
		t.Error("a third key admitted past MaxKeys")
	}
	if ok, _ := l.Allow("c", now.Add(2*time.Minute)); !ok {
		t.Error("a new key refused after the others refilled")
	}
	l.Reset("a")
	if ok, _ := l.Check("a", now); !ok {
		t.Error("Reset did not give a full bucket")
	}
}
