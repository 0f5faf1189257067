package httpapi_test

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/bizsec/bizsec/internal/httpapi"

	"github.com/bizsec/bizsec/internal/auth"
	"github.com/bizsec/bizsec/internal/login"
)

// BenchmarkLoginFailure compares the cost of a login for an unknown email
// with that of a wrong password, with production argon2id parameters and
// AllowUserEnum disabled. Run: go test -run '^$' -bench LoginFailure ./internal/httpapi
func BenchmarkLoginFailure(b *testing.B) {
	e := newEnvWith(b, auth.DefaultParams)
	admin := e.login("admin@acme.example")
	e.put(admin, "securitysettings", `{"AllowUserEnum":"com.soa.feature.disabled"}`)
	for _, c := range []struct{ name, email string }{
		{"unknown-email", "nobody@acme.example"},
		{"wrong-password", "dev@acme.example"},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if r := e.tryLogin(c.email, "not the password"); r.status != 401 {
					b.Fatalf("status %d", r.status)
				}
			}
		})
	}
}

// BenchmarkGetSettings measures an authenticated GET of the login policy
// from parallel clients. With -cpu 1,2 it shows scaling, and with
// -mutexprofile/-blockprofile whether anything serialises readers:
// go test -run '^$' -bench GetSettings -cpu 1,2 -mutexprofile m.out ./internal/httpapi
func BenchmarkGetSettings(b *testing.B) {
	e := newEnv(b)
	admin := e.login("admin@acme.example")
	e.get(admin, "loginpolicy") // warm
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if r := e.do(call{method: "GET", path: settingsPath + "loginpolicy", as: admin}); r.status != 200 {
				b.Errorf("status %d", r.status)
				return
			}
		}
	})
}

// BenchmarkLoginUnderFlood measures a client's good login (production
// argon2id) alone and while another client floods the login service from
// 8 connections, and reports the ratio of the medians; the default limits
// should keep it under 2. Run:
// go test -run '^$' -bench LoginUnderFlood -benchtime 20x ./internal/httpapi
func BenchmarkLoginUnderFlood(b *testing.B) {
	e := newEnvLimited(b, auth.DefaultParams, login.DefaultLimits, netip.MustParsePrefix("127.0.0.0/8"))
	body := `{"email":"dev@acme.example","password":"` + password + `"}`
	measure := func() time.Duration {
		var ds []time.Duration
		for range b.N {
			start := time.Now()
			if r := e.do(call{method: "POST", path: "/api/login", header: from("198.51.100.4"), body: body}); r.status != 200 {
				b.Fatalf("login: %d %s", r.status, r.body)
			}
			ds = append(ds, time.Since(start))
		}
		slices.Sort(ds)
		return ds[len(ds)/2]
	}
	alone := measure()
	stop := make(chan struct{})
	throttled := make(chan struct{}, 1)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			deadline := time.Now().Add(2 * time.Minute)
			for i := 0; time.Now().Before(deadline); i++ {
				select {
				case <-stop:
					return
				default:
				}
				r := e.do(call{method: "POST", path: "/api/login", header: from("203.0.113.9"),
					body: fmt.Sprintf(`{"email":"x%d-%d@acme.example","password":"nope"}`, w, i)})
				if r.status == 429 {
					select {
					case throttled <- struct{}{}:
					default:
					}
				}
			}
		}()
	}
	<-throttled // the flood has spent its budget: measure the steady state
	b.ResetTimer()
	flooded := measure()
	close(stop)
	wg.Wait()
	b.ReportMetric(float64(alone.Microseconds())/1000, "alone-p50-ms")
	b.ReportMetric(float64(flooded.Microseconds())/1000, "flooded-p50-ms")
	b.ReportMetric(float64(flooded)/float64(alone), "ratio")
}

// discardWriter is a ResponseWriter that keeps nothing, reused by a
// benchmark goroutine so that only the handler's allocations count.
type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *discardWriter) WriteHeader(int)             {}

// BenchmarkGetChain runs the whole GET handler chain (front, mux, adapter,
// session and role from memory, the encoded answer) in process, with the
// access log on and off, against a bare handler writing the same bytes
// (with -cpu 1 the access log's own goroutine is in the figure), and reports
// allocations per request (-benchmem):
// go test -run '^$' -bench GetChain -benchmem ./internal/httpapi
func BenchmarkGetChain(b *testing.B) {
	e := newEnv(b)
	admin := e.login("admin@acme.example")
	serve := func(cfg httpapi.Config) http.Handler {
		cfg.Store, cfg.Now, cfg.Logger = e.store, e.clock.Now, slog.New(slog.DiscardHandler)
		api, svc := wire(login.Config{Hasher: e.hasher}, cfg)
		b.Cleanup(func() { api.Wait(); svc.Close() })
		return api.Handler()
	}
	h := serve(httpapi.Config{AccessLog: io.Discard})
	req := httptest.NewRequest("GET", settingsPath+"loginpolicy", nil)
	req.Header.Set("Cookie", httpapi.AuthCookie(tenant)+"="+admin.token+"; "+httpapi.CSRFCookie(tenant)+"="+admin.csrf)
	req.Header.Set("Accept", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 200 {
		b.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	body := rec.Body.Bytes()
	bare := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Etag", `"0"`)
		w.Write(body)
	})
	for _, c := range []struct {
		name string
		h    http.Handler
	}{{"bizsec", h}, {"bizsec without access log", serve(httpapi.Config{NoAccessLog: true})}, {"bare", bare}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				w := &discardWriter{h: http.Header{}}
				for pb.Next() {
					clear(w.h)
					c.h.ServeHTTP(w, req)
				}
			})
		})
	}
}
