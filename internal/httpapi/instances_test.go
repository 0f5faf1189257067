package httpapi_test

import (
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bizsec/bizsec/internal/store/storetest"
)

// twoInstances returns an env on PostgreSQL and a second instance on it.
func twoInstances(t *testing.T) *env {
	t.Helper()
	if storetest.Default() != "postgres" {
		t.Skip("several instances share a database only on PostgreSQL; set " + storetest.EnvPostgres)
	}
	return newEnv(t)
}

// waitFor polls until ok or one second passes, and returns how long it took.
func waitFor(t *testing.T, what string, ok func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !ok() {
		if time.Since(start) > time.Second {
			t.Fatalf("%s: not within one second", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
	return time.Since(start)
}

// TestPropagation changes settings on instance A and reads them on
// instance B, whose cache holds the old value: B must see each change
// within one second.
func TestPropagation(t *testing.T) {
	e := twoInstances(t)
	b := e.instance()
	admin := e.login("admin@acme.example")
	get := func() string {
		return string(e.do(call{method: "GET", path: settingsPath + "loginpolicy", as: admin, via: b}).body)
	}
	var worst time.Duration
	for i := range 20 {
		get() // B caches the current value
		want := `"AttemptsPeriod":"` + strconv.Itoa(10+i) + `"`
		e.put(admin, "loginpolicy", `{`+want+`}`)
		if d := waitFor(t, "change "+strconv.Itoa(i), func() bool { return strings.Contains(get(), want) }); d > worst {
			worst = d
		}
	}
	t.Logf("slowest propagation: %v", worst)
	// A setting that governs requests propagates too: CSRF on reads, made
	// on A, is enforced by B.
	e.put(admin, "securitysettings", `{"ReadRequestCSRFSupport":"com.soa.feature.enabled"}`)
	waitFor(t, "CSRF on reads", func() bool {
		return e.do(call{method: "GET", path: settingsPath + "loginpolicy", as: admin, via: b, noCSRF: true}).status == 401
	})
}

// TestPropagationAfterListenerLoss cuts instance B's LISTEN connection: B
// must stop trusting its cache until it has reconnected, so a change made
// meanwhile is still seen within one second.
func TestPropagationAfterListenerLoss(t *testing.T) {
	e := twoInstances(t)
	b := e.instance()
	admin := e.login("admin@acme.example")
	get := func() string {
		return string(e.do(call{method: "GET", path: settingsPath + "twofasettings", as: admin, via: b}).body)
	}
	get()
	var killed int
	err := storetest.Query(t, e.database, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE query = 'LISTEN bizsec_settings' AND pid <> pg_backend_pid()`).Scan(&killed)
	if err != nil || killed == 0 {
		t.Fatalf("terminated %d listeners: %v", killed, err)
	}
	e.put(admin, "twofasettings", `{"MaxAttempts":"7"}`)
	waitFor(t, "change after listener loss", func() bool { return strings.Contains(get(), `"MaxAttempts":7`) })
	// B's tenant policy, which B's requests are admitted under, follows
	// too: it is kept only while B's cache is proven current.
	waitFor(t, "the listeners back, and cut again", func() bool {
		err := storetest.Query(t, e.database, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
			WHERE query = 'LISTEN bizsec_settings' AND pid <> pg_backend_pid()`).Scan(&killed)
		return err == nil && killed > 0
	})
	e.put(admin, "securitysettings", `{"ReadRequestCSRFSupport":"com.soa.feature.enabled"}`)
	waitFor(t, "CSRF on reads after listener loss", func() bool {
		return e.do(call{method: "GET", path: settingsPath + "loginpolicy", as: admin, via: b, noCSRF: true}).status == 401
	})
}

// TestLockoutAcrossInstances sends 100 concurrent wrong passwords, half to
// each instance: suspension still comes at exactly the limit.
func TestLockoutAcrossInstances(t *testing.T) {
	e := twoInstances(t)
	b := e.instance()
	e.setPolicy(`{"MaxSequentialFailureAttemptsAllowed":"5","AttemptsPeriod":"8","SuspensionMinutes":"30"}`)
	var mu sync.Mutex
	counts := map[string]int{}
	var wg sync.WaitGroup
	for i := range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := call{method: "POST", path: "/api/login", body: `{"email":"dev@acme.example","password":"wrong"}`}
			if i%2 == 1 {
				c.via = b
			}
			code, _ := e.do(c).fault()
			mu.Lock()
			counts[code]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if counts["Unauthorized"] != 4 || counts["AccountSuspended"] != 96 {
		t.Fatalf("got %v, want 4 wrong-password answers and 96 suspended", counts)
	}
	for _, via := range []*struct{ name string }{{"A"}, {"B"}} {
		c := call{method: "POST", path: "/api/login", body: `{"email":"dev@acme.example","password":"` + password + `"}`}
		if via.name == "B" {
			c.via = b
		}
		if r := e.do(c); r.status != 401 {
			t.Errorf("right password on %s during suspension: %d", via.name, r.status)
		}
	}
}
