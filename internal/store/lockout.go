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

// LockoutChange names the failure record an UpdateLockout changes, and
// who and when for the audit history.
type LockoutChange struct {
	Tenant string
	Email  string
	// UserID is the user the email belongs to; "" for an unknown email,
	// whose record is kept the same way but leaves no audit entry.
	UserID string
	// Actor is who lifts a suspension by hand (an admin's user ID, "cli");
	// "" for the login service itself.
	Actor string
	Now   time.Time
}

// accountEvent is the audit document of a suspension changing.
type accountEvent struct {
	UserID    string `json:"UserID"`
	Email     string `json:"Email"`
	Event     string `json:"Event"` // suspended, unlocked, expired
	Suspended bool   `json:"Suspended"`
	Until     string `json:"Until,omitempty"`
}

// UpdateLockout applies fn to the failure record of an email in one
// transaction, so concurrent failures are each counted exactly once. A
// suspension found over is first recorded as expired and cleared; a
// suspension fn starts or lifts is recorded too, in the same transaction.
// Workflows that change more with it use Tx.UpdateLockout in their own
// Transact; this is the transaction of the record alone.
func (s *Store) UpdateLockout(ctx context.Context, c LockoutChange, fn func(*auth.Lockout) error) (err error) {
	defer fault.Wrap(&err, "store.UpdateLockout(%q)", c.Tenant)
	return s.Transact(ctx, func(tx *Tx) error { return tx.UpdateLockout(c, fn) })
}

func updateLockout(ctx context.Context, tx *txn, c LockoutChange, fn func(*auth.Lockout) error) error {
	email := NormalizeEmail(c.Email)
	if err := tx.lock(ctx, "lockout:"+c.Tenant+"/"+email); err != nil {
		return err
	}
	var l auth.Lockout
	var start, until int64
	err := tx.QueryRowContext(ctx, `SELECT failures, window_start, locked_until FROM login_failures
		WHERE tenant_id = ? AND email = ?`, c.Tenant, email).Scan(&l.Failures, &start, &until)
	if err != nil && err != sql.ErrNoRows {
		return err
	}
	err = nil
	l.WindowStart, l.LockedUntil = fromMillis(start), fromMillis(until)
	stored := l
	if !l.LockedUntil.IsZero() && !l.Locked(c.Now) {
		if err := recordAccountEvent(ctx, tx, c, "", l.LockedUntil, accountEvent{Event: "expired"}); err != nil {
			return err
		}
		l.LockedUntil = time.Time{}
	}
	before := l
	if err := fn(&l); err != nil {
		return err
	}
	switch {
	case l.Locked(c.Now) && !before.Locked(c.Now):
		err = recordAccountEvent(ctx, tx, c, "", c.Now, accountEvent{Event: "suspended", Suspended: true,
			Until: l.LockedUntil.UTC().Format(time.RFC3339Nano)})
	case before.Locked(c.Now) && !l.Locked(c.Now):
		err = recordAccountEvent(ctx, tx, c, c.Actor, c.Now, accountEvent{Event: "unlocked"})
	}
	if err != nil {
		return err
	}
	switch {
	case l == stored:
		return nil
	case l == auth.Lockout{}:
		_, err = tx.ExecContext(ctx, `DELETE FROM login_failures WHERE tenant_id = ? AND email = ?`, c.Tenant, email)
	default:
		_, err = tx.ExecContext(ctx, `INSERT INTO login_failures (tenant_id, email, failures, window_start, locked_until)
			VALUES (?, ?, ?, ?, ?) ON CONFLICT (tenant_id, email) DO UPDATE SET failures = excluded.failures,
			window_start = excluded.window_start, locked_until = excluded.locked_until`,
			c.Tenant, email, l.Failures, millis(l.WindowStart), millis(l.LockedUntil))
	}
	return err
}

func recordAccountEvent(ctx context.Context, tx *txn, c LockoutChange, actor string, at time.Time, e accountEvent) error {
	if c.UserID == "" {
		return nil
	}
	e.UserID, e.Email = c.UserID, NormalizeEmail(c.Email)
	before := accountEvent{UserID: e.UserID, Email: e.Email, Suspended: !e.Suspended}
	return auditAccount(ctx, tx, c.Tenant, actor, at, before, e)
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
		var sus Suspension
		var until int64
		if err := rows.Scan(&sus.UserID, &sus.Email, &sus.Name, &until); err != nil {
			return nil, err
		}
		sus.Until = fromMillis(until)
		out = append(out, sus)
	}
	return out, rows.Err()
}
