package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"time"

	"github.com/bizsec/bizsec/internal/auth"
	"github.com/bizsec/bizsec/internal/fault"
)

// AccountKind names the account events (suspended, unlocked, expired) in
// the audit history, beside the settings kinds.
const AccountKind = "account"

// Lockout takes the lock of an email's failure record until the
// transaction ends, and returns the record (zero: none), so that
// concurrent failures are each counted exactly once.
func (t *Tx) Lockout(tenant, email string) (_ auth.Lockout, err error) {
	defer fault.Wrap(&err, "store.Tx.Lockout(%q)", tenant)
	email = NormalizeEmail(email)
	if err := t.tx.lock(t.ctx, "lockout:"+tenant+"/"+email); err != nil {
		return auth.Lockout{}, err
	}
	var l auth.Lockout
	var start, until int64
	err = t.tx.QueryRowContext(t.ctx, `SELECT failures, window_start, locked_until FROM login_failures
		WHERE tenant_id = ? AND email = ?`, tenant, email).Scan(&l.Failures, &start, &until)
	if err != nil && err != sql.ErrNoRows {
		return auth.Lockout{}, err
	}
	l.WindowStart, l.LockedUntil = fromMillis(start), fromMillis(until)
	return l, nil
}

// PutLockout stores an email's failure record; the zero record is none.
func (t *Tx) PutLockout(tenant, email string, l auth.Lockout) (err error) {
	defer fault.Wrap(&err, "store.Tx.PutLockout(%q)", tenant)
	email = NormalizeEmail(email)
	if l == (auth.Lockout{}) {
		_, err = t.tx.ExecContext(t.ctx, `DELETE FROM login_failures WHERE tenant_id = ? AND email = ?`, tenant, email)
		return err
	}
	_, err = t.tx.ExecContext(t.ctx, `INSERT INTO login_failures (tenant_id, email, failures, window_start, locked_until)
		VALUES (?, ?, ?, ?, ?) ON CONFLICT (tenant_id, email) DO UPDATE SET failures = excluded.failures,
		window_start = excluded.window_start, locked_until = excluded.locked_until`,
		tenant, email, l.Failures, millis(l.WindowStart), millis(l.LockedUntil))
	return err
}

// AuditAccount records an account event (a suspension, unlock, session
// end, disable, factor change) in the tenant's audit history; old nil is
// an event with no before.
func (t *Tx) AuditAccount(tenant, actor string, at time.Time, old, new any) error {
	return auditAccount(t.ctx, t.tx, tenant, actor, at, old, new)
}

// auditAccount records an account event (suspension, unlock, session end,
// disable, factor change) in the tenant's audit history; old nil is an
// event with no before.
func auditAccount(ctx context.Context, tx *txn, tenant, actor string, at time.Time, old, new any) error {
	before := []byte("null")
	if old != nil {
		before, _ = json.Marshal(old)
	}
	after, _ := json.Marshal(new)
	_, err := tx.ExecContext(ctx, insertAuditSQL, RootBusinessID(tenant), AccountKind, 0, millis(at), actor, string(before), string(after))
	return err
}

// HasLockout reports whether the email has a failure record at all: a good
// login without one has nothing to clear, and needs no write transaction.
func (s *Store) HasLockout(ctx context.Context, tenant, email string) (_ bool, err error) {
	defer fault.Wrap(&err, "store.HasLockout(%q)", tenant)
	var n int
	err = s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM login_failures WHERE tenant_id = ? AND email = ?`,
		tenant, NormalizeEmail(email)).Scan(&n)
	return n > 0, err
}

// Suspension is a user's account suspended by the login policy.
type Suspension struct {
	Tenant string
	UserID string
	Email  string
	Name   string
	Until  time.Time
}

// Suspensions lists the tenant's users suspended at now, by email.
func (s *Store) Suspensions(ctx context.Context, tenant string, now time.Time) (_ []Suspension, err error) {
	defer fault.Wrap(&err, "store.Suspensions(%q)", tenant)
	rows, err := s.db.QueryContext(ctx, `SELECT u.id, u.email, u.name, f.locked_until FROM login_failures f
		JOIN users u ON u.tenant_id = f.tenant_id AND u.email = f.email
		WHERE f.tenant_id = ? AND f.locked_until > ? ORDER BY u.email`, tenant, millis(now))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Suspension{}
	for rows.Next() {
		sus := Suspension{Tenant: tenant}
		var until int64
		if err := rows.Scan(&sus.UserID, &sus.Email, &sus.Name, &until); err != nil {
			return nil, err
		}
		sus.Until = fromMillis(until)
		out = append(out, sus)
	}
	return out, rows.Err()
}

// EndedSuspensions lists the users whose suspensions ended by themselves
// by now and are still on record, so that the end can be recorded.
func (s *Store) EndedSuspensions(ctx context.Context, now time.Time) (_ []Suspension, err error) {
	defer fault.Wrap(&err, "store.EndedSuspensions")
	rows, err := s.db.QueryContext(ctx, `SELECT f.tenant_id, u.id, u.email, u.name, f.locked_until FROM login_failures f
		JOIN users u ON u.tenant_id = f.tenant_id AND u.email = f.email
		WHERE f.locked_until > 0 AND f.locked_until <= ? ORDER BY f.tenant_id, u.email`, millis(now))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Suspension
	for rows.Next() {
		var sus Suspension
		var until int64
		if err := rows.Scan(&sus.Tenant, &sus.UserID, &sus.Email, &sus.Name, &until); err != nil {
			return nil, err
		}
		sus.Until = fromMillis(until)
		out = append(out, sus)
	}
	return out, rows.Err()
}
