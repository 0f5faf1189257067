package store

import (
	"context"
	"encoding/json"
	"os"
	"regexp"
	"testing"
	"time"

	"github.com/bizsec/bizsec/internal/secret"
	"github.com/bizsec/bizsec/internal/settings"
)

// TestMigrationsOneTree: the one tree of migrations numbers its steps
// 1..n without a gap, and each database's form of a shared step holds
// nothing only the other database understands.
func TestMigrationsOneTree(t *testing.T) {
	list, err := readMigrations()
	if err != nil {
		t.Fatal(err)
	}
	foreign := map[string]*regexp.Regexp{
		sqliteDialect.name:   regexp.MustCompile(`(?i)\b(BIGSERIAL|SERIAL|BYTEA|plpgsql|JSONB|TIMESTAMPTZ)\b|\$\$`),
		postgresDialect.name: regexp.MustCompile(`(?i)\b(AUTOINCREMENT|BLOB|PRAGMA)\b`),
	}
	for i, m := range list {
		if m.version != i+1 {
			t.Fatalf("migration %s is version %d, want %d: the versions must run 1..n", m.name, m.version, i+1)
		}
		for _, d := range []dialect{sqliteDialect, postgresDialect} {
			if m.only != "" && m.only != d.name {
				continue
			}
			if w := foreign[d.name].FindString(d.schema(m.body)); w != "" {
				t.Errorf("%s as %s runs it holds %q, which %s does not know", m.name, d.name, w, d.name)
			}
		}
	}
}

// TestUpgradeKeepsData opens a database at an older schema (as a bizsec of
// migration 10 left it), writes data the way that version could, and
// opens it again with every migration: the data is still there and what
// the later migrations added works on it.
func TestUpgradeKeepsData(t *testing.T) {
	kinds := []string{"sqlite"}
	if os.Getenv("BIZSEC_TEST_POSTGRES") != "" {
		kinds = append(kinds, "postgres")
	} else {
		t.Log("SKIP: the PostgreSQL half needs BIZSEC_TEST_POSTGRES")
	}
	for _, kind := range kinds {
		t.Run(kind, func(t *testing.T) {
			ctx := context.Background()
			database, dir := "", t.TempDir()
			if kind == "postgres" {
				dsn, drop, err := ScratchSchema(ctx, os.Getenv("BIZSEC_TEST_POSTGRES"), "t_")
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(drop)
				database = dsn
			}
			const oldVersion = 10
			old, err := Open(ctx, database, dir, withSchemaVersion(oldVersion))
			if err != nil {
				t.Fatal(err)
			}
			var got int
			if err := old.db.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_migrations`).Scan(&got); err != nil || got != oldVersion {
				t.Fatalf("old schema version %d (%v), want %d", got, err, oldVersion)
			}
			if err := old.CreateTenant(ctx, "acme", ""); err != nil {
				t.Fatal(err)
			}
			u, err := old.CreateUser(ctx, User{TenantID: "acme", Email: "ada@acme.example", Name: "Ada", PasswordHash: "h"})
			if err != nil {
				t.Fatal(err)
			}
			// A settings row as that version wrote it (it wrote settings
			// without the function of migration 13).
			biz := RootBusinessID("acme")
			p := settings.DefaultLoginPolicy()
			p.AttemptsPeriod = 42
			doc, _ := json.Marshal(p)
			if _, err := old.db.ExecContext(ctx, `INSERT INTO settings (business_id, kind, doc, version, updated_at) VALUES (?, ?, ?, 1, ?)`,
				biz, settings.LoginPolicyKind.Name, string(doc), millis(time.Now())); err != nil {
				t.Fatal(err)
			}
			if err := old.Close(); err != nil {
				t.Fatal(err)
			}

			key := make([]byte, 32)
			box, err := secret.New(key)
			if err != nil {
				t.Fatal(err)
			}
			st, err := Open(ctx, database, dir, WithSecretBox(box))
			if err != nil {
				t.Fatalf("upgrade: %v", err)
			}
			t.Cleanup(func() { st.Close() })
			list, _ := readMigrations()
			if err := st.db.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_migrations`).Scan(&got); err != nil || got != len(list) {
				t.Fatalf("upgraded schema version %d (%v), want %d", got, err, len(list))
			}
			if p, version, err := Get(ctx, st, settings.LoginPolicyKind, biz); err != nil || p.AttemptsPeriod != 42 || version != 1 {
				t.Errorf("login policy after the upgrade: AttemptsPeriod %d version %d (%v), want 42 at 1", p.AttemptsPeriod, version, err)
			}
			if back, err := st.UserByEmail(ctx, "acme", "ada@acme.example"); err != nil || back.ID != u.ID {
				t.Errorf("user after the upgrade: %+v (%v)", back, err)
			}
			// Tables of later migrations: the mail queue (14), factor enrolment (15).
			if err := st.EnqueueMail(ctx, "ada@acme.example", "subject", "body", time.Now()); err != nil {
				t.Errorf("mail queue after the upgrade: %v", err)
			}
			if _, err := st.EnrolmentRequiredSince(ctx, u.ID, time.Now()); err != nil {
				t.Errorf("factor enrolment after the upgrade: %v", err)
			}
			// And the old data takes new writes.
			if _, version, err := Update(ctx, st, settings.LoginPolicyKind, biz, Write{Actor: u.ID, IfMatch: 1},
				func(p *settings.LoginPolicy) error { p.AttemptsPeriod = 43; return nil }); err != nil || version != 2 {
				t.Errorf("write after the upgrade: version %d (%v), want 2", version, err)
			}
		})
	}
}
