package mail_test

import (
	"bytes"
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	_ "modernc.org/sqlite"

	"github.com/bizsec/bizsec/internal/mail"
	"github.com/bizsec/bizsec/internal/mail/mailtest"
	"github.com/bizsec/bizsec/internal/secret"
	"github.com/bizsec/bizsec/internal/store"
	"github.com/bizsec/bizsec/internal/store/storetest"
)

// queueDB is a database for the queue and how to open it again.
type queueDB struct {
	database, dir string
	box           *secret.Box
}

func newQueueDB(t *testing.T) *queueDB {
	t.Helper()
	box, err := secret.New(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	db := &queueDB{box: box}
	db.database, db.dir = storetest.Database(t, storetest.Default())
	return db
}

func (db *queueDB) open(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), db.database, db.dir, store.WithSecretBox(db.box))
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// stored is the raw message column of every queued row.
func (db *queueDB) stored(t *testing.T) []string {
	t.Helper()
	driver, dsn := "sqlite", filepath.Join(db.dir, "bizsec.db")
	if db.database != "" {
		driver, dsn = "pgx", db.database
	}
	conn, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	rows, err := conn.Query(`SELECT message FROM mail_queue`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var m string
		rows.Scan(&m)
		out = append(out, m)
	}
	return out
}

// waitFor waits until the relay holds n messages (or the test's bound).
func waitFor(t *testing.T, srv *mailtest.Server, n int) []mailtest.Message {
	t.Helper()
	for end := time.Now().Add(30 * time.Second); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		if got := srv.Messages(); len(got) >= n {
			return got
		}
	}
	t.Fatalf("the relay has %d messages, want %d", len(srv.Messages()), n)
	return nil
}

// waitEvents waits until the events end with last.
func waitEvents(t *testing.T, ev *events, last string) []string {
	t.Helper()
	for end := time.Now().Add(30 * time.Second); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		if got := ev.list(); len(got) > 0 && got[len(got)-1] == last {
			return got
		}
	}
	t.Fatalf("events %v never ended with %s", ev.list(), last)
	return nil
}

func queueLen(t *testing.T, st *store.Store) int {
	t.Helper()
	n, err := st.MailQueueLen(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

var code = mail.Message{To: "user@example.com", Subject: "Your verification code", Body: "Your code is 918273.\n"}

// TestQueueRetriesThenSends: a relay that refuses twice (451) then
// accepts gets the message at the third try; the row is sealed while it
// waits (the code is not in the database in clear) and gone once sent.
func TestQueueRetriesThenSends(t *testing.T) {
	db := newQueueDB(t)
	st := db.open(t)
	defer st.Close()
	release := make(chan struct{})
	srv := mailtest.StartWith(t, mailtest.Options{Refuse: func(n int) string {
		if n == 1 {
			<-release // the row is inspected while the first try is under way
		}
		if n <= 2 {
			return "451 4.7.1 greylisted"
		}
		return ""
	}})
	var ev events
	q := mail.NewQueue(st, &mail.Retrying{Next: &mail.SMTP{Addr: srv.Addr, From: "bizsec@example.com"},
		Base: time.Millisecond, Max: 2 * time.Millisecond, Observe: ev.add}, nil)
	q.Poll = 2 * time.Millisecond
	q.Start()
	defer q.Close()
	if err := q.Send(context.Background(), code); err != nil {
		t.Fatal(err)
	}
	rows := db.stored(t)
	close(release)
	if len(rows) != 1 || strings.Contains(rows[0], "918273") || strings.Contains(rows[0], "user@example.com") || !secret.IsSealed(rows[0]) {
		t.Errorf("queued row %q: want one row, sealed", rows)
	}
	got := waitFor(t, srv, 1)
	if got[0].To != code.To || !strings.Contains(got[0].Data, "918273") {
		t.Errorf("delivered %+v", got[0])
	}
	if d := cmp.Diff([]string{"queued", "retried", "retried", "sent"}, waitEvents(t, &ev, "sent")); d != "" {
		t.Errorf("events (-want +got):\n%s", d)
	}
	if n := queueLen(t, st); n != 0 {
		t.Errorf("%d rows left after sending", n)
	}
}

// TestQueueGivesUp: a permanent refusal (550) and spent attempts end a
// message: reported failed, its row deleted.
func TestQueueGivesUp(t *testing.T) {
	for _, c := range []struct {
		name   string
		refuse string
		want   []string
	}{
		{"permanent", "550 5.1.1 no such user", []string{"queued", "failed"}},
		{"attempts spent", "421 4.3.2 busy", []string{"queued", "retried", "retried", "failed"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			db := newQueueDB(t)
			st := db.open(t)
			defer st.Close()
			srv := mailtest.StartWith(t, mailtest.Options{Refuse: func(int) string { return c.refuse }})
			var ev events
			q := mail.NewQueue(st, &mail.Retrying{Next: &mail.SMTP{Addr: srv.Addr, From: "bizsec@example.com"},
				Attempts: 3, Base: time.Millisecond, Max: 2 * time.Millisecond, Observe: ev.add}, nil)
			q.Poll = 2 * time.Millisecond
			q.Start()
			defer q.Close()
			if err := q.Send(context.Background(), code); err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(c.want, waitEvents(t, &ev, "failed")); d != "" {
				t.Errorf("events (-want +got):\n%s", d)
			}
			if n := queueLen(t, st); n != 0 {
				t.Errorf("%d rows left after giving up", n)
			}
		})
	}
}

// TestQueueSurvivesRestart: mail queued while the relay is down stays in
// the database when the store closes; a new process (store and queue
// opened again, the relay back) delivers it.
func TestQueueSurvivesRestart(t *testing.T) {
	db := newQueueDB(t)
	st := db.open(t)
	down := &mail.Retrying{Next: &mail.SMTP{Addr: "127.0.0.1:1", From: "bizsec@example.com"}, Attempts: 100,
		Base: time.Millisecond, Max: time.Millisecond}
	var ev events
	down.Observe = ev.add
	q := mail.NewQueue(st, down, nil)
	q.Poll = 2 * time.Millisecond
	q.Start()
	if err := q.Send(context.Background(), code); err != nil {
		t.Fatal(err)
	}
	waitEvents(t, &ev, "retried")
	q.Close()
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	srv := mailtest.Start(t)
	st = db.open(t)
	defer st.Close()
	if n := queueLen(t, st); n != 1 {
		t.Fatalf("%d rows queued after the restart, want 1", n)
	}
	q = mail.NewQueue(st, &mail.Retrying{Next: &mail.SMTP{Addr: srv.Addr, From: "bizsec@example.com"}}, nil)
	q.Poll = 2 * time.Millisecond
	q.Start()
	defer q.Close()
	got := waitFor(t, srv, 1)
	if got[0].To != code.To || !strings.Contains(got[0].Data, "918273") {
		t.Errorf("delivered %+v", got[0])
	}
}
