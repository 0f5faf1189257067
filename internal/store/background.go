package store

import (
	"context"
	"time"
)

// touchFlushEvery is how often session uses are written. A session's
// inactivity is measured in minutes, so at most this much of its last use
// is lost if the process dies.
const touchFlushEvery = 2 * time.Second

// flushTouches writes the session uses noted by TouchSession in batches,
// off the request path, until the store closes; then once more.
func (s *Store) flushTouches() {
	defer s.done.Done()
	tick := time.NewTicker(touchFlushEvery)
	defer tick.Stop()
	for {
		select {
		case <-s.stop:
			s.writeTouches(s.runTx) // the writer may be gone: write directly
			return
		case <-tick.C:
			s.writeTouches(s.inTx)
		}
	}
}

func (s *Store) writeTouches(inTx func(context.Context, func(*txn) error) error) {
	type use struct {
		hash []byte
		ms   int64
	}
	var batch []use
	s.touches.Range(func(k, v any) bool {
		s.touches.Delete(k)
		batch = append(batch, use{[]byte(k.(string)), v.(int64)})
		return true
	})
	if len(batch) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := inTx(ctx, func(tx *txn) error {
		for _, u := range batch {
			if _, err := tx.ExecContext(ctx, `UPDATE sessions SET last_seen_at = ? WHERE token_hash = ? AND last_seen_at < ?`,
				u.ms, u.hash, u.ms); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		s.log.Warn("session uses not written", "sessions", len(batch), "err", err)
	}
}

// changeCount reads the counter pollChanges watches.
func (s *Store) changeCount(ctx context.Context) (n int64, err error) {
	err = s.db.QueryRowContext(ctx, `SELECT n FROM auth_changes WHERE id = 1`).Scan(&n)
	return n, err
}

// pollChanges forgets cached sessions and roles when another process (the
// CLI) changed roles or users in the SQLite database. Each poll that
// answers proves the feed live up to when it began, so a poll that stalls
// or fails turns the cache off within StaleBound.
func (s *Store) pollChanges(last int64) {
	defer s.done.Done()
	s.feed.prove(s.feed.now())
	tick := time.NewTicker(heartbeatEvery)
	defer tick.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-tick.C:
		}
		began := s.feed.now()
		ctx, cancel := context.WithTimeout(context.Background(), connectTimeout)
		n, err := s.changeCount(ctx)
		cancel()
		if err != nil {
			continue // no proof: the cache turns off by itself
		}
		if n != last {
			s.auth.flush()
			s.feed.applied()
		}
		last = n
		s.feed.prove(began)
	}
}
