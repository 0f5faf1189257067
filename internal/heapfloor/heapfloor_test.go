package heapfloor

import (
	"math"
	"os"
	"runtime"
	"runtime/metrics"
	"testing"
	"time"
)

const MiB = 1 << 20

func TestPercentAndLimit(t *testing.T) {
	for _, c := range []struct {
		name        string
		live, floor uint64
		percent     int
		limit       int64 // without slack
	}{
		{"nothing live yet: the runtime's 4 MiB minimum", 0, 32 * MiB, 800, 128 * MiB},
		{"below the minimum counts as the minimum", 1 * MiB, 32 * MiB, 800, 129 * MiB},
		{"small heap: the goal the floor past it", 8 * MiB, 32 * MiB, 400, 136 * MiB},
		{"live as large as the floor: the default", 32 * MiB, 32 * MiB, 100, 160 * MiB},
		{"larger than the floor: never below the default", 1024 * MiB, 32 * MiB, 100, 4096 * MiB},
		{"a floor far above the heap is capped", 4 * MiB, 1024 * MiB, maxPercent, 4100 * MiB},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := Percent(c.live, c.floor); got != c.percent {
				t.Errorf("Percent(%d MiB, %d MiB) = %d, want %d", c.live/MiB, c.floor/MiB, got, c.percent)
			}
			if got := Limit(c.live, c.floor); got != c.limit+slack {
				t.Errorf("Limit(%d MiB, %d MiB) = %d MiB, want %d MiB and slack", c.live/MiB, c.floor/MiB, got/MiB, c.limit/MiB)
			}
		})
	}
	if got := Limit(math.MaxUint64/2, Floor); got != math.MaxInt64 {
		t.Errorf("Limit of a huge heap = %d, want no limit", got)
	}
}

func read(name string) metrics.Value {
	s := []metrics.Sample{{Name: name}}
	metrics.Read(s)
	return s[0].Value
}

func gogc() int { return int(read("/gc/gogc:percent").Uint64()) }

func memLimit() int64 { return int64(read("/gc/gomemlimit:bytes").Uint64()) }

// unsetEnv runs the test without GOGC and GOMEMLIMIT in the environment.
func unsetEnv(t *testing.T) {
	for _, k := range []string{"GOGC", "GOMEMLIMIT"} {
		v, ok := os.LookupEnv(k)
		os.Unsetenv(k)
		t.Cleanup(func() {
			if ok {
				os.Setenv(k, v)
			}
		})
	}
}

// TestStartFollowsTheLiveHeap: with a small live heap GOGC puts the goal
// the floor past it; once the live heap is larger than the floor GOGC is
// the default again, and the limit follows; stop restores both.
func TestStartFollowsTheLiveHeap(t *testing.T) {
	unsetEnv(t)
	beforePercent, beforeLimit := gogc(), memLimit()
	runtime.GC()
	stop := Start(Floor)
	if got, want := gogc(), Percent(live(), Floor); got != want || got <= 100 {
		t.Errorf("GOGC %d after Start with %d bytes live, want %d (above 100)", got, live(), want)
	}
	if got, want := memLimit(), Limit(live(), Floor); got != want {
		t.Errorf("limit %d after Start with %d bytes live, want %d", got, live(), want)
	}
	ballast := make([][]byte, 0, 96)
	for range cap(ballast) { // 96 MiB live, in pointer-free chunks
		ballast = append(ballast, make([]byte, MiB))
	}
	deadline := time.Now().Add(10 * time.Second)
	for (gogc() != 100 || memLimit() < 4*96*MiB) && time.Now().Before(deadline) {
		runtime.GC() // the tuner acts after a collection, on the cleanup goroutine
		time.Sleep(10 * time.Millisecond)
	}
	if gogc() != 100 || memLimit() < 4*96*MiB {
		t.Errorf("GOGC %d and limit %d MiB with %d MiB live, want 100 and four times live", gogc(), memLimit()/MiB, live()/MiB)
	}
	runtime.KeepAlive(ballast)
	stop()
	if gogc() != beforePercent || memLimit() != beforeLimit {
		t.Errorf("after stop GOGC %d and limit %d, want %d and %d as before Start", gogc(), memLimit(), beforePercent, beforeLimit)
	}
}

// TestOperatorsSettingsWin: with GOGC or GOMEMLIMIT set, Start changes
// nothing.
func TestOperatorsSettingsWin(t *testing.T) {
	for _, env := range []string{"GOGC", "GOMEMLIMIT"} {
		t.Run(env, func(t *testing.T) {
			unsetEnv(t)
			t.Setenv(env, map[string]string{"GOGC": "150", "GOMEMLIMIT": "1GiB"}[env])
			percent, limit := gogc(), memLimit()
			stop := Start(Floor)
			if gogc() != percent || memLimit() != limit {
				t.Errorf("with %s set: GOGC %d, limit %d, want %d and %d unchanged", env, gogc(), memLimit(), percent, limit)
			}
			stop()
		})
	}
}
