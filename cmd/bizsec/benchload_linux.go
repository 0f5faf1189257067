//go:build linux

package main

import (
	"errors"
	"fmt"
	"net"
	"runtime"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// runLoad is the load generator as wrk runs one: one thread, every
// connection's socket in one epoll set, nonblocking reads and writes, the
// next request written as soon as an answer is in. runLoadNet's goroutine
// per connection costs about half as much again per request, and wakes the
// client core's other work (a local database) twice as often.
//
// Its system calls bypass the Go scheduler (RawSyscall): a write to
// loopback runs the receiving side's network stack before it returns, and
// any call over 20 µs would have its P handed to another thread, which
// wakes to find nothing to do. Nothing else in this process needs to run
// meanwhile; the runtime preempts the thread (EINTR) when it must.
func runLoad(spec loadSpec) loadOut {
	reqs, host, err := newLoadRequests(spec)
	if err != nil {
		return loadOut{Errors: 1, FirstErr: err.Error(), Seconds: 1}
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return loadOut{Errors: 1, FirstErr: err.Error(), Seconds: 1}
	}
	defer unix.Close(ep)
	l := &epollLoad{spec: spec, reqs: reqs, host: host, ep: ep, per: maxRequests / max(1, spec.Conns),
		tally: &loadTally{start: time.Now()}}
	l.deadline = l.tally.start.Add(spec.Duration)
	l.conns = make([]epollConn, spec.Conns)
	for c := range l.conns {
		l.conns[c].index = c
		l.next(&l.conns[c])
	}
	events := make([]unix.EpollEvent, len(l.conns))
	for l.busy > 0 {
		n, err := epollWait(ep, events, 100)
		if err != nil {
			l.fail(nil, err)
			break
		}
		for _, ev := range events[:n] {
			l.readable(&l.conns[ev.Fd])
		}
		if time.Now().After(l.deadline.Add(30 * time.Second)) {
			l.fail(nil, errors.New("answers still outstanding 30 s after the phase ended"))
			break
		}
	}
	for c := range l.conns {
		l.close(&l.conns[c])
	}
	l.tally.add(l.lat, l.errs, l.first)
	return l.tally.result()
}

type epollLoad struct {
	spec     loadSpec
	reqs     *loadRequests
	host     string
	ep       int
	per      int // requests per connection at most
	deadline time.Time
	conns    []epollConn
	busy     int // connections with a request outstanding
	tally    *loadTally
	lat      []time.Duration
	errs     int
	first    error
	req      []byte
}

type epollConn struct {
	index, fd int // fd 0: not connected
	sent      int // requests sent on this index, over its connections
	since     time.Time
	waiting   bool
	answers   answerReader
}

// next sends connection c's next request, connecting first if it must; it
// sends none once c's share is sent or the phase is over.
func (l *epollLoad) next(c *epollConn) {
	for c.sent < l.per && time.Now().Before(l.deadline) {
		if c.fd == 0 {
			if err := l.connect(c); err != nil {
				l.fail(c, err)
				time.Sleep(time.Millisecond)
				continue
			}
		}
		l.req = l.reqs.append(l.req[:0], c.sent, c.index)
		c.sent++
		c.since = time.Now()
		if err := writeAll(c.fd, l.req); err != nil {
			l.fail(c, err)
			continue
		}
		c.waiting = true
		l.busy++
		return
	}
}

// readable takes what arrived on c: its answer, then the next request.
func (l *epollLoad) readable(c *epollConn) {
	err := c.answers.fill(func(b []byte) (int, error) { return rawIO(unix.SYS_READ, c.fd, b) })
	if errors.Is(err, unix.EAGAIN) {
		return
	}
	status, keep, ok := 0, false, false
	if err == nil {
		status, keep, ok, err = c.answers.next()
	}
	if !ok && err == nil {
		return // the rest of the answer is on its way
	}
	c.waiting = false
	l.busy--
	switch {
	case err != nil:
		l.fail(c, err)
	case status != l.spec.Want:
		l.fail(nil, fmt.Errorf("status %d", status)) // an answer: the connection may stay
	default:
		l.lat = append(l.lat, time.Since(c.since))
	}
	if err == nil && !keep {
		l.close(c)
	}
	l.next(c)
}

// fail counts an error; with c, it also drops c's connection.
func (l *epollLoad) fail(c *epollConn, err error) {
	l.errs++
	l.first = cmp(l.first, err)
	if c != nil {
		if c.waiting {
			c.waiting = false
			l.busy--
		}
		l.close(c)
	}
}

func (l *epollLoad) close(c *epollConn) {
	if c.fd != 0 {
		unix.Close(c.fd)
		c.fd = 0
	}
	c.answers = answerReader{}
}

// connect dials c's connection with the net package (name resolution,
// TCP_NODELAY), then keeps a nonblocking copy of its socket in the epoll
// set and closes the net.Conn.
func (l *epollLoad) connect(c *epollConn) error {
	conn, err := net.Dial("tcp", l.host)
	if err != nil {
		return err
	}
	defer conn.Close()
	sc, err := conn.(*net.TCPConn).SyscallConn()
	if err != nil {
		return err
	}
	fd := -1
	cerr := sc.Control(func(s uintptr) { fd, err = unix.FcntlInt(s, unix.F_DUPFD_CLOEXEC, 0) })
	if err = errors.Join(cerr, err); err != nil {
		return err
	}
	// The copy shares the socket's open file, so it stays nonblocking.
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(c.index)}
	if err := unix.EpollCtl(l.ep, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		unix.Close(fd)
		return err
	}
	c.fd = fd
	return nil
}

// writeAll writes b to a nonblocking socket; a request is far smaller
// than a socket's buffer, so it rarely waits.
func writeAll(fd int, b []byte) error {
	for len(b) > 0 {
		n, err := rawIO(unix.SYS_WRITE, fd, b)
		switch {
		case errors.Is(err, unix.EAGAIN):
			time.Sleep(50 * time.Microsecond)
		case err != nil:
			return err
		}
		b = b[n:]
	}
	return nil
}

// rawIO is read(2) or write(2) on fd, outside the scheduler's accounting.
func rawIO(trap uintptr, fd int, b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	for {
		n, _, e := syscall.RawSyscall(trap, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
		switch e {
		case 0:
			if n == 0 && trap == unix.SYS_READ {
				return 0, errors.New("the server closed the connection")
			}
			return int(n), nil
		case unix.EINTR:
			continue
		default:
			return 0, e
		}
	}
}

// epollWait is epoll_pwait(2) outside the scheduler's accounting (see
// runLoad); an interruption (the runtime's preemption signal) is a wait
// that found nothing.
func epollWait(ep int, events []unix.EpollEvent, msec int) (int, error) {
	n, _, e := syscall.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(ep), uintptr(unsafe.Pointer(&events[0])),
		uintptr(len(events)), uintptr(msec), 0, 0)
	switch e {
	case 0:
		return int(n), nil
	case unix.EINTR:
		return 0, nil
	default:
		return 0, e
	}
}
