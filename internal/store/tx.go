package store

import (
	"context"
	"time"

	"github.com/bizsec/bizsec/internal/auth"
	"github.com/bizsec/bizsec/internal/fault"
)

// Tx is one write transaction, for the workflows above the store
// (internal/login) to compose its primitives into one atomic change. Its
// methods run in the transaction; the caches forget what it changed once
// Transact returns.
type Tx struct {
	ctx    context.Context
	tx     *txn
	s      *Store
	revoke []string // users whose cached sessions and roles end with this transaction
	ended  [][]byte // sessions that end with it
}

// Transact runs fn in one write transaction, committed when fn returns nil
// and durable when Transact returns (golang/pkgsite's Transact). On SQLite
// the one writer commits the transactions waiting together (group
// commit), each in a savepoint of its own, so one whose fn fails leaves the
// others alone; on PostgreSQL each is a transaction of its own. fn must not
// keep tx, and must do nothing but database work: on SQLite it holds the
// one writer.
func (s *Store) Transact(ctx context.Context, fn func(*Tx) error) error {
	t := &Tx{ctx: ctx, s: s}
	// Revoking a cached session is always safe: it is done whether or not
	// the transaction committed (a commit whose answer was lost may have).
	defer func() {
		for _, h := range t.ended {
			s.auth.revokeSession(h)
		}
		for _, u := range t.revoke {
			s.auth.revokeUser(u)
		}
	}()
	return s.inTx(ctx, func(tx *txn) error {
		t.tx = tx // a run again (SQLite's batch rolled back) keeps what the failed run would revoke: harmless
		return fn(t)
	})
}

// LockSession takes the lock of the session tokenHash until the
// transaction ends and returns it; NotFound when there is none.
func (t *Tx) LockSession(tokenHash []byte) (_ auth.Session, err error) {
	defer fault.Wrap(&err, "store.Tx.LockSession(%.4x)", tokenHash)
	if err := t.tx.lock(t.ctx, sessionKey(tokenHash)); err != nil {
		return auth.Session{}, err
	}
	return readSession(t.ctx, t.tx, tokenHash)
}

// SetCodeAttempts records the wrong answers a pending session's code has had.
func (t *Tx) SetCodeAttempts(tokenHash []byte, attempts int) (err error) {
	defer fault.Wrap(&err, "store.Tx.SetCodeAttempts(%.4x)", tokenHash)
	_, err = t.tx.ExecContext(t.ctx, `UPDATE sessions SET code_attempts = ? WHERE token_hash = ?`, attempts, tokenHash)
	return err
}

// EndSession deletes a session; the other instances are told, and the
// cache forgets it when Transact returns.
func (t *Tx) EndSession(tokenHash []byte) (err error) {
	defer fault.Wrap(&err, "store.Tx.EndSession(%.4x)", tokenHash)
	t.ended = append(t.ended, tokenHash)
	if _, err := t.tx.ExecContext(t.ctx, `DELETE FROM sessions WHERE token_hash = ?`, tokenHash); err != nil {
		return err
	}
	return t.tx.notify(t.ctx, sessionKey(tokenHash))
}

// StartSession stores a session as CreateSession does: a live one is held
// to the tenant's session limit, and exclusive ends the user's others
// (which the cache forgets when Transact returns).
func (t *Tx) StartSession(sess auth.Session, exclusive bool) (err error) {
	defer fault.Wrap(&err, "store.Tx.StartSession(%q)", sess.UserID)
	if exclusive {
		t.revoke = append(t.revoke, sess.UserID)
	}
	return t.s.insertSession(t.ctx, t.tx, sess, exclusive)
}

// SetLastTwoFA records when the user last passed a second factor.
func (t *Tx) SetLastTwoFA(userID string, at time.Time) (err error) {
	defer fault.Wrap(&err, "store.Tx.SetLastTwoFA(%q)", userID)
	_, err = t.tx.ExecContext(t.ctx, `UPDATE users SET last_twofa_at = ? WHERE id = ?`, millis(at), userID)
	return err
}

// FactorsOf returns the user's factor primitives in this transaction (now
// dates what they spend).
func (t *Tx) FactorsOf(userID string, now time.Time) *FactorTx {
	return &FactorTx{ctx: t.ctx, tx: t.tx, userID: userID, now: now}
}

// LockReset takes the user's reset lock until the transaction ends and
// returns the outstanding reset if codeHash is its code, else
// ErrBadResetCode.
func (t *Tx) LockReset(userID string, codeHash []byte) (_ Reset, err error) {
	defer fault.Wrap(&err, "store.Tx.LockReset(%q)", userID)
	return lockReset(t.ctx, t.tx, userID, codeHash)
}

// PutReset records a new reset code for the user, replacing any other
// (and its question and wrong answers).
func (t *Tx) PutReset(userID string, codeHash []byte, now time.Time) (err error) {
	defer fault.Wrap(&err, "store.Tx.PutReset(%q)", userID)
	_, err = t.tx.ExecContext(t.ctx, `INSERT INTO password_resets (user_id, code_hash, issued_at) VALUES (?, ?, ?)
		ON CONFLICT (user_id) DO UPDATE SET code_hash = excluded.code_hash, issued_at = excluded.issued_at,
		challenge_code = '', attempts = 0`,
		userID, codeHash, millis(now))
	return err
}

// AskReset records the question the user's reset asks.
func (t *Tx) AskReset(userID, challengeCode string) (err error) {
	defer fault.Wrap(&err, "store.Tx.AskReset(%q)", userID)
	_, err = t.tx.ExecContext(t.ctx, `UPDATE password_resets SET challenge_code = ? WHERE user_id = ?`, challengeCode, userID)
	return err
}

// CountResetAttempt records one more wrong answer to the reset's question.
func (t *Tx) CountResetAttempt(userID string) (err error) {
	defer fault.Wrap(&err, "store.Tx.CountResetAttempt(%q)", userID)
	_, err = t.tx.ExecContext(t.ctx, `UPDATE password_resets SET attempts = attempts + 1 WHERE user_id = ?`, userID)
	return err
}

// DeleteReset drops the user's outstanding reset.
func (t *Tx) DeleteReset(userID string) (err error) {
	defer fault.Wrap(&err, "store.Tx.DeleteReset(%q)", userID)
	_, err = t.tx.ExecContext(t.ctx, `DELETE FROM password_resets WHERE user_id = ?`, userID)
	return err
}

// SetPassword sets a user's password as Store.ChangePassword does, in this
// transaction: the user's sessions (but Keep) and remembered devices end,
// the old hash is kept for the reuse check, and the other instances are
// told.
func (t *Tx) SetPassword(c PasswordChange) (err error) {
	defer fault.Wrap(&err, "store.Tx.SetPassword(%q)", c.UserID)
	t.revoke = append(t.revoke, c.UserID)
	return setPassword(t.ctx, t.tx, c, t.s.now().UnixMilli())
}
