// Package httpapi is the wire: the platform's API over HTTP. It holds the
// route table (with each route's access level), content negotiation and
// the JSON/XML codec, cookies and CSRF, and the one table from errors to
// statuses. What the operations mean lives in internal/login (the login
// service) and internal/store (the settings).
package httpapi

import (
	"context"
	"crypto/subtle"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bizsec/bizsec/internal/accesslog"
	"github.com/bizsec/bizsec/internal/auth"
	"github.com/bizsec/bizsec/internal/fault"
	"github.com/bizsec/bizsec/internal/login"
	"github.com/bizsec/bizsec/internal/settings"
	"github.com/bizsec/bizsec/internal/settingsvc"
	"github.com/bizsec/bizsec/internal/store"
	"github.com/bizsec/bizsec/internal/web"
)

// Mailer sends the platform's emails.
type Mailer = login.Mailer

// Config wires a Server. The server is given the services it speaks for;
// it builds none of them and starts no goroutine of theirs.
type Config struct {
	Store *store.Store
	// Login is the login service the server speaks for; its owner (the
	// binary's Main, a test) starts its workers and closes it.
	Login *login.Service
	// Settings is the settings service the server speaks for.
	Settings *settingsvc.Service
	// Metrics are the server's /metrics, shared with Login, which counts
	// its outcomes into them (give login.Config.Metrics the same value).
	// Nil: the server makes its own and the login outcomes go uncounted.
	Metrics *Metrics
	Logger  *slog.Logger
	// Now is the clock; tests move it to cross timeouts and suspensions.
	Now func() time.Time
	// SecureCookies marks cookies Secure even on plain HTTP, for servers
	// behind a TLS-terminating proxy.
	SecureCookies bool
	// TrustedProxies are the peers whose X-Forwarded-For names the client.
	TrustedProxies []netip.Prefix
	// NoAccessLog drops the per-request log line (a proxy in front logs
	// requests).
	NoAccessLog bool
	// AccessLog receives the access log, one JSON line per request in the
	// format of slog's JSON handler, written in batches by a goroutine of
	// its own (lines that find its queue full are dropped and counted in
	// bizsec_access_log_dropped_total). Nil: the lines go to Logger, from
	// that goroutine too.
	AccessLog io.Writer
	// OpsOnPublic serves /metrics and /readyz on Handler too. Off, they are
	// only on OpsHandler, which operators run on a listener of their own.
	OpsOnPublic bool
	// OpsSeparate is the former switch; /metrics and /readyz are off
	// Handler unless OpsOnPublic is set, so it changes nothing.
	//
	// Deprecated: leave it unset; set OpsOnPublic to serve them publicly.
	OpsSeparate bool
	// BodyMemory bounds the bytes of request bodies held at once; zero:
	// DefaultBodyMemory.
	BodyMemory int64
	// DBTimeout bounds the database work of one request: its context has
	// this deadline (counted again once its body has arrived), and a request
	// that cannot finish in time answers 503. Zero: DefaultDBTimeout.
	DBTimeout time.Duration
}

// Metrics are a server's Prometheus metrics, one set per Server. They are
// made before the server so that the login service, built first, counts
// into them: they implement login.Metrics.
type Metrics struct{ *metrics }

// NewMetrics returns an empty set of the server's metrics.
func NewMetrics() *Metrics { return &Metrics{newMetrics()} }

var _ login.Metrics = (*Metrics)(nil)

// DefaultBodyMemory bounds the request bodies in memory at once.
const DefaultBodyMemory = 32 << 20

// DefaultDBTimeout is the database deadline of a request.
const DefaultDBTimeout = 3 * time.Second

// readyTimeout bounds /readyz: a probe gets its answer in about a second.
const readyTimeout = time.Second

// Server is the HTTP API.
type Server struct {
	store         *store.Store
	login         *login.Service
	settings      *settingsvc.Service
	log           *slog.Logger
	now           func() time.Time
	secureCookies bool
	trusted       atomic.Pointer[[]netip.Prefix] // SetTrustedProxies swaps them while serving
	metrics       *metrics
	accessLog     *accesslog.Writer // nil: off
	opsOnPublic   bool
	bodies        *bodyBudget
	dbTimeout     time.Duration
	draining      atomic.Bool   // set by Drain: /readyz answers 503
	served        []servedRoute // what Handler registered through route, for the contract test

	encoded      sync.Map // encodedKey -> *encodedBody
	encodedCount atomic.Int64
}

// Wait returns when work started by requests that have been answered is
// done, and the access log written; call it after http.Server.Shutdown.
func (s *Server) Wait() {
	s.login.Wait()
	if s.accessLog != nil {
		s.accessLog.Close()
	}
}

// New returns a Server for cfg. It starts nothing but the access log's
// writer, which Wait stops.
func New(cfg Config) *Server {
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics()
	}
	s := &Server{store: cfg.Store, login: cfg.Login, settings: cfg.Settings, log: cfg.Logger, now: cfg.Now, secureCookies: cfg.SecureCookies,
		metrics: cfg.Metrics.metrics, opsOnPublic: cfg.OpsOnPublic,
		dbTimeout: cfg.DBTimeout}
	s.SetTrustedProxies(cfg.TrustedProxies)
	memory := cfg.BodyMemory
	if memory <= 0 {
		memory = DefaultBodyMemory
	}
	s.bodies = newBodyBudget(memory)
	if s.dbTimeout <= 0 {
		s.dbTimeout = DefaultDBTimeout
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.log = slog.New(withRequestIDs(s.log.Handler())) // its own records carry their request's ID too
	if s.now == nil {
		s.now = time.Now
	}
	switch {
	case cfg.NoAccessLog:
	case cfg.AccessLog != nil:
		s.accessLog = accesslog.New(cfg.AccessLog)
	case s.log.Enabled(context.Background(), slog.LevelInfo):
		s.accessLog = accesslog.NewSlog(s.log.Handler())
	}
	if s.accessLog != nil {
		s.metrics.registry.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "bizsec_access_log_dropped_total", Help: "Access log lines dropped because the log writer fell behind.",
		}, func() float64 { return float64(s.accessLog.Dropped()) }))
	}
	if s.store != nil {
		s.registerFeedMetrics()
		s.registerQueueMetrics()
	}
	return s
}

// Login returns the login service the server speaks for.
func (s *Server) Login() *login.Service { return s.login }

// request is what the adapter established before an operation runs.
type request struct {
	mediaType string
	business  store.Business // on routes with {BusinessID}
	user      store.User     // on routes with {UserID}
	session   auth.Session   // on routes above auth.Public
	policy    *login.Policy  // the tenant's (shared: read only), on routes above auth.Public
}

// handler is an operation: it writes a success response or returns an error.
type handler func(w http.ResponseWriter, r *http.Request, q *request) error

// Handler returns the routes. Each line says who may call it: the access
// level is checked before the operation runs.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	const biz = "/api/businesses/{BusinessID}"
	// Settings objects: GET for Site Admins and Auditors, PUT for Site Admins.
	for _, o := range settingsObjects {
		s.route(mux, "GET "+biz+"/"+o.name(), auth.Read, o.mediaTypes(), o.get(s))
		s.route(mux, "PUT "+biz+"/"+o.name(), auth.Admin, o.mediaTypes(), o.put(s))
		s.notAllowed(mux, biz+"/"+o.name(), "GET, HEAD, PUT")
	}
	for _, path := range []string{biz + "/challenges", "/api/api/businesses/{BusinessID}/challenges"} {
		// The platform's GET challenges page prints the second path; clients
		// copy it. (Its twofasettings twin is mapped by fixDocTypos.)
		s.route(mux, "GET "+path, auth.Public, getChallengeTypes, s.getChallenges) // it helps users log in
		s.route(mux, "PUT "+path, auth.Admin, settingsTypes, challengesOp.put(s))
		s.notAllowed(mux, path, "GET, HEAD, PUT")
	}
	s.route(mux, "GET "+biz+"/audit", auth.Read, jsonTypes, s.getAudit)
	s.notAllowed(mux, biz+"/audit", "GET, HEAD")
	s.route(mux, "GET "+biz+"/myrole", auth.Read, jsonTypes, s.getMyRole)
	s.notAllowed(mux, biz+"/myrole", "GET, HEAD")
	s.route(mux, "GET "+biz+"/securitycheck", auth.Read, jsonTypes, s.getSecurityCheck)
	s.notAllowed(mux, biz+"/securitycheck", "GET, HEAD")
	s.route(mux, "GET "+biz+"/suspendedusers", auth.Read, settingsTypes, s.getSuspended)
	s.notAllowed(mux, biz+"/suspendedusers", "GET, HEAD")
	s.route(mux, "POST "+biz+"/suspendedusers/{UserID}/unlock", auth.Admin, settingsTypes, s.unlock)
	s.notAllowed(mux, biz+"/suspendedusers/{UserID}/unlock", "POST")
	s.route(mux, "PUT "+biz+"/files/{name}", auth.Admin, settingsTypes, s.putFile)
	s.route(mux, "GET "+biz+"/files/{name}", auth.Read, settingsTypes, s.getFile)
	s.notAllowed(mux, biz+"/files/{name}", "GET, HEAD, PUT")
	s.route(mux, "DELETE /api/users/{UserID}/devices", auth.Self, settingsTypes, s.forgetDevices)
	s.notAllowed(mux, "/api/users/{UserID}/devices", "DELETE")
	s.route(mux, "GET /api/users/{UserID}/challenges", auth.Self, settingsTypes, s.getUserChallenges)
	s.route(mux, "PUT /api/users/{UserID}/challenges", auth.Self, settingsTypes, s.putUserChallenges)
	// The user (a live session, or a login waiting on change.password), or
	// a Site Admin of the tenant: the handler tells which.
	s.route(mux, "PUT /api/users/{UserID}/password", auth.Public, settingsTypes, s.putPassword)
	// Accounts (bizsec's own): a user's sessions, for the user or a Site
	// Admin; the tenant's users, their email, disabling.
	s.route(mux, "GET /api/users/{UserID}/sessions", auth.Public, jsonTypes, s.auditorMayRead(s.getSessions))
	s.route(mux, "DELETE /api/users/{UserID}/sessions", auth.Self, jsonTypes, s.deleteSessions)
	s.route(mux, "DELETE /api/users/{UserID}/sessions/{SessionID}", auth.Self, jsonTypes, s.deleteSession)
	s.route(mux, "PUT /api/users/{UserID}", auth.Self, jsonTypes, s.putUser)
	s.route(mux, "POST /api/users/{UserID}/email/confirm", auth.Self, jsonTypes, s.confirmEmail)
	s.route(mux, "GET "+biz+"/users", auth.Read, jsonTypes, s.getUsers)
	s.route(mux, "GET /api/settingsschema", auth.Public, jsonTypes, s.getSettingsSchema)
	s.route(mux, "POST "+biz+"/users/{UserID}/disable", auth.Admin, jsonTypes, s.disableUser(true))
	s.route(mux, "POST "+biz+"/users/{UserID}/enable", auth.Admin, jsonTypes, s.disableUser(false))
	s.notAllowed(mux, "/api/users/{UserID}/challenges", "GET, HEAD, PUT")
	s.factorRoutes(mux)
	// The login service: its tenant comes from the Host header, and each
	// operation checks the cookie it needs itself (exempt from CSRF).
	s.route(mux, "POST /api/passwordmanagement/sendPasswordResetCode", auth.Public, loginTypes, s.sendResetCode)
	s.route(mux, "POST /api/passwordmanagement/validatePasswordResetCode", auth.Public, loginTypes, s.validateResetCode)
	s.route(mux, "POST /api/login/authenticateWithPasswordResetCode", auth.Public, loginTypes, s.resetPassword)
	s.route(mux, "POST /api/login", auth.Public, loginTypes, s.loginHandler)
	s.notAllowed(mux, "/api/login", "POST")
	s.route(mux, "GET /api/login/status", auth.Public, loginTypes, s.loginStatus)
	s.notAllowed(mux, "/api/login/status", "GET, HEAD")
	s.route(mux, "POST /api/login/pendingtasks", auth.Public, loginTypes, s.pendingTask)
	s.notAllowed(mux, "/api/login/pendingtasks", "POST")
	s.route(mux, "POST /api/login/renewToken", auth.Public, loginTypes, s.renewToken)
	s.notAllowed(mux, "/api/login/renewToken", "POST")
	s.route(mux, "GET /api/login/endsession", auth.Public, loginTypes, s.endSession)
	s.route(mux, "POST /api/login/logout", auth.Public, loginTypes, s.endSession)
	s.notAllowed(mux, "/api/login/endsession", "GET, HEAD")
	mux.HandleFunc("GET /api/openapi.json", s.serveOpenAPI)
	mux.Handle("GET /console/", web.Handler("/console/"))
	mux.Handle("GET /{$}", http.RedirectHandler("/console/", http.StatusFound))
	mux.HandleFunc("GET /healthz", s.healthz)
	if s.opsOnPublic {
		mux.HandleFunc("GET /readyz", s.readyz)
		mux.Handle("GET /metrics", s.metricsHandler())
	}
	s.notAllowedElsewhere(mux)
	s.route(mux, "/", auth.Public, settingsTypes, func(http.ResponseWriter, *http.Request, *request) error {
		return fault.New(fault.NotFound, "no such resource")
	})
	return s.refuseAmbiguousLength(s.front(mux))
}

// front is what every request passes before the route table, in one
// function: the request ID, panics turned into 500s, paths the mux would
// clean ("..", ".", "//") answered with a fault instead of the mux's
// redirect (which could send a write to another resource than the one the
// client named), the platform's misprinted twofasettings path, and the
// metrics and access log line of the answer. Its per-request state is one
// allocation (reqCtx).
func (s *Server) front(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		c := &reqCtx{Context: r.Context()}
		c.w.ResponseWriter = w
		c.setRequestID(r.Header["X-Request-Id"])
		w.Header()["X-Request-Id"] = c.hdr[:]
		r = r.WithContext(c)
		defer func() { s.answered(c, r, start, recover()) }()
		if !canonical(r.URL.Path) {
			mt, _ := settingsTypes.negotiate(r)
			writeError(&c.w, r, s.log, mt, fault.New(fault.NotFound, "no such resource: the path is not in canonical form"))
			return
		}
		r = fixDocTypos(r)
		mux.ServeHTTP(&c.w, r)
	})
}

// answered ends a request: a panic (p) becomes a 500, and the answer is
// counted and logged.
func (s *Server) answered(c *reqCtx, r *http.Request, start time.Time, p any) {
	c.end()
	if p != nil {
		if p == http.ErrAbortHandler {
			panic(p)
		}
		writeError(&c.w, r, s.log, "", fmt.Errorf("panic: %v", p))
	}
	s.observe(r, c, start)
}

// canonical reports whether p is what path.Clean makes of it (keeping a
// trailing slash): absolute, with no empty, "." or ".." segment.
func canonical(p string) bool {
	if p == "" || p[0] != '/' {
		return false
	}
	for i := 1; i <= len(p); {
		j := strings.IndexByte(p[i:], '/')
		if j < 0 {
			j = len(p) - i
		}
		switch p[i : i+j] {
		case "":
			if i+j != len(p) { // only the last segment may be empty: a trailing slash
				return false
			}
		case ".", "..":
			return false
		}
		i += j + 1
	}
	return true
}

// OpsHandler serves what operators scrape and probe: /metrics, /readyz,
// /healthz; run it on a listener of its own (-ops-listen) so that the
// public one shows neither.
func (s *Server) OpsHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.Handle("GET /metrics", s.metricsHandler())
	return mux
}

// route registers h for pattern behind the adapter, which puts the
// request under its database deadline and the body budget, negotiates the
// media type and admits the caller at level.
func (s *Server) route(mux *http.ServeMux, pattern string, level auth.Access, types mediaTypes, h handler) {
	s.served = append(s.served, servedRoute{pattern, types})
	loginService := strings.Contains(pattern, " /api/login") || strings.Contains(pattern, " /api/passwordmanagement/")
	mux.Handle(pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, ok := r.Context().(*reqCtx)
		if !ok || ctx.armed { // not through the front
			ctx = &reqCtx{Context: r.Context(), id: RequestID(r.Context())}
			r = r.WithContext(ctx)
			defer ctx.end()
		}
		ctx.arm(s.dbTimeout)
		q := &ctx.q
		if r.Body != nil && r.Body != http.NoBody {
			acct := &bodyAccount{budget: s.bodies, ctx: ctx, capped: level == auth.Public, arrived: ctx.restart}
			if acct.capped {
				acct.client = s.clientIP(r)
			}
			defer acct.release()
			r.Body = &budgetBody{ReadCloser: r.Body, account: acct}
			if loginService {
				// Small bodies: one that does not arrive soon holds nothing for long.
				http.NewResponseController(w).SetReadDeadline(time.Now().Add(loginBodyTimeout))
			}
		}
		var err error
		q.mediaType, err = types.negotiate(r)
		if err == nil {
			err = s.admit(r, level, q)
		}
		if err == nil {
			err = h(w, r, q)
		}
		if err != nil {
			writeError(w, r, s.log, q.mediaType, err)
		}
	}))
}

// admit establishes the business or user in the path and, above
// auth.Public, a live session of its tenant, the CSRF header where the
// tenant's settings ask for it, and a role that allows level.
func (s *Server) admit(r *http.Request, level auth.Access, q *request) error {
	ctx := r.Context()
	var tenant string
	var err error
	switch {
	case r.PathValue("BusinessID") != "":
		if q.business, err = s.login.Business(ctx, r.PathValue("BusinessID")); err != nil {
			return s.unknown(r, level, err)
		}
		tenant = q.business.TenantID
	case r.PathValue("UserID") != "" && level == auth.Self:
		if q.user, err = s.login.User(ctx, r.PathValue("UserID")); err != nil {
			return s.unknown(r, level, err)
		}
		tenant = q.user.TenantID
	}
	if level == auth.Public {
		return nil
	}
	if q.session, q.policy, err = s.login.Authenticate(ctx, tenant, s.authCookie(r, tenant)); err != nil {
		return err
	}
	if err := checkCSRF(r, tenant, q.session, q.policy.Security, !isRead(r)); err != nil && ambient(r, tenant) {
		return err
	}
	if level == auth.Self {
		return s.login.AuthorizeUser(ctx, q.session, q.user)
	}
	return s.login.Authorize(ctx, q.session, q.business, level)
}

// unknown answers a business or user that does not exist. Authentication
// comes before existence: a request with no live session of any tenant
// gets the 401 it would get for an ID that exists, so IDs cannot be probed.
func (s *Server) unknown(r *http.Request, level auth.Access, err error) error {
	if level == auth.Public || fault.CodeOf(err) != fault.NotFound {
		return err
	}
	for _, c := range authCookies(r) {
		if _, _, authErr := s.login.Authenticate(r.Context(), c.tenant, c.value); authErr == nil {
			return err
		}
	}
	return login.ErrNoSession
}

// maxAuthCookies bounds the auth cookies one request makes the server look
// up: a request with hundreds of AtmoAuthToken_* cookies costs a handful.
const maxAuthCookies = 3

type authCookie struct{ tenant, value string }

// authCookies returns the auth cookies worth a lookup for a path whose
// business or user was not found: the one of the tenant the ID names (its
// suffix after the last dot, as in tenantbusiness.{tenant}) first, then the
// first others, at most maxAuthCookies in all.
func authCookies(r *http.Request) []authCookie {
	id := r.PathValue("BusinessID")
	if id == "" {
		id = r.PathValue("UserID")
	}
	named := ""
	if i := strings.LastIndexByte(id, '.'); i >= 0 {
		named = id[i+1:]
	}
	var out []authCookie
	if named != "" {
		if c, err := r.Cookie(AuthCookie(named)); err == nil {
			out = append(out, authCookie{named, c.Value})
		}
	}
	for _, c := range r.Cookies() {
		if len(out) == maxAuthCookies {
			break
		}
		if tenant, ok := strings.CutPrefix(c.Name, "AtmoAuthToken_"); ok && tenant != named {
			out = append(out, authCookie{tenant, c.Value})
		}
	}
	return out
}

// notAllowed answers the methods no route of path takes.
func (s *Server) notAllowed(mux *http.ServeMux, path, allow string) {
	s.route(mux, path, auth.Public, settingsTypes, func(w http.ResponseWriter, r *http.Request, _ *request) error {
		w.Header().Set("Allow", allow)
		return fault.New(methodNotAllowed, "method %s is not allowed here; use %s", r.Method, allow)
	})
}

// fixDocTypos serves /api/businesses/businesses/{BusinessID}/twofasettings,
// the path the platform's PUT twofasettings page prints, as the real one.
// A route cannot do it: the pattern would overlap every business sub-resource.
func fixDocTypos(r *http.Request) *http.Request {
	const typo, suffix = "/api/businesses/businesses/", "/twofasettings"
	if id, ok := strings.CutPrefix(r.URL.Path, typo); ok && strings.HasSuffix(id, suffix) &&
		!strings.Contains(strings.TrimSuffix(id, suffix), "/") {
		r2 := r.Clone(r.Context())
		r2.URL.Path = "/api/businesses/" + id
		r2.URL.RawPath = ""
		return r2
	}
	return r
}

// AuthCookie and CSRFCookie name the platform's per-tenant cookies.
func AuthCookie(tenant string) string { return "AtmoAuthToken_" + tenant }

// CSRFCookie names the cookie whose value the client echoes in CSRFHeader.
func CSRFCookie(tenant string) string { return "Csrf-Token_" + tenant }

// CSRFHeader names the header that carries the CSRF token.
func CSRFHeader(tenant string) string { return "X-Csrf-Token_" + tenant }

// authCookie returns the request's auth token for tenant: the value of
// its AtmoAuthToken_{tenant} cookie or, for clients that cannot name a
// per-tenant cookie (OpenAPI tools), the same value as a bearer token.
func (s *Server) authCookie(r *http.Request, tenant string) string {
	if v, ok := cookieValue(r, "AtmoAuthToken_", tenant); ok {
		return v
	}
	v, _ := bearer(r)
	return v
}

// bearer returns the token of an Authorization: Bearer header. A browser
// never sends one by itself, so a request authenticated by it cannot be
// forged cross-site and needs no CSRF header.
func bearer(r *http.Request) (string, bool) {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return strings.TrimSpace(token), ok && strings.TrimSpace(token) != ""
}

// ambient reports whether the request's credential is the cookie, which
// browsers attach on their own: only then is the CSRF header needed.
func ambient(r *http.Request, tenant string) bool {
	_, ok := cookieValue(r, "AtmoAuthToken_", tenant)
	return ok
}

// cookieValue is r.Cookie(prefix+suffix).Value without allocating: the
// first cookie of that name whose value net/http would accept, with one
// pair of surrounding quotes removed.
func cookieValue(r *http.Request, prefix, suffix string) (string, bool) {
	for _, line := range r.Header["Cookie"] {
		for part := range strings.SplitSeq(line, ";") {
			part = strings.Trim(part, " \t")
			name, val, ok := strings.Cut(part, "=")
			if !ok || len(name) != len(prefix)+len(suffix) || !strings.HasPrefix(name, prefix) || !strings.HasSuffix(name, suffix) {
				continue
			}
			if len(val) > 1 && val[0] == '"' && val[len(val)-1] == '"' {
				val = val[1 : len(val)-1]
			}
			if validCookieValue(val) {
				return val, true
			}
		}
	}
	return "", false
}

func validCookieValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 || c >= 0x7f || c == '"' || c == ';' || c == '\\' {
			return false
		}
	}
	return true
}

// checkCSRF enforces the X-Csrf-Token header as the tenant's security
// settings require: on reads when ReadRequestCSRFSupport is enabled, on
// writes when WriteRequestCSRFSupport is. The header must be the session's
// CSRF cookie value exactly (compared by hash, in constant time). write
// says whether the request changes state whatever its method (a logout by
// GET does).
func checkCSRF(r *http.Request, tenant string, sess auth.Session, sec settings.Security, write bool) error {
	if !write && !settings.Feature(sec.ReadRequestCSRFSupport) || write && !settings.Feature(sec.WriteRequestCSRFSupport) {
		return nil
	}
	header := r.Header.Get(CSRFHeader(tenant))
	if header == "" || subtle.ConstantTimeCompare(auth.HashSecret(header), sess.CSRFHash) != 1 {
		return fault.New(fault.Unauthorized, "the %s header is missing, invalid or expired", CSRFHeader(tenant))
	}
	return nil
}

func isRead(r *http.Request) bool { return r.Method == http.MethodGet || r.Method == http.MethodHead }

// hostOnly strips the port from a Host header.
func hostOnly(host string) string {
	if i := strings.LastIndexByte(host, ':'); i >= 0 && !strings.HasSuffix(host, "]") {
		host = host[:i]
	}
	return strings.ToLower(strings.Trim(host, "[]"))
}

// hostTenant returns the tenant whose login service the request's host is.
func (s *Server) hostTenant(r *http.Request) (string, error) {
	return s.login.TenantForHost(r.Context(), hostOnly(r.Host))
}

// clientIP is the request's client: the socket's peer or, when the peer is
// a trusted proxy, the last address in X-Forwarded-For that is not one.
func (s *Server) clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil || !s.isTrusted(peer) {
		return host
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := parseHop(strings.TrimSpace(hops[i]))
		if err != nil {
			break // a hop we cannot read: trust nothing further out
		}
		if !s.isTrusted(a) {
			return a.String()
		}
	}
	return host
}

// parseHop reads one X-Forwarded-For hop: an address, or an address with a
// port as some proxies write it (ip:port, [ipv6]:port, [ipv6]).
func parseHop(h string) (netip.Addr, error) {
	if a, err := netip.ParseAddr(h); err == nil {
		return a.Unmap(), nil
	}
	if ap, err := netip.ParseAddrPort(h); err == nil {
		return ap.Addr().Unmap(), nil
	}
	if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
		a, err := netip.ParseAddr(h[1 : len(h)-1])
		return a.Unmap(), err
	}
	return netip.Addr{}, fmt.Errorf("not an address: %q", h)
}

func (s *Server) isTrusted(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range *s.trusted.Load() {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// SetTrustedProxies replaces the proxies whose X-Forwarded-For is believed
// (a reload); requests under way keep the list they began with.
func (s *Server) SetTrustedProxies(p []netip.Prefix) {
	p = append([]netip.Prefix(nil), p...)
	s.trusted.Store(&p)
}
