package main

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bizsec/bizsec/internal/app"
	"github.com/bizsec/bizsec/internal/auth"
	"github.com/bizsec/bizsec/internal/heapfloor"
	"github.com/bizsec/bizsec/internal/httpapi"
	"github.com/bizsec/bizsec/internal/login"
	"github.com/bizsec/bizsec/internal/logwriter"
	"github.com/bizsec/bizsec/internal/store"
	"github.com/bizsec/bizsec/internal/throttle"
)

// maxRequests bounds each load phase, whatever its duration.
const maxRequests = 2_000_000

// benchLimits lift the login service's throttles: the bench measures
// capacity, and all its clients share one address.
var benchLimits = login.Limits{Client: throttle.Rate{N: 1 << 30, Per: time.Second},
	AccountFailures: throttle.Rate{N: 1 << 30, Per: time.Second}, Mail: throttle.Rate{N: 1 << 30, Per: time.Second}, MaxKeys: 1 << 20}

// bench measures bizsec from outside: the server runs in a process of its
// own pinned to -server-cpus, and the load comes from another process pinned
// to -client-cpus (this binary's load generator, or wrk). Each path is
// measured against its physical limit in the same run, on the same server
// cores, in interleaved rounds: an authenticated GET against a bare net/http
// handler answering the same bytes; durable PUTs against raw one-row commits
// with the same driver, settings and disk; logins against raw argon2id. The
// ratios are medians of the rounds' ratios.
func bench(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	database := fs.String("database", env("BIZSEC_DATABASE", ""), "PostgreSQL URL; the bench works in a schema of its own and drops it. Empty: SQLite in a temporary directory")
	duration := fs.Duration("duration", 3*time.Second, "length of each load phase")
	rounds := fs.Int("rounds", 3, "interleaved rounds of each measurement; the table shows their medians")
	conns := fs.Int("connections", 32, "client connections for GET")
	putClients := fs.String("put-clients", "4,16", "comma-separated client counts for the PUT phases")
	loginClients := fs.Int("login-clients", 4, "client connections for logins")
	serverCPUs := fs.String("server-cpus", defaultServerCPUs(), "the server's cores (taskset list, e.g. 0 or 0-3); several sets separated by spaces measure GET scaling: \"0 0-1 0-3\"")
	clientCPUs := fs.String("client-cpus", defaultClientCPUs(), "the load generator's cores, disjoint from -server-cpus")
	gomaxprocs := fs.String("gomaxprocs", "", "comma-separated GOMAXPROCS values to measure GET at on the first server core set too (default: its size only)")
	client := fs.String("client", "auto", "load generator: bizsec (this binary's), wrk, or auto (wrk when installed)")
	self := fs.String("self", "", "the bizsec binary to run as server and client (default: this one)")
	paths := fs.String("paths", "get,put,login", "comma-separated paths to measure: get, put, login")
	child := fs.String("child", "", "internal: run as the bench's server, bare, load, commits or hash process")
	spec := fs.String("spec", "", "internal: the child's task, as JSON")
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	if *child != "" {
		return benchChild(ctx, *child, *spec, stdout)
	}
	puts, err := intList(*putClients)
	if err != nil {
		return fmt.Errorf("-put-clients: %w", err)
	}
	measure := map[string]bool{}
	for _, p := range strings.Split(*paths, ",") {
		switch p = strings.TrimSpace(p); p {
		case "get", "put", "login":
			measure[p] = true
		default:
			return fmt.Errorf("-paths: no path %q (get, put, login)", p)
		}
	}
	if !measure["put"] {
		puts = nil
	}
	var procsList []int
	if *gomaxprocs != "" {
		if procsList, err = intList(*gomaxprocs); err != nil {
			return fmt.Errorf("-gomaxprocs: %w", err)
		}
	}
	sets := strings.Fields(*serverCPUs)
	if len(sets) == 0 {
		return errors.New("-server-cpus: no cores")
	}
	b := &benchRun{ctx: ctx, duration: *duration, clientCPUs: *clientCPUs, self: *self, wrk: *client == "wrk"}
	if b.self == "" {
		if b.self, err = os.Executable(); err != nil {
			return err
		}
	}
	if *client == "auto" {
		_, err := exec.LookPath("wrk")
		b.wrk = err == nil
	} else if *client != "wrk" && *client != "bizsec" {
		return fmt.Errorf("-client must be bizsec, wrk or auto, got %q", *client)
	}
	if _, err := exec.LookPath("taskset"); err == nil {
		b.taskset = true
	}
	if b.dir, err = os.MkdirTemp("", "bizsec-bench-"); err != nil {
		return err
	}
	defer os.RemoveAll(b.dir)
	if *database != "" {
		var drop func()
		if b.dsn, drop, err = store.ScratchSchema(ctx, *database, "bizsec_bench_"); err != nil {
			return err
		}
		defer drop()
	}
	if err := seedBench(ctx, b.dsn, filepath.Join(b.dir, "data")); err != nil {
		return err
	}
	kind := "SQLite (WAL, synchronous=FULL)"
	if b.dsn != "" {
		kind = "PostgreSQL (pgx)"
	}
	gen := "bizsec's load generator (bench -child load)"
	if b.wrk {
		gen = "wrk -t1"
	}
	pin := "pinned with taskset"
	if !b.taskset {
		pin = "NOT pinned (no taskset)"
	}
	fmt.Fprintf(stdout, "bizsec bench: %s, %d cores; server cores %s, client cores %s, %s; client %s; "+
		"%d interleaved rounds of %s, medians\n\n", kind, runtime.NumCPU(), sets[0], b.clientCPUs, pin, gen, *rounds, b.duration)

	srv, err := b.start(sets[0], 0)
	if err != nil {
		return err
	}
	defer srv.stop()
	fmt.Fprintln(stdout, "| path | clients | bizsec | limit | limit measured as | ratio (rounds' lowest, highest) | server CPU per request: bizsec, limit, ratio |")
	fmt.Fprintln(stdout, "|---|---|---|---|---|---|---|")
	var get, bare benchSeries
	if measure["get"] {
		if get, bare, err = b.getRounds(srv, *conns, *rounds); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "| GET loginpolicy (cookie session, access log on) | %d | %s | %s | bare net/http handler, same bytes and headers | %s | %s |\n",
			*conns, get.show(), bare.show(), ratioCell(get, bare), cpuColumn(get, bare))
	}
	for _, n := range puts {
		put, raw, err := pairs(*rounds, func() (loadOut, error) {
			return b.loadOn(srv.urlPID, srv.spec("PUT", srv.url, n, `{"AttemptsPeriod":"{n}"}`, 200, true))
		}, func() (loadOut, error) {
			return b.child(sets[0], "commits", commitSpec{DSN: b.dsn, Dir: filepath.Join(b.dir, "raw"), Clients: n, Duration: b.duration})
		})
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "| PUT loginpolicy (durable, audited) | %d | %s | %s | raw one-row durable commits, %d goroutines, same driver and settings | %s | %s |\n",
			n, put.show(), raw.show(), n, ratioCell(put, raw), cpuOnly(put))
	}
	if measure["login"] {
		logins, hashes, err := pairs(*rounds, func() (loadOut, error) {
			return b.loadOn(srv.urlPID, srv.loginSpec(*loginClients))
		}, func() (loadOut, error) {
			return b.child(sets[0], "hash", hashSpec{Duration: b.duration})
		})
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "| POST /api/login (right password, session created) | %d | %s | %s | raw argon2id (m=%d KiB, t=%d), one goroutine per server core | %s | %s |\n",
			*loginClients, logins.show(), hashes.show(), auth.DefaultParams.Memory, auth.DefaultParams.Time, ratioCell(logins, hashes), cpuColumn(logins, hashes))
	}
	srv.stop()

	// Scaling: GET on each server core set, and at other GOMAXPROCS on the first.
	type config struct {
		cpus  string
		procs int
	}
	var configs []config
	for _, p := range procsList {
		configs = append(configs, config{sets[0], p})
	}
	for _, set := range sets[1:] {
		configs = append(configs, config{set, 0})
	}
	if len(configs) > 0 && measure["get"] {
		fmt.Fprintln(stdout, "\n| GET scaling: server cores | GOMAXPROCS | bizsec | bare handler | ratio | bizsec vs first row |")
		fmt.Fprintln(stdout, "|---|---|---|---|---|---|")
		fmt.Fprintf(stdout, "| %s | %d | %s | %s | %.2f | 1 |\n", sets[0], cpuCount(sets[0]), get.show(), bare.show(), medianRatio(get, bare))
		for _, c := range configs {
			srv, err := b.start(c.cpus, c.procs)
			if err != nil {
				return err
			}
			g, bb, err := b.getRounds(srv, *conns, *rounds)
			srv.stop()
			if err != nil {
				return err
			}
			procs := c.procs
			if procs == 0 {
				procs = cpuCount(c.cpus)
			}
			fmt.Fprintf(stdout, "| %s | %d | %s | %s | %.2f | %.2f |\n", c.cpus, procs, g.show(), bb.show(), medianRatio(g, bb), g.median()/get.median())
		}
	}
	fmt.Fprintf(stdout, "\nbizsec's figures are requests per second and p99 as the client saw them; PUT bodies change AttemptsPeriod on every request.\n")
	return nil
}

// benchRun is one bench invocation's setup.
type benchRun struct {
	ctx        context.Context
	duration   time.Duration
	dsn, dir   string
	clientCPUs string
	self       string
	wrk        bool
	taskset    bool
}

// benchSeries is one measurement's rounds.
type benchSeries []loadOut

func (s benchSeries) rates() []float64 {
	var r []float64
	for _, o := range s {
		r = append(r, o.rate())
	}
	return r
}

func (s benchSeries) median() float64 { return median(s.rates()) }

func (s benchSeries) show() string {
	var p99 []float64
	for _, o := range s {
		p99 = append(p99, float64(o.P99))
	}
	rate := s.median()
	if rate < 1000 {
		return fmt.Sprintf("%.1f/s, p99 %s", rate, ms(time.Duration(median(p99))))
	}
	return fmt.Sprintf("%.0f/s, p99 %s", rate, ms(time.Duration(median(p99))))
}

// cpuColumn shows the median server CPU time per request of a and b and
// the median of the rounds' ratios b/a (the limit's cost over bizsec's, so
// that it reads like the rate ratio).
func cpuColumn(a, b benchSeries) string {
	var ca, cb, r []float64
	for i := range min(len(a), len(b)) {
		x, y := a[i].cpuPerRequest(), b[i].cpuPerRequest()
		if x == 0 || y == 0 {
			return ""
		}
		ca, cb, r = append(ca, float64(x)), append(cb, float64(y)), append(r, float64(y)/float64(x))
	}
	return fmt.Sprintf("%.1f µs, %.1f µs, %.2f", median(ca)/1e3, median(cb)/1e3, median(r))
}

// cpuOnly shows the median server CPU time per request of a.
func cpuOnly(a benchSeries) string {
	var c []float64
	for _, o := range a {
		if o.cpuPerRequest() == 0 {
			return ""
		}
		c = append(c, float64(o.cpuPerRequest()))
	}
	return fmt.Sprintf("%.1f µs", median(c)/1e3)
}

func medianRatio(a, b benchSeries) float64 { return median(ratios(a, b)) }

// ratios are the rounds' ratios of a to b, each round's pair run back to back.
func ratios(a, b benchSeries) []float64 {
	var r []float64
	for i := range min(len(a), len(b)) {
		r = append(r, a[i].rate()/b[i].rate())
	}
	return r
}

// ratioCell shows the median ratio of a to b and, over several rounds,
// the lowest and highest round's: how far one round can be trusted.
func ratioCell(a, b benchSeries) string {
	r := ratios(a, b)
	if len(r) < 3 {
		return fmt.Sprintf("%.2f", median(r))
	}
	return fmt.Sprintf("%.2f (%.2f, %.2f)", median(r), slices.Min(r), slices.Max(r))
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	v = slices.Clone(v)
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

// cpuCount is the number of cores in a taskset list such as 0-3,8.
func cpuCount(list string) int {
	n := 0
	for _, part := range strings.Split(list, ",") {
		lo, hi, ok := strings.Cut(part, "-")
		a, _ := strconv.Atoi(lo)
		b := a
		if ok {
			b, _ = strconv.Atoi(hi)
		}
		n += b - a + 1
	}
	return max(1, n)
}

func defaultServerCPUs() string {
	if runtime.NumCPU() < 2 {
		return "0"
	}
	return fmt.Sprintf("0-%d", runtime.NumCPU()/2-1)
}

func defaultClientCPUs() string {
	n := runtime.NumCPU()
	if n < 2 {
		return "0"
	}
	return fmt.Sprintf("%d-%d", n/2, n-1)
}

// getRounds measures GET on bizsec and on the bare handler, interleaved.
func (b *benchRun) getRounds(srv *benchServers, conns, rounds int) (get, bare benchSeries, err error) {
	return pairs(rounds, func() (loadOut, error) {
		return b.loadOn(srv.urlPID, srv.spec("GET", srv.url, conns, "", 200, false))
	}, func() (loadOut, error) {
		return b.loadOn(srv.barePID, srv.spec("GET", srv.bare, conns, "", 200, false))
	})
}

// pairs measures a and its limit in rounds, each round both, alternating
// which goes first (a, limit, limit, a, ...): a drift in the machine's
// speed during a run, which on a shared VM is the rule, then weighs on
// both sides of the rounds' ratios alike.
func pairs(rounds int, a, limit func() (loadOut, error)) (as, limits benchSeries, err error) {
	for i := range rounds {
		first, second := a, limit
		if i%2 == 1 {
			first, second = limit, a
		}
		x, err := first()
		if err != nil {
			return nil, nil, err
		}
		y, err := second()
		if err != nil {
			return nil, nil, err
		}
		if i%2 == 1 {
			x, y = y, x
		}
		as, limits = append(as, x), append(limits, y)
	}
	return as, limits, nil
}

// command runs the bench binary as a child on cpus.
func (b *benchRun) command(cpus, child string, spec any) *exec.Cmd {
	js, _ := json.Marshal(spec)
	args := []string{"bench", "-child", child, "-spec", string(js)}
	if b.taskset {
		return exec.CommandContext(b.ctx, "taskset", append([]string{"-c", cpus, b.self}, args...)...)
	}
	return exec.CommandContext(b.ctx, b.self, args...)
}

// child runs a measuring child on cpus and returns what it printed.
func (b *benchRun) child(cpus, child string, spec any) (loadOut, error) {
	cmd := b.command(cpus, child, spec)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return loadOut{}, fmt.Errorf("bench: %s: %v: %s", child, err, stderr.Bytes())
	}
	var o loadOut
	if err := json.Unmarshal(out, &o); err != nil {
		return o, fmt.Errorf("bench: %s printed %q: %w", child, out, err)
	}
	if o.Errors > 0 {
		return o, fmt.Errorf("bench: %s: %d failed: %s", child, o.Errors, o.FirstErr)
	}
	return o, nil
}

// load runs one load phase with the load generator on the client cores.
func (b *benchRun) load(spec loadSpec) (loadOut, error) {
	spec.Duration = b.duration
	if b.wrk {
		return b.runWrk(spec)
	}
	return b.child(b.clientCPUs, "load", spec)
}

// loadOn is load with the CPU time that process pid spent meanwhile, in
// o.ServerCPU: what a request costs the server, which varies far less
// than a rate on a machine shared with others.
func (b *benchRun) loadOn(pid int, spec loadSpec) (loadOut, error) {
	before, err := processCPU(pid)
	if err != nil {
		return loadOut{}, err
	}
	o, err := b.load(spec)
	if err != nil {
		return o, err
	}
	after, err := processCPU(pid)
	o.ServerCPU = after - before
	return o, err
}

// processCPU is the user and system time process pid has used, from
// /proc/PID/stat (fields 14 and 15, in clock ticks of 10 ms).
func processCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces; fields resume after its ')'.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("bench: /proc/%d/stat: %d fields", pid, len(f))
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond, nil
}

// benchServers are the bizsec server and the bare handler, running.
type benchServers struct {
	url, bare       string
	urlPID, barePID int         // their processes, for CPU time per request
	headers         [][2]string // the session's cookies, the CSRF header
	stops           []func()
}

func (s *benchServers) stop() {
	for _, f := range s.stops {
		f()
	}
	s.stops = nil
}

func (s *benchServers) spec(method, base string, conns int, body string, want int, write bool) loadSpec {
	h := append([][2]string{{"Accept", "application/json"}}, s.headers[0])
	if write {
		h = append(h, [2]string{"Content-Type", "application/json"}, s.headers[1])
	}
	return loadSpec{URL: base + "/api/businesses/tenantbusiness.bench/loginpolicy", Method: method, Headers: h, Body: body,
		Conns: conns, Want: want}
}

func (s *benchServers) loginSpec(conns int) loadSpec {
	return loadSpec{URL: s.url + "/api/login", Method: "POST", Conns: conns, Want: 200,
		Headers: [][2]string{{"Content-Type", "application/json"}},
		Body:    `{"email":"admin@bench.example","password":"` + benchPassword + `"}`}
}

// start runs the bizsec server (at GOMAXPROCS procs, 0: one per core) and
// then a bare handler answering what it answers, both on cpus, and logs in.
func (b *benchRun) start(cpus string, procs int) (*benchServers, error) {
	srv := &benchServers{}
	run := func(child string, spec any, pid *int) (string, error) {
		cmd := b.command(cpus, child, spec)
		if procs > 0 {
			cmd.Env = append(os.Environ(), "GOMAXPROCS="+strconv.Itoa(procs))
		}
		stdin, err := cmd.StdinPipe()
		if err != nil {
			return "", err
		}
		logf, err := os.Create(filepath.Join(b.dir, child+".log"))
		if err != nil {
			return "", err
		}
		cmd.Stderr = logf // the access log, as under a supervisor
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			return "", err
		}
		if err := cmd.Start(); err != nil {
			return "", err
		}
		*pid = cmd.Process.Pid
		srv.stops = append(srv.stops, func() { stdin.Close(); cmd.Wait(); logf.Close() })
		line, err := bufio.NewReader(stdout).ReadString('\n')
		if err != nil {
			return "", fmt.Errorf("bench: %s did not start: %v (see %s)", child, err, logf.Name())
		}
		return strings.TrimSpace(line), nil
	}
	var err error
	if srv.url, err = run("server", serverSpec{DSN: b.dsn, Dir: filepath.Join(b.dir, "data")}, &srv.urlPID); err != nil {
		srv.stop()
		return nil, err
	}
	client := &http.Client{Timeout: 30 * time.Second}
	cookies, csrf, err := benchLogin(client, srv.url, benchPassword)
	if err != nil {
		srv.stop()
		return nil, err
	}
	srv.headers = [][2]string{{"Cookie", cookies}, {"X-Csrf-Token_bench", csrf}}
	req, _ := http.NewRequest("GET", srv.url+"/api/businesses/tenantbusiness.bench/loginpolicy", nil)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Cookie", cookies)
	resp, err := client.Do(req)
	if err != nil {
		srv.stop()
		return nil, err
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		srv.stop()
		return nil, fmt.Errorf("bench: GET: %s", resp.Status)
	}
	bare := bareSpec{Body: body, Headers: map[string]string{}}
	for _, h := range []string{"Content-Type", "Cache-Control", "Etag", "X-Request-Id"} {
		bare.Headers[h] = resp.Header.Get(h)
	}
	if srv.bare, err = run("bare", bare, &srv.barePID); err != nil {
		srv.stop()
		return nil, err
	}
	return srv, nil
}

type serverSpec struct{ DSN, Dir string }

type bareSpec struct {
	Body    []byte
	Headers map[string]string
}

type commitSpec struct {
	DSN, Dir string
	Clients  int
	Duration time.Duration
}

type hashSpec struct{ Duration time.Duration }

// benchChild is one of the bench's processes.
func benchChild(ctx context.Context, child, spec string, stdout io.Writer) error {
	switch child {
	case "server":
		// As serve's. The limits run at Go's defaults: the floor does not
		// change the bare handler's rate, and it lowered a tight loop of
		// argon2 hashes by about a sixth when each hash allocated a fresh
		// 19 MiB (before internal/argon2id pooled them), which would have
		// flattered the login ratio.
		defer heapfloor.Start(heapfloor.Floor)()
		var s serverSpec
		if err := json.Unmarshal([]byte(spec), &s); err != nil {
			return err
		}
		st, err := store.Open(ctx, s.DSN, s.Dir)
		if err != nil {
			return err
		}
		defer st.Close()
		logs := logwriter.New(os.Stderr) // as serve's
		defer logs.Close()
		api, svc := app.NewAPI(login.Config{Hasher: auth.NewHasher(auth.DefaultParams, runtime.GOMAXPROCS(0)), Limits: benchLimits},
			httpapi.Config{Store: st, Logger: slog.New(slog.NewJSONHandler(logs, nil)), AccessLog: os.Stderr})
		svc.Start()
		defer svc.Close()
		defer api.Wait()
		return serveUntilEOF(api.Handler(), "", stdout)
	case "bare":
		var s bareSpec
		if err := json.Unmarshal([]byte(spec), &s); err != nil {
			return err
		}
		return serveUntilEOF(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			for k, v := range s.Headers {
				w.Header().Set(k, v)
			}
			w.Write(s.Body)
		}), ".bare", stdout)
	case "load":
		var s loadSpec
		if err := json.Unmarshal([]byte(spec), &s); err != nil {
			return err
		}
		return json.NewEncoder(stdout).Encode(runLoad(s))
	case "commits":
		var s commitSpec
		if err := json.Unmarshal([]byte(spec), &s); err != nil {
			return err
		}
		o, err := commitRate(ctx, s.DSN, s.Dir, s.Clients, s.Duration)
		if err != nil {
			return err
		}
		return json.NewEncoder(stdout).Encode(o)
	case "hash":
		var s hashSpec
		if err := json.Unmarshal([]byte(spec), &s); err != nil {
			return err
		}
		stop, err := cpuProfile(".hash") // the raw hash loop, beside the server's logins
		if err != nil {
			return err
		}
		defer stop()
		return json.NewEncoder(stdout).Encode(hashRate(s.Duration))
	}
	return fmt.Errorf("bench: no child %q", child)
}

// serveUntilEOF serves h on a loopback port, prints its URL, and stops
// when stdin closes (the bench ended, or died). BIZSEC_BENCH_CPUPROFILE
// names a file for its CPU profile, BIZSEC_BENCH_MUTEXPROFILE and
// BIZSEC_BENCH_BLOCKPROFILE files for where its goroutines waited on locks
// and on channels, BIZSEC_BENCH_ALLOCPROFILE one for what it allocated,
// each suffixed by profileSuffix.
func serveUntilEOF(h http.Handler, profileSuffix string, stdout io.Writer) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	stopProfile, err := cpuProfile(profileSuffix) // the server (and the bare handler) under the bench's load
	if err != nil {
		return err
	}
	defer stopProfile()
	for _, p := range []struct {
		env, name string
		rate      func(int) int
	}{
		{"BIZSEC_BENCH_MUTEXPROFILE", "mutex", runtime.SetMutexProfileFraction},
		{"BIZSEC_BENCH_BLOCKPROFILE", "block", func(r int) int { runtime.SetBlockProfileRate(r); return 0 }},
		{"BIZSEC_BENCH_ALLOCPROFILE", "allocs", func(int) int { return 0 }}, // sampled at the default rate: what the GC is fed
	} {
		if path := os.Getenv(p.env); path != "" {
			p.rate(1) // every contention event: a bench, not a production server
			defer writeProfile(p.name, path+profileSuffix)
		}
	}
	// Both sides in serve's server: its timeouts (a deadline set on every
	// request) are net/http's cost, not the handler's.
	srv := newHTTPServer(h, slog.New(slog.NewJSONHandler(os.Stderr, nil)))
	go srv.Serve(ln)
	fmt.Fprintf(stdout, "http://%s\n", ln.Addr())
	waitEOF(os.Stdin)
	return srv.Close()
}

// cpuProfile starts a CPU profile into $BIZSEC_BENCH_CPUPROFILE+suffix,
// if that is set; stop ends it.
func cpuProfile(suffix string) (stop func(), err error) {
	path := os.Getenv("BIZSEC_BENCH_CPUPROFILE")
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path + suffix)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// writeProfile writes the named runtime profile to path, as the bench's
// server stops; a failure is reported, not fatal.
func writeProfile(name, path string) {
	f, err := os.Create(path)
	if err == nil {
		err = pprof.Lookup(name).WriteTo(f, 0)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: %s profile: %v\n", name, err)
	}
}

// hashRate is argon2id hashes per second with production parameters, one
// goroutine per GOMAXPROCS: the ceiling for logins.
func hashRate(d time.Duration) loadOut {
	h := auth.NewHasher(auth.DefaultParams, runtime.GOMAXPROCS(0))
	cpu0, err := processCPU(os.Getpid())
	if err != nil {
		return loadOut{Errors: 1, FirstErr: err.Error()}
	}
	var mu sync.Mutex
	var lat []time.Duration
	var wg sync.WaitGroup
	start := time.Now()
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < maxRequests && time.Since(start) < d; i++ {
				t0 := time.Now()
				h.Hash(context.Background(), benchPassword)
				mu.Lock()
				lat = append(lat, time.Since(t0))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	o := loadOut{Requests: len(lat), Seconds: time.Since(start).Seconds()}
	cpu1, err := processCPU(os.Getpid())
	if err != nil {
		return loadOut{Errors: 1, FirstErr: err.Error()}
	}
	o.ServerCPU = cpu1 - cpu0 // as a login's is measured: all the process spent meanwhile
	slices.Sort(lat)
	o.P50, o.P99 = pct(lat, 50), pct(lat, 99)
	return o
}

// runWrk runs one load phase with wrk on the client cores.
func (b *benchRun) runWrk(spec loadSpec) (loadOut, error) {
	var lua strings.Builder
	fmt.Fprintf(&lua, "wrk.method = %q\n", spec.Method)
	for _, h := range spec.Headers {
		fmt.Fprintf(&lua, "wrk.headers[%q] = %q\n", h[0], h[1])
	}
	if strings.Contains(spec.Body, "{n}") {
		fmt.Fprintf(&lua, "local body = %q\nlocal n = 0\n", spec.Body)
		lua.WriteString("request = function()\n  n = n + 1\n  local b = string.gsub(body, \"{n}\", tostring(1 + n % 500))\n  return wrk.format(nil, nil, nil, b)\nend\n")
	} else if spec.Body != "" {
		fmt.Fprintf(&lua, "wrk.body = %q\n", spec.Body)
	} // else wrk sends the one request it built, as run with no script but the headers

	script := filepath.Join(b.dir, "wrk.lua")
	if err := os.WriteFile(script, []byte(lua.String()), 0o600); err != nil {
		return loadOut{}, err
	}
	secs := max(1, int(b.duration.Round(time.Second)/time.Second))
	args := []string{"-t1", "-c" + strconv.Itoa(spec.Conns), "-d" + strconv.Itoa(secs) + "s", "--latency", "-s", script, spec.URL}
	cmd := exec.CommandContext(b.ctx, "wrk", args...)
	if b.taskset {
		cmd = exec.CommandContext(b.ctx, "taskset", append([]string{"-c", b.clientCPUs, "wrk"}, args...)...)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return loadOut{}, fmt.Errorf("bench: wrk: %v: %s", err, out)
	}
	return parseWrk(string(out), float64(secs))
}

// parseWrk reads wrk's report: requests per second, p50 and p99, and
// non-2xx answers as errors.
func parseWrk(out string, secs float64) (loadOut, error) {
	o := loadOut{Seconds: secs}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) == 2 && f[0] == "Requests/sec:":
			rate, _ := strconv.ParseFloat(f[1], 64)
			o.Requests = int(rate * secs)
		case len(f) == 2 && (f[0] == "50%" || f[0] == "99%"):
			d, _ := time.ParseDuration(strings.Replace(f[1], "us", "µs", 1))
			if f[0] == "50%" {
				o.P50 = d
			} else {
				o.P99 = d
			}
		case strings.HasPrefix(strings.TrimSpace(line), "Non-2xx or 3xx responses:"):
			o.Errors, _ = strconv.Atoi(f[len(f)-1])
			o.FirstErr = "non-2xx answers"
		case strings.HasPrefix(strings.TrimSpace(line), "Socket errors:"):
			o.FirstErr = strings.TrimSpace(line)
		}
	}
	if o.Requests == 0 {
		return o, fmt.Errorf("bench: wrk measured nothing: %s", out)
	}
	if o.Errors > 0 {
		return o, fmt.Errorf("bench: wrk: %d %s", o.Errors, o.FirstErr)
	}
	return o, nil
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

func loginRequest(base, password string) (*http.Request, error) {
	req, err := http.NewRequest("POST", base+"/api/login", strings.NewReader(`{"email":"admin@bench.example","password":"`+password+`"}`))
	if err == nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req, err
}

// commitRate is the raw rate of durable commits of one row with the store's
// driver and settings, from clients goroutines all writing the same row,
// as PUTs of one object do: on SQLite through one connection (its one
// writer), on PostgreSQL through a pool (the row lock orders them).
func commitRate(ctx context.Context, dsn, dir string, clients int, d time.Duration) (loadOut, error) {
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
		return loadOut{}, err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS raw_commits (id INTEGER PRIMARY KEY, v INTEGER NOT NULL)`); err != nil {
		return loadOut{}, err
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO raw_commits (id, v) VALUES (1, 0) ON CONFLICT (id) DO NOTHING`); err != nil {
		return loadOut{}, err
	}
	var mu sync.Mutex
	var res loadOut
	var all []time.Duration
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
					res.Errors++
					if res.FirstErr == "" {
						res.FirstErr = err.Error()
					}
					mu.Unlock()
					continue
				}
				lat = append(lat, time.Since(t0))
			}
			mu.Lock()
			all = append(all, lat...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.Seconds = time.Since(start).Seconds()
	slices.Sort(all)
	res.Requests, res.P50, res.P99 = len(all), pct(all, 50), pct(all, 99)
	return res, nil
}

func pct(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, len(sorted)*p/100)]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }
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
