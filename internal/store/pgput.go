package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// putPostgres is Update on PostgreSQL: the write joins the business's next
// batch (pgBatcher).
//
// In the batch's pipeline it is computed from the objects as this instance
// last saw them committed (or as the batch's earlier writes left them), and
// sent with the batch's other writes in one round trip; if an object moved
// meanwhile, the pipeline rolls back and the write is made on the locked
// path instead.
//
// On the locked path it reads the object without a lock (or takes what the
// batch's previous write of it left), computes the change, and writes with
// bizsec_put_setting, which takes the business's settings lock and writes
// only if both objects are still at the versions read. If one is not
// (another instance wrote in between), the lock is now held: it reads and
// writes again, and this time nothing can come between.
func putPostgres[T any](ctx context.Context, s *Store, k Kind[T], business string, w Write, fn func(*T) error, c *change[T]) error {
	var seen map[string]storedDoc // what the locked path read and wrote, remembered once committed
	plan := func(p *pipeline) (pipeWrite, bool) {
		cur, ok := p.current(k.Name, k.Other)
		if !ok {
			return pipeWrite{}, false
		}
		// A refusal is decided on the locked path, from the database: what is
		// known here may be behind.
		var opt change[T]
		if err := prepare(s, k, business, w, fn, cur, &opt); err != nil {
			return pipeWrite{}, false
		}
		if !opt.write { // as of the moment the check runs, nothing changes
			return pipeWrite{
				sql:       checkSettingSQL,
				args:      []any{business, k.Name, cur.version, k.Other, cur.otherV},
				committed: func() { *c = opt },
			}, true
		}
		p.wrote(k.Name, opt.body, opt.version)
		q := updateSettingSQL
		if cur.version == 0 {
			q = insertSettingSQL
		}
		written := map[string]storedDoc{k.Name: {sql.NullString{String: opt.body, Valid: true}, opt.version}}
		return pipeWrite{
			sql: q,
			args: []any{business, k.Name, cur.version, opt.body, millis(s.now()), w.Actor, opt.oldAudit, opt.newAudit,
				k.Other, cur.otherV, settingKey(k.Name, business)},
			key: settingKey(k.Name, business),
			committed: func() {
				*c = opt
				s.pgBatch.remember(business, written)
			},
		}, true
	}
	locked := func(ctx context.Context, tx *txn) error {
		seen = nil
		for locked := false; ; locked = true {
			*c = change[T]{}
			var cur current
			if tx.last != nil && tx.last.business == business && tx.last.kind == k.Name {
				cur = tx.last.cur
			} else {
				var err error
				if cur, err = readCurrent(ctx, tx.QueryRowContext, k, business); err != nil {
					return err
				}
			}
			seen = map[string]storedDoc{k.Name: {cur.doc, cur.version}}
			if k.Other != "" {
				seen[k.Other] = storedDoc{cur.other, cur.otherV}
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
				tx.last = &written{business, k.Name, current{doc: sql.NullString{String: c.body, Valid: true}, version: c.version,
					other: cur.other, otherV: cur.otherV}}
				seen[k.Name] = storedDoc{tx.last.cur.doc, c.version}
				return nil
			case locked:
				return fmt.Errorf("store: %s changed under the settings lock", k.Name)
			}
			tx.last = nil // another instance wrote first; the lock is ours now
		}
	}
	return s.pgBatch.do(business, pgJob{ctx: ctx, plan: plan, fn: locked,
		committed: func() { s.pgBatch.remember(business, seen) }})
}

// putSetting runs bizsec_put_setting; false: one of the objects is no
// longer at the version read, and nothing was written.
func putSetting[T any](ctx context.Context, queryRow func(context.Context, string, ...any) *sql.Row, s *Store, k Kind[T],
	business string, w Write, cur current, c *change[T]) (bool, error) {
	var got int64
	var pid uint32
	err := queryRow(ctx, `SELECT bizsec_put_setting(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?), pg_backend_pid()`,
		business, k.Name, cur.version, c.body, millis(s.now()), w.Actor, c.oldAudit, c.newAudit,
		k.Other, cur.otherV, settingKey(k.Name, business)).Scan(&got, &pid)
	if err != nil {
		return false, err
	}
	if got == c.version {
		s.own.wrote(pid, settingKey(k.Name, business), time.Now())
	}
	return got == c.version, nil
}
