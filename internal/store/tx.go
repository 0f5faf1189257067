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
		for _, u := range t.revoke {
			s.auth.revokeUser(u)
		}
	}()
	return s.inTx(ctx, func(tx *txn) error {
		t.tx, t.revoke = tx, nil
		return fn(t)
	})
}

// UpdateLockout applies fn to the failure record of an email, as
// Store.UpdateLockout does, in this transaction: suspensions found over,
// started or lifted are recorded in the audit history with it.
func (t *Tx) UpdateLockout(c LockoutChange, fn func(*auth.Lockout) error) error {
	return updateLockout(t.ctx, t.tx, c, fn)
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
