package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
)

// TestSQLiteBusy: the migration's retry knows SQLITE_BUSY by its code, from
// a real lock held by another connection, not by its message.
func TestSQLiteBusy(t *testing.T) {
	path := filepath.Join(t.TempDir(), "busy.db")
	open := func() *sql.DB {
		db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(0)")
		if err != nil {
			t.Fatal(err)
		}
		db.SetMaxOpenConns(1)
		t.Cleanup(func() { db.Close() })
		return db
	}
	ctx := context.Background()
	a, b := open(), open()
	if _, err := a.ExecContext(ctx, `CREATE TABLE t (x INTEGER)`); err != nil {
		t.Fatal(err)
	}
	holder, err := a.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Rollback()
	if _, err := holder.ExecContext(ctx, `INSERT INTO t VALUES (1)`); err != nil { // takes the write lock
		t.Fatal(err)
	}
	_, err = b.ExecContext(ctx, `INSERT INTO t VALUES (2)`)
	if err == nil {
		t.Fatal("a second writer got in while the first held the lock")
	}
	if !sqliteBusy(fmt.Errorf("migrate: %w", err)) {
		t.Errorf("sqliteBusy(%v) = false", err)
	}
	if sqliteBusy(errors.New("SQLITE_BUSY in a message")) {
		t.Error("a message that says SQLITE_BUSY counted as the code")
	}
}
