package store

import (
	"context"
	"encoding/hex"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// channel is the PostgreSQL notification channel for settings changes.
const channel = "bizsec_settings"

// listen keeps a connection LISTENing for settings changes of other
// instances and invalidates their cache keys. While it is not connected
// the cache is off, so no instance ever serves a value it might have
// missed a change to. It returns when ctx ends.
func (s *Store) listen(ctx context.Context, ready chan<- error) {
	backoff := 100 * time.Millisecond
	for {
		conn, err := pgx.Connect(ctx, s.dsn)
		if err == nil {
			_, err = conn.Exec(ctx, "LISTEN "+channel)
		}
		if ready != nil {
			ready <- err
			ready = nil
		}
		if err == nil {
			s.cache.setOn(true)
			s.auth.flush()
			backoff = 100 * time.Millisecond
			err = s.receive(ctx, conn)
		}
		s.cache.setOn(false)
		s.auth.flush()
		if conn != nil {
			conn.Close(context.Background())
		}
		if ctx.Err() != nil {
			return
		}
		s.log.Warn("settings change listener disconnected; caching off until it reconnects", "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

func (s *Store) receive(ctx context.Context, conn *pgx.Conn) error {
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		s.changed(n.Payload)
	}
}

// changed forgets what a notification says another instance changed.
func (s *Store) changed(key string) {
	switch {
	case strings.HasPrefix(key, "session:"):
		if hash, err := hex.DecodeString(strings.TrimPrefix(key, "session:")); err == nil {
			s.auth.revokeSession(hash)
		} else {
			s.auth.flush()
		}
	case strings.HasPrefix(key, "user:"):
		s.auth.revokeUser(strings.TrimPrefix(key, "user:"))
	default:
		s.cache.invalidate(key)
	}
}
