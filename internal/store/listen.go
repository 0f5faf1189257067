package store

import (
	"context"
	"database/sql"
	"encoding/hex"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

// channel is the PostgreSQL notification channel for changes.
const channel = "bizsec_settings"

const (
	// connectTimeout bounds connecting the listener and sending a heartbeat.
	connectTimeout = 2 * time.Second
	// stalledAfter: a listener that delivered no heartbeat for this long is
	// presumed stalled (a frozen backend, a half-open path) and replaced.
	stalledAfter = 2 * time.Second
)

// heartbeats remembers when recent heartbeats were sent, by sequence
// number, so that one arriving on the listener proves the feed up to its
// send time: PostgreSQL delivers notifications in commit order, so every
// change committed before the heartbeat was sent arrived before it.
type heartbeats struct {
	id   string        // this instance's, so it ignores the others' heartbeats
	now  chan struct{} // asks for a heartbeat at once (a new listener wants its first proof)
	seq  atomic.Uint64
	sent [64]atomic.Int64 // feed offset of each sequence number's send, by seq % 64
}

func (h *heartbeats) payload(seq uint64) string {
	return "hb:" + h.id + ":" + strconv.FormatUint(seq, 10)
}

// listen keeps a connection LISTENing for other instances' changes and
// applies them to the caches. While it is not connected the caches are off;
// while connected, they are trusted only until StaleBound after the last
// heartbeat that came back through it. It returns when ctx ends.
func (s *Store) listen(ctx context.Context, ready chan<- error) {
	backoff := 100 * time.Millisecond
	for {
		cctx, cancel := context.WithTimeout(ctx, connectTimeout)
		conn, err := pgx.Connect(cctx, s.dsn)
		if err == nil {
			_, err = conn.Exec(cctx, "LISTEN "+channel)
		}
		cancel()
		if ready != nil {
			ready <- err
			ready = nil
		}
		if err == nil {
			// Heartbeats sent before this LISTEN prove nothing about it.
			after := s.beats.seq.Load()
			s.cache.setOn(true)
			s.auth.flush()
			select {
			case s.beats.now <- struct{}{}:
			default:
			}
			backoff = 100 * time.Millisecond
			err = s.receive(ctx, conn, after)
		}
		s.feed.lose()
		s.cache.setOn(false)
		s.auth.flush()
		if conn != nil {
			cctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			conn.Close(cctx)
			cancel()
		}
		if ctx.Err() != nil {
			return
		}
		s.log.Warn("change listener lost; caches off until it is back", "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

// receive applies notifications until the connection fails, ctx ends, or
// no heartbeat has come back for stalledAfter.
func (s *Store) receive(ctx context.Context, conn *pgx.Conn, after uint64) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var heard atomic.Int64
	heard.Store(s.feed.now())
	go func() {
		tick := time.NewTicker(heartbeatEvery / 2)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				if time.Duration(s.feed.now()-heard.Load()) > stalledAfter {
					cancel(errStalled)
					return
				}
			}
		}
	}()
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			if c := context.Cause(ctx); c != nil {
				return c
			}
			return err
		}
		if seq, ok := s.ownHeartbeat(n.Payload); ok {
			if seq > after {
				heard.Store(s.feed.now())
				s.feed.prove(s.beats.sent[seq%uint64(len(s.beats.sent))].Load())
			}
			continue
		}
		if strings.HasPrefix(n.Payload, "hb:") {
			continue // another instance's
		}
		if !strings.HasPrefix(n.Payload, "settings:") || !s.own.mine(n.PID, n.Payload, time.Now()) {
			s.changed(n.Payload)
		}
		s.feed.applied()
	}
}

type stalledError struct{}

func (stalledError) Error() string {
	return "no heartbeat came back within " + stalledAfter.String() + ": the connection is stalled"
}

var errStalled error = stalledError{}

// ownHeartbeat reports whether payload is one of this instance's
// heartbeats, and its sequence number.
func (s *Store) ownHeartbeat(payload string) (uint64, bool) {
	rest, ok := strings.CutPrefix(payload, "hb:"+s.beats.id+":")
	if !ok {
		return 0, false
	}
	seq, err := strconv.ParseUint(rest, 10, 64)
	return seq, err == nil
}

// heartbeat sends a notification to this instance's own listener every
// heartbeatEvery, over a connection of its own (a busy pool must not delay
// the proof), each under a deadline. It returns when ctx ends.
func (s *Store) heartbeat(ctx context.Context, db *sql.DB) {
	tick := time.NewTicker(heartbeatEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-s.beats.now:
		}
		seq := s.beats.seq.Add(1)
		s.beats.sent[seq%uint64(len(s.beats.sent))].Store(s.feed.now())
		hctx, cancel := context.WithTimeout(ctx, connectTimeout)
		_, err := db.ExecContext(hctx, `SELECT pg_notify($1, $2)`, channel, s.beats.payload(seq))
		cancel()
		if err != nil && ctx.Err() == nil {
			s.log.Warn("change feed heartbeat not sent", "err", err)
		}
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
		if k, ok := parseChangeKey(key); ok {
			s.cache.invalidate(k)
		} else { // not a key this version writes: forget everything rather than guess
			s.cache.setOn(s.cache.on.Load())
		}
	}
}
