package main

import (
	"bufio"
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

// runLoad is a closed-loop HTTP/1.1 load generator on raw connections:
// each request is written with one write and its answer read through a
// buffer, so the client costs a fraction of what the server does.
func runLoad(spec loadSpec) loadOut {
	u, err := url.Parse(spec.URL)
	if err != nil {
		return loadOut{Errors: 1, FirstErr: err.Error(), Seconds: 1}
	}
	head := spec.Method + " " + u.RequestURI() + " HTTP/1.1\r\nHost: " + u.Host + "\r\n"
	for _, h := range spec.Headers {
		head += h[0] + ": " + h[1] + "\r\n"
	}
	var mu sync.Mutex
	var out loadOut
	var lat []time.Duration
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(spec.Duration)
	per := maxRequests / max(1, spec.Conns)
	for c := range spec.Conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			my := make([]time.Duration, 0, 1024)
			var errs int
			var first error
			var conn net.Conn
			var br *bufio.Reader
			var req []byte
			for i := 0; i < per && time.Now().Before(deadline); i++ {
				if conn == nil {
					if conn, err = net.Dial("tcp", u.Host); err != nil {
						errs++
						first = cmp(first, err)
						time.Sleep(time.Millisecond)
						continue
					}
					br = bufio.NewReaderSize(conn, 64<<10)
				}
				body := spec.Body
				if strings.Contains(body, "{n}") {
					// Each connection's values differ from the others' at the same
					// step, as wrk's one counter's do: in step, they would mostly
					// rewrite what another had just written (a write that changes
					// nothing).
					body = strings.ReplaceAll(body, "{n}", strconv.Itoa(1+(i*spec.Conns+c)%500))
				}
				req = append(req[:0], head...)
				if body != "" || spec.Method == "POST" || spec.Method == "PUT" {
					req = append(req, "Content-Length: "...)
					req = strconv.AppendInt(req, int64(len(body)), 10)
					req = append(req, "\r\n"...)
				}
				req = append(req, "\r\n"...)
				req = append(req, body...)
				t0 := time.Now()
				status, keep, err := roundTrip(conn, br, req)
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
			mu.Lock()
			lat = append(lat, my...)
			out.Errors += errs
			if first != nil && out.FirstErr == "" {
				out.FirstErr = first.Error()
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	out.Seconds = time.Since(start).Seconds()
	slices.Sort(lat)
	out.Requests, out.P50, out.P99 = len(lat), pct(lat, 50), pct(lat, 99)
	return out
}

// roundTrip writes req and reads one answer: its status, and whether the
// connection stays open.
func roundTrip(conn net.Conn, br *bufio.Reader, req []byte) (int, bool, error) {
	if _, err := conn.Write(req); err != nil {
		return 0, false, err
	}
	line, err := br.ReadSlice('\n')
	if err != nil {
		return 0, false, err
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return 0, false, fmt.Errorf("bad status line %q", line)
	}
	status, err := strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, false, err
	}
	length, chunked, keep := -1, false, true
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return status, false, err
		}
		if len(line) <= 2 {
			break
		}
		name, value, _ := bytes.Cut(bytes.TrimRight(line, "\r\n"), []byte(":"))
		value = bytes.TrimSpace(value)
		switch {
		case asciiEqual(name, "Content-Length"):
			if length, err = strconv.Atoi(string(value)); err != nil {
				return status, false, err
			}
		case asciiEqual(name, "Transfer-Encoding"):
			chunked = asciiEqual(value, "chunked")
		case asciiEqual(name, "Connection"):
			keep = !asciiEqual(value, "close")
		}
	}
	switch {
	case chunked:
		for {
			line, err := br.ReadSlice('\n')
			if err != nil {
				return status, false, err
			}
			size, err := strconv.ParseInt(string(bytes.TrimSpace(bytes.SplitN(line, []byte(";"), 2)[0])), 16, 64)
			if err != nil {
				return status, false, err
			}
			if _, err := br.Discard(int(size) + 2); err != nil {
				return status, false, err
			}
			if size == 0 {
				break
			}
		}
	case length >= 0:
		if _, err := br.Discard(length); err != nil {
			return status, false, err
		}
	default:
		return status, false, errors.New("an answer without a length")
	}
	return status, keep, nil
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
