package store

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/bizsec/bizsec/internal/auth"
	"github.com/bizsec/bizsec/internal/fault"
	"github.com/bizsec/bizsec/internal/settings"
)

// CreateSession stores a new session. With exclusive set, the user's other
// sessions end in the same transaction (ConcurrentLogin disabled).
func (s *Store) CreateSession(ctx context.Context, sess auth.Session, exclusive bool) (err error) {
	defer fault.Wrap(&err, "store.CreateSession(%q)", sess.UserID)
	if sess.State == auth.StateActive && !exclusive {
		// The session limit the transaction checks, read (and cached) before
		// it holds a connection, so that a login reads it from memory.
		if _, _, err := Get(ctx, s, settings.SessionPolicyKind, RootBusinessID(sess.TenantID)); err != nil {
			return err
		}
	}
	err = s.inTx(ctx, func(tx *txn) error { return s.insertSession(ctx, tx, sess, exclusive) })
	if err == nil && exclusive {
		s.auth.revokeUser(sess.UserID)
	}
	return err
}

// StartTwoFA stores a pending session and ends the user's other pending
// ones in the same transaction: one live code per user, so logging in
// again cannot buy an attacker more guesses.
func (s *Store) StartTwoFA(ctx context.Context, pending auth.Session) (err error) {
	defer fault.Wrap(&err, "store.StartTwoFA(%q)", pending.UserID)
	err = s.inTx(ctx, func(tx *txn) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = ? AND state = ?`, pending.UserID, auth.StatePending); err != nil {
			return err
		}
		if err := tx.notify(ctx, userKey(pending.UserID)); err != nil {
			return err
		}
		return s.insertSession(ctx, tx, pending, false)
	})
	if err == nil {
		s.auth.revokeUser(pending.UserID)
	}
	return err
}

// The keys other instances are told about when sessions end.
func sessionKey(hash []byte) string { return fmt.Sprintf("session:%x", hash) }
func userKey(userID string) string  { return "user:" + userID }

// insertSession stores a session with where and how it logged in (from
// the session, else the request's ClientInfo); a live one is held to the
// tenant's session limit and dates the user's last login.
func (s *Store) insertSession(ctx context.Context, tx *txn, sess auth.Session, exclusive bool) error {
	c := clientOf(ctx)
	if sess.ClientAddr == "" {
		sess.ClientAddr = c.Addr
	}
	if sess.UserAgent == "" {
		sess.UserAgent = c.UserAgent
	}
	if sess.Method == "" {
		sess.Method = c.Method
	}
	if sess.Method == "" {
		sess.Method = auth.MethodPassword
	}
	if sess.State == auth.StateActive {
		if !exclusive {
			if err := s.limitSessions(ctx, tx, sess); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE users SET last_login_at = ? WHERE id = ?`, millis(sess.IssuedAt), sess.UserID); err != nil {
			return err
		}
	}
	if exclusive {
		if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = ?`, sess.UserID); err != nil {
			return err
		}
		if err := tx.notify(ctx, userKey(sess.UserID)); err != nil {
			return err
		}
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO sessions (token_hash, csrf_hash, user_id, tenant_id, state, issued_at,
		last_seen_at, code_hash, code_issued_at, code_attempts, client_addr, user_agent, method) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		sess.TokenHash, sess.CSRFHash, sess.UserID, sess.TenantID, sess.State, millis(sess.IssuedAt),
		millis(sess.LastSeenAt), sess.Code.Hash, millis(sess.Code.IssuedAt), sess.Code.Attempts,
		clipText(sess.ClientAddr, 64), clipText(sess.UserAgent, 256), sess.Method)
	return err
}

// clipText bounds what a client chose (its User-Agent) to n bytes of valid UTF-8.
func clipText(s string, n int) string {
	s = strings.ToValidUTF8(s, "")
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

const sessionColumns = `token_hash, csrf_hash, user_id, tenant_id, state, issued_at, last_seen_at,
	code_hash, code_issued_at, code_attempts, client_addr, user_agent, method`

func scanSession(row interface{ Scan(...any) error }) (auth.Session, error) {
	var sess auth.Session
	var issued, seen, codeIssued int64
	err := row.Scan(&sess.TokenHash, &sess.CSRFHash, &sess.UserID, &sess.TenantID, &sess.State, &issued, &seen,
		&sess.Code.Hash, &codeIssued, &sess.Code.Attempts, &sess.ClientAddr, &sess.UserAgent, &sess.Method)
	sess.IssuedAt, sess.LastSeenAt, sess.Code.IssuedAt = fromMillis(issued), fromMillis(seen), fromMillis(codeIssued)
	return sess, err
}

type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func readSession(ctx context.Context, q queryer, tokenHash []byte) (auth.Session, error) {
	sess, err := scanSession(q.QueryRowContext(ctx, `SELECT `+sessionColumns+` FROM sessions WHERE token_hash = ?`, tokenHash))
	return sess, notFoundIf(err, "session not found")
}

// Session returns the session whose token hashes to tokenHash, from
// memory when it is there. It keeps no reference to tokenHash (a caller's
// stack array will do).
func (s *Store) Session(ctx context.Context, tokenHash []byte) (auth.Session, error) {
	if sess, ok := s.auth.session(tokenHash); ok {
		return sess, nil
	}
	return s.SessionFromDB(ctx, bytes.Clone(tokenHash))
}

// SessionFromDB reads the session from the database (and keeps it in
// memory): for a decision that must not rest on a copy, such as expiry,
// which another instance's use may have moved.
func (s *Store) SessionFromDB(ctx context.Context, tokenHash []byte) (_ auth.Session, err error) {
	defer fault.Wrap(&err, "store.Session(%.4x)", tokenHash)
	t := s.auth.ticket()
	sess, err := readSession(ctx, s.db, tokenHash)
	if err != nil {
		return sess, err
	}
	if v, ok := s.touches.Load(string(tokenHash)); ok && v.(int64) > sess.LastSeenAt.UnixMilli() {
		sess.LastSeenAt = time.UnixMilli(v.(int64)) // a use not yet written
	}
	s.auth.storeSession(sess, t)
	return sess, nil
}

// LastTwoFA returns when the user last passed 2FA (zero if never).
func (s *Store) LastTwoFA(ctx context.Context, userID string) (_ time.Time, err error) {
	defer fault.Wrap(&err, "store.LastTwoFA(%q)", userID)
	var ms int64
	err = s.db.QueryRowContext(ctx, `SELECT last_twofa_at FROM users WHERE id = ?`, userID).Scan(&ms)
	return fromMillis(ms), notFoundIf(err, "user %q not found", userID)
}

// AddDevice remembers a device that passed 2FA, by the hash of its cookie.
func (s *Store) AddDevice(ctx context.Context, tokenHash []byte, userID string, now time.Time) (err error) {
	defer fault.Wrap(&err, "store.AddDevice(%q)", userID)
	_, err = s.exec(ctx, `INSERT INTO devices (token_hash, user_id, created_at) VALUES (?, ?, ?)`,
		tokenHash, userID, millis(now))
	return err
}

// DeviceAdded returns when the user's device with that cookie hash passed
// 2FA, or the zero time when it is not the user's known device.
func (s *Store) DeviceAdded(ctx context.Context, tokenHash []byte, userID string) (_ time.Time, err error) {
	defer fault.Wrap(&err, "store.DeviceAdded(%q)", userID)
	var ms int64
	err = s.db.QueryRowContext(ctx, `SELECT created_at FROM devices WHERE token_hash = ? AND user_id = ?`, tokenHash, userID).Scan(&ms)
	if err == sql.ErrNoRows {
		return time.Time{}, nil
	}
	return fromMillis(ms), err
}

// TouchSession records use of a session at now: at once in memory, and in
// the database with the next batch (within touchFlushEvery).
func (s *Store) TouchSession(tokenHash []byte, now time.Time) {
	s.auth.touch(tokenHash, now)
	ms := now.UnixMilli()
	for {
		old, loaded := s.touches.LoadOrStore(string(tokenHash), ms)
		if !loaded || old.(int64) >= ms || s.touches.CompareAndSwap(string(tokenHash), old, ms) {
			return
		}
	}
}

// ReplaceSession swaps a session for a new one (token renewal, 2FA
// completion) atomically: the old token stops working as the new one starts.
func (s *Store) ReplaceSession(ctx context.Context, oldHash []byte, sess auth.Session) (err error) {
	defer fault.Wrap(&err, "store.ReplaceSession(%q)", sess.UserID)
	err = s.inTx(ctx, func(tx *txn) error {
		old, err := readSession(ctx, tx, oldHash)
		if fault.CodeOf(err) == fault.NotFound {
			return fault.New(fault.Unauthorized, "the session has ended")
		}
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE token_hash = ?`, oldHash); err != nil {
			return err
		}
		if err := tx.notify(ctx, sessionKey(oldHash)); err != nil {
			return err
		}
		// A renewal is the same login: where and how it came stay, and it
		// takes the place it had under the session limit.
		if sess.Method == "" {
			sess.ClientAddr, sess.UserAgent, sess.Method = old.ClientAddr, old.UserAgent, old.Method
		}
		return s.insertSession(ctx, tx, sess, false)
	})
	s.auth.revokeSession(oldHash)
	return err
}

// DeleteSession ends a session.
func (s *Store) DeleteSession(ctx context.Context, tokenHash []byte) (err error) {
	defer fault.Wrap(&err, "store.DeleteSession(%.4x)", tokenHash)
	err = s.inTx(ctx, func(tx *txn) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE token_hash = ?`, tokenHash); err != nil {
			return err
		}
		return tx.notify(ctx, sessionKey(tokenHash))
	})
	s.auth.revokeSession(tokenHash) // after commit: a read racing it stores nothing
	return err
}

// ForgetDevices forgets every remembered 2FA device of a user.
func (s *Store) ForgetDevices(ctx context.Context, userID string) (err error) {
	defer fault.Wrap(&err, "store.ForgetDevices(%q)", userID)
	_, err = s.exec(ctx, `DELETE FROM devices WHERE user_id = ?`, userID)
	return err
}
