package store

import (
	"context"
	"database/sql"
	"strings"

	"github.com/google/uuid"

	"github.com/bizsec/bizsec/internal/auth"
	"github.com/bizsec/bizsec/internal/fault"
)

// Roles a user can hold in a business.
const (
	RoleSiteAdmin = "SiteAdmin" // reads and changes settings
	RoleAuditor   = "Auditor"   // reads settings only
)

// User is a person who logs in to a tenant.
type User struct {
	ID           string // {uuid}.{tenant}, the platform's UserFDN
	TenantID     string
	Email        string
	Name         string
	PasswordHash string
}

// CreateUser adds a user to a tenant; the ID is assigned here.
func (s *Store) CreateUser(ctx context.Context, u User) (User, error) {
	u.Email = NormalizeEmail(u.Email)
	u.ID = uuid.NewString() + "." + u.TenantID
	err := s.inTx(ctx, func(tx *txn) error {
		if err := tx.lock(ctx, "user:"+u.TenantID+"/"+u.Email); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM tenants WHERE id = ?`, u.TenantID).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return fault.New(fault.NotFound, "tenant %q not found", u.TenantID)
		}
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM users WHERE tenant_id = ? AND email = ?`, u.TenantID, u.Email).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return fault.New(fault.Conflict, "a user with email %q already exists", u.Email)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO users (id, tenant_id, email, name, password_hash, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
			u.ID, u.TenantID, u.Email, u.Name, u.PasswordHash, millis(s.now()))
		return err
	})
	return u, err
}

const userColumns = `id, tenant_id, email, name, password_hash`

func scanUser(row interface{ Scan(...any) error }) (User, error) {
	var u User
	err := row.Scan(&u.ID, &u.TenantID, &u.Email, &u.Name, &u.PasswordHash)
	return u, err
}

// UserByEmail returns the tenant's user with that email.
func (s *Store) UserByEmail(ctx context.Context, tenant, email string) (User, error) {
	u, err := scanUser(s.db.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE tenant_id = ? AND email = ?`,
		tenant, NormalizeEmail(email)))
	return u, notFoundIf(err, "user not found")
}

// UserByID returns the user with that ID.
func (s *Store) UserByID(ctx context.Context, id string) (User, error) {
	u, err := scanUser(s.db.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE id = ?`, id))
	return u, notFoundIf(err, "user %q not found", id)
}

// NormalizeEmail is the form in which emails are stored and looked up.
func NormalizeEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// UpdateLockout applies fn to the failed-login record of an email in one
// transaction, so concurrent failures are each counted exactly once. The
// record is written only when fn changed it; an error from fn aborts.
func (s *Store) UpdateLockout(ctx context.Context, tenant, email string, fn func(*auth.Lockout) error) error {
	email = NormalizeEmail(email)
	return s.inTx(ctx, func(tx *txn) error {
		if err := tx.lock(ctx, "lockout:"+tenant+"/"+email); err != nil {
			return err
		}
		var l auth.Lockout
		var start, until int64
		err := tx.QueryRowContext(ctx, `SELECT failures, window_start, locked_until FROM login_failures
			WHERE tenant_id = ? AND email = ?`, tenant, email).Scan(&l.Failures, &start, &until)
		if err != nil && err != sql.ErrNoRows {
			return err
		}
		l.WindowStart, l.LockedUntil = fromMillis(start), fromMillis(until)
		before := l
		if err := fn(&l); err != nil {
			return err
		}
		switch {
		case l == before:
			return nil
		case l == auth.Lockout{}:
			_, err = tx.ExecContext(ctx, `DELETE FROM login_failures WHERE tenant_id = ? AND email = ?`, tenant, email)
		default:
			_, err = tx.ExecContext(ctx, `INSERT INTO login_failures (tenant_id, email, failures, window_start, locked_until)
				VALUES (?, ?, ?, ?, ?) ON CONFLICT (tenant_id, email) DO UPDATE SET failures = excluded.failures,
				window_start = excluded.window_start, locked_until = excluded.locked_until`,
				tenant, email, l.Failures, millis(l.WindowStart), millis(l.LockedUntil))
		}
		return err
	})
}

// GrantRole gives a user a role in a business of the user's tenant.
func (s *Store) GrantRole(ctx context.Context, userID, business, role string) error {
	if role != RoleSiteAdmin && role != RoleAuditor {
		return fault.New(fault.Invalid, "role must be %s or %s", RoleSiteAdmin, RoleAuditor)
	}
	return s.inTx(ctx, func(tx *txn) error {
		var userTenant, bizTenant string
		if err := tx.QueryRowContext(ctx, `SELECT tenant_id FROM users WHERE id = ?`, userID).Scan(&userTenant); err != nil {
			return notFoundIf(err, "user %q not found", userID)
		}
		if err := tx.QueryRowContext(ctx, `SELECT tenant_id FROM businesses WHERE id = ?`, business).Scan(&bizTenant); err != nil {
			return notFoundIf(err, "business %q not found", business)
		}
		if userTenant != bizTenant {
			return fault.New(fault.Invalid, "user and business belong to different tenants")
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO roles (user_id, business_id, role) VALUES (?, ?, ?)
			ON CONFLICT (user_id, business_id) DO UPDATE SET role = excluded.role`, userID, business, role)
		return err
	})
}

// Role returns the user's role in a business, or "" when it has none.
func (s *Store) Role(ctx context.Context, userID, business string) (string, error) {
	var role string
	err := s.db.QueryRowContext(ctx, `SELECT role FROM roles WHERE user_id = ? AND business_id = ?`, userID, business).Scan(&role)
	if err == sql.ErrNoRows {
		return "", nil
	}
	return role, err
}
