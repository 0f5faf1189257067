package store

import (
	"context"
	"database/sql"
	"time"

	"github.com/google/uuid"

	"github.com/bizsec/bizsec/internal/fault"
)

// Factor is a second factor a user enrolled beside the emailed code.
type Factor struct {
	ID     string
	UserID string
	Kind   string // totp, webauthn
	Name   string
	// Secret is sealed under the server key: the TOTP secret, the WebAuthn
	// credential, or the enrolment state until the factor is confirmed.
	Secret string
	Active bool
	// Counter is the last TOTP step accepted or the WebAuthn sign counter.
	Counter    int64
	CreatedAt  time.Time
	LastUsedAt time.Time
}

// FactorEvent is who changed a user's factors and how, for the audit
// history (an account event) of the user's tenant.
type FactorEvent struct {
	Tenant string
	Email  string
	Actor  string // the user, a Site Admin's ID, or "cli"
	// Event is factor.enrolled, factor.enrolment.failed, factor.removed,
	// recoverycodes.replaced, factor.used or factor.failed (at login).
	Event string
	Now   time.Time
}

type factorAudit struct {
	UserID     string `json:"UserID"`
	Email      string `json:"Email"`
	Event      string `json:"Event,omitempty"`
	FactorID   string `json:"FactorID,omitempty"`
	FactorType string `json:"FactorType,omitempty"`
	FactorName string `json:"FactorName,omitempty"`
}

func recordFactorEvent(ctx context.Context, tx *txn, userID string, e FactorEvent, f Factor) error {
	return auditAccount(ctx, tx, e.Tenant, e.Actor, e.Now, factorAudit{UserID: userID, Email: NormalizeEmail(e.Email)},
		factorAudit{UserID: userID, Email: NormalizeEmail(e.Email), Event: e.Event, FactorID: f.ID, FactorType: f.Kind, FactorName: f.Name})
}

const factorColumns = `id, user_id, kind, name, secret, active, counter, created_at, last_used_at`

func scanFactor(row interface{ Scan(...any) error }) (Factor, error) {
	var f Factor
	var active int
	var created, used int64
	err := row.Scan(&f.ID, &f.UserID, &f.Kind, &f.Name, &f.Secret, &active, &f.Counter, &created, &used)
	f.Active, f.CreatedAt, f.LastUsedAt = active != 0, fromMillis(created), fromMillis(used)
	return f, err
}

// AddFactor stores a new, not yet active, factor and returns its ID. A
// user's unconfirmed enrolments older than staleBefore are dropped with it.
func (s *Store) AddFactor(ctx context.Context, f Factor, staleBefore time.Time) (_ string, err error) {
	defer fault.Wrap(&err, "store.AddFactor(%q)", f.UserID)
	f.ID = uuid.NewString()
	err = s.inTx(ctx, func(tx *txn) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM factors WHERE user_id = ? AND active = 0 AND created_at < ?`,
			f.UserID, millis(staleBefore)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO factors (`+factorColumns+`) VALUES (?, ?, ?, ?, ?, 0, ?, ?, 0)`,
			f.ID, f.UserID, f.Kind, f.Name, f.Secret, f.Counter, millis(f.CreatedAt))
		return err
	})
	return f.ID, err
}

// Factors lists a user's factors, active and pending, oldest first.
func (s *Store) Factors(ctx context.Context, userID string) (_ []Factor, err error) {
	defer fault.Wrap(&err, "store.Factors(%q)", userID)
	return listFactors(ctx, s.db, userID, false)
}

func listFactors(ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, userID string, activeOnly bool) ([]Factor, error) {
	query := `SELECT ` + factorColumns + ` FROM factors WHERE user_id = ?`
	if activeOnly {
		query += ` AND active = 1`
	}
	rows, err := q.QueryContext(ctx, query+` ORDER BY created_at, id`, userID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Factor{}
	for rows.Next() {
		f, err := scanFactor(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, rows.Err()
}

// Factor returns one of a user's factors.
func (s *Store) Factor(ctx context.Context, userID, id string) (_ Factor, err error) {
	defer fault.Wrap(&err, "store.Factor(%q)", userID)
	f, err := scanFactor(s.db.QueryRowContext(ctx, `SELECT `+factorColumns+` FROM factors WHERE user_id = ? AND id = ?`, userID, id))
	return f, notFoundIf(err, "factor %q not found", id)
}

// ActivateFactor confirms a pending factor: it becomes usable with its
// final secret and counter. A factor already active, or gone, is NotFound.
func (s *Store) ActivateFactor(ctx context.Context, f Factor, e FactorEvent) (err error) {
	defer fault.Wrap(&err, "store.ActivateFactor(%q)", f.UserID)
	return s.inTx(ctx, func(tx *txn) error {
		res, err := tx.ExecContext(ctx, `UPDATE factors SET active = 1, secret = ?, counter = ?, last_used_at = ?
			WHERE id = ? AND user_id = ? AND active = 0`, f.Secret, f.Counter, millis(f.LastUsedAt), f.ID, f.UserID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fault.New(fault.NotFound, "factor %q is not waiting for confirmation", f.ID)
		}
		return recordFactorEvent(ctx, tx, f.UserID, e, f)
	})
}

// RemoveFactor deletes a user's factor and forgets the user's remembered
// devices, in one transaction with its audit entry; with endSessions the
// user's sessions end too (a Site Admin's removal).
func (s *Store) RemoveFactor(ctx context.Context, userID, id string, endSessions bool, e FactorEvent) (_ Factor, err error) {
	defer fault.Wrap(&err, "store.RemoveFactor(%q)", userID)
	var f Factor
	err = s.inTx(ctx, func(tx *txn) error {
		f, err = scanFactor(tx.QueryRowContext(ctx, `SELECT `+factorColumns+` FROM factors WHERE user_id = ? AND id = ?`, userID, id))
		if err != nil {
			return notFoundIf(err, "factor %q not found", id)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM factors WHERE id = ?`, id); err != nil {
			return err
		}
		if !f.Active {
			return nil // an enrolment never finished: nothing was protected by it
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM devices WHERE user_id = ?`, userID); err != nil {
			return err
		}
		if endSessions {
			if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = ?`, userID); err != nil {
				return err
			}
			if err := tx.notify(ctx, userKey(userID)); err != nil {
				return err
			}
		}
		return recordFactorEvent(ctx, tx, userID, e, f)
	})
	if err == nil && endSessions && f.Active {
		s.auth.revokeUser(userID)
	}
	return f, err
}

// ReplaceRecoveryCodes makes hashes the user's recovery codes, voiding the
// set before.
func (s *Store) ReplaceRecoveryCodes(ctx context.Context, userID string, hashes [][]byte, e FactorEvent) (err error) {
	defer fault.Wrap(&err, "store.ReplaceRecoveryCodes(%q)", userID)
	return s.inTx(ctx, func(tx *txn) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM recovery_codes WHERE user_id = ?`, userID); err != nil {
			return err
		}
		for _, h := range hashes {
			if _, err := tx.ExecContext(ctx, `INSERT INTO recovery_codes (user_id, code_hash, created_at) VALUES (?, ?, ?)`,
				userID, h, millis(e.Now)); err != nil {
				return err
			}
		}
		return recordFactorEvent(ctx, tx, userID, e, Factor{Kind: "recovery"})
	})
}

// RecoveryCodesLeft counts a user's unused recovery codes.
func (s *Store) RecoveryCodesLeft(ctx context.Context, userID string) (n int, err error) {
	defer fault.Wrap(&err, "store.RecoveryCodesLeft(%q)", userID)
	err = s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM recovery_codes WHERE user_id = ? AND used_at = 0`, userID).Scan(&n)
	return n, err
}

// FactorTx is what a second factor's check may read and change, inside
// the transaction that counts the try (Tx.FactorsOf).
type FactorTx struct {
	ctx    context.Context
	tx     *txn
	userID string
	now    time.Time
}

// Factors lists the user's active factors.
func (f *FactorTx) Factors() ([]Factor, error) { return listFactors(f.ctx, f.tx, f.userID, true) }

// UseFactor records a factor's use with its new counter, only if the
// counter advanced past the stored one (for WebAuthn authenticators that
// keep no counter, both are 0): false when another use got there first.
func (f *FactorTx) UseFactor(id string, counter int64) (bool, error) {
	res, err := f.tx.ExecContext(f.ctx, `UPDATE factors SET counter = ?, last_used_at = ?
		WHERE id = ? AND user_id = ? AND active = 1 AND (counter < ? OR (counter = 0 AND ? = 0))`,
		counter, millis(f.now), id, f.userID, counter, counter)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// UseRecoveryCode spends the user's unused recovery code with that hash:
// false when there is none.
func (f *FactorTx) UseRecoveryCode(hash []byte) (bool, error) {
	res, err := f.tx.ExecContext(f.ctx, `UPDATE recovery_codes SET used_at = ? WHERE user_id = ? AND code_hash = ? AND used_at = 0`,
		millis(f.now), f.userID, hash)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// HasRecoveryCodes reports whether the user has unused recovery codes.
func (f *FactorTx) HasRecoveryCodes() (bool, error) {
	var n int
	err := f.tx.QueryRowContext(f.ctx, `SELECT COUNT(*) FROM recovery_codes WHERE user_id = ? AND used_at = 0`, f.userID).Scan(&n)
	return n > 0, err
}
