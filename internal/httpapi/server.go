// Package httpapi serves the platform's API over HTTP: the business
// security settings operations and the login service that obeys them.
package httpapi

import (
	"context"
	"crypto/subtle"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/bizsec/bizsec/internal/auth"
	"github.com/bizsec/bizsec/internal/captcha"
	"github.com/bizsec/bizsec/internal/fault"
	"github.com/bizsec/bizsec/internal/secret"
	"github.com/bizsec/bizsec/internal/settings"
	"github.com/bizsec/bizsec/internal/store"
	"github.com/bizsec/bizsec/internal/web"
)

// Config wires a Server.
type Config struct {
	Store  *store.Store
	Hasher *auth.Hasher
	Logger *slog.Logger
	// Now is the clock; tests move it to cross timeouts and suspensions.
	Now func() time.Time
	// SecureCookies marks cookies Secure even on plain HTTP, for servers
	// behind a TLS-terminating proxy.
	SecureCookies bool
	// Captcha verifies CAPTCHA responses when a tenant turns CaptchaSupport on.
	Captcha *captcha.Verifier
	// Mailer sends 2FA and password reset codes.
	Mailer Mailer
	// Box seals challenge answers when a tenant sets EncryptChallengeAnswers.
	Box *secret.Box
}

// Server is the HTTP API.
type Server struct {
	store         *store.Store
	hasher        *auth.Hasher
	log           *slog.Logger
	now           func() time.Time
	secureCookies bool
	captcha       *captcha.Verifier
	mailer        Mailer
	box           *secret.Box
	metrics       *metrics
	background    sync.WaitGroup // work that outlives its request (mail)
}

// Wait returns when work started by requests that have been answered is
// done; call it after http.Server.Shutdown.
func (s *Server) Wait() { s.background.Wait() }

// New returns a Server for cfg.
func New(cfg Config) *Server {
	s := &Server{store: cfg.Store, hasher: cfg.Hasher, log: cfg.Logger, now: cfg.Now, secureCookies: cfg.SecureCookies,
		captcha: cfg.Captcha, mailer: cfg.Mailer, box: cfg.Box, metrics: newMetrics()}
	if s.captcha == nil {
		s.captcha = captcha.New(captcha.DefaultURL)
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s
}

// touchEvery limits how often a session's last use is written: inactivity
// is measured in minutes, so finer writes would only load the database.
const touchEvery = 10 * time.Second

// handler is an operation: it writes a success response or returns an error.
type handler func(w http.ResponseWriter, r *http.Request, mediaType string) error

// Handler returns the routes.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	settingsRoutes := []struct {
		path     string
		get, put handler
		getTypes mediaTypes
		putTypes mediaTypes
	}{
		{"/api/businesses/{BusinessID}/twofasettings", twoFAOp.get(s), twoFAOp.put(s), twoFATypes, twoFATypes},
		{"/api/businesses/{BusinessID}/loginpolicy", loginPolicyOp.get(s), loginPolicyOp.put(s), settingsTypes, settingsTypes},
		{"/api/businesses/{BusinessID}/securitysettings", securityOp.get(s), securityOp.put(s), settingsTypes, settingsTypes},
		{"/api/businesses/{BusinessID}/challenges", s.getChallenges, challengesOp.put(s), getChallengeTypes, settingsTypes},
		// The platform's GET challenges page prints this path; clients copy it.
		// (Its twofasettings twin is mapped by fixDocTypos.)
		{"/api/api/businesses/{BusinessID}/challenges", s.getChallenges, challengesOp.put(s), getChallengeTypes, settingsTypes},
	}
	for _, rt := range settingsRoutes {
		mux.Handle("GET "+rt.path, s.handle(rt.getTypes, rt.get))
		mux.Handle("PUT "+rt.path, s.handle(rt.putTypes, rt.put))
		mux.Handle(rt.path, s.notAllowed("GET, HEAD, PUT"))
	}
	mux.Handle("GET /api/businesses/{BusinessID}/audit", s.handle(jsonTypes, s.getAudit))
	mux.Handle("/api/businesses/{BusinessID}/audit", s.notAllowed("GET, HEAD"))
	mux.Handle("PUT /api/businesses/{BusinessID}/files/{name}", s.handle(settingsTypes, s.putFile))
	mux.Handle("GET /api/businesses/{BusinessID}/files/{name}", s.handle(settingsTypes, s.getFile))
	mux.Handle("/api/businesses/{BusinessID}/files/{name}", s.notAllowed("GET, HEAD, PUT"))
	mux.Handle("GET /api/users/{UserID}/challenges", s.handle(settingsTypes, s.getUserChallenges))
	mux.Handle("PUT /api/users/{UserID}/challenges", s.handle(settingsTypes, s.putUserChallenges))
	mux.Handle("/api/users/{UserID}/challenges", s.notAllowed("GET, HEAD, PUT"))
	mux.Handle("POST /api/passwordmanagement/sendPasswordResetCode", s.handle(loginTypes, s.sendResetCode))
	mux.Handle("POST /api/passwordmanagement/validatePasswordResetCode", s.handle(loginTypes, s.validateResetCode))
	mux.Handle("POST /api/login/authenticateWithPasswordResetCode", s.handle(loginTypes, s.resetPassword))
	mux.Handle("POST /api/login", s.handle(loginTypes, s.login))
	mux.Handle("/api/login", s.notAllowed("POST"))
	mux.Handle("GET /api/login/status", s.handle(loginTypes, s.loginStatus))
	mux.Handle("/api/login/status", s.notAllowed("GET, HEAD"))
	mux.Handle("POST /api/login/pendingtasks", s.handle(loginTypes, s.pendingTask))
	mux.Handle("/api/login/pendingtasks", s.notAllowed("POST"))
	mux.Handle("POST /api/login/renewToken", s.handle(loginTypes, s.renewToken))
	mux.Handle("/api/login/renewToken", s.notAllowed("POST"))
	mux.Handle("GET /api/login/endsession", s.handle(loginTypes, s.endSession))
	mux.Handle("POST /api/login/logout", s.handle(loginTypes, s.endSession))
	mux.Handle("/api/login/endsession", s.notAllowed("GET, HEAD"))
	mux.HandleFunc("GET /api/openapi.json", serveOpenAPI)
	mux.Handle("GET /console/", web.Handler("/console/"))
	mux.Handle("GET /{$}", http.RedirectHandler("/console/", http.StatusFound))
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.Handle("GET /metrics", s.metricsHandler())
	mux.Handle("/", s.handle(settingsTypes, func(http.ResponseWriter, *http.Request, string) error {
		return fault.New(fault.NotFound, "no such resource")
	}))
	return s.recoverPanics(fixDocTypos(s.observe(mux)))
}

// fixDocTypos serves /api/businesses/businesses/{BusinessID}/twofasettings,
// the path the platform's PUT twofasettings page prints, as the real one.
// A route cannot do it: the pattern would overlap every business sub-resource.
func fixDocTypos(next http.Handler) http.Handler {
	const typo, suffix = "/api/businesses/businesses/", "/twofasettings"
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if id, ok := strings.CutPrefix(r.URL.Path, typo); ok && strings.HasSuffix(id, suffix) &&
			!strings.Contains(strings.TrimSuffix(id, suffix), "/") {
			r2 := r.Clone(r.Context())
			r2.URL.Path = "/api/businesses/" + id
			r2.URL.RawPath = ""
			next.ServeHTTP(w, r2)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// handle negotiates the response type, runs h and reports its error.
func (s *Server) handle(types mediaTypes, h handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mediaType, err := types.negotiate(r)
		if err == nil {
			err = h(w, r, mediaType)
		}
		if err != nil {
			writeError(w, r, s.log, mediaType, err)
		}
	})
}

func (s *Server) notAllowed(allow string) http.Handler {
	return s.handle(settingsTypes, func(w http.ResponseWriter, r *http.Request, _ string) error {
		w.Header().Set("Allow", allow)
		return fault.New(methodNotAllowed, "method %s is not allowed here; use %s", r.Method, allow)
	})
}

func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				writeError(w, r, s.log, "", fmt.Errorf("panic: %v", v))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// caller is an authenticated request.
type caller struct {
	business store.Business
	session  auth.Session
}

// tenantPolicy is what governs a tenant's logins: its root business's settings.
type tenantPolicy struct {
	login    settings.LoginPolicy
	security settings.Security
}

func (s *Server) policy(ctx context.Context, tenant string) (tenantPolicy, error) {
	root := store.RootBusinessID(tenant)
	login, err := s.store.LoginPolicy(ctx, root)
	if err != nil {
		return tenantPolicy{}, err
	}
	sec, err := s.store.Security(ctx, root)
	return tenantPolicy{login, sec}, err
}

// authorize admits a request to a business's settings: a live session of
// the business's tenant, the CSRF header where the tenant's settings ask for
// it, and a role that allows the access (Site Admin to write).
func (s *Server) authorize(r *http.Request, write bool) (caller, error) {
	ctx := r.Context()
	biz, err := s.store.Business(ctx, r.PathValue("BusinessID"))
	if err != nil {
		return caller{}, err
	}
	sess, _, err := s.authenticate(r, biz.TenantID)
	if err != nil {
		return caller{}, err
	}
	role, err := s.store.Role(ctx, sess.UserID, biz.ID)
	if err != nil {
		return caller{}, err
	}
	switch {
	case role == store.RoleSiteAdmin, role == store.RoleAuditor && !write:
		return caller{business: biz, session: sess}, nil
	case role == store.RoleAuditor:
		return caller{}, fault.New(fault.Forbidden, "changing settings requires the Site Admin role")
	}
	return caller{}, fault.New(fault.Forbidden, "this operation requires the Site Admin role for business %q", biz.ID)
}

// authenticate admits a request of a tenant: a live session, and the CSRF
// header where the tenant's settings ask for it.
func (s *Server) authenticate(r *http.Request, tenant string) (auth.Session, tenantPolicy, error) {
	p, err := s.policy(r.Context(), tenant)
	if err != nil {
		return auth.Session{}, p, err
	}
	sess, err := s.session(r, tenant, p.login)
	if err != nil {
		return auth.Session{}, p, err
	}
	return sess, p, checkCSRF(r, tenant, sess, p.security)
}

// AuthCookie and CSRFCookie name the platform's per-tenant cookies.
func AuthCookie(tenant string) string { return "AtmoAuthToken_" + tenant }

// CSRFCookie names the cookie whose value the client echoes in CSRFHeader.
func CSRFCookie(tenant string) string { return "Csrf-Token_" + tenant }

// CSRFHeader names the header that carries the CSRF token.
func CSRFHeader(tenant string) string { return "X-Csrf-Token_" + tenant }

var errNoSession = fault.New(fault.Unauthorized, "login is required: send the AtmoAuthToken cookie of a current session")

// tokenHash returns the stored form of the token in the request's auth
// cookie for tenant, if it carries one.
func tokenHash(r *http.Request, tenant string) ([]byte, bool) {
	c, err := r.Cookie(AuthCookie(tenant))
	if err != nil {
		return nil, false
	}
	secret, ok := auth.ParseToken(c.Value)
	if !ok {
		return nil, false
	}
	return auth.HashSecret(secret), true
}

// session returns the live session named by the request's auth cookie.
func (s *Server) session(r *http.Request, tenant string, policy settings.LoginPolicy) (auth.Session, error) {
	hash, ok := tokenHash(r, tenant)
	if !ok {
		return auth.Session{}, errNoSession
	}
	sess, err := s.store.Session(r.Context(), hash)
	switch {
	case fault.CodeOf(err) == fault.NotFound:
		return auth.Session{}, errNoSession
	case err != nil:
		return auth.Session{}, err
	case sess.TenantID != tenant || sess.State != auth.StateActive:
		return auth.Session{}, errNoSession
	}
	now := s.now()
	if sess.Expired(now, policy) {
		if err := s.store.DeleteSession(r.Context(), sess.TokenHash); err != nil {
			return auth.Session{}, err
		}
		return auth.Session{}, fault.New(fault.Unauthorized, "the session has expired; log in again")
	}
	if now.Sub(sess.LastSeenAt) >= touchEvery {
		if err := s.store.TouchSession(r.Context(), sess.TokenHash, now); err != nil {
			return auth.Session{}, err
		}
	}
	return sess, nil
}

// checkCSRF enforces the X-Csrf-Token header as the tenant's security
// settings require: on reads when ReadRequestCSRFSupport is enabled, on
// writes when WriteRequestCSRFSupport is. The token is bound to the session.
func checkCSRF(r *http.Request, tenant string, sess auth.Session, sec settings.Security) error {
	read := r.Method == http.MethodGet || r.Method == http.MethodHead
	if read && !settings.Feature(sec.ReadRequestCSRFSupport) || !read && !settings.Feature(sec.WriteRequestCSRFSupport) {
		return nil
	}
	secret, ok := auth.ParseToken(r.Header.Get(CSRFHeader(tenant)))
	if !ok || subtle.ConstantTimeCompare(auth.HashSecret(secret), sess.CSRFHash) != 1 {
		return fault.New(fault.Unauthorized, "the %s header is missing, invalid or expired", CSRFHeader(tenant))
	}
	return nil
}

// hostOnly strips the port from a Host header.
func hostOnly(host string) string {
	if i := strings.LastIndexByte(host, ':'); i >= 0 && !strings.HasSuffix(host, "]") {
		host = host[:i]
	}
	return strings.ToLower(strings.Trim(host, "[]"))
}
