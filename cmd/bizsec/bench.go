package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bizsec/bizsec/internal/auth"
	"github.com/bizsec/bizsec/internal/httpapi"
	"github.com/bizsec/bizsec/internal/login"
	"github.com/bizsec/bizsec/internal/secret"
	"github.com/bizsec/bizsec/internal/store"
	"github.com/bizsec/bizsec/internal/throttle"
)

// maxRequests bounds each load phase, whatever its duration.
const maxRequests = 2_000_000

// benchLimits lift the login service's throttles: the bench measures
// capacity, and all its clients share one address.
var benchLimits = login.Limits{Client: throttle.Rate{N: 1 << 30, Per: time.Second},
	AccountFailures: throttle.Rate{N: 1 << 30, Per: time.Second}, Mail: throttle.Rate{N: 1 << 30, Per: time.Second}, MaxKeys: 1 << 20}

// bench measures, on loopback and against the physical limit measured in
// the same run: an authenticated GET against a bare handler returning the
// same bytes (at each -cpus), logins against raw argon2id hashing, durable
// PUTs against raw one-row commits, how fast a change on one instance
// reaches another (PostgreSQL), and, with -scale, GET on a big database.
func bench(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	database := fs.String("database", env("BIZSEC_DATABASE", ""), "PostgreSQL URL; the bench works in a schema of its own and drops it. Empty: SQLite in a temporary directory (no propagation)")
	duration := fs.Duration("duration", 3*time.Second, "length of each load phase")
	workers := fs.Int("concurrency", 2*runtime.NumCPU(), "concurrent clients for GET and login")
	cpuList := fs.String("cpus", strconv.Itoa(runtime.NumCPU()), "comma-separated GOMAXPROCS values for the GET phases, e.g. 1,2")
	putClients := fs.String("put-clients", "4,16", "comma-separated client counts for the PUT phases")
	rounds := fs.Int("rounds", 200, "changes timed for propagation")
	scale := fs.Bool("scale", false, "also measure GET with 1,000 tenants, 100,000 users and 200,000 live sessions")
	fraction := fs.Float64("scale-fraction", 1, "shrink the -scale database by this factor (tests use a small one)")
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	cpus, err := intList(*cpuList)
	if err != nil {
		return fmt.Errorf("-cpus: %w", err)
	}
	puts, err := intList(*putClients)
	if err != nil {
		return fmt.Errorf("-put-clients: %w", err)
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
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
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Limits: benchLimits})
		url, stop, err := serveLoopback(api.Handler())
		return url, func() { stop(); st.Close() }, err
	}
	a, stopA, err := start()
	if err != nil {
		return err
	}
	defer stopA()
	if err := seedBench(ctx, dsn, dir); err != nil {
		return err
	}
	maxWorkers := max(*workers, slices.Max(puts))
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: maxWorkers, MaxConnsPerHost: maxWorkers}, Timeout: 30 * time.Second}
	cookies, csrf, err := benchLogin(client, a, benchPassword)
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
		w.Header().Set("Etag", `"0"`)
		w.Write(sample)
	}))
	if err != nil {
		return err
	}
	defer stopBare()

	kind := "SQLite"
	if dsn != "" {
		kind = "PostgreSQL"
	}
	fmt.Fprintf(stdout, "bizsec bench: %s, %d cores, loopback, %s per phase; client and server share the cores\n\n", kind, runtime.NumCPU(), *duration)

	// GET against the bare handler, at each GOMAXPROCS.
	fmt.Fprintf(stdout, "| GET loginpolicy, %d clients | GOMAXPROCS | bizsec | bare handler | throughput ratio | p99 ratio |\n", *workers)
	fmt.Fprintln(stdout, "|---|---|---|---|---|---|")
	rates := map[int]float64{}
	var lastGet loadResult
	for _, n := range cpus {
		runtime.GOMAXPROCS(n)
		g := load(client, *workers, *duration, func(int) (*http.Request, error) { return get(a) })
		b := load(client, *workers, *duration, func(int) (*http.Request, error) { return get(bare) })
		if err := firstFailure(g, b); err != nil {
			return err
		}
		rates[n], lastGet = g.rate(), g
		fmt.Fprintf(stdout, "| | %d | %.0f req/s, p50 %s, p99 %s | %.0f req/s, p50 %s, p99 %s | %.2f | %.2f |\n", n,
			g.rate(), ms(pct(g.lat, 50)), ms(pct(g.lat, 99)), b.rate(), ms(pct(b.lat, 50)), ms(pct(b.lat, 99)),
			g.rate()/b.rate(), float64(pct(g.lat, 99))/float64(pct(b.lat, 99)))
	}
	if len(cpus) > 1 {
		lo, hi := slices.Min(cpus), slices.Max(cpus)
		fmt.Fprintf(stdout, "\nscaling: GET at GOMAXPROCS %d is %.2fx GOMAXPROCS %d\n", hi, rates[hi]/rates[lo], lo)
	}
	runtime.GOMAXPROCS(slices.Max(cpus))

	// Logins against raw argon2id with the same parameters on the same cores.
	raw := hashRate(*duration)
	good := load(client, *workers, *duration, func(int) (*http.Request, error) { return loginRequest(a, benchPassword) })
	bad := loadAny(client, *workers, *duration, func(int) (*http.Request, error) { return loginRequest(a, "not the password") }, 401)
	if err := firstFailure(good, bad); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\n| login (argon2id m=%d KiB, t=%d), %d clients | per second | ratio to raw hashing |\n", auth.DefaultParams.Memory, auth.DefaultParams.Time, *workers)
	fmt.Fprintln(stdout, "|---|---|---|")
	fmt.Fprintf(stdout, "| raw argon2id hashes, %d goroutines | %.1f | 1 |\n", runtime.GOMAXPROCS(0), raw)
	fmt.Fprintf(stdout, "| good password (session created) | %.1f, p99 %s | %.2f |\n", good.rate(), ms(pct(good.lat, 99)), good.rate()/raw)
	fmt.Fprintf(stdout, "| wrong password (failure counted) | %.1f, p99 %s | %.2f |\n", bad.rate(), ms(pct(bad.lat, 99)), bad.rate()/raw)

	// Durable PUTs against raw one-row commits on the same driver and disk.
	fmt.Fprintln(stdout, "\n| durable writes | clients | per second | p50 | p99 | ratio to raw |")
	fmt.Fprintln(stdout, "|---|---|---|---|---|---|")
	for _, n := range puts {
		rawC, err := commitRate(ctx, dsn, filepath.Join(dir, "raw"), n, *duration)
		if err != nil {
			return err
		}
		p := load(client, n, *duration, func(i int) (*http.Request, error) {
			return put(a, fmt.Sprintf(`{"AttemptsPeriod":"%d"}`, 1+i%500))
		})
		if err := firstFailure(p); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "| raw commit of one row | %d | %.0f | %s | %s | 1 |\n", n, rawC.rate(), ms(pct(rawC.lat, 50)), ms(pct(rawC.lat, 99)))
		fmt.Fprintf(stdout, "| PUT loginpolicy | %d | %.0f | %s | %s | %.2f (p99 %.1fx) |\n", n, p.rate(), ms(pct(p.lat, 50)), ms(pct(p.lat, 99)),
			p.rate()/rawC.rate(), float64(pct(p.lat, 99))/float64(pct(rawC.lat, 99)))
	}

	if dsn != "" {
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
		fmt.Fprintf(stdout, "\npropagation A → B (PUT answered on A until B's GET shows it): p50 %s, p99 %s, max %s over %d changes\n",
			ms(pct(lat, 50)), ms(pct(lat, 99)), ms(lat[len(lat)-1]), len(lat))
	}

	if *scale {
		t0 := time.Now()
		tenants := max(1, int(1000**fraction))
		users := max(tenants, int(100_000**fraction))
		if err := seedScale(ctx, dsn, dir, tenants, users, 2*users); err != nil {
			return err
		}
		seeded := time.Since(t0)
		g := load(client, *workers, *duration, func(int) (*http.Request, error) { return get(a) })
		if err := firstFailure(g); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "\nscale: %d tenants, %d users, %d live sessions (seeded in %s)\n\n", tenants, users, 2*users, seeded.Round(time.Second))
		fmt.Fprintln(stdout, "| GET loginpolicy | per second | p50 | p99 |")
		fmt.Fprintln(stdout, "|---|---|---|---|")
		fmt.Fprintf(stdout, "| empty database | %.0f | %s | %s |\n", lastGet.rate(), ms(pct(lastGet.lat, 50)), ms(pct(lastGet.lat, 99)))
		fmt.Fprintf(stdout, "| big database | %.0f | %s (%.2fx) | %s (%.2fx) |\n", g.rate(), ms(pct(g.lat, 50)),
			float64(pct(g.lat, 50))/float64(pct(lastGet.lat, 50)), ms(pct(g.lat, 99)), float64(pct(g.lat, 99))/float64(pct(lastGet.lat, 99)))
		fmt.Fprintf(stdout, "\nresident memory of the bench process (server, client and seeding): %s\n", rss())
	}
	return nil
}

const benchPassword = "bench password"

// seedBench creates the bench tenant and its Site Admin.
func seedBench(ctx context.Context, dsn, dir string) error {
	st, err := store.Open(ctx, dsn, dir)
	if err != nil {
		return err
	}
	defer st.Close()
	hash, _ := auth.NewHasher(auth.DefaultParams, 1).Hash(ctx, benchPassword)
	if err := st.CreateTenant(ctx, "bench", ""); err != nil {
		return err
	}
	u, err := st.CreateUser(ctx, store.User{TenantID: "bench", Email: "admin@bench.example", Name: "Bench", PasswordHash: hash})
	if err == nil {
		err = st.GrantRole(ctx, u.ID, "tenantbusiness.bench", auth.RoleSiteAdmin)
	}
	return err
}

func intList(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%q is not a list of positive numbers", s)
		}
		out = append(out, n)
	}
	return out, nil
}

func firstFailure(rs ...loadResult) error {
	for _, r := range rs {
		if r.errors > 0 {
			return fmt.Errorf("bench: %d requests failed: %v", r.errors, r.firstErr)
		}
	}
	return nil
}

func loginRequest(base, password string) (*http.Request, error) {
	req, err := http.NewRequest("POST", base+"/api/login", strings.NewReader(`{"email":"admin@bench.example","password":"`+password+`"}`))
	if err == nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req, err
}

// hashRate is argon2id hashes per second with production parameters, one
// goroutine per GOMAXPROCS: the ceiling for logins.
func hashRate(d time.Duration) float64 {
	h := auth.NewHasher(auth.DefaultParams, runtime.GOMAXPROCS(0))
	var mu sync.Mutex
	n := 0
	var wg sync.WaitGroup
	start := time.Now()
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Since(start) < d {
				h.Hash(context.Background(), benchPassword)
				mu.Lock()
				n++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return float64(n) / time.Since(start).Seconds()
}

// commitRate is the raw rate of durable commits of one row with the store's
// driver and settings, from clients goroutines all writing the same row,
// as PUTs of one object do: on SQLite through one connection (its one
// writer), on PostgreSQL through a pool (the row lock orders them).
func commitRate(ctx context.Context, dsn, dir string, clients int, d time.Duration) (loadResult, error) {
	var db *sql.DB
	var err error
	if dsn == "" {
		os.MkdirAll(dir, 0o700)
		if db, err = sql.Open("sqlite", store.SQLiteDSN(dir)); err == nil {
			db.SetMaxOpenConns(1)
		}
	} else {
		db, err = sql.Open("pgx", dsn)
	}
	if err != nil {
		return loadResult{}, err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS raw_commits (id INTEGER PRIMARY KEY, v INTEGER NOT NULL)`); err != nil {
		return loadResult{}, err
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO raw_commits (id, v) VALUES (1, 0) ON CONFLICT (id) DO NOTHING`); err != nil {
		return loadResult{}, err
	}
	var mu sync.Mutex
	var res loadResult
	var wg sync.WaitGroup
	start := time.Now()
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var lat []time.Duration
			for i := 0; i < maxRequests/clients && time.Since(start) < d; i++ {
				t0 := time.Now()
				if _, err := db.ExecContext(ctx, `UPDATE raw_commits SET v = $1 WHERE id = 1`, i); err != nil {
					mu.Lock()
					res.errors++
					res.firstErr = cmp(res.firstErr, err)
					mu.Unlock()
					continue
				}
				lat = append(lat, time.Since(t0))
			}
			mu.Lock()
			res.lat = append(res.lat, lat...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	slices.Sort(res.lat)
	return res, firstFailure(res)
}

// seedScale fills the database the bench serves with tenants, users and
// live sessions, in bulk.
func seedScale(ctx context.Context, dsn, dir string, tenants, users, sessions int) error {
	driver, source := "sqlite", store.SQLiteDSN(dir)
	if dsn != "" {
		driver, source = "pgx", dsn
	}
	db, err := sql.Open(driver, source)
	if err != nil {
		return err
	}
	defer db.Close()
	now := time.Now().UnixMilli()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	type row []any
	insert := func(table, cols string, n int, mk func(i int) row) error {
		width := strings.Count(cols, ",") + 1
		const per = 500
		for lo := 0; lo < n; lo += per {
			var b strings.Builder
			var args []any
			b.WriteString("INSERT INTO " + table + " (" + cols + ") VALUES ")
			for i := lo; i < min(n, lo+per); i++ {
				if i > lo {
					b.WriteByte(',')
				}
				b.WriteByte('(')
				for c := range width {
					if c > 0 {
						b.WriteByte(',')
					}
					b.WriteString("$" + strconv.Itoa(len(args)+c+1))
				}
				b.WriteByte(')')
				args = append(args, mk(i)...)
			}
			if _, err := tx.ExecContext(ctx, b.String(), args...); err != nil {
				return fmt.Errorf("bench: seed %s: %w", table, err)
			}
		}
		return nil
	}
	tenant := func(i int) string { return "scale" + strconv.Itoa(i) }
	user := func(i int) string { return fmt.Sprintf("00000000-0000-0000-0000-%012d.%s", i, tenant(i%tenants)) }
	err = errors.Join(
		insert("tenants", "id, hostname, created_at", tenants, func(i int) row { return row{tenant(i), tenant(i) + ".example", now} }),
		insert("businesses", "id, tenant_id, created_at", tenants, func(i int) row { return row{store.RootBusinessID(tenant(i)), tenant(i), now} }),
		insert("users", "id, tenant_id, email, name, password_hash, created_at", users, func(i int) row {
			return row{user(i), tenant(i % tenants), fmt.Sprintf("u%d@%s.example", i, tenant(i%tenants)), "User", "x", now}
		}),
		insert("sessions", "token_hash, csrf_hash, user_id, tenant_id, state, issued_at, last_seen_at", sessions, func(i int) row {
			token := auth.HashSecret(auth.NewSecret())
			return row{token, token, user(i % users), tenant(i % tenants), auth.StateActive, now, now}
		}),
	)
	if err != nil {
		return err
	}
	return tx.Commit()
}

// rss is the process's resident memory, from /proc (Linux).
func rss() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "unknown"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
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

func benchLogin(c *http.Client, base, password string) (cookies, csrf string, err error) {
	req, err := loginRequest(base, password)
	if err != nil {
		return "", "", err
	}
	resp, err := c.Do(req)
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
// maxRequests are done, and returns the sorted latencies of the 200s.
func load(c *http.Client, workers int, d time.Duration, mk func(i int) (*http.Request, error)) loadResult {
	return loadAny(c, workers, d, mk, http.StatusOK)
}

// loadAny is load with another expected status.
func loadAny(c *http.Client, workers int, d time.Duration, mk func(i int) (*http.Request, error), want int) loadResult {
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
						if resp.StatusCode != want {
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
