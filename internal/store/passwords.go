package store

import (
	"context"

	"github.com/bizsec/bizsec/internal/fault"
)

// PasswordChange is a new password for a user and what it ends.
type PasswordChange struct {
	UserID string
	Hash   string
	// Temporary: an administrator set it; the next login must change it.
	Temporary bool
	// Keep is the token hash of the one session that stays (the user's
	// own, changing their password); nil ends them all.
	Keep []byte
	// History is how many previous hashes to keep for the reuse check.
	History int
}

// ChangePassword sets a user's password and, in the same transaction, ends
// the user's sessions (but Keep) and forgets their remembered 2FA devices,
// and keeps the old hash for the reuse check: a credential change leaves
// nothing that the old one opened.
func (s *Store) ChangePassword(ctx context.Context, c PasswordChange) (err error) {
	defer fault.Wrap(&err, "store.ChangePassword(%q)", c.UserID)
	defer s.auth.revokeUser(c.UserID)
	return s.inTx(ctx, func(tx *txn) error { return setPassword(ctx, tx, c, s.now().UnixMilli()) })
}

// SetPassword sets a user's password (not temporary), ending every session.
func (s *Store) SetPassword(ctx context.Context, userID, passwordHash string) error {
	return s.ChangePassword(ctx, PasswordChange{UserID: userID, Hash: passwordHash})
}

func setPassword(ctx context.Context, tx *txn, c PasswordChange, now int64) error {
	var old string
	if err := tx.QueryRowContext(ctx, `SELECT password_hash FROM users WHERE id = ?`, c.UserID).Scan(&old); err != nil {
		return notFoundIf(err, "user %q not found", c.UserID)
	}
	temp := 0
	if c.Temporary {
		temp = 1
	}
	if _, err := tx.ExecContext(ctx, `UPDATE users SET password_hash = ?, password_temporary = ? WHERE id = ?`, c.Hash, temp, c.UserID); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO password_history (user_id, hash, set_at) VALUES (?, ?, ?)`, c.UserID, old, now); err != nil {
		return err
	}
	// Keep the newest History-1 previous hashes: with the current one, the
	// last History passwords.
	if _, err := tx.ExecContext(ctx, `DELETE FROM password_history WHERE user_id = ? AND set_at NOT IN
		(SELECT set_at FROM password_history WHERE user_id = ? ORDER BY set_at DESC LIMIT ?)`, c.UserID, c.UserID, max(c.History-1, 0)); err != nil {
		return err
	}
	end := []string{`DELETE FROM devices WHERE user_id = ?`}
	args := []any{c.UserID}
	if c.Keep != nil {
		if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = ? AND token_hash <> ?`, c.UserID, c.Keep); err != nil {
			return err
		}
	} else {
		end = append(end, `DELETE FROM sessions WHERE user_id = ?`)
	}
	for _, q := range end {
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return err
		}
	}
	return changedAuth(ctx, tx, c.UserID)
}

// RecentPasswords returns the user's current password hash and up to n-1
// previous ones, newest first: the last n passwords.
func (s *Store) RecentPasswords(ctx context.Context, userID string, n int) (_ []string, err error) {
	defer fault.Wrap(&err, "store.RecentPasswords(%q)", userID)
	if n <= 0 {
		return nil, nil
	}
	u, err := s.UserByID(ctx, userID)
	if err != nil {
		return nil, err
	}
	out := []string{u.PasswordHash}
	rows, err := s.db.QueryContext(ctx, `SELECT hash FROM password_history WHERE user_id = ? ORDER BY set_at DESC LIMIT ?`, userID, n-1)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var h string
		if err := rows.Scan(&h); err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, rows.Err()
}

// Rehash replaces a user's password hash with the same password under new
// parameters, if the hash is still old (a login verified it).
func (s *Store) Rehash(ctx context.Context, userID, old, new string) (err error) {
	defer fault.Wrap(&err, "store.Rehash(%q)", userID)
	_, err = s.exec(ctx, `UPDATE users SET password_hash = ? WHERE id = ? AND password_hash = ?`, new, userID, old)
	return err
}
