package store

import (
	"context"
	"crypto/subtle"
	"database/sql"
	"time"

	"github.com/bizsec/bizsec/internal/auth"
	"github.com/bizsec/bizsec/internal/fault"
	"github.com/bizsec/bizsec/internal/settings"
)

// SetAnswers replaces a user's answers. Each Answer holds what is stored:
// a hash or a sealed value, never the answer in clear.
func (s *Store) SetAnswers(ctx context.Context, userID string, answers []settings.Answer) (err error) {
	defer fault.Wrap(&err, "store.SetAnswers(%q)", userID)
	return s.inTx(ctx, func(tx *txn) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM user_answers WHERE user_id = ?`, userID); err != nil {
			return err
		}
		for i, a := range answers {
			if _, err := tx.ExecContext(ctx, `INSERT INTO user_answers (user_id, challenge_code, answer, position) VALUES (?, ?, ?, ?)`,
				userID, a.ChallengeCode, a.Answer, i); err != nil {
				return err
			}
		}
		return nil
	})
}

// Answers returns a user's stored answers (hashed or sealed), in the order set.
func (s *Store) Answers(ctx context.Context, userID string) (_ []settings.Answer, err error) {
	defer fault.Wrap(&err, "store.Answers(%q)", userID)
	rows, err := s.db.QueryContext(ctx, `SELECT challenge_code, answer FROM user_answers WHERE user_id = ? ORDER BY position`, userID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []settings.Answer
	for rows.Next() {
		var a settings.Answer
		if err := rows.Scan(&a.ChallengeCode, &a.Answer); err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// Reset is an outstanding password reset.
type Reset struct {
	CodeHash      []byte
	IssuedAt      time.Time
	ChallengeCode string // the question asked, "" before one is
	Attempts      int    // wrong answers so far
}

// ErrBadResetCode answers a reset code that is not the user's live one.
var ErrBadResetCode = fault.New(fault.Unauthorized, "the password reset code is invalid or has expired")

// StartReset records a new reset code for the user, replacing any other.
func (s *Store) StartReset(ctx context.Context, userID string, codeHash []byte, now time.Time) (err error) {
	defer fault.Wrap(&err, "store.StartReset(%q)", userID)
	_, err = s.exec(ctx, `INSERT INTO password_resets (user_id, code_hash, issued_at) VALUES (?, ?, ?)
		ON CONFLICT (user_id) DO UPDATE SET code_hash = excluded.code_hash, issued_at = excluded.issued_at,
		challenge_code = '', attempts = 0`,
		userID, codeHash, millis(now))
	return err
}

func readReset(ctx context.Context, q queryer, userID string, codeHash []byte) (Reset, error) {
	var r Reset
	var issued int64
	err := q.QueryRowContext(ctx, `SELECT code_hash, issued_at, challenge_code, attempts FROM password_resets WHERE user_id = ?`,
		userID).Scan(&r.CodeHash, &issued, &r.ChallengeCode, &r.Attempts)
	r.IssuedAt = fromMillis(issued)
	if err == sql.ErrNoRows || err == nil && subtle.ConstantTimeCompare(r.CodeHash, codeHash) != 1 {
		return Reset{}, ErrBadResetCode
	}
	return r, err
}

// lockReset takes the user's reset lock for the transaction and reads the
// reset if codeHash is its code.
func lockReset(ctx context.Context, tx *txn, userID string, codeHash []byte) (Reset, error) {
	if err := tx.lock(ctx, "reset:"+userID); err != nil {
		return Reset{}, err
	}
	return readReset(ctx, tx, userID, codeHash)
}

// ResetFor returns the user's outstanding reset if codeHash is its code.
func (s *Store) ResetFor(ctx context.Context, userID string, codeHash []byte) (_ Reset, err error) {
	defer fault.Wrap(&err, "store.ResetFor(%q)", userID)
	return readReset(ctx, s.db, userID, codeHash)
}

// AskReset records which question the reset asks, unless one is already
// asked: the question stays until it is answered. It returns the question
// the reset asks.
func (s *Store) AskReset(ctx context.Context, userID string, codeHash []byte, challengeCode string) (_ string, err error) {
	defer fault.Wrap(&err, "store.AskReset(%q)", userID)
	var asked string
	err = s.inTx(ctx, func(tx *txn) error {
		r, err := lockReset(ctx, tx, userID, codeHash)
		if err != nil {
			return err
		}
		if asked = r.ChallengeCode; asked != "" {
			return nil
		}
		asked = challengeCode
		_, err = tx.ExecContext(ctx, `UPDATE password_resets SET challenge_code = ? WHERE user_id = ?`, challengeCode, userID)
		return err
	})
	return asked, err
}

// FailReset records a wrong answer to the reset's question in one
// transaction with the account's failure record: fail counts it against
// the account, and the reset ends after maxAttempts wrong answers. It
// reports whether the reset is void.
func (s *Store) FailReset(ctx context.Context, userID string, codeHash []byte, maxAttempts int, account LockoutChange,
	fail func(*auth.Lockout) error) (void bool, err error) {
	defer fault.Wrap(&err, "store.FailReset(%q)", userID)
	err = s.inTx(ctx, func(tx *txn) error {
		r, err := lockReset(ctx, tx, userID, codeHash)
		if err != nil {
			return err
		}
		if err := updateLockout(ctx, tx, account, fail); err != nil {
			return err
		}
		if void = r.Attempts+1 >= maxAttempts; void {
			_, err = tx.ExecContext(ctx, `DELETE FROM password_resets WHERE user_id = ?`, userID)
		} else {
			_, err = tx.ExecContext(ctx, `UPDATE password_resets SET attempts = attempts + 1 WHERE user_id = ?`, userID)
		}
		return err
	})
	return void, err
}

// EndReset drops the user's outstanding reset.
func (s *Store) EndReset(ctx context.Context, userID string) (err error) {
	defer fault.Wrap(&err, "store.EndReset(%q)", userID)
	_, err = s.exec(ctx, `DELETE FROM password_resets WHERE user_id = ?`, userID)
	return err
}

// CompleteReset sets a new password if codeHash is still the user's reset
// code, and in the same transaction ends the reset, every session of the
// user and every remembered 2FA device, and applies lift to the account's
// failure record: the code proved the mailbox.
func (s *Store) CompleteReset(ctx context.Context, userID string, codeHash []byte, passwordHash string, history int, account LockoutChange,
	lift func(*auth.Lockout) error) (err error) {
	defer fault.Wrap(&err, "store.CompleteReset(%q)", userID)
	defer s.auth.revokeUser(userID)
	return s.inTx(ctx, func(tx *txn) error {
		if _, err := lockReset(ctx, tx, userID, codeHash); err != nil {
			return err
		}
		if err := tx.notify(ctx, userKey(userID)); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM password_resets WHERE user_id = ?`, userID); err != nil {
			return err
		}
		if err := setPassword(ctx, tx, PasswordChange{UserID: userID, Hash: passwordHash, History: history}, s.now().UnixMilli()); err != nil {
			return err
		}
		return updateLockout(ctx, tx, account, lift)
	})
}
