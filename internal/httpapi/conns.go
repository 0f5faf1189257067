package httpapi

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bizsec/bizsec/internal/fault"
)

// pressureIdle is how long a keep-alive connection may stay idle while the
// server holds more than three quarters of its connections.
const pressureIdle = 5 * time.Second

// GuardListener wraps ln for srv with the defences that live below the
// handler, and sets srv's ConnState and ConnContext hooks (keeping any
// already set):
//
//   - at most maxConns connections at once (more wait in the kernel's
//     queue), where idle keep-alive connections do not keep a newcomer out:
//     at the limit the longest idle one is closed to make room, and under
//     pressure (more than three quarters in use) a connection idle for
//     pressureIdle is closed;
//   - each connection's request headers are watched for Content-Length and
//     Transfer-Encoding together, which net/http resolves silently; Handler
//     refuses such a request with 400 and closes the connection.
//
// Serve srv on the listener it returns. maxConns <= 0 means no limit.
func GuardListener(srv *http.Server, ln net.Listener, maxConns int) net.Listener {
	g := &connGuard{Listener: ln, max: maxConns, conns: map[*guardConn]struct{}{},
		wake: make(chan struct{}, 1), closed: make(chan struct{})}
	prevState := srv.ConnState
	srv.ConnState = func(c net.Conn, s http.ConnState) {
		if gc := asGuardConn(c); gc != nil {
			g.state(gc, s)
		}
		if prevState != nil {
			prevState(c, s)
		}
	}
	prevCtx := srv.ConnContext
	srv.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
		if prevCtx != nil {
			ctx = prevCtx(ctx, c)
		}
		if gc := asGuardConn(c); gc != nil {
			ctx = context.WithValue(ctx, guardConnKey{}, gc)
		}
		return ctx
	}
	return g
}

type guardConnKey struct{}

func asGuardConn(c net.Conn) *guardConn {
	if t, ok := c.(*tls.Conn); ok {
		c = t.NetConn()
	}
	gc, _ := c.(*guardConn)
	return gc
}

type connGuard struct {
	net.Listener
	max int

	mu     sync.Mutex
	conns  map[*guardConn]struct{} // open connections
	wake   chan struct{}           // a connection closed or went idle
	closed chan struct{}
	once   sync.Once
}

func (g *connGuard) signal() {
	select {
	case g.wake <- struct{}{}:
	default:
	}
}

// Accept takes the next connection and, at the limit, makes room for it:
// it closes the longest idle connection, or waits until one closes or
// goes idle.
func (g *connGuard) Accept() (net.Conn, error) {
	c, err := g.Listener.Accept()
	if err != nil {
		return nil, err
	}
	for {
		g.mu.Lock()
		if g.max <= 0 || len(g.conns) < g.max {
			gc := &guardConn{Conn: c, guard: g}
			g.conns[gc] = struct{}{}
			if g.underPressure() {
				for ic := range g.conns {
					if ic.idle && ic.timer == nil {
						g.closeWhenIdle(ic)
					}
				}
			}
			g.mu.Unlock()
			return gc, nil
		}
		victim := g.oldestIdle()
		g.mu.Unlock()
		if victim != nil {
			victim.Close()
			continue
		}
		select {
		case <-g.wake:
		case <-g.closed:
			c.Close()
			return nil, net.ErrClosed
		}
	}
}

func (g *connGuard) Close() error {
	g.once.Do(func() { close(g.closed) })
	return g.Listener.Close()
}

// oldestIdle returns the connection idle the longest, or nil; g.mu is held.
func (g *connGuard) oldestIdle() *guardConn {
	var oldest *guardConn
	for c := range g.conns {
		if c.idle && (oldest == nil || c.idleSince.Before(oldest.idleSince)) {
			oldest = c
		}
	}
	return oldest
}

func (g *connGuard) state(c *guardConn, s http.ConnState) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, open := g.conns[c]; !open {
		return
	}
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
	c.idle = s == http.StateIdle
	if !c.idle {
		return
	}
	c.idleSince = time.Now()
	if g.underPressure() {
		g.closeWhenIdle(c)
	}
	g.signal()
}

// underPressure says more than three quarters of the connections are in
// use; g.mu is held.
func (g *connGuard) underPressure() bool { return g.max > 0 && len(g.conns) > g.max*3/4 }

// closeWhenIdle closes c if it is still idle, since the same moment, after
// pressureIdle; g.mu is held.
func (g *connGuard) closeWhenIdle(c *guardConn) {
	since := c.idleSince
	c.timer = time.AfterFunc(pressureIdle, func() {
		g.mu.Lock()
		still := c.idle && c.idleSince.Equal(since)
		g.mu.Unlock()
		if still {
			c.Close()
		}
	})
}

func (g *connGuard) remove(c *guardConn) {
	g.mu.Lock()
	if c.timer != nil {
		c.timer.Stop()
	}
	delete(g.conns, c)
	g.mu.Unlock()
	g.signal()
}

// guardConn is a connection the guard counts. It watches the bytes it
// reads for header blocks that carry both Content-Length and
// Transfer-Encoding.
type guardConn struct {
	net.Conn
	guard *connGuard
	once  sync.Once

	// Fields under guard.mu.
	idle      bool
	idleSince time.Time
	timer     *time.Timer

	// The header scanner, used only by the goroutine that reads.
	line      [20]byte
	lineLen   int
	cl, te    bool
	ambiguous atomic.Bool
}

func (c *guardConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.guard.remove(c) })
	return err
}

func (c *guardConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if !c.ambiguous.Load() {
		c.scan(p[:n])
	}
	return n, err
}

// scan follows lines: a block of lines up to an empty one that names both
// Content-Length and Transfer-Encoding marks the connection. Body bytes
// are scanned too; a body that looks like such a header block costs only
// its own connection's chunked requests.
func (c *guardConn) scan(b []byte) {
	for _, ch := range b {
		if ch != '\n' {
			if c.lineLen < len(c.line) {
				if 'A' <= ch && ch <= 'Z' {
					ch += 'a' - 'A'
				}
				c.line[c.lineLen] = ch
			}
			c.lineLen++
			continue
		}
		line := string(c.line[:min(c.lineLen, len(c.line))])
		switch {
		case c.lineLen == 0 || c.lineLen == 1 && line == "\r":
			if c.cl && c.te {
				c.ambiguous.Store(true)
				return
			}
			c.cl, c.te = false, false
		case len(line) >= 15 && line[:15] == "content-length:":
			c.cl = true
		case len(line) >= 18 && line[:18] == "transfer-encoding:":
			c.te = true
		}
		c.lineLen = 0
	}
}

// refuseAmbiguousLength answers a request whose headers carried both
// Content-Length and Transfer-Encoding (net/http keeps the chunked framing
// and drops the other) with 400, and closes the connection: a proxy in
// front may have framed it by Content-Length, and what follows would run
// as another request.
func (s *Server) refuseAmbiguousLength(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(r.TransferEncoding) > 0 {
			if gc, ok := r.Context().Value(guardConnKey{}).(*guardConn); ok && gc.ambiguous.Load() {
				w.Header().Set("Connection", "close")
				writeError(w, r, s.log, "", fault.New(fault.Invalid,
					"the request carries both Content-Length and Transfer-Encoding; send one"))
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}
