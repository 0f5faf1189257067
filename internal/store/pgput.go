package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// putPostgres is Update on PostgreSQL: the write joins the business's next
// batch (pgBatcher). It reads the object without a lock (or takes what the
// batch's previous write of it left), computes the change, and writes with
// bizsec_put_setting, which takes the business's settings lock and writes
// only if both objects are still at the versions read. If one is not
// (another instance wrote in between), the lock is now held: it reads and
// writes again, and this time nothing can come between.
func putPostgres[T any](ctx context.Context, s *Store, k Kind[T], business string, w Write, fn func(*T) error, c *change[T]) error {
	return s.pgBatch.do(ctx, business, func(ctx context.Context, tx *txn) error {
		for locked := false; ; locked = true {
			*c = change[T]{}
			var cur current
			if tx.last != nil && tx.last.kind == k.Name {
				cur = tx.last.cur
			} else {
				var err error
				if cur, err = readCurrent(ctx, tx.QueryRowContext, k, business); err != nil {
					return err
				}
			}
			if err := prepare(s, k, business, w, fn, cur, c); err != nil || !c.write {
				return err
			}
			ok, err := putSetting(ctx, tx.QueryRowContext, s, k, business, w, cur, c)
			switch {
			case err != nil:
				tx.last = nil
				return err
			case ok:
				tx.last = &written{k.Name, current{doc: sql.NullString{String: c.body, Valid: true}, version: c.version,
					other: cur.other, otherV: cur.otherV}}
				return nil
			case locked:
				return fmt.Errorf("store: %s changed under the settings lock", k.Name)
			}
			tx.last = nil // another instance wrote first; the lock is ours now
		}
	})
}

// putSetting runs bizsec_put_setting; false: one of the objects is no
// longer at the version read, and nothing was written.
func putSetting[T any](ctx context.Context, queryRow func(context.Context, string, ...any) *sql.Row, s *Store, k Kind[T],
	business string, w Write, cur current, c *change[T]) (bool, error) {
	var got int64
	var pid uint32
	err := queryRow(ctx, `SELECT bizsec_put_setting(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?), pg_backend_pid()`,
		business, k.Name, cur.version, c.body, millis(s.now()), w.Actor, c.oldAudit, c.newAudit,
		k.other, cur.otherV, k.key(business)).Scan(&got, &pid)
	if err != nil {
		return false, err
	}
	if got == c.version {
		s.own.wrote(pid, k.key(business), time.Now())
	}
	return got == c.version, nil
}
