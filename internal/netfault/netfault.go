// Package netfault is a TCP relay for tests that puts the network faults
// between a client and a server that do not close a socket: added latency,
// a black hole (a half-open path: connections are accepted, nothing is
// forwarded either way, no FIN, no RST), and resets.
package netfault

import (
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Relay forwards connections made to Addr to a target address.
type Relay struct {
	ln     net.Listener
	target string
	delay  atomic.Int64 // ns added to what the target sends back

	mu    sync.Mutex
	conns map[net.Conn]struct{}
	holed bool
	open  chan struct{} // closed while traffic flows; replaced when a hole opens
}

// Start relays a loopback address to target until the test ends.
func Start(t testing.TB, target string) *Relay {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &Relay{ln: ln, target: target, conns: map[net.Conn]struct{}{}, open: make(chan struct{})}
	close(r.open)
	go r.accept()
	t.Cleanup(r.Close)
	return r
}

// Addr is where clients connect.
func (r *Relay) Addr() string { return r.ln.Addr().String() }

// Delay adds d to everything the target sends back.
func (r *Relay) Delay(d time.Duration) { r.delay.Store(int64(d)) }

// Blackhole stops (on) or resumes (off) all traffic, on connections open
// and new alike. Bytes sent meanwhile are held and delivered when it
// resumes, as TCP's retransmissions would after a partition heals.
func (r *Relay) Blackhole(on bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if on == r.holed {
		return
	}
	r.holed = on
	if on {
		r.open = make(chan struct{})
	} else {
		close(r.open)
	}
}

// flowing returns a channel that is closed while traffic may flow.
func (r *Relay) flowing() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.open
}

// Reset ends every open connection with a RST, as a restarted server or
// a middlebox that lost its state does.
func (r *Relay) Reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for c := range r.conns {
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetLinger(0)
		}
		c.Close()
	}
	clear(r.conns)
}

// Close stops relaying and ends every connection.
func (r *Relay) Close() {
	r.ln.Close()
	r.Blackhole(false)
	r.Reset()
}

func (r *Relay) track(c net.Conn) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.conns == nil {
		return false
	}
	r.conns[c] = struct{}{}
	return true
}

func (r *Relay) forget(c net.Conn) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.conns, c)
}

func (r *Relay) accept() {
	for {
		client, err := r.ln.Accept()
		if err != nil {
			return
		}
		go r.serve(client)
	}
}

func (r *Relay) serve(client net.Conn) {
	defer client.Close()
	if !r.track(client) {
		return
	}
	defer r.forget(client)
	<-r.flowing() // a half-open path: the connection is made, nothing answers
	server, err := net.Dial("tcp", r.target)
	if err != nil {
		return
	}
	defer server.Close()
	r.track(server)
	defer r.forget(server)
	done := make(chan struct{}, 2)
	go func() { r.pipe(server, client, false); done <- struct{}{} }()
	go func() { r.pipe(client, server, true); done <- struct{}{} }()
	<-done
}

// pipe copies from src to dst, holding bytes while the relay is a black
// hole and, for what the target sends back (delayed), for the delay.
func (r *Relay) pipe(dst, src net.Conn, delayed bool) {
	defer dst.Close()
	type chunk struct {
		b  []byte
		at time.Time
	}
	q := make(chan chunk, 1024)
	go func() {
		defer close(q)
		for {
			buf := make([]byte, 32<<10)
			n, err := src.Read(buf)
			if n > 0 {
				q <- chunk{buf[:n], time.Now()}
			}
			if err != nil {
				return
			}
		}
	}()
	for c := range q {
		<-r.flowing()
		if delayed {
			if d := time.Duration(r.delay.Load()); d > 0 {
				time.Sleep(time.Until(c.at.Add(d)))
			}
		}
		<-r.flowing()
		if _, err := dst.Write(c.b); err != nil {
			return
		}
	}
}
