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
