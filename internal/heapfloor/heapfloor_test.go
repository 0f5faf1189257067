package heapfloor

import (
	"math"
	"os"
	"runtime"
	"runtime/metrics"
	"testing"
	"time"
)

func TestLimit(t *testing.T) {
	const MiB = 1 << 20
	for _, c := range []struct {
		name        string
		live, floor uint64
		goal        uint64 // the heap goal the limit stands for
	}{
		{"nothing live yet: the floor", 0, 32 * MiB, 32 * MiB},
		{"small heap: live plus the floor", 8 * MiB, 32 * MiB, 40 * MiB},
		{"live as large as the floor: either", 32 * MiB, 32 * MiB, 64 * MiB},
		{"larger than the floor: the default, twice live", 1024 * MiB, 32 * MiB, 2048 * MiB},
	} {
		t.Run(c.name, func(t *testing.T) {
			want := int64(c.goal + c.goal/10 + slack)
			if got := Limit(c.live, c.floor); got != want {
				t.Errorf("Limit(%d MiB, %d MiB) = %d MiB, want %d MiB", c.live/MiB, c.floor/MiB, got/MiB, want/MiB)
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

func gogc() uint64 { return read("/gc/gogc:percent").Uint64() }

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

// TestStartFollowsTheLiveHeap: with a small live heap the limit stands
// for the live heap plus the floor; once the live heap is larger than the
// floor, for twice the live heap; stop restores GOGC and the limit.
func TestStartFollowsTheLiveHeap(t *testing.T) {
	unsetEnv(t)
	beforePercent, beforeLimit := gogc(), memLimit()
	runtime.GC()
	stop := Start(Floor)
	if got, want := memLimit(), Limit(live(), Floor); got != want {
		t.Errorf("limit %d after Start with %d bytes live, want %d", got, live(), want)
	}
	if got := gogc(); got != percent {
		t.Errorf("GOGC %d while the floor is kept, want %d", got, percent)
	}
	ballast := make([][]byte, 0, 96)
	for range cap(ballast) { // 96 MiB live, in pointer-free chunks
		ballast = append(ballast, make([]byte, 1<<20))
	}
	const live96 = 96 << 20
	deadline := time.Now().Add(10 * time.Second)
	for memLimit() < int64(2*live96) && time.Now().Before(deadline) {
		runtime.GC() // the tuner acts after a collection, on the cleanup goroutine
		time.Sleep(10 * time.Millisecond)
	}
	if got := memLimit(); got < int64(2*live96) || got != Limit(live(), Floor) {
		t.Errorf("limit %d MiB with %d MiB live, want twice live and more (%d MiB)", got>>20, live()>>20, Limit(live(), Floor)>>20)
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
