package httpapi_test

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bizsec/bizsec/internal/httpapi"
	"github.com/bizsec/bizsec/internal/login"
	"github.com/bizsec/bizsec/internal/throttle"
)

// dialFrom opens a TCP connection to srv from the loopback address local
// (127.0.0.0/8 is all loopback), so that the server sees distinct clients.
func dialFrom(t testing.TB, srvURL, local string) net.Conn {
	t.Helper()
	u, err := url.Parse(srvURL)
	if err != nil {
		t.Fatal(err)
	}
	d := net.Dialer{Timeout: 10 * time.Second}
	if local != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(local)}
	}
	c, err := d.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// clientFrom is an HTTP client whose connections come from local.
func clientFrom(local string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}, Timeout: 10 * time.Second}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext}, Timeout: 60 * time.Second}
}

func postLogin(t testing.TB, c *http.Client, srvURL, body string) (int, time.Duration) {
	t.Helper()
	start := time.Now()
	resp, err := c.Post(srvURL+"/api/login", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, time.Since(start)
}

// awaitClosedOrAnswered waits (bounded) until the server answers on c or
// closes it; it reports false if neither happens within the bound.
func awaitClosedOrAnswered(c net.Conn, bound time.Duration) bool {
	c.SetReadDeadline(time.Now().Add(bound))
	var b [1]byte
	_, err := c.Read(b[:])
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		return false
	}
	return true
}

// TestSlowBodiesDoNotStarveLogins: connections that announce 256 KiB login
// bodies and send one byte hold what they sent, not what they announced,
// so a real login still succeeds while they wait; and the login service's
// read deadline drops each of them within a bounded time.
func TestSlowBodiesDoNotStarveLogins(t *testing.T) {
	e := newEnv(t)
	e.bodyMemory = 2 << 20 // 20 announced bodies are 2.5 times this budget
	e.restart()
	const slow = 20
	conns := make([]net.Conn, slow)
	for i := range conns {
		c := dialFrom(t, e.srv.URL, fmt.Sprintf("127.0.0.%d", 10+i)) // distinct clients: no per-client share applies
		fmt.Fprintf(c, "POST /api/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 262144\r\n\r\n{")
		conns[i] = c
	}
	// Let every slow request reach its handler before the real login.
	time.Sleep(200 * time.Millisecond)
	body, _ := json.Marshal(map[string]string{"email": "dev@acme.example", "password": password})
	status, took := postLogin(t, clientFrom("127.0.0.200"), e.srv.URL, string(body))
	if status != http.StatusOK {
		t.Fatalf("a real login while %d slow bodies wait: %d, want 200", slow, status)
	}
	t.Logf("login latency with %d slow 256 KiB bodies pending: %v", slow, took)
	for i, c := range conns {
		if !awaitClosedOrAnswered(c, 30*time.Second) {
			t.Fatalf("slow body %d still held after 30 s: no read deadline", i)
		}
	}
}

// TestBodyShareOfOneClient: one client's large bodies that stop short of
// their end hold at most its share of the body budget; past it the client
// gets 503 with Retry-After at once, and another client still logs in.
func TestBodyShareOfOneClient(t *testing.T) {
	e := newEnv(t)
	chunk := bytes.Repeat([]byte("a"), 200<<10)
	conns := make([]net.Conn, 12)
	for i := range conns {
		conns[i] = dialFrom(t, e.srv.URL, "127.0.0.9")
		fmt.Fprintf(conns[i], "POST /api/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 262144\r\n\r\n")
		conns[i].Write(chunk)
	}
	// Another client logs in while they wait.
	body, _ := json.Marshal(map[string]string{"email": "dev@acme.example", "password": password})
	if status, took := postLogin(t, clientFrom("127.0.0.201"), e.srv.URL, string(body)); status != http.StatusOK {
		t.Errorf("another client's login: %d", status)
	} else {
		t.Logf("another client's login latency: %v", took)
	}
	// Held bodies end at the login service's read deadline (400: the body
	// could not be read); those past the share are refused with 503.
	statuses := map[int]int{}
	for i, c := range conns {
		c.SetReadDeadline(time.Now().Add(30 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("body %d: no answer in 30 s: %v", i, err)
		}
		resp.Body.Close()
		statuses[resp.StatusCode]++
		if resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") == "" {
			t.Errorf("body %d: 503 without Retry-After", i)
		}
	}
	t.Logf("12 stalled 256 KiB bodies from one client: statuses %v", statuses)
	if statuses[http.StatusServiceUnavailable] == 0 {
		t.Error("12 stalled 256 KiB bodies from one client were all held: no per-client share")
	}
}

func heapBytes() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

func rssBytes() uint64 {
	b, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// TestBodyMemoryBounded: 200 simultaneous 256 KiB login bodies (from 200
// clients, each held back by its last byte until all are sent) grow the
// heap by less than 70 MiB: bodies wait for room in the budget, which
// counts what they cost decoded, instead of all being held at once.
func TestBodyMemoryBounded(t *testing.T) {
	e := newEnv(t)
	body := []byte(`{"email":"nobody@acme.example","password":"` + strings.Repeat("p", 256<<10-64) + `"}`)
	const n = 200
	conns := make([]net.Conn, n)
	for i := range conns {
		conns[i] = dialFrom(t, e.srv.URL, fmt.Sprintf("127.0.%d.%d", 1+i/200, 1+i%200))
	}
	runtime.GC()
	before := heapBytes()
	rssBefore := rssBytes()
	var peak atomic.Uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			if h := heapBytes(); h > peak.Load() {
				peak.Store(h)
			}
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fmt.Fprintf(c, "POST /api/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n", len(body))
			c.Write(body[:len(body)-1])
		}()
	}
	wg.Wait()
	time.Sleep(500 * time.Millisecond) // let the server read what it will
	var mu sync.Mutex
	statuses := map[int]int{}
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.Write(body[len(body)-1:])
			c.SetReadDeadline(time.Now().Add(60 * time.Second))
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				statuses[-1]++
				return
			}
			resp.Body.Close()
			statuses[resp.StatusCode]++
		}()
	}
	wg.Wait()
	close(stop)
	<-sampled
	growth := int64(peak.Load()) - int64(before)
	t.Logf("200 x 256 KiB login bodies: statuses %v, heap growth at peak %.1f MiB, RSS %.1f -> %.1f MiB (with -race, RSS includes its shadow memory)",
		statuses, float64(growth)/(1<<20), float64(rssBefore)/(1<<20), float64(rssBytes())/(1<<20))
	if growth >= 70<<20 {
		t.Errorf("heap grew by %.1f MiB under 200 x 256 KiB bodies, want < 70 MiB", float64(growth)/(1<<20))
	}
	if statuses[-1] > 0 {
		t.Errorf("%d requests got no answer", statuses[-1])
	}
}

// TestXMLDepthAndStrayText: XML nested deeper than four levels, deeply
// nested prefixes, and text beside elements are refused with 400 in the
// platform's error format, and nothing is stored.
func TestXMLDepthAndStrayText(t *testing.T) {
	e := newEnv(t)
	admin := e.login("admin@acme.example")
	before := string(e.get(admin, "loginpolicy"))
	putXML := func(body string) reply {
		return e.do(call{method: "PUT", path: settingsPath + "loginpolicy", as: admin, body: body,
			header: map[string]string{"Content-Type": "application/xml", "Accept": "application/xml"}})
	}
	deep := strings.Repeat("<a>", 40000) + strings.Repeat("</a>", 40000)
	prefixes := strings.Repeat(`<p:a xmlns:p="urn:x">`, 20000) + strings.Repeat("</p:a>", 20000)
	for name, body := range map[string]string{
		"stray text before a child": `<LoginPolicy>x<AttemptsPeriod>9</AttemptsPeriod></LoginPolicy>`,
		"stray text after a child":  `<LoginPolicy><AttemptsPeriod>9</AttemptsPeriod>x</LoginPolicy>`,
		"five levels":               `<LoginPolicy><AttemptsPeriod><a><b><c>9</c></b></a></AttemptsPeriod></LoginPolicy>`,
		"40,000 levels":             `<LoginPolicy>` + deep + `</LoginPolicy>`,
		"nested prefixes":           `<LoginPolicy>` + prefixes + `</LoginPolicy>`,
	} {
		r := putXML(body)
		var f struct {
			Code   string `xml:"faultcode"`
			String string `xml:"faultstring"`
		}
		if r.status != http.StatusBadRequest {
			t.Errorf("%s: %d %.200s, want 400", name, r.status, r.body)
			continue
		}
		if err := xml.Unmarshal(r.body, &f); err != nil || f.Code != "InvalidRequest" || f.String == "" {
			t.Errorf("%s: not the platform's error format: %s", name, r.body)
		}
	}
	// The login service parses XML before any throttle: the bound holds there.
	r := e.do(call{method: "POST", path: "/api/login", body: `<login><email>` + deep + `</email></login>`,
		header: map[string]string{"Content-Type": "application/xml"}})
	if r.status != http.StatusBadRequest {
		t.Errorf("deep XML login: %d", r.status)
	}
	if after := string(e.get(admin, "loginpolicy")); after != before {
		t.Errorf("a refused body changed the policy:\n%s\n%s", before, after)
	}
	// What the platform's objects need still passes: four levels.
	r = e.do(call{method: "PUT", path: settingsPath + "challenges", as: admin, header: map[string]string{"Content-Type": "application/xml"},
		body: `<Challenges><Challenge><ChallengeCode>a</ChallengeCode><ChallengeQuestion>A?</ChallengeQuestion></Challenge>` +
			`<Challenge><ChallengeCode>b</ChallengeCode><ChallengeQuestion>B?</ChallengeQuestion></Challenge>` +
			`<Challenge><ChallengeCode>c</ChallengeCode><ChallengeQuestion>C?</ChallengeQuestion></Challenge></Challenges>`})
	if r.status != http.StatusOK {
		t.Errorf("challenges in XML: %d %s", r.status, r.body)
	}
}

// TestCookieAmplification: a request for an unknown business with 850
// AtmoAuthToken_* cookies looks up a handful, not 850: the cookie of the
// tenant the ID names counts wherever it is, others only among the first.
func TestCookieAmplification(t *testing.T) {
	e := newEnv(t)
	admin := e.login("admin@acme.example")
	junk := make([]*http.Cookie, 850)
	for i := range junk {
		junk[i] = &http.Cookie{Name: fmt.Sprintf("AtmoAuthToken_t%d", i), Value: "TokenID%3Dx"}
	}
	valid := &http.Cookie{Name: httpapi.AuthCookie(tenant), Value: admin.token}
	cookies := append(junk, valid)
	// The valid cookie, 851st, for a tenant the path does not name: not looked at.
	if r := e.do(call{method: "GET", path: "/api/businesses/nosuch/loginpolicy", cookies: cookies}); r.status != http.StatusUnauthorized {
		t.Errorf("unknown business, the live cookie 851st: %d, want 401 (only the first cookies are looked up)", r.status)
	}
	// The cookie of the tenant the ID names is found wherever it is.
	if r := e.do(call{method: "GET", path: "/api/businesses/nosuch." + tenant + "/loginpolicy", cookies: cookies}); r.status != http.StatusNotFound {
		t.Errorf("unknown business of the cookie's tenant: %d, want 404", r.status)
	}
	// A single live cookie still tells 404 from 401.
	if r := e.do(call{method: "GET", path: "/api/businesses/nosuch/loginpolicy", cookies: []*http.Cookie{valid}}); r.status != http.StatusNotFound {
		t.Errorf("unknown business with one live cookie: %d, want 404", r.status)
	}
}

// TestForwardedForPorts: behind a trusted proxy, hops written with ports
// (ip:port, [ipv6]:port) name their clients, who get budgets of their own
// instead of sharing the proxy's.
func TestForwardedForPorts(t *testing.T) {
	e := newEnvLimited(t, testParams, login.Limits{Client: throttle.Rate{N: 3, Per: time.Hour},
		AccountFailures: unlimited.AccountFailures, Mail: unlimited.Mail, MaxKeys: 1000}, netip.MustParsePrefix("127.0.0.1/32"))
	body := `{"email":"dev@acme.example","password":"wrong"}`
	for _, hops := range [][]string{
		{"203.0.113.7:4711", "203.0.113.7:4712", "203.0.113.7"},
		{"[2001:db8::1]:443", "[2001:db8::1]", "2001:db8::1"},
		{"198.51.100.1:1", "198.51.100.1:2", "198.51.100.1:3"},
	} {
		for i, h := range hops {
			if r := e.do(call{method: "POST", path: "/api/login", header: from(h), body: body}); r.status != http.StatusUnauthorized {
				t.Errorf("request %d from %s: %d, want 401 (a budget of its own)", i+1, h, r.status)
			}
		}
	}
	if r := e.do(call{method: "POST", path: "/api/login", header: from("203.0.113.7:9"), body: body}); r.status != http.StatusTooManyRequests {
		t.Errorf("4th request from 203.0.113.7: %d, want 429", r.status)
	}
}

// TestAmbiguousLength: a request with both Content-Length and
// Transfer-Encoding is answered 400 and its connection closed, so bytes
// after it never run as a second request (checked on the wire).
func TestAmbiguousLength(t *testing.T) {
	e := newEnv(t)
	c := dialFrom(t, e.srv.URL, "")
	fmt.Fprint(c, "POST /api/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5\r\n"+
		"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !resp.Close {
		t.Errorf("first answer: %d close=%v %s, want 400 and the connection closed", resp.StatusCode, resp.Close, b)
	}
	if resp, err := http.ReadResponse(br, nil); err == nil {
		t.Errorf("the smuggled request ran: %d", resp.StatusCode)
	}
	// A plain chunked request on another connection still works.
	c2 := dialFrom(t, e.srv.URL, "")
	fmt.Fprint(c2, "POST /api/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"+
		"2\r\n{}\r\n0\r\n\r\n")
	c2.SetReadDeadline(time.Now().Add(30 * time.Second))
	if resp, err := http.ReadResponse(bufio.NewReader(c2), nil); err != nil || resp.StatusCode == http.StatusBadRequest && resp.Close {
		t.Errorf("chunked request alone: %v %v", resp, err)
	}
}

// TestOpsOffPublicByDefault: /metrics and /readyz are on the public
// handler only when OpsOnPublic says so; OpsHandler always has them.
func TestOpsOffPublicByDefault(t *testing.T) {
	e := newEnv(t)
	for _, on := range []bool{false, true} {
		api, svc := wire(login.Config{Hasher: e.hasher}, httpapi.Config{Store: e.store, OpsOnPublic: on,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		defer svc.Close()
		public, ops := serve(api.Handler(), 0), serve(api.OpsHandler(), 0)
		want := http.StatusNotFound
		if on {
			want = http.StatusOK
		}
		for _, path := range []string{"/metrics", "/readyz"} {
			if r := e.do(call{method: "GET", path: path, via: public}); r.status != want {
				t.Errorf("OpsOnPublic=%v: public %s: %d, want %d", on, path, r.status, want)
			}
			if r := e.do(call{method: "GET", path: path, via: ops}); r.status != 200 {
				t.Errorf("ops %s: %d, want 200", path, r.status)
			}
		}
		public.Close()
		ops.Close()
	}
}

// atmotoolUserInfo is the struct a public platform client decodes the
// login answer into (github.com/ghchinoy/atmotool control/configuration.go;
// ghchinoy/rwctl has the same).
type atmotoolUserInfo struct {
	UserName             string `json:"userName"`
	Status               string `json:"status"`
	AvatarURL            string `json:"avatarURL"`
	UserFDN              string `json:"userFDN"`
	LoginState           string `json:"loginState"`
	AuthTokenValidUntil  string `json:"authTokenValidUntil"`
	LoginDomainID        string `json:"loginDomainId"`
	PendingNotifications int    `json:"pendingNotifications"`
}

// TestLoginAnswerDecodesInPlatformClient decodes the login and status
// answers into the public client's types, and checks each field's JSON type.
func TestLoginAnswerDecodesInPlatformClient(t *testing.T) {
	e := newEnv(t)
	r := e.tryLogin("admin@acme.example", password)
	s := sessionOf(tenant, r)
	for name, body := range map[string][]byte{
		"login":  r.body,
		"status": e.do(call{method: "GET", path: "/api/login/status", as: s}).body,
	} {
		var u atmotoolUserInfo
		if err := json.Unmarshal(body, &u); err != nil {
			t.Fatalf("%s: the public client cannot decode %s: %v", name, body, err)
		}
		ms, err := strconv.ParseInt(u.AuthTokenValidUntil, 10, 64)
		if want := e.clock.Now().Add(30 * time.Minute).UnixMilli(); err != nil || ms != want {
			t.Errorf("%s: authTokenValidUntil %q, want %d", name, u.AuthTokenValidUntil, want)
		}
		if u.UserFDN != e.users["admin@acme.example"] || u.LoginDomainID != "siteusers."+tenant || u.Status != "Success" || u.LoginState != "LoggedIn" {
			t.Errorf("%s: %+v", name, u)
		}
		var fields map[string]any
		json.Unmarshal(body, &fields)
		for field, want := range map[string]string{"userName": "string", "userFDN": "string", "loginDomainID": "string",
			"pendingNotifications": "number", "authTokenValidUntil": "string", "loginState": "string", "Status": "string", "pendingTasks": "array"} {
			got := "missing"
			switch fields[field].(type) {
			case string:
				got = "string"
			case float64:
				got = "number"
			case []any:
				got = "array"
			}
			if got != want {
				t.Errorf("%s: %s is %s, want %s", name, field, got, want)
			}
		}
	}
}

// TestDatabaseDeadline: a request whose database work cannot finish within
// DBTimeout (SQLite's write lock held elsewhere) answers 503 with
// Retry-After in the platform's format, and nothing is stored.
func TestDatabaseDeadline(t *testing.T) {
	e := newEnv(t)
	if e.database != "" {
		t.Skip("SKIP: holds SQLite's write lock; the PostgreSQL run covers deadlines in the store")
	}
	e.dbTimeout = 300 * time.Millisecond
	e.restart()
	admin := e.login("admin@acme.example")
	before := string(e.get(admin, "loginpolicy"))
	db, err := sql.Open("sqlite", "file:"+filepath.Join(e.dir, "bizsec.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	r := e.do(call{method: "PUT", path: settingsPath + "loginpolicy", as: admin, body: `{"AttemptsPeriod":"9"}`})
	code, msg := r.fault()
	if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" || code != "ServiceUnavailable" || msg == "" {
		t.Errorf("PUT with the database locked: %d Retry-After=%q %s, want 503 with Retry-After", r.status, r.header.Get("Retry-After"), r.body)
	}
	conn.ExecContext(ctx, "ROLLBACK")
	conn.Close()
	if after := string(e.get(admin, "loginpolicy")); after != before {
		t.Errorf("a PUT answered 503 changed the policy:\n%s\n%s", before, after)
	}
	e.put(admin, "loginpolicy", `{"AttemptsPeriod":"9"}`)
}

// TestIdleConnectionsYield: idle keep-alive connections do not hold the
// connection limit: at the limit a newcomer is served and the longest idle
// connection is closed; under pressure idle connections are closed soon.
func TestIdleConnectionsYield(t *testing.T) {
	e := newEnv(t)
	e.maxConns = 4
	e.restart()
	get := func(c net.Conn, br *bufio.Reader) error {
		fmt.Fprint(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
		c.SetReadDeadline(time.Now().Add(30 * time.Second))
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			return err
		}
		io.Copy(io.Discard, resp.Body)
		return resp.Body.Close()
	}
	idle := make([]net.Conn, 4)
	for i := range idle {
		idle[i] = dialFrom(t, e.srv.URL, "")
		if err := get(idle[i], bufio.NewReader(idle[i])); err != nil {
			t.Fatal(err)
		}
	}
	newcomer := dialFrom(t, e.srv.URL, "")
	if err := get(newcomer, bufio.NewReader(newcomer)); err != nil {
		t.Fatalf("a new client with 4 idle connections at the limit of 4: %v", err)
	}
	// One was closed to make room; under pressure the others follow soon.
	for i, c := range idle {
		if !awaitClosedOrAnswered(c, 30*time.Second) {
			t.Errorf("idle connection %d still open after 30 s at the limit", i)
		}
	}
}
