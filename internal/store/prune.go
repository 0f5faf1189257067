package store

import (
	"context"
	"time"

	"github.com/bizsec/bizsec/internal/auth"
	"github.com/bizsec/bizsec/internal/fault"
	"github.com/bizsec/bizsec/internal/settings"
)

// Prune deletes what can no longer be used: sessions past their tenant's
// timeouts, pending logins older than the longest code life, failure records
// whose window and suspension are over (unknown emails' included), and reset
// codes older than resetTTL. It returns how many rows went. Suspensions
// that ended by themselves are deleted with their records: record their
// end first (EndedSuspensions; login.Service.Prune does).
func (s *Store) Prune(ctx context.Context, now time.Time, resetTTL time.Duration) (_ int64, err error) {
	defer fault.Wrap(&err, "store.Prune")
	rows, err := s.db.QueryContext(ctx, `SELECT id FROM tenants`)
	if err != nil {
		return 0, err
	}
	var tenants []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return 0, err
		}
		tenants = append(tenants, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	var total int64
	exec := func(q string, args ...any) error {
		res, err := s.exec(ctx, q, args...)
		if err == nil {
			n, _ := res.RowsAffected()
			total += n
		}
		return err
	}
	minutes := func(n int) int64 { return millis(now.Add(-time.Duration(n) * time.Minute)) }
	for _, t := range tenants {
		p, _, err := Get(ctx, s, settings.LoginPolicyKind, RootBusinessID(t))
		if err != nil {
			return total, err
		}
		if err := exec(`DELETE FROM sessions WHERE tenant_id = ? AND state = ? AND (issued_at <= ? OR last_seen_at <= ?)`,
			t, auth.StateActive, minutes(p.ActiveSessionTimeout), minutes(p.InactiveSessionTimeout)); err != nil {
			return total, err
		}
		if err := exec(`DELETE FROM login_failures WHERE tenant_id = ? AND locked_until <= ? AND window_start <= ?`,
			t, millis(now), minutes(p.AttemptsPeriod)); err != nil {
			return total, err
		}
	}
	for _, state := range []string{auth.StatePending, auth.StatePassword, auth.StateEnrol} {
		if err := exec(`DELETE FROM sessions WHERE state = ? AND issued_at <= ?`, state, millis(now.Add(-24*time.Hour))); err != nil {
			return total, err
		}
	}
	n, err := s.pruneBudgets(ctx, now)
	if err != nil {
		return total, err
	}
	total += n
	s.auth.flush() // what was pruned may be in memory: start afresh
	return total, exec(`DELETE FROM password_resets WHERE issued_at <= ?`, millis(now.Add(-resetTTL)))
}
