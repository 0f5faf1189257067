package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"runtime"
	"runtime/debug"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/bizsec/bizsec/internal/accesslog"
)

// metrics are the server's Prometheus metrics, in a registry of its own so
// that several servers can live in one process (tests, the bench).
type metrics struct {
	registry *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	logins   *prometheus.CounterVec
	lockouts prometheus.Counter
	twoFA    *prometheus.CounterVec
	throttle *prometheus.CounterVec
	factors  *prometheus.CounterVec // bizsec_factor_events_total (factorpolicy.go)

	counters  sync.Map // counterKey -> prometheus.Counter
	latencies sync.Map // route -> prometheus.Observer
}

func newMetrics() *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bizsec_http_requests_total", Help: "HTTP requests by route, method and status code.",
		}, []string{"route", "method", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "bizsec_http_request_duration_seconds", Help: "HTTP request latency by route.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"route"}),
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bizsec_logins_total", Help: "Login attempts by outcome.",
		}, []string{"outcome"}),
		lockouts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bizsec_account_suspensions_total", Help: "Accounts suspended by the login policy.",
		}),
		twoFA: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bizsec_twofa_total", Help: "Two-factor events by outcome: sent, ok, wrong, void.",
		}, []string{"outcome"}),
	}
	m.throttle = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "bizsec_throttled_total", Help: "Requests refused with 429 by a budget: client, fail (an account's failures), mail, answers.",
	}, []string{"budget"})
	for _, b := range throttleBudgets {
		m.throttle.WithLabelValues(b)
	}
	buildInfo := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "bizsec_build_info", Help: "The running build: version and Go version (always 1).",
	}, []string{"version", "goversion"})
	version, goVersion := BuildVersion()
	buildInfo.WithLabelValues(version, goVersion).Set(1)
	// Outcomes exist at zero from the start, so rates and alerts work
	// before the first event.
	for _, o := range []string{"success", "bad_credentials", "suspended", "twofa_pending", "captcha_refused", "throttled"} {
		m.logins.WithLabelValues(o)
	}
	for _, o := range []string{"sent", "ok", "wrong", "void"} {
		m.twoFA.WithLabelValues(o)
	}
	m.factors = factorEvents(m.registry)
	m.registry.MustRegister(m.requests, m.latency, m.logins, m.lockouts, m.twoFA, m.throttle, buildInfo,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// BuildVersion is the module version (or the VCS revision of a source
// build) and the Go version, as bizsec_build_info and bizsec version show them.
func BuildVersion() (string, string) {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown", runtime.Version()
	}
	v := info.Main.Version
	for _, s := range info.Settings {
		if s.Key == "vcs.revision" && (v == "" || v == "(devel)") {
			v = s.Value[:min(12, len(s.Value))]
		}
	}
	if v == "" {
		v = "(devel)"
	}
	return v, info.GoVersion
}

// Login, Suspended and TwoFA count the login service's outcomes (login.Metrics).
func (m *metrics) Login(outcome string) { m.logins.WithLabelValues(outcome).Inc() }

// Suspended counts an account suspension.
func (m *metrics) Suspended() { m.lockouts.Inc() }

// TwoFA counts a two-factor event.
func (m *metrics) TwoFA(outcome string) { m.twoFA.WithLabelValues(outcome).Inc() }

// throttleBudgets are the budgets a refusal is counted under; any other
// name counts as "other", so the label set stays fixed.
var throttleBudgets = []string{"client", "fail", "mail", "answers", "other"}

// Throttled counts a refusal by a budget.
func (m *metrics) Throttled(budget string) {
	for _, b := range throttleBudgets {
		if b == budget {
			m.throttle.WithLabelValues(b).Inc()
			return
		}
	}
	m.throttle.WithLabelValues("other").Inc()
}

// statusWriter remembers the status code a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// methodLabel bounds the method label to the standard methods: a client
// may send any token as a method, and each distinct label lives forever.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "OTHER"
}

// counterKey names one request counter.
type counterKey struct {
	route, method string
	code          int
}

// requestCounter returns the counter of a route, method and status from a
// lock-free map, so the hot path skips the registry's label hashing. Routes
// are the route patterns, methods are bounded, codes are the server's own.
func (m *metrics) requestCounter(route, method string, code int) prometheus.Counter {
	key := counterKey{route, method, code}
	if c, ok := m.counters.Load(key); ok {
		return c.(prometheus.Counter)
	}
	c := m.requests.WithLabelValues(route, method, strconv.Itoa(code))
	m.counters.Store(key, c)
	return c
}

func (m *metrics) latencyOf(route string) prometheus.Observer {
	if o, ok := m.latencies.Load(route); ok {
		return o.(prometheus.Observer)
	}
	o := m.latency.WithLabelValues(route)
	m.latencies.Store(route, o)
	return o
}

// maxLoggedPath bounds the client-controlled path in a log line.
const maxLoggedPath = 256

// observe counts and times a request by its route pattern and queues its
// access log line, which the accesslog.Writer encodes and writes off the
// request's goroutine. Only the path is logged, clipped: query strings can
// carry reset codes, and headers carry cookies.
func (s *Server) observe(r *http.Request, c *reqCtx, start time.Time) {
	code := c.w.code
	if code == 0 {
		code = http.StatusOK
	}
	route := r.Pattern
	if route == "" {
		route = "unmatched"
	}
	method := methodLabel(r.Method)
	now := time.Now()
	elapsed := now.Sub(start)
	s.metrics.requestCounter(route, method, code).Inc()
	s.metrics.latencyOf(route).Observe(elapsed.Seconds())
	// The access log is INFO: a log level above it (-log-level, reloaded
	// on SIGHUP) silences it as it does every other INFO line.
	if s.accessLog != nil && s.log.Enabled(r.Context(), slog.LevelInfo) {
		s.accessLog.Log(accesslog.Entry{At: now, Method: method, Path: clip(r.URL.Path, maxLoggedPath), Route: route,
			Status: code, Duration: elapsed, RequestID: c.id})
	}
}

func (s *Server) metricsHandler() http.Handler {
	return promhttp.HandlerFor(s.metrics.registry, promhttp.HandlerOpts{})
}

// healthz says the process serves HTTP.
func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Write([]byte(`{"status":"ok"}`))
}

// readyz says whether this instance can serve: the database answers and,
// on PostgreSQL, the settings change listener is connected.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
	defer cancel()
	if s.Draining() { // stopping: let the load balancer move traffic away
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte(`{"status":"draining"}`))
		return
	}
	if err := ready(ctx, s.store.Ready); err != nil {
		s.log.WarnContext(r.Context(), "not ready", "err", err)
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte(`{"status":"unavailable"}`))
		return
	}
	w.Write([]byte(`{"status":"ready"}`))
}

// ready runs check under ctx and returns when ctx ends even if check does
// not: a store that ignores its deadline cannot hold a probe.
func ready(ctx context.Context, check func(context.Context) error) error {
	done := make(chan error, 1)
	go func() { done <- check(ctx) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}
