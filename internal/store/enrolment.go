package store

import (
	"context"
	"time"

	"github.com/bizsec/bizsec/internal/fault"
)

// Record writes a factor's use or failure at login to the audit history
// inside the transaction that counts the try, so the entry and the
// spending of the code stand or fall together.
func (f *FactorTx) Record(e FactorEvent, kind string) error {
	return recordFactorEvent(f.ctx, f.tx, f.userID, e, Factor{Kind: kind})
}

// EnrolmentRequiredSince returns when the factor policy first required
// userID to enrol a strong factor, recording now if it never did.
func (s *Store) EnrolmentRequiredSince(ctx context.Context, userID string, now time.Time) (since time.Time, err error) {
	defer fault.Wrap(&err, "store.EnrolmentRequiredSince(%q)", userID)
	var at int64
	err = s.db.QueryRowContext(ctx, `SELECT required_since FROM factor_enrolment WHERE user_id = ?`, userID).Scan(&at)
	if err == nil {
		return fromMillis(at), nil
	}
	err = s.inTx(ctx, func(tx *txn) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO factor_enrolment (user_id, required_since) VALUES (?, ?)
			ON CONFLICT (user_id) DO NOTHING`, userID, millis(now)); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, `SELECT required_since FROM factor_enrolment WHERE user_id = ?`, userID).Scan(&at)
	})
	return fromMillis(at), err
}

// RecordFactorEvent writes a factor event of the user (a failed
// enrolment, say) to the audit history of the user's tenant.
func (s *Store) RecordFactorEvent(ctx context.Context, userID string, e FactorEvent, f Factor) (err error) {
	defer fault.Wrap(&err, "store.RecordFactorEvent(%q)", userID)
	return s.inTx(ctx, func(tx *txn) error {
		return recordFactorEvent(ctx, tx, userID, e, f)
	})
}
