package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
)

// TestParseAnswer: an answer is taken once all of it has arrived, whatever
// its framing, and not a byte sooner.
func TestParseAnswer(t *testing.T) {
	type result struct {
		N, Status int
		Keep, Err bool
	}
	for _, c := range []struct {
		name, in string
		want     result
	}{
		{"length", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhiHTTP/1.1", result{N: 40, Status: 200, Keep: true}},
		{"length, body short", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nhi", result{Status: 200, Keep: true}},
		{"head short", "HTTP/1.1 200 OK\r\nContent-Len", result{}},
		{"chunked", "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\nX",
			result{N: 64, Status: 201, Keep: true}},
		{"chunked, last chunk short", "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n",
			result{Status: 201, Keep: true}},
		{"close", "HTTP/1.1 429 Too Many Requests\r\nConnection: close\r\ncontent-length: 0\r\n\r\n", result{N: 72, Status: 429}},
		{"no length", "HTTP/1.1 200 OK\r\n\r\n", result{Status: 200, Err: true}},
		{"not HTTP", "SSH-2.0-OpenSSH\r\n\r\n", result{Err: true}},
		{"bad length", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", result{Status: 200, Err: true}},
	} {
		t.Run(c.name, func(t *testing.T) {
			n, status, keep, err := parseAnswer([]byte(c.in))
			if diff := gocmp.Diff(c.want, result{n, status, keep, err != nil}); diff != "" {
				t.Errorf("parseAnswer(%q) (-want +got):\n%s (%v)", c.in, diff, err)
			}
		})
	}
}

// TestLoadGenerators runs both generators against a server whose answers
// take each framing and sometimes close the connection: every answer is
// counted once, one with the wrong status as an error, each request carries
// its own body, and no connection outlives the phase.
func TestLoadGenerators(t *testing.T) {
	for _, g := range []struct {
		name string
		run  func(loadSpec) loadOut
	}{{"runLoad", runLoad}, {"runLoadNet", runLoadNet}} {
		t.Run(g.name, func(t *testing.T) {
			var mu sync.Mutex
			bodies := map[string]int{}
			n := 0
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				buf := make([]byte, 64)
				k, _ := r.Body.Read(buf)
				mu.Lock()
				n++
				i := n
				bodies[string(buf[:k])]++
				mu.Unlock()
				switch {
				case i%50 == 0:
					w.WriteHeader(http.StatusTeapot)
				case i%7 == 0:
					w.Header().Set("Connection", "close")
					w.Write([]byte("closing"))
				case i%3 == 0:
					w.Write([]byte("chunked "))
					w.(http.Flusher).Flush()
					w.Write([]byte("answer"))
				default:
					w.Header().Set("Content-Length", "2")
					w.Write([]byte("ok"))
				}
			}))
			defer srv.Close()
			out := g.run(loadSpec{URL: srv.URL + "/x", Method: "PUT", Body: `{"n":{n}}`, Conns: 4,
				Duration: 300 * time.Millisecond, Want: 200})
			mu.Lock()
			defer mu.Unlock()
			if out.Requests < 100 {
				t.Fatalf("%d answers in 300 ms (%d errors, first %q)", out.Requests, out.Errors, out.FirstErr)
			}
			if got, want := out.Requests+out.Errors, n; got != want {
				t.Errorf("%d answers and %d errors counted, the server answered %d", out.Requests, out.Errors, want)
			}
			if want := n / 50; out.Errors != want || !strings.Contains(out.FirstErr, "418") {
				t.Errorf("%d errors (first %q), want %d, for status 418", out.Errors, out.FirstErr, want)
			}
			if len(bodies) < 400 && len(bodies) < n {
				t.Errorf("%d distinct bodies in %d requests: the {n} in the body does not change", len(bodies), n)
			}
			if out.P50 <= 0 || out.P99 < out.P50 {
				t.Errorf("latencies p50 %v, p99 %v", out.P50, out.P99)
			}
		})
	}
}
