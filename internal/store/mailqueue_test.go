package store_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/bizsec/bizsec/internal/secret"
	"github.com/bizsec/bizsec/internal/store"
)

// TestMailQueue: a queued message is taken once while its lease runs,
// comes due again when retried, is gone once done; one sealed under
// another key is dropped, never handed out.
func TestMailQueue(t *testing.T) {
	eachStoreWith(t, func(t *testing.T, open func(...store.Option) *store.Store) {
		ctx := context.Background()
		box := func(fill byte) *secret.Box {
			b, err := secret.New(bytes.Repeat([]byte{fill}, 32))
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
		st := open(store.WithSecretBox(box(1)))
		now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
		if err := st.EnqueueMail(ctx, "a@example.com", "Code", "123456", now); err != nil {
			t.Fatal(err)
		}
		got, err := st.TakeMail(ctx, now, time.Minute, 10)
		if err != nil {
			t.Fatal(err)
		}
		want := []store.QueuedMail{{To: "a@example.com", Subject: "Code", Body: "123456"}}
		if d := cmp.Diff(want, got, cmpIgnoreID); d != "" {
			t.Fatalf("taken (-want +got):\n%s", d)
		}
		if again, _ := st.TakeMail(ctx, now.Add(30*time.Second), time.Minute, 10); len(again) != 0 {
			t.Errorf("taken again within its lease: %v", again)
		}
		if err := st.RetryMail(ctx, got[0].ID, 1, now.Add(time.Second)); err != nil {
			t.Fatal(err)
		}
		again, _ := st.TakeMail(ctx, now.Add(2*time.Second), time.Minute, 10)
		if len(again) != 1 || again[0].Attempts != 1 {
			t.Fatalf("after a retry: %v, want the message with 1 attempt", again)
		}
		if err := st.MailDone(ctx, again[0].ID); err != nil {
			t.Fatal(err)
		}
		if n, _ := st.MailQueueLen(ctx); n != 0 {
			t.Errorf("%d rows after done", n)
		}
		if err := st.EnqueueMail(ctx, "b@example.com", "Code", "654321", now); err != nil {
			t.Fatal(err)
		}
		st.Close()
		st = open(store.WithSecretBox(box(2))) // the same database under another key
		if got, err := st.TakeMail(ctx, now, time.Minute, 10); err != nil || len(got) != 0 {
			t.Errorf("under another key: %v, %v; want nothing", got, err)
		}
		if n, _ := st.MailQueueLen(ctx); n != 0 {
			t.Errorf("%d rows left; the unopenable one should be dropped", n)
		}
	})
}

var cmpIgnoreID = cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".ID" }, cmp.Ignore())
