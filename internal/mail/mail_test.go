package mail_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bizsec/bizsec/internal/mail"
	"github.com/bizsec/bizsec/internal/mail/mailtest"
)

func TestSenders(t *testing.T) {
	msg := mail.Message{To: "user@example.com", Subject: "Your code", Body: "Code 123456.\n.leading dot\n"}
	t.Run("SMTP", func(t *testing.T) {
		srv := mailtest.Start(t)
		s := &mail.SMTP{Addr: srv.Addr, From: "bizsec@example.com"}
		if err := s.Send(context.Background(), msg); err != nil {
			t.Fatal(err)
		}
		got := srv.Messages()
		if len(got) != 1 || got[0].From != "bizsec@example.com" || got[0].To != "user@example.com" ||
			!strings.Contains(got[0].Data, "Subject: Your code\r\n") || !strings.Contains(got[0].Data, "\r\n\r\nCode 123456.\r\n.leading dot\r\n") {
			t.Fatalf("received %+v", got)
		}
	})
	t.Run("SMTP server down", func(t *testing.T) {
		s := &mail.SMTP{Addr: "127.0.0.1:1", From: "bizsec@example.com"}
		if err := s.Send(context.Background(), msg); err == nil {
			t.Fatal("no error")
		}
	})
	t.Run("outbox", func(t *testing.T) {
		dir := t.TempDir()
		o := &mail.Outbox{Dir: filepath.Join(dir, "outbox"), From: "bizsec@example.com"}
		if err := o.Send(context.Background(), msg); err != nil {
			t.Fatal(err)
		}
		files, _ := filepath.Glob(filepath.Join(dir, "outbox", "*.eml"))
		if len(files) != 1 {
			t.Fatalf("files %v", files)
		}
		b, _ := os.ReadFile(files[0])
		fi, _ := os.Stat(files[0])
		if !strings.Contains(string(b), "To: user@example.com\r\n") || !strings.Contains(string(b), "Code 123456.") || fi.Mode().Perm() != 0o600 {
			t.Errorf("file %s mode %v: %s", files[0], fi.Mode(), b)
		}
	})
	t.Run("header injection", func(t *testing.T) {
		o := &mail.Outbox{Dir: t.TempDir(), From: "bizsec@example.com"}
		if err := o.Send(context.Background(), mail.Message{To: "a@example.com\r\nBcc: evil@example.com"}); err == nil {
			t.Fatal("a line break in a header was accepted")
		}
	})
}
