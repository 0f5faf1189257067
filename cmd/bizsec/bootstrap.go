package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/bizsec/bizsec/internal/auth"
	"github.com/bizsec/bizsec/internal/store"
)

// The first-start tenant when no flag or variable names one.
const (
	bootstrapTenant = "demo"
	bootstrapEmail  = "admin@demo.example"
)

// freshDatabase reports whether the SQLite database is about to be
// created; decided before store.Open creates it.
func freshDatabase(database, data string) bool {
	if store.IsPostgres(database) {
		return false
	}
	_, err := os.Stat(filepath.Join(data, "bizsec.db"))
	return os.IsNotExist(err)
}

// tenantCounter is what the store offers once it can say whether it holds
// any tenant; until then a new SQLite database is the empty one.
type tenantCounter interface {
	HasTenants(ctx context.Context) (bool, error)
}

// bootstrap creates the first tenant and its Site Admin when the database
// holds none, and prints the admin's one-time password (on stdout, never
// into the log) and the console's URL, so that a first start alone gives
// a console to log in to.
func bootstrap(ctx context.Context, st *store.Store, fresh bool, tenant, email, consoleURL string, stdout io.Writer, log *slog.Logger) error {
	empty := fresh
	if tc, ok := any(st).(tenantCounter); ok {
		has, err := tc.HasTenants(ctx)
		if err != nil {
			return storeError(err)
		}
		empty = !has
	}
	if !empty {
		return nil
	}
	if err := st.CreateTenant(ctx, tenant, ""); err != nil {
		return storeError(err)
	}
	business := store.RootBusinessID(tenant)
	pw := password{value: auth.NewSecret()[:20], gen: true}
	u, err := addUser(ctx, st, tenant, email, "Site Admin", business, auth.RoleSiteAdmin, pw)
	if err != nil {
		return err
	}
	log.Info("first start: tenant created; its Site Admin's one-time password is on standard output",
		"tenant", tenant, "business", business, "admin", u.Email)
	fmt.Fprintf(stdout, `bizsec: first start, so tenant %s (business %s) was created with a Site Admin:
  email:     %s
  password:  %s   (shown this once; bizsec user set-password -tenant %s -email %s changes it)
  console:   %s
`, tenant, business, u.Email, pw.value, tenant, u.Email, consoleURL)
	return nil
}
