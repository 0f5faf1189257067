package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// loadSpec is one load phase for the load generator (bench -child load):
// conns keep-alive connections, each sending the request and waiting for
// its answer, for duration or maxRequests in all.
type loadSpec struct {
	URL      string
	Method   string
	Headers  [][2]string
	Body     string // "{n}" is replaced by a number that changes with each request
	Conns    int
	Duration time.Duration
	Want     int
}

// loadOut is what a load phase measured.
type loadOut struct {
	Requests int
	Errors   int
	FirstErr string
	Seconds  float64
	P50, P99 time.Duration
	// ServerCPU is the CPU time the server process used during the phase
	// (loadOn), zero when not measured.
	ServerCPU time.Duration
}

// cpuPerRequest is the server's CPU time per request, zero when not
// measured.
func (o loadOut) cpuPerRequest() time.Duration {
	if o.Requests == 0 {
		return 0
	}
	return o.ServerCPU / time.Duration(o.Requests)
}

func (o loadOut) rate() float64 { return float64(o.Requests) / o.Seconds }

// loadRequests builds a phase's requests: the same head for every
// request, and a body that may change with each (request i of connection c).
type loadRequests struct {
	spec loadSpec
	head string
}

func newLoadRequests(spec loadSpec) (*loadRequests, string, error) {
	u, err := url.Parse(spec.URL)
	if err != nil {
		return nil, "", err
	}
	head := spec.Method + " " + u.RequestURI() + " HTTP/1.1\r\nHost: " + u.Host + "\r\n"
	for _, h := range spec.Headers {
		head += h[0] + ": " + h[1] + "\r\n"
	}
	return &loadRequests{spec, head}, u.Host, nil
}

// append appends request i of connection c to req.
func (r *loadRequests) append(req []byte, i, c int) []byte {
	body := r.spec.Body
	if strings.Contains(body, "{n}") {
		// Each connection's values differ from the others' at the same
		// step, as wrk's one counter's do: in step, they would mostly
		// rewrite what another had just written (a write that changes
		// nothing).
		body = strings.ReplaceAll(body, "{n}", strconv.Itoa(1+(i*r.spec.Conns+c)%500))
	}
	req = append(req, r.head...)
	if body != "" || r.spec.Method == "POST" || r.spec.Method == "PUT" {
		req = append(req, "Content-Length: "...)
		req = strconv.AppendInt(req, int64(len(body)), 10)
		req = append(req, "\r\n"...)
	}
	req = append(req, "\r\n"...)
	return append(req, body...)
}

// loadTally gathers a phase's outcomes.
type loadTally struct {
	mu    sync.Mutex
	out   loadOut
	lat   []time.Duration
	start time.Time
}

func (t *loadTally) add(lat []time.Duration, errs int, first error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lat = append(t.lat, lat...)
	t.out.Errors += errs
	if first != nil && t.out.FirstErr == "" {
		t.out.FirstErr = first.Error()
	}
}

func (t *loadTally) result() loadOut {
	t.out.Seconds = time.Since(t.start).Seconds()
	slices.Sort(t.lat)
	t.out.Requests, t.out.P50, t.out.P99 = len(t.lat), pct(t.lat, 50), pct(t.lat, 99)
	return t.out
}

// runLoadNet is a closed-loop HTTP/1.1 load generator on net.Conns, one
// goroutine each: each request is written with one write and its answer
// read through a buffer. Where there is epoll, runLoad is cheaper.
func runLoadNet(spec loadSpec) loadOut {
	reqs, host, err := newLoadRequests(spec)
	if err != nil {
		return loadOut{Errors: 1, FirstErr: err.Error(), Seconds: 1}
	}
	tally := &loadTally{start: time.Now()}
	deadline := tally.start.Add(spec.Duration)
	per := maxRequests / max(1, spec.Conns)
	var wg sync.WaitGroup
	for c := range spec.Conns {
		wg.Go(func() {
			my := make([]time.Duration, 0, 1024)
			var errs int
			var first error
			var conn net.Conn
			var req []byte
			var a answerReader
			for i := 0; i < per && time.Now().Before(deadline); i++ {
				if conn == nil {
					var err error
					if conn, err = net.Dial("tcp", host); err != nil {
						errs++
						first = cmp(first, err)
						time.Sleep(time.Millisecond)
						continue
					}
					a = answerReader{}
				}
				req = reqs.append(req[:0], i, c)
				t0 := time.Now()
				status, keep, err := roundTrip(conn, &a, req)
				if err == nil && status != spec.Want {
					err = fmt.Errorf("status %d", status)
				}
				if err != nil {
					errs++
					first = cmp(first, err)
				} else {
					my = append(my, time.Since(t0))
				}
				if !keep || err != nil && status == 0 {
					conn.Close()
					conn = nil
				}
			}
			if conn != nil {
				conn.Close()
			}
			tally.add(my, errs, first)
		})
	}
	wg.Wait()
	return tally.result()
}

// roundTrip writes req and reads one answer: its status, and whether the
// connection stays open.
func roundTrip(conn net.Conn, a *answerReader, req []byte) (int, bool, error) {
	if _, err := conn.Write(req); err != nil {
		return 0, false, err
	}
	for {
		if status, keep, ok, err := a.next(); ok || err != nil {
			return status, keep, err
		}
		if err := a.fill(conn.Read); err != nil {
			return 0, false, err
		}
	}
}

// answerReader takes HTTP/1.1 answers from what a connection delivers, as
// it arrives: next reports one once all of it is there.
type answerReader struct {
	buf []byte
}

// fill appends what one read delivers.
func (a *answerReader) fill(read func([]byte) (int, error)) error {
	if len(a.buf) == cap(a.buf) {
		a.buf = slices.Grow(a.buf, max(4096, cap(a.buf)))
	}
	n, err := read(a.buf[len(a.buf):cap(a.buf)])
	a.buf = a.buf[:len(a.buf)+n]
	if n > 0 {
		return nil
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	return err
}

// next takes the first answer, if all of it has arrived (ok): its status,
// and whether the connection stays open.
func (a *answerReader) next() (status int, keep, ok bool, err error) {
	n, status, keep, err := parseAnswer(a.buf)
	if n == 0 || err != nil {
		return status, keep, false, err
	}
	a.buf = a.buf[:copy(a.buf, a.buf[n:])]
	return status, keep, true, nil
}

// parseAnswer parses the HTTP/1.1 answer at the start of b: n is its
// length, 0 if not all of it is in b yet.
func parseAnswer(b []byte) (n, status int, keep bool, err error) {
	end := bytes.Index(b, []byte("\r\n\r\n"))
	if end < 0 {
		if len(b) > 64<<10 {
			return 0, 0, false, errors.New("an answer's head over 64 KiB")
		}
		return 0, 0, false, nil
	}
	line, rest, _ := bytes.Cut(b[:end], []byte("\r\n"))
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return 0, 0, false, fmt.Errorf("bad status line %q", line)
	}
	if status, err = strconv.Atoi(string(line[9:12])); err != nil {
		return 0, 0, false, err
	}
	length, chunked := -1, false
	keep = true
	for len(rest) > 0 {
		var h []byte
		h, rest, _ = bytes.Cut(rest, []byte("\r\n"))
		name, value, _ := bytes.Cut(h, []byte(":"))
		value = bytes.TrimSpace(value)
		switch {
		case asciiEqual(name, "Content-Length"):
			if length, err = strconv.Atoi(string(value)); err != nil || length < 0 {
				return 0, status, false, fmt.Errorf("bad Content-Length %q", value)
			}
		case asciiEqual(name, "Transfer-Encoding"):
			chunked = asciiEqual(value, "chunked")
		case asciiEqual(name, "Connection"):
			keep = !asciiEqual(value, "close")
		}
	}
	n = end + 4
	switch {
	case chunked:
		for {
			line, _, found := bytes.Cut(b[n:], []byte("\r\n"))
			if !found {
				return 0, status, keep, nil
			}
			size, err := strconv.ParseInt(string(bytes.TrimSpace(bytes.SplitN(line, []byte(";"), 2)[0])), 16, 32)
			if err != nil || size < 0 {
				return 0, status, false, fmt.Errorf("bad chunk size %q", line)
			}
			n += len(line) + 2 + int(size) + 2
			if n > len(b) {
				return 0, status, keep, nil
			}
			if size == 0 {
				return n, status, keep, nil
			}
		}
	case length >= 0:
		if n += length; n > len(b) {
			return 0, status, keep, nil
		}
		return n, status, keep, nil
	default:
		return 0, status, false, errors.New("an answer without a length")
	}
}

func asciiEqual(b []byte, s string) bool { return strings.EqualFold(string(b), s) }

// discardReader drains r, for children whose stdin tells them to stop.
func waitEOF(r io.Reader) { io.Copy(io.Discard, r) }

func cmp(a, b error) error {
	if a != nil {
		return a
	}
	return b
}
