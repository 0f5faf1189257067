package store

import (
	"context"
	"database/sql"
	"errors"
	"regexp"

	"github.com/bizsec/bizsec/internal/fault"
)

// Business is an organization whose settings bizsec keeps.
type Business struct {
	ID       string
	TenantID string
}

// RootBusinessID is the ID of a tenant's root business, whose settings
// govern the tenant's login, sessions and CSRF.
func RootBusinessID(tenant string) string { return "tenantbusiness." + tenant }

var tenantPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9-]{0,62}$`)

// CreateTenant creates a tenant (fedmemberid) and its root business.
// hostname, when not empty, maps requests for that host to the tenant.
func (s *Store) CreateTenant(ctx context.Context, id, hostname string) (err error) {
	defer fault.Wrap(&err, "store.CreateTenant(%q)", id)
	if !tenantPattern.MatchString(id) {
		return fault.New(fault.Invalid, "tenant ID %q must be letters, digits and dashes (at most 63)", id)
	}
	var host any
	if hostname != "" {
		host = hostname
	}
	now := millis(s.now())
	return s.inTx(ctx, func(tx *txn) error {
		if err := tx.lock(ctx, "tenant:"+id); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM tenants WHERE id = ?`, id).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return fault.New(fault.Conflict, "tenant %q already exists", id)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO tenants (id, hostname, created_at) VALUES (?, ?, ?)`, id, host, now); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO businesses (id, tenant_id, created_at) VALUES (?, ?, ?)`, RootBusinessID(id), id, now)
		return err
	})
}

// Business returns the business with the given ID. Businesses never change
// once created, so they are cached; a miss is not.
func (s *Store) Business(ctx context.Context, id string) (_ Business, err error) {
	key := cacheKey{kind: businessKind, id: id}
	if v, ok := s.cache.get(key); ok {
		return v.(Business), nil
	}
	defer fault.Wrap(&err, "store.Business(%q)", id)
	t := s.cache.ticket(key)
	b := Business{ID: id}
	err = s.db.QueryRowContext(ctx, `SELECT tenant_id FROM businesses WHERE id = ?`, id).Scan(&b.TenantID)
	if err != nil {
		return b, notFoundIf(err, "business %q not found", id)
	}
	s.cache.put(key, b, t)
	return b, nil
}

// TenantForHost returns the tenant that serves hostname: the tenant that
// claims it, else the one tenant that claims no hostname (the usual single-
// tenant install), else none.
func (s *Store) TenantForHost(ctx context.Context, hostname string) (_ string, err error) {
	defer fault.Wrap(&err, "store.TenantForHost(%q)", hostname)
	var id string
	err = s.db.QueryRowContext(ctx, `SELECT id FROM tenants WHERE hostname = ?`, hostname).Scan(&id)
	if err == nil || !errors.Is(err, sql.ErrNoRows) {
		return id, err
	}
	rows, err := s.db.QueryContext(ctx, `SELECT id FROM tenants WHERE hostname IS NULL LIMIT 2`)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		if err := rows.Scan(&id); err != nil {
			return "", err
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return "", err
	}
	if len(ids) != 1 {
		return "", fault.New(fault.NotFound, "no tenant serves host %q", hostname)
	}
	return ids[0], nil
}

// HasTenants reports whether the database holds any tenant (a first start
// creates one when it holds none).
func (s *Store) HasTenants(ctx context.Context) (_ bool, err error) {
	defer fault.Wrap(&err, "store.HasTenants")
	var n int
	err = s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM tenants LIMIT 1) t`).Scan(&n)
	return n > 0, err
}
