package store

import (
	"context"
	"time"

	"github.com/bizsec/bizsec/internal/fault"
	"github.com/bizsec/bizsec/internal/settings"
)

// FactorPolicyKind is bizsec's own factor policy object.
var FactorPolicyKind = Kind[settings.FactorPolicy]{Name: "factorpolicy", def: settings.DefaultFactorPolicy}

// FactorPolicy returns the business's factor policy.
func (s *Store) FactorPolicy(ctx context.Context, business string) (settings.FactorPolicy, error) {
	v, _, err := Get(ctx, s, FactorPolicyKind, business)
	return v, err
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

// FactorUsed records a factor's use or failure at login in the audit
// history of the user's tenant (an account event).
func (s *Store) FactorUsed(ctx context.Context, userID string, e FactorEvent, kind string) (err error) {
	defer fault.Wrap(&err, "store.FactorUsed(%q)", userID)
	return s.inTx(ctx, func(tx *txn) error {
		return recordFactorEvent(ctx, tx, userID, e, Factor{Kind: kind})
	})
}
