//go:build unix

package store

import (
	"context"
	"sync"
	"testing"

	"github.com/bizsec/bizsec/internal/pgtest"
	"github.com/bizsec/bizsec/internal/settings"
)

// TestAnsweredWritesSurviveACrash: on PostgreSQL a settings write answered
// as saved is on disk, though the pipeline commits asynchronously. On a
// server of the test's own, whose WAL writer waits 10 s between rounds (so
// that only a flush of the store's own puts an asynchronous commit on disk
// in time), four writers make writes through the pipeline; then
// PostgreSQL is killed at once (an immediate shutdown: the WAL only in its
// memory is lost) and started again, and the object is at least at the
// highest version any writer was answered.
func TestAnsweredWritesSurviveACrash(t *testing.T) {
	srv := pgtest.Start(t, "wal_writer_delay=10000")
	ctx := context.Background()
	st, err := Open(ctx, srv.URL, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateTenant(ctx, "acme", ""); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var answered int64
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 10 {
				_, v, err := setPolicy(st, anyWrite, func(p *settings.LoginPolicy) { p.AttemptsPeriod++ })
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				answered = max(answered, v)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if st.pgBatch.piped.Load() == 0 {
		t.Fatal("no write went through the pipeline")
	}
	srv.Crash() // before anything else commits, synchronously, after the writes
	st.Close()
	srv.Restart()
	again, err := Open(ctx, srv.URL, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	_, version, err := Get(ctx, again, settings.LoginPolicyKind, pgBiz)
	if err != nil {
		t.Fatal(err)
	}
	if version < answered {
		t.Errorf("after the crash the login policy is at version %d; version %d was answered as saved", version, answered)
	}
}
