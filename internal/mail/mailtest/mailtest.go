// Package mailtest runs a small SMTP server on loopback for tests, so that
// mail goes through a real SMTP conversation rather than a mock.
package mailtest

import (
	"bufio"
	"crypto/tls"
	"encoding/base64"
	"net"
	"strings"
	"sync"
	"testing"
)

// Message is what the server received.
type Message struct {
	From, To string
	Data     string
	TLS      bool   // the message came over TLS
	User     string // who authenticated, and how: "LOGIN alice"; "" if nobody
}

// Options make the server speak TLS and ask for authentication.
type Options struct {
	TLS      *tls.Config // offers STARTTLS, or TLS from the first byte with Implicit
	Implicit bool
	Auth     []string // mechanisms offered: PLAIN, LOGIN
	// Refuse, when set, is asked at each MAIL FROM (the first is 1) and
	// answers with the reply it returns, such as "451 try again later";
	// empty accepts. It makes a relay that fails for a while, or for good.
	Refuse func(try int) string
}

// Server is an SMTP server that accepts everything and keeps it.
type Server struct {
	Addr  string
	ln    net.Listener
	opts  Options
	mu    sync.Mutex
	msgs  []Message
	tries int
	last  string // the reply refuse chose
	wg    sync.WaitGroup
}

// Start listens on a loopback port until the test ends.
func Start(t testing.TB) *Server { return StartWith(t, Options{}) }

// StartWith is Start with TLS and authentication.
func StartWith(t testing.TB, opts Options) *Server {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if opts.Implicit {
		ln = tls.NewListener(ln, opts.TLS)
	}
	s := &Server{Addr: ln.Addr().String(), ln: ln, opts: opts}
	s.wg.Add(1)
	go s.serve()
	t.Cleanup(func() { ln.Close(); s.wg.Wait() })
	return s
}

// Messages returns what was received so far.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

func (s *Server) serve() {
	defer s.wg.Done()
	for {
		conn, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.wg.Add(1)
		go func() { defer s.wg.Done(); s.session(conn) }()
	}
}

func (s *Server) session(conn net.Conn) {
	defer func() { conn.Close() }()
	r := bufio.NewReader(conn)
	reply := func(line string) { conn.Write([]byte(line + "\r\n")) }
	readLine := func() (string, error) {
		line, err := r.ReadString('\n')
		return strings.TrimRight(line, "\r\n"), err
	}
	reply("220 mailtest ESMTP")
	var m Message
	secure, user := s.opts.Implicit, ""
	for {
		line, err := readLine()
		if err != nil {
			return
		}
		verb := strings.ToUpper(strings.SplitN(line, " ", 2)[0])
		switch {
		case verb == "EHLO" || verb == "HELO":
			reply("250-mailtest")
			if s.opts.TLS != nil && !secure {
				reply("250-STARTTLS")
			}
			if len(s.opts.Auth) > 0 {
				reply("250-AUTH " + strings.Join(s.opts.Auth, " "))
			}
			reply("250 8BITMIME")
		case verb == "STARTTLS" && s.opts.TLS != nil && !secure:
			reply("220 ready")
			tc := tls.Server(conn, s.opts.TLS)
			if tc.Handshake() != nil {
				return
			}
			conn, r, secure = tc, bufio.NewReader(tc), true
		case verb == "AUTH":
			fields := strings.Fields(line)
			if len(fields) < 2 {
				reply("501 syntax")
				continue
			}
			switch strings.ToUpper(fields[1]) {
			case "PLAIN":
				enc := ""
				if len(fields) > 2 {
					enc = fields[2]
				} else {
					reply("334 ")
					enc, _ = readLine()
				}
				b, _ := base64.StdEncoding.DecodeString(enc)
				parts := strings.Split(string(b), "\x00")
				if len(parts) == 3 {
					user = "PLAIN " + parts[1]
				}
			case "LOGIN":
				reply("334 " + base64.StdEncoding.EncodeToString([]byte("Username:")))
				u, _ := readLine()
				reply("334 " + base64.StdEncoding.EncodeToString([]byte("Password:")))
				readLine()
				name, _ := base64.StdEncoding.DecodeString(u)
				user = "LOGIN " + string(name)
			default:
				reply("504 unknown mechanism")
				continue
			}
			reply("235 authenticated")
		case strings.HasPrefix(strings.ToUpper(line), "MAIL FROM:") && s.refuse() != "":
			reply(s.refused())
		case strings.HasPrefix(strings.ToUpper(line), "MAIL FROM:"):
			m = Message{From: address(line[len("MAIL FROM:"):]), TLS: secure, User: user}
			reply("250 OK")
		case strings.HasPrefix(strings.ToUpper(line), "RCPT TO:"):
			m.To = address(line[len("RCPT TO:"):])
			reply("250 OK")
		case verb == "DATA":
			reply("354 go ahead")
			var data strings.Builder
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
				data.WriteString(strings.TrimPrefix(l, "."))
			}
			m.Data = data.String()
			s.mu.Lock()
			s.msgs = append(s.msgs, m)
			s.mu.Unlock()
			reply("250 OK queued")
		case verb == "QUIT":
			reply("221 bye")
			return
		case verb == "RSET" || verb == "NOOP":
			reply("250 OK")
		default:
			reply("502 not implemented")
		}
	}
}

// refuse counts a MAIL FROM and decides on it; refused is its reply.
func (s *Server) refuse() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tries++
	s.last = ""
	if s.opts.Refuse != nil {
		s.last = s.opts.Refuse(s.tries)
	}
	return s.last
}

func (s *Server) refused() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}

// Tries is the number of MAIL FROM commands received, refused or not.
func (s *Server) Tries() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tries
}

// address takes the path out of "<a@b> PARAM=..." .
func address(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '>'); strings.HasPrefix(s, "<") && i > 0 {
		return s[1:i]
	}
	return strings.Fields(s)[0]
}
