package store

import (
	"context"
	"database/sql"
	"time"

	"github.com/bizsec/bizsec/internal/auth"
	"github.com/bizsec/bizsec/internal/fault"
)

// CreateSession stores a new session. With exclusive set, the user's other
// sessions end in the same transaction (ConcurrentLogin disabled).
func (s *Store) CreateSession(ctx context.Context, sess auth.Session, exclusive bool) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if exclusive {
			if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = ?`, sess.UserID); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO sessions (token_hash, csrf_hash, user_id, tenant_id, state, issued_at, last_seen_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, sess.TokenHash, sess.CSRFHash, sess.UserID, sess.TenantID, sess.State,
			millis(sess.IssuedAt), millis(sess.LastSeenAt))
		return err
	})
}

// Session returns the session whose token hashes to tokenHash.
func (s *Store) Session(ctx context.Context, tokenHash []byte) (auth.Session, error) {
	var sess auth.Session
	var issued, seen int64
	err := s.db.QueryRowContext(ctx, `SELECT token_hash, csrf_hash, user_id, tenant_id, state, issued_at, last_seen_at
		FROM sessions WHERE token_hash = ?`, tokenHash).Scan(&sess.TokenHash, &sess.CSRFHash, &sess.UserID, &sess.TenantID,
		&sess.State, &issued, &seen)
	sess.IssuedAt, sess.LastSeenAt = fromMillis(issued), fromMillis(seen)
	return sess, notFoundIf(err, "session not found")
}

// TouchSession records use of a session at now.
func (s *Store) TouchSession(ctx context.Context, tokenHash []byte, now time.Time) error {
	_, err := s.db.ExecContext(ctx, `UPDATE sessions SET last_seen_at = ? WHERE token_hash = ? AND last_seen_at < ?`,
		millis(now), tokenHash, millis(now))
	return err
}

// ReplaceSession swaps a session for a new one (token renewal, 2FA
// completion) atomically: the old token stops working as the new one starts.
func (s *Store) ReplaceSession(ctx context.Context, oldHash []byte, sess auth.Session) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE token_hash = ?`, oldHash)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fault.New(fault.Unauthorized, "the session has ended")
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO sessions (token_hash, csrf_hash, user_id, tenant_id, state, issued_at, last_seen_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, sess.TokenHash, sess.CSRFHash, sess.UserID, sess.TenantID, sess.State,
			millis(sess.IssuedAt), millis(sess.LastSeenAt))
		return err
	})
}

// DeleteSession ends a session.
func (s *Store) DeleteSession(ctx context.Context, tokenHash []byte) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM sessions WHERE token_hash = ?`, tokenHash)
	return err
}
