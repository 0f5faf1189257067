package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/bizsec/bizsec/internal/auth"
	"github.com/bizsec/bizsec/internal/httpapi"
	"github.com/bizsec/bizsec/internal/secret"
	"github.com/bizsec/bizsec/internal/store"
)

// maxRequests bounds each load phase, whatever its duration.
const maxRequests = 2_000_000

// bench measures, on loopback: GET settings against a bare handler that
// returns the same bytes, PUT settings, and how fast a change on one
// instance reaches another (PostgreSQL only).
func bench(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	database := fs.String("database", env("BIZSEC_DATABASE", ""), "PostgreSQL URL; the bench works in a schema of its own and drops it. Empty: SQLite in a temporary directory (no propagation)")
	duration := fs.Duration("duration", 3*time.Second, "length of each load phase")
	workers := fs.Int("concurrency", 2*runtime.NumCPU(), "concurrent clients")
	rounds := fs.Int("rounds", 200, "changes timed for propagation")
	if err := fs.Parse(args); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "bizsec-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	dsn := ""
	if *database != "" {
		var drop func()
		if dsn, drop, err = store.ScratchSchema(ctx, *database, "bizsec_bench_"); err != nil {
			return err
		}
		defer drop()
	}
	key := make([]byte, 32)
	rand.Read(key)
	box, _ := secret.New(key)
	start := func() (string, func(), error) {
		st, err := store.Open(ctx, dsn, dir)
		if err != nil {
			return "", nil, err
		}
		st.SetSecretBox(box)
		api := httpapi.New(httpapi.Config{Store: st, Hasher: auth.NewHasher(auth.DefaultParams, runtime.NumCPU()), Box: box,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		url, stop, err := serveLoopback(api.Handler())
		return url, func() { stop(); st.Close() }, err
	}
	a, stopA, err := start()
	if err != nil {
		return err
	}
	defer stopA()
	st, err := store.Open(ctx, dsn, dir)
	if err != nil {
		return err
	}
	hash, _ := auth.NewHasher(auth.DefaultParams, 1).Hash(ctx, "bench password")
	if err := st.CreateTenant(ctx, "bench", ""); err != nil {
		return err
	}
	u, err := st.CreateUser(ctx, store.User{TenantID: "bench", Email: "admin@bench.example", Name: "Bench", PasswordHash: hash})
	if err == nil {
		err = st.GrantRole(ctx, u.ID, "tenantbusiness.bench", auth.RoleSiteAdmin)
	}
	st.Close()
	if err != nil {
		return err
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *workers, MaxConnsPerHost: *workers}, Timeout: 10 * time.Second}
	cookies, csrf, err := benchLogin(client, a)
	if err != nil {
		return err
	}
	path := "/api/businesses/tenantbusiness.bench/loginpolicy"
	get := func(base string) (*http.Request, error) {
		req, err := http.NewRequest("GET", base+path, nil)
		if err == nil {
			req.Header.Set("Cookie", cookies)
			req.Header.Set("Accept", "application/json")
		}
		return req, err
	}
	put := func(base, body string) (*http.Request, error) {
		req, err := http.NewRequest("PUT", base+path, strings.NewReader(body))
		if err == nil {
			req.Header.Set("Cookie", cookies)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-Csrf-Token_bench", csrf)
		}
		return req, err
	}

	// The baseline serves the very bytes and headers bizsec answers with.
	sample, err := do(client, get, a)
	if err != nil {
		return err
	}
	bare, stopBare, err := serveLoopback(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.Write(sample)
	}))
	if err != nil {
		return err
	}
	defer stopBare()

	getB := load(client, *workers, *duration, func(int) (*http.Request, error) { return get(a) })
	getBare := load(client, *workers, *duration, func(int) (*http.Request, error) { return get(bare) })
	putB := load(client, *workers, *duration, func(i int) (*http.Request, error) {
		return put(a, fmt.Sprintf(`{"AttemptsPeriod":"%d"}`, 1+i%500))
	})
	for _, r := range []loadResult{getB, getBare, putB} {
		if r.errors > 0 {
			return fmt.Errorf("bench: %d requests failed: %v", r.errors, r.firstErr)
		}
	}
	kind := "SQLite"
	propagation := "n/a: two instances share a database only on PostgreSQL (-database postgres://...)"
	if dsn != "" {
		kind = "PostgreSQL"
		b, stopB, err := start()
		if err != nil {
			return err
		}
		defer stopB()
		lat, err := propagate(client, *rounds, b, func(i int) (*http.Request, error) {
			return put(a, fmt.Sprintf(`{"AttemptsPeriod":"%d"}`, 1000+i))
		}, func() (*http.Request, error) { return get(b) })
		if err != nil {
			return err
		}
		propagation = fmt.Sprintf("p50 %s, p99 %s, max %s over %d changes", ms(pct(lat, 50)), ms(pct(lat, 99)), ms(lat[len(lat)-1]), len(lat))
	}
	fmt.Fprintf(stdout, "bizsec bench: %s, %d clients, %s per phase, GOMAXPROCS %d, loopback\n\n", kind, *workers, *duration, runtime.GOMAXPROCS(0))
	fmt.Fprintln(stdout, "| measure | result |")
	fmt.Fprintln(stdout, "|---|---|")
	fmt.Fprintf(stdout, "| GET loginpolicy (auth, CSRF policy, role, settings) | %.0f req/s, p50 %s, p99 %s |\n", getB.rate(), ms(pct(getB.lat, 50)), ms(pct(getB.lat, 99)))
	fmt.Fprintf(stdout, "| bare net/http handler, same bytes | %.0f req/s, p50 %s, p99 %s |\n", getBare.rate(), ms(pct(getBare.lat, 50)), ms(pct(getBare.lat, 99)))
	fmt.Fprintf(stdout, "| GET throughput ratio (bizsec / bare) | %.2f |\n", getB.rate()/getBare.rate())
	fmt.Fprintf(stdout, "| GET p99 ratio (bizsec / bare) | %.2f |\n", float64(pct(getB.lat, 99))/float64(pct(getBare.lat, 99)))
	fmt.Fprintf(stdout, "| PUT loginpolicy (durable commit) | %.0f req/s, p50 %s, p99 %s |\n", putB.rate(), ms(pct(putB.lat, 50)), ms(pct(putB.lat, 99)))
	fmt.Fprintf(stdout, "| propagation A → B (PUT answered on A until B's GET shows it) | %s |\n", propagation)
	return nil
}

func serveLoopback(h http.Handler) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	return "http://" + ln.Addr().String(), func() { srv.Close() }, nil
}

func benchLogin(c *http.Client, base string) (cookies, csrf string, err error) {
	resp, err := c.Post(base+"/api/login", "application/json", strings.NewReader(`{"email":"admin@bench.example","password":"bench password"}`))
	if err != nil {
		return "", "", err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != 200 {
		return "", "", fmt.Errorf("bench: login: %s", resp.Status)
	}
	var parts []string
	for _, ck := range resp.Cookies() {
		parts = append(parts, ck.Name+"="+ck.Value)
		if ck.Name == "Csrf-Token_bench" {
			csrf = ck.Value
		}
	}
	return strings.Join(parts, "; "), csrf, nil
}

func do(c *http.Client, mk func(string) (*http.Request, error), base string) ([]byte, error) {
	req, err := mk(base)
	if err != nil {
		return nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != 200 {
		err = fmt.Errorf("bench: %s: %s", resp.Status, body)
	}
	return body, err
}

type loadResult struct {
	lat      []time.Duration // sorted
	elapsed  time.Duration
	errors   int
	firstErr error
}

func (r loadResult) rate() float64 { return float64(len(r.lat)) / r.elapsed.Seconds() }

// load runs workers clients against mk's requests for d, or until
// maxRequests are done, and returns the sorted latencies of the good ones.
func load(c *http.Client, workers int, d time.Duration, mk func(i int) (*http.Request, error)) loadResult {
	var mu sync.Mutex
	var res loadResult
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(d)
	per := maxRequests / workers
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var lat []time.Duration
			var errs int
			var first error
			for i := 0; i < per && time.Now().Before(deadline); i++ {
				req, err := mk(w*per + i)
				t0 := time.Now()
				if err == nil {
					var resp *http.Response
					if resp, err = c.Do(req); err == nil {
						io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						if resp.StatusCode != 200 {
							err = errors.New(resp.Status)
						}
					}
				}
				if err != nil {
					errs++
					first = cmp(first, err)
					continue
				}
				lat = append(lat, time.Since(t0))
			}
			mu.Lock()
			res.lat = append(res.lat, lat...)
			res.errors += errs
			res.firstErr = cmp(res.firstErr, first)
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	slices.Sort(res.lat)
	return res
}

func cmp(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// propagate times, for each round, how long after a PUT on A was answered
// a GET on B first shows the new value.
func propagate(c *http.Client, rounds int, b string, change func(int) (*http.Request, error), read func() (*http.Request, error)) ([]time.Duration, error) {
	var lat []time.Duration
	for i := range rounds {
		if _, err := do(c, func(string) (*http.Request, error) { return read() }, b); err != nil { // B caches the old value
			return nil, err
		}
		if _, err := do(c, func(string) (*http.Request, error) { return change(i) }, ""); err != nil {
			return nil, err
		}
		want := []byte(fmt.Sprintf(`"AttemptsPeriod":"%d"`, 1000+i))
		t0 := time.Now()
		for {
			body, err := do(c, func(string) (*http.Request, error) { return read() }, b)
			if err != nil {
				return nil, err
			}
			if bytes.Contains(body, want) {
				break
			}
			if time.Since(t0) > 5*time.Second {
				return nil, fmt.Errorf("bench: change %d not seen on B after 5s", i)
			}
		}
		lat = append(lat, time.Since(t0))
	}
	slices.Sort(lat)
	return lat, nil
}

func pct(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, len(sorted)*p/100)]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }
