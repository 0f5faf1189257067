package store

import (
	"context"
	"crypto/subtle"
	"database/sql"
	"time"

	"github.com/bizsec/bizsec/internal/fault"
	"github.com/bizsec/bizsec/internal/settings"
)

// SetAnswers replaces a user's answers. Each Answer holds what is stored:
// a hash or a sealed value, never the answer in clear.
func (s *Store) SetAnswers(ctx context.Context, userID string, answers []settings.Answer) error {
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
func (s *Store) Answers(ctx context.Context, userID string) ([]settings.Answer, error) {
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
}

// StartReset records a new reset code for the user, replacing any other.
func (s *Store) StartReset(ctx context.Context, userID string, codeHash []byte, now time.Time) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO password_resets (user_id, code_hash, issued_at) VALUES (?, ?, ?)
		ON CONFLICT (user_id) DO UPDATE SET code_hash = excluded.code_hash, issued_at = excluded.issued_at, challenge_code = ''`,
		userID, codeHash, millis(now))
	return err
}

// ResetFor returns the user's outstanding reset if codeHash is its code.
func (s *Store) ResetFor(ctx context.Context, userID string, codeHash []byte) (Reset, error) {
	var r Reset
	var issued int64
	err := s.db.QueryRowContext(ctx, `SELECT code_hash, issued_at, challenge_code FROM password_resets WHERE user_id = ?`,
		userID).Scan(&r.CodeHash, &issued, &r.ChallengeCode)
	r.IssuedAt = fromMillis(issued)
	if err == nil && subtle.ConstantTimeCompare(r.CodeHash, codeHash) != 1 {
		err = sql.ErrNoRows
	}
	return r, notFoundIf(err, "no such password reset")
}

// AskReset records which question the reset asks.
func (s *Store) AskReset(ctx context.Context, userID, challengeCode string) error {
	_, err := s.db.ExecContext(ctx, `UPDATE password_resets SET challenge_code = ? WHERE user_id = ?`, challengeCode, userID)
	return err
}

// EndReset drops the user's outstanding reset.
func (s *Store) EndReset(ctx context.Context, userID string) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM password_resets WHERE user_id = ?`, userID)
	return err
}

// CompleteReset sets a new password if codeHash is still the user's reset
// code, ends the reset and every session of the user, in one transaction.
func (s *Store) CompleteReset(ctx context.Context, userID string, codeHash []byte, passwordHash string) error {
	return s.inTx(ctx, func(tx *txn) error {
		var stored []byte
		err := tx.QueryRowContext(ctx, `SELECT code_hash FROM password_resets WHERE user_id = ?`, userID).Scan(&stored)
		if err == sql.ErrNoRows || err == nil && subtle.ConstantTimeCompare(stored, codeHash) != 1 {
			return fault.New(fault.Unauthorized, "the password reset code is invalid or has expired")
		}
		if err != nil {
			return err
		}
		for _, q := range []string{
			`DELETE FROM password_resets WHERE user_id = ?`,
			`DELETE FROM sessions WHERE user_id = ?`,
		} {
			if _, err := tx.ExecContext(ctx, q, userID); err != nil {
				return err
			}
		}
		_, err = tx.ExecContext(ctx, `UPDATE users SET password_hash = ? WHERE id = ?`, passwordHash, userID)
		return err
	})
}
