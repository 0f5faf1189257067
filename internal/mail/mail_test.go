package mail_test

import (
	"context"
	"crypto/tls"
	"net/http"
	"net/http/httptest"
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

// TestSMTPTLSAndAuth: implicit TLS and STARTTLS, PLAIN or LOGIN as the
// server offers, and no password or message in clear when TLS is required.
func TestSMTPTLSAndAuth(t *testing.T) {
	// Borrow a certificate for 127.0.0.1 and a pool that trusts it.
	certSrv := httptest.NewTLSServer(nil)
	defer certSrv.Close()
	serverTLS := &tls.Config{Certificates: certSrv.TLS.Certificates}
	roots := certSrv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	msg := mail.Message{To: "user@example.com", Subject: "Your code", Body: "Code 123456.\n"}
	for _, c := range []struct {
		name    string
		opts    mailtest.Options
		smtp    mail.SMTP
		wantErr bool
		tls     bool
		user    string
	}{
		{"implicit TLS, PLAIN", mailtest.Options{TLS: serverTLS, Implicit: true, Auth: []string{"PLAIN", "LOGIN"}},
			mail.SMTP{TLS: mail.TLSImplicit, Username: "alice", Password: "pw"}, false, true, "PLAIN alice"},
		{"STARTTLS, LOGIN only", mailtest.Options{TLS: serverTLS, Auth: []string{"LOGIN"}},
			mail.SMTP{Username: "alice", Password: "pw"}, false, true, "LOGIN alice"},
		{"no TLS offered, TLS required", mailtest.Options{}, mail.SMTP{RequireTLS: true}, true, false, ""},
		{"no TLS offered, password", mailtest.Options{Auth: []string{"LOGIN"}}, mail.SMTP{Username: "alice", Password: "pw"}, true, false, ""},
		{"no TLS offered, no password", mailtest.Options{}, mail.SMTP{}, false, false, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := mailtest.StartWith(t, c.opts)
			s := c.smtp
			s.Addr, s.From, s.RootCAs = srv.Addr, "bizsec@example.com", roots
			err := s.Send(context.Background(), msg)
			if (err != nil) != c.wantErr {
				t.Fatalf("send: %v, want error %v", err, c.wantErr)
			}
			got := srv.Messages()
			if c.wantErr {
				if len(got) != 0 {
					t.Errorf("a message was sent: %+v", got)
				}
				return
			}
			if len(got) != 1 || got[0].TLS != c.tls || got[0].User != c.user {
				t.Errorf("received %+v, want TLS %v user %q", got, c.tls, c.user)
			}
		})
	}
}
