package mail_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/bizsec/bizsec/internal/mail"
	"github.com/bizsec/bizsec/internal/mail/mailtest"
)

// events records what a Retrying sender reports.
type events struct {
	mu  sync.Mutex
	got []string
}

func (e *events) add(ev string) { e.mu.Lock(); e.got = append(e.got, ev); e.mu.Unlock() }

func (e *events) list() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.got...)
}

// TestRetrying: a relay that answers 451 twice gets the message at the
// third try; one that answers 550 is tried once; one that is down is tried
// Attempts times; a deadline too short for the next pause ends the tries.
func TestRetrying(t *testing.T) {
	msg := mail.Message{To: "user@example.com", Subject: "Your code", Body: "Code 123456.\n"}
	for _, c := range []struct {
		name      string
		refuse    func(int) string
		down      bool
		timeout   time.Duration
		wantErr   bool
		wantTries int
		want      []string
	}{
		{"greylisted twice", func(n int) string {
			if n <= 2 {
				return "451 4.7.1 greylisted, try again later"
			}
			return ""
		}, false, 0, false, 3, []string{"retried", "retried", "sent"}},
		{"refused for good", func(int) string { return "550 5.1.1 no such user" }, false, 0, true, 1, []string{"failed"}},
		{"always busy", func(int) string { return "421 4.3.2 busy" }, false, 0, true, 4, []string{"retried", "retried", "retried", "failed"}},
		{"relay down", nil, true, 0, true, 0, []string{"retried", "retried", "retried", "failed"}},
		{"deadline", func(int) string { return "451 later" }, false, 20 * time.Millisecond, true, 1, []string{"failed"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := mailtest.StartWith(t, mailtest.Options{Refuse: c.refuse})
			addr := srv.Addr
			if c.down {
				addr = "127.0.0.1:1"
			}
			var ev events
			r := &mail.Retrying{Next: &mail.SMTP{Addr: addr, From: "bizsec@example.com"},
				Base: time.Millisecond, Max: 4 * time.Millisecond, Observe: ev.add}
			if c.timeout > 0 {
				r.Base = time.Second // longer than the deadline leaves
			}
			ctx := context.Background()
			if c.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, c.timeout)
				defer cancel()
			}
			err := r.Send(ctx, msg)
			if (err != nil) != c.wantErr {
				t.Fatalf("error %v, want error %v", err, c.wantErr)
			}
			if !c.down && srv.Tries() != c.wantTries {
				t.Errorf("relay saw %d tries, want %d", srv.Tries(), c.wantTries)
			}
			if got := ev.list(); len(got) != len(c.want) || func() bool {
				for i := range got {
					if got[i] != c.want[i] {
						return true
					}
				}
				return false
			}() {
				t.Errorf("events %v, want %v", got, c.want)
			}
			if wantMsgs := map[bool]int{true: 0, false: 1}[c.wantErr]; len(srv.Messages()) != wantMsgs {
				t.Errorf("relay kept %d messages, want %d", len(srv.Messages()), wantMsgs)
			}
			if r.InFlight() != 0 {
				t.Errorf("in flight %d after Send returned", r.InFlight())
			}
		})
	}
}
