package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bizsec/bizsec/internal/app"
	"github.com/bizsec/bizsec/internal/auth"
	"github.com/bizsec/bizsec/internal/captcha"
	"github.com/bizsec/bizsec/internal/httpapi"
	"github.com/bizsec/bizsec/internal/login"
	"github.com/bizsec/bizsec/internal/mail"
	"github.com/bizsec/bizsec/internal/mail/mailtest"
	"github.com/bizsec/bizsec/internal/secret"
	"github.com/bizsec/bizsec/internal/store"
	"github.com/bizsec/bizsec/internal/store/storetest"
	"github.com/bizsec/bizsec/internal/throttle"
)

const (
	tenant   = "acmepaymentscorp"
	business = "tenantbusiness.acmepaymentscorp"
	password = "correct horse battery"
)

// testParams keep argon2id cheap under the race detector; the hash format,
// code path and dummy-hash parity are those of production.
var testParams = auth.Params{Memory: 1024, Time: 1, Threads: 1}

// clock is a settable time source shared by the server and the test.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

// env is a running server on loopback over a database in a temp directory.
type env struct {
	t        testing.TB
	dir      string
	database string // "" for SQLite in dir, else a PostgreSQL URL
	store    *store.Store
	svc      *login.Service // the login service the server is given
	srv      *httptest.Server
	clock    *clock
	hasher   *auth.Hasher
	users    map[string]string // email -> user ID
	// siteverify is a CAPTCHA service on loopback: it accepts the response
	// "human" for the secret of the platform's sample.
	siteverify *httptest.Server
	smtp       *mailtest.Server // where the server's mail goes, over real SMTP
	box        *secret.Box
	logs       *syncBuffer // what the server logged
	// limits throttle the login service. Tests of other rules run with
	// limits no test reaches; the abuse-control tests use the defaults.
	limits login.Limits
	// trusted are the proxies whose X-Forwarded-For the server believes.
	trusted []netip.Prefix
	// secure marks cookies Secure, as behind a TLS-terminating proxy.
	secure bool
	// bodyMemory, dbTimeout and maxConns, when set, replace the defaults.
	bodyMemory int64
	dbTimeout  time.Duration
	maxConns   int
	// config, when set, edits the login service's configuration before it
	// starts.
	config func(*login.Config)
}

// unlimited is a login.Limits that no test reaches.
var unlimited = login.Limits{
	Client:          throttle.Rate{N: 1_000_000, Per: time.Second},
	AccountFailures: throttle.Rate{N: 1_000_000, Per: time.Second},
	Mail:            throttle.Rate{N: 1_000_000, Per: time.Second},
	MaxKeys:         1_000_000,
}

// syncBuffer is a bytes.Buffer safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

const captchaSecret = "6Le_vcgUAAAAALW3ZsmB_MlZZi1kk2OOvl-Ql6jb"

func siteverify(w http.ResponseWriter, r *http.Request) {
	ok := r.PostFormValue("secret") == captchaSecret && r.PostFormValue("response") == "human"
	json.NewEncoder(w).Encode(map[string]bool{"success": ok})
}

func newEnv(t testing.TB) *env { return newEnvWith(t, testParams) }

// newEnvWith starts an env whose passwords are hashed with params.
func newEnvWith(t testing.TB, params auth.Params) *env { return newEnvLimited(t, params, unlimited) }

// newEnvLimited starts an env whose login service has the given limits.
func newEnvLimited(t testing.TB, params auth.Params, limits login.Limits, trusted ...netip.Prefix) *env {
	t.Helper()
	// The database deadline is long by default: under the race detector a
	// burst of 100 requests for one account (serialised, each hashing) takes
	// longer than production's 3 s. Deadline tests set their own.
	e := &env{t: t, limits: limits, trusted: trusted, dbTimeout: 30 * time.Second, clock: &clock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)},
		hasher: auth.NewHasher(params, 4), users: map[string]string{},
		siteverify: httptest.NewServer(http.HandlerFunc(siteverify)), smtp: mailtest.Start(t), logs: &syncBuffer{}}
	t.Cleanup(e.siteverify.Close)
	e.database, e.dir = storetest.Database(t, storetest.Default())
	e.start()
	ctx := context.Background()
	if err := e.store.CreateTenant(ctx, tenant, ""); err != nil {
		t.Fatal(err)
	}
	e.addUser(tenant, "admin@acme.example", auth.RoleSiteAdmin)
	e.addUser(tenant, "auditor@acme.example", auth.RoleAuditor)
	e.addUser(tenant, "dev@acme.example", "")
	return e
}

// start opens the database and serves it; restart tests call it again.
func (e *env) start() {
	key, err := secret.LoadOrCreateKey(filepath.Join(e.dir, "secret.key"))
	if err != nil {
		e.t.Fatal(err)
	}
	box, err := secret.New(key)
	if err != nil {
		e.t.Fatal(err)
	}
	st, err := store.Open(context.Background(), e.database, e.dir, store.WithSecretBox(box))
	if err != nil {
		e.t.Fatal(err)
	}
	e.box = box
	logger := slog.New(slog.NewJSONHandler(e.logs, nil))
	lc := login.Config{Store: st, Hasher: e.hasher, Now: e.clock.Now, Captcha: captcha.New(e.siteverify.URL),
		Mailer: &mail.SMTP{Addr: e.smtp.Addr, From: "bizsec@acme.example"}, Box: box, Logger: logger, Limits: e.limits}
	if e.config != nil {
		e.config(&lc)
	}
	api, svc := wire(lc, httpapi.Config{Store: st, Now: e.clock.Now, Logger: logger, TrustedProxies: e.trusted, SecureCookies: e.secure,
		OpsOnPublic: true, BodyMemory: e.bodyMemory, DBTimeout: e.dbTimeout})
	e.store, e.svc, e.srv = st, svc, serve(api.Handler(), e.maxConns)
	e.t.Cleanup(e.stop)
}

// wire builds a server as the binary's Main does (app.NewAPI) and starts
// the login service's workers. The caller closes the service (after the
// server).
func wire(lc login.Config, cfg httpapi.Config) (*httpapi.Server, *login.Service) {
	api, svc := app.NewAPI(lc, cfg)
	svc.Start()
	return api, svc
}

// settle waits until the server has done what it owes for the requests it
// answered: every queued password reset taken by the mail worker and
// handled, and the mail of answered requests sent (login.Service.Wait). A
// negative ("no other mail went out") is asserted after it, not after a
// sleep.
func (e *env) settle() {
	e.t.Helper()
	ctx := context.Background()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		n, err := e.store.ResetQueueLen(ctx)
		if err != nil {
			e.t.Fatal(err)
		}
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("%d queued password resets not taken within 10 s", n)
		}
	}
	e.svc.Wait()
}

// serve starts h on loopback behind httpapi.GuardListener, as the binary
// serves it.
func serve(h http.Handler, maxConns int) *httptest.Server {
	srv := httptest.NewUnstartedServer(h)
	srv.Listener = httpapi.GuardListener(srv.Config, srv.Listener, maxConns)
	srv.Start()
	return srv
}

// instance starts a second server on the same database, as a second
// bizsec process would be, with its own store, cache and listener.
func (e *env) instance() *httptest.Server {
	e.t.Helper()
	st, err := store.Open(context.Background(), e.database, e.dir, store.WithSecretBox(e.box))
	if err != nil {
		e.t.Fatal(err)
	}
	api, svc := wire(login.Config{Hasher: e.hasher, Box: e.box, Limits: e.limits},
		httpapi.Config{Store: st, Now: e.clock.Now, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), DBTimeout: e.dbTimeout})
	srv := httptest.NewServer(api.Handler())
	e.t.Cleanup(func() { srv.Close(); svc.Close(); st.Close() })
	return srv
}

func (e *env) stop() {
	if e.srv != nil {
		e.srv.Close()
		e.svc.Close()
		e.store.Close()
		e.srv = nil
	}
}

func (e *env) restart() { e.stop(); e.start() }

func (e *env) addUser(tenant, email string, role auth.Role) {
	e.t.Helper()
	ctx := context.Background()
	hash, err := e.hasher.Hash(ctx, password)
	if err != nil {
		e.t.Fatal(err)
	}
	u, err := e.store.CreateUser(ctx, store.User{TenantID: tenant, Email: email, Name: email, PasswordHash: hash})
	if err != nil {
		e.t.Fatal(err)
	}
	if role != "" {
		if err := e.store.GrantRole(ctx, u.ID, store.RootBusinessID(tenant), role); err != nil {
			e.t.Fatal(err)
		}
	}
	e.users[email] = u.ID
}

// session holds a login's cookie values, as a client keeps them.
type session struct {
	tenant string
	token  string
	csrf   string
}

// call is one request. With as set it carries the session cookie and,
// unless noCSRF, the CSRF header built from the CSRF cookie.
type call struct {
	method, path, body string
	host               string // Host header; the tenant's hostname on the login service
	header             map[string]string
	as                 *session
	noCSRF             bool
	cookies            []*http.Cookie   // more cookies, such as a 2FA device cookie
	via                *httptest.Server // another instance; default the env's own
}

type reply struct {
	status int
	header http.Header
	body   []byte
}

func (r reply) fault() (code, message string) {
	var f struct{ Faultcode, Faultstring string }
	json.Unmarshal(r.body, &f)
	return f.Faultcode, f.Faultstring
}

func (r reply) cookie(name string) *http.Cookie {
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func (e *env) do(c call) reply {
	e.t.Helper()
	srv := e.srv
	if c.via != nil {
		srv = c.via
	}
	req, err := http.NewRequest(c.method, srv.URL+c.path, strings.NewReader(c.body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Host = c.host
	if c.body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range c.header {
		req.Header.Set(k, v)
	}
	for _, ck := range c.cookies {
		req.AddCookie(ck)
	}
	if c.as != nil {
		req.AddCookie(&http.Cookie{Name: httpapi.AuthCookie(c.as.tenant), Value: c.as.token})
		if !c.noCSRF && c.as.csrf != "" {
			req.Header.Set(httpapi.CSRFHeader(c.as.tenant), c.as.csrf)
		}
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return reply{resp.StatusCode, resp.Header, body}
}

// login logs in and returns the session, failing the test on refusal.
func (e *env) login(email string) *session {
	e.t.Helper()
	r := e.tryLogin(email, password)
	if r.status != http.StatusOK {
		e.t.Fatalf("login %s: status %d: %s", email, r.status, r.body)
	}
	return sessionOf(tenant, r)
}

func sessionOf(tenant string, r reply) *session {
	s := &session{tenant: tenant}
	if c := r.cookie(httpapi.AuthCookie(tenant)); c != nil {
		s.token = c.Value
	}
	if c := r.cookie(httpapi.CSRFCookie(tenant)); c != nil {
		s.csrf = c.Value
	}
	return s
}

func (e *env) tryLogin(email, pw string) reply {
	e.t.Helper()
	// The loopback siteverify accepts "human"; it matters only with CAPTCHA on.
	body, _ := json.Marshal(map[string]string{"email": email, "password": pw, "captchaResponse": "human"})
	return e.do(call{method: "POST", path: "/api/login", body: string(body)})
}

// get reads a settings resource as the admin and returns the raw body.
func (e *env) get(as *session, resource string) []byte {
	e.t.Helper()
	r := e.do(call{method: "GET", path: "/api/businesses/" + business + "/" + resource, as: as})
	if r.status != http.StatusOK {
		e.t.Fatalf("GET %s: status %d: %s", resource, r.status, r.body)
	}
	return r.body
}

// put writes a settings resource as the admin and fails the test on refusal.
func (e *env) put(as *session, resource, body string) []byte {
	e.t.Helper()
	r := e.do(call{method: "PUT", path: "/api/businesses/" + business + "/" + resource, body: body, as: as})
	if r.status != http.StatusOK {
		e.t.Fatalf("PUT %s: status %d: %s", resource, r.status, r.body)
	}
	return r.body
}

// compact normalizes JSON text so that two documents compare byte for byte.
func compact(t testing.TB, s []byte) string {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, s); err != nil {
		t.Fatalf("not JSON: %v: %s", err, s)
	}
	return b.String()
}

// storedInClear reports whether needle is in the database as written on
// disk (SQLite) or in a settings document or an answer (PostgreSQL).
func (e *env) storedInClear(needle string) bool {
	e.t.Helper()
	if e.database == "" {
		db, _ := os.ReadFile(filepath.Join(e.dir, "bizsec.db"))
		wal, _ := os.ReadFile(filepath.Join(e.dir, "bizsec.db-wal"))
		return bytes.Contains(append(db, wal...), []byte(needle))
	}
	var found bool
	err := storetest.Query(e.t, e.database, `SELECT EXISTS (SELECT 1 FROM settings WHERE doc LIKE '%' || $1 || '%')
		OR EXISTS (SELECT 1 FROM user_answers WHERE answer ILIKE '%' || $1 || '%')`, needle).Scan(&found)
	if err != nil {
		e.t.Fatal(err)
	}
	return found
}
