package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/bizsec/bizsec/internal/auth"
	"github.com/bizsec/bizsec/internal/store"
)

// TestUserFactors lists and removes a user's factors in the database, as
// for a user locked out of their authenticator app.
func TestUserFactors(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db := []string{"-data", dir}
	setupTenant(t, db)
	st, err := store.OpenSQLite(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	u, err := st.UserByEmail(ctx, "acme", "admin@acme.example")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	id, err := st.AddFactor(ctx, store.Factor{UserID: u.ID, Kind: "totp", Name: "phone", Secret: "sealed:v1:x", CreatedAt: now}, now.Add(-time.Hour))
	if err == nil {
		err = st.ActivateFactor(ctx, store.Factor{ID: id, UserID: u.ID, Secret: "sealed:v1:x"}, store.FactorEvent{Tenant: "acme", Email: u.Email, Actor: u.ID, Event: "factor.enrolled", Now: now})
	}
	if err == nil {
		err = st.CreateSession(ctx, auth.Session{TokenHash: auth.HashSecret("t"), CSRFHash: auth.HashSecret("c"), UserID: u.ID,
			TenantID: "acme", State: auth.StateActive, IssuedAt: now, LastSeenAt: now}, false)
	}
	st.Close()
	if err != nil {
		t.Fatal(err)
	}

	factors := func() factorsJSON {
		t.Helper()
		var out bytes.Buffer
		if err := run(ctx, append([]string{"user", "factors", "-tenant", "acme", "-email", "admin@acme.example", "-o", "json"}, db...), nil, &out); err != nil {
			t.Fatal(err)
		}
		var f factorsJSON
		if err := json.Unmarshal(out.Bytes(), &f); err != nil {
			t.Fatalf("%v: %s", err, out.String())
		}
		return f
	}
	if f := factors(); len(f.Factors) != 1 || f.Factors[0].ID != id || f.Factors[0].Type != "totp" || !f.Factors[0].Active {
		t.Fatalf("list: %+v", f)
	}
	var out bytes.Buffer
	if err := run(ctx, append([]string{"user", "factors", "-tenant", "acme", "-email", "admin@acme.example"}, db...), nil, &out); err != nil ||
		!strings.Contains(out.String(), id) || strings.Contains(out.String(), "sealed") {
		t.Fatalf("table: %v %s", err, out.String())
	}
	remove := append([]string{"user", "factors", "-tenant", "acme", "-email", "admin@acme.example", "-remove", id}, db...)
	if err := run(ctx, remove, nil, &out); err != nil {
		t.Fatal(err)
	}
	if f := factors(); len(f.Factors) != 0 {
		t.Fatalf("after removal: %+v", f)
	}
	err = run(ctx, remove, nil, &out)
	if code := exitCode(err, &bytes.Buffer{}); code != exitRefused {
		t.Errorf("removing it again: exit %d (%v), want %d", code, err, exitRefused)
	}

	st, err = store.OpenSQLite(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.SessionFromDB(ctx, auth.HashSecret("t")); err == nil {
		t.Error("the user's session outlived the removal")
	}
	entries, err := st.Audit(ctx, store.RootBusinessID("acme"), store.AccountKind, 10, 0)
	if err != nil || len(entries) == 0 || entries[0].Actor != "cli" || !strings.Contains(string(entries[0].New), "factor.removed") {
		t.Errorf("audit of the removal: %v %+v", err, entries)
	}
}
