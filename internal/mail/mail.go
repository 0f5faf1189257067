// Package mail sends the platform's emails (2FA codes, password reset
// codes): over SMTP, or into a file outbox, the embedded default, so a new
// install shows its codes without a mail server.
package mail

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/smtp"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/bizsec/bizsec/internal/durable"
)

// Message is a plain-text email.
type Message struct {
	To, Subject, Body string
}

// errHeaderBreak refuses a header that would inject others.
var errHeaderBreak = errors.New("mail: header contains a line break")

// render returns the message as RFC 5322 text with CRLF line ends.
func (m Message) render(from string, now time.Time) ([]byte, error) {
	for _, h := range []string{from, m.To, m.Subject} {
		if strings.ContainsAny(h, "\r\n") {
			return nil, errHeaderBreak
		}
	}
	id := make([]byte, 12)
	rand.Read(id)
	var b strings.Builder
	fmt.Fprintf(&b, "From: %s\r\nTo: %s\r\nSubject: %s\r\nDate: %s\r\nMessage-ID: <%s@bizsec>\r\n",
		from, m.To, m.Subject, now.Format(time.RFC1123Z), hex.EncodeToString(id))
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n")
	for _, line := range strings.Split(strings.ReplaceAll(m.Body, "\r\n", "\n"), "\n") {
		b.WriteString(line + "\r\n") // net/smtp dot-stuffs on the wire
	}
	return []byte(b.String()), nil
}

// TLS modes of an SMTP connection.
const (
	TLSAuto     = ""         // implicit TLS on port 465, else STARTTLS when the server offers it
	TLSStart    = "starttls" // STARTTLS, required
	TLSImplicit = "implicit" // TLS from the first byte (SMTPS, port 465)
)

// SMTP sends through an SMTP server: over TLS (implicit, or STARTTLS) and
// authenticating, when a username is set, with the best mechanism the
// server offers (PLAIN or LOGIN, only over TLS; CRAM-MD5).
type SMTP struct {
	Addr       string // host:port
	From       string
	Username   string
	Password   string
	TLS        string         // TLSAuto, TLSStart or TLSImplicit
	RequireTLS bool           // refuse to send over a connection that is not TLS
	Timeout    time.Duration  // for the whole conversation; default 15s
	RootCAs    *x509.CertPool // nil: the system's
}

// Send delivers m.
func (s *SMTP) Send(ctx context.Context, m Message) error {
	msg, err := m.render(s.From, time.Now())
	if err != nil {
		return err
	}
	timeout := s.Timeout
	if timeout == 0 {
		timeout = 15 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	host, port, _ := net.SplitHostPort(s.Addr)
	tlsConfig := &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12, RootCAs: s.RootCAs}
	implicit := s.TLS == TLSImplicit || s.TLS == TLSAuto && port == "465"
	var conn net.Conn
	if implicit {
		conn, err = (&tls.Dialer{Config: tlsConfig}).DialContext(ctx, "tcp", s.Addr)
	} else {
		conn, err = (&net.Dialer{}).DialContext(ctx, "tcp", s.Addr)
	}
	if err != nil {
		return fmt.Errorf("mail: dial %s: %w", s.Addr, err)
	}
	deadline, _ := ctx.Deadline()
	conn.SetDeadline(deadline)
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		conn.Close()
		return fmt.Errorf("mail: %w", err)
	}
	defer c.Close()
	if err := c.Hello("bizsec"); err != nil {
		return fmt.Errorf("mail: EHLO: %w", err)
	}
	secure := implicit
	if ok, _ := c.Extension("STARTTLS"); ok && !implicit {
		if err := c.StartTLS(tlsConfig); err != nil {
			return fmt.Errorf("mail: STARTTLS: %w", err)
		}
		secure = true
	}
	if !secure && (s.RequireTLS || s.TLS == TLSStart) {
		return fmt.Errorf("mail: %s offers no TLS, and TLS is required", s.Addr)
	}
	if s.Username != "" {
		auth, err := s.auth(c, host, secure)
		if err != nil {
			return err
		}
		if err := c.Auth(auth); err != nil {
			return fmt.Errorf("mail: AUTH: %w", err)
		}
	}
	if err := c.Mail(s.From); err != nil {
		return fmt.Errorf("mail: MAIL FROM: %w", err)
	}
	if err := c.Rcpt(m.To); err != nil {
		return fmt.Errorf("mail: RCPT TO: %w", err)
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("mail: DATA: %w", err)
	}
	if _, err := w.Write(msg); err != nil {
		return fmt.Errorf("mail: DATA: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("mail: DATA: %w", err)
	}
	return c.Quit()
}

// auth picks the mechanism: PLAIN, else LOGIN (both send the password, so
// only over TLS), else CRAM-MD5.
func (s *SMTP) auth(c *smtp.Client, host string, secure bool) (smtp.Auth, error) {
	_, offered := c.Extension("AUTH")
	mechs := strings.Fields(strings.ToUpper(offered))
	has := func(m string) bool { return slices.Contains(mechs, m) }
	switch {
	case secure && has("PLAIN"):
		return smtp.PlainAuth("", s.Username, s.Password, host), nil
	case secure && has("LOGIN"):
		return &loginAuth{s.Username, s.Password}, nil
	case has("CRAM-MD5"):
		return smtp.CRAMMD5Auth(s.Username, s.Password), nil
	case !secure:
		return nil, fmt.Errorf("mail: %s offers no TLS, and the password is not sent in clear", s.Addr)
	}
	return nil, fmt.Errorf("mail: %s offers none of PLAIN, LOGIN, CRAM-MD5 (it offers %q)", s.Addr, offered)
}

// loginAuth is the LOGIN mechanism many relays (Microsoft 365, older
// Exchange) offer instead of PLAIN; net/smtp lacks it.
type loginAuth struct{ username, password string }

func (a *loginAuth) Start(*smtp.ServerInfo) (string, []byte, error) { return "LOGIN", nil, nil }

func (a *loginAuth) Next(challenge []byte, more bool) ([]byte, error) {
	if !more {
		return nil, nil
	}
	switch strings.ToLower(strings.TrimSpace(string(challenge))) {
	case "username:":
		return []byte(a.username), nil
	case "password:":
		return []byte(a.password), nil
	}
	return nil, fmt.Errorf("mail: unexpected LOGIN challenge %q", challenge)
}

// Outbox writes each message as an .eml file into a directory.
type Outbox struct {
	Dir  string
	From string
}

// Send writes m to a new file, readable only by the server's user, whole
// and on disk before it returns: whoever reads the outbox never sees half
// a message, and a message the queue has let go of survives a crash.
func (o *Outbox) Send(_ context.Context, m Message) error {
	now := time.Now()
	msg, err := m.render(o.From, now)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return err
	}
	suffix := make([]byte, 4)
	rand.Read(suffix)
	name := filepath.Join(o.Dir, now.UTC().Format("20060102T150405.000000000Z")+"-"+hex.EncodeToString(suffix)+".eml")
	return durable.WriteFile(name, msg, 0o600)
}
