package httpapi

import (
	"encoding/xml"
	"net"
	"net/http"
	"time"

	"github.com/bizsec/bizsec/internal/auth"
	"github.com/bizsec/bizsec/internal/fault"
	"github.com/bizsec/bizsec/internal/settings"
	"github.com/bizsec/bizsec/internal/store"
)

type loginRequest struct {
	XMLName  xml.Name `json:"-"`
	Email    string   `json:"email" xml:"email"`
	Password string   `json:"password" xml:"password"`
	// CaptchaResponse is the token the CAPTCHA widget gave the browser.
	CaptchaResponse string          `json:"captchaResponse,omitempty" xml:"captchaResponse,omitempty"`
	Unknown         unknownElements `json:"-" xml:",any"`
}

func (l *loginRequest) unknown() error { return l.Unknown.err() }

// loginResponse is the platform's LoginResponse.
type loginResponse struct {
	XMLName              xml.Name `json:"-" xml:"LoginResponse"`
	UserName             string   `json:"userName" xml:"userName"`
	UserFDN              string   `json:"userFDN" xml:"userFDN"`
	LoginDomainID        string   `json:"loginDomainID" xml:"loginDomainID"`
	PendingNotifications int      `json:"pendingNotifications" xml:"pendingNotifications"`
	AuthTokenValidUntil  int64    `json:"authTokenValidUntil" xml:"authTokenValidUntil"`
	LoginState           string   `json:"loginState" xml:"loginState"`
	Status               string   `json:"Status" xml:"Status"`
	PendingTasks         []string `json:"pendingTasks" xml:"pendingTasks>pendingTask"`
}

// maxPassword bounds the work one login can cause.
const maxPassword = 1024

// Login failures. With AllowUserEnum disabled every failure is errBadLogin,
// so that no answer tells whether an email is registered.
var (
	errBadLogin      = fault.New(fault.Unauthorized, "The email address or password is incorrect.")
	errUnknownEmail  = fault.New(fault.Unauthorized, "No user is registered with this email address.")
	errWrongPassword = fault.New(fault.Unauthorized, "The password is incorrect.")
	errSuspended     = fault.New(fault.Locked, "The account is suspended after too many failed logins; try again later.")
)

func (s *Server) login(w http.ResponseWriter, r *http.Request, mt string) error {
	var in loginRequest
	if err := readBody(w, r, loginTypes, &in); err != nil {
		return err
	}
	if in.Email == "" || in.Password == "" {
		return fault.New(fault.Invalid, "email and password are required")
	}
	if len(in.Password) > maxPassword || len(in.Email) > 320 {
		return fault.New(fault.Invalid, "email or password is too long")
	}
	ctx := r.Context()
	tenant, p, err := s.hostPolicy(r)
	if err != nil {
		return err
	}
	if err := s.checkCaptcha(r, in.CaptchaResponse, p.security); err != nil {
		s.metrics.logins.WithLabelValues("captcha_refused").Inc()
		return err
	}
	// Known and unknown emails take the same path: one lookup, one argon2id
	// verification (against a dummy hash when unknown), one transaction.
	user, err := s.store.UserByEmail(ctx, tenant, in.Email)
	known := err == nil
	if err != nil && fault.CodeOf(err) != fault.NotFound {
		return err
	}
	match, err := s.hasher.Verify(ctx, in.Password, user.PasswordHash)
	if err != nil {
		return err
	}
	now := s.now()
	var outcome error
	err = s.store.UpdateLockout(ctx, tenant, in.Email, func(l *auth.Lockout) error {
		switch {
		case l.Locked(now):
			outcome = errSuspended
		case match && known:
			l.Succeed()
		case l.Fail(now, p.login):
			s.metrics.lockouts.Inc()
			outcome = errSuspended
		case known:
			outcome = errWrongPassword
		default:
			outcome = errUnknownEmail
		}
		return nil
	})
	if err != nil {
		return err
	}
	if outcome != nil {
		label := "bad_credentials"
		if outcome == errSuspended {
			label = "suspended"
		}
		s.metrics.logins.WithLabelValues(label).Inc()
		if !settings.Feature(p.security.AllowUserEnum) {
			outcome = errBadLogin
		}
		s.log.InfoContext(ctx, "login failed", "tenant", tenant, "reason", fault.MessageOf(outcome))
		return outcome
	}
	tf, err := s.store.TwoFA(ctx, store.RootBusinessID(tenant))
	if err != nil {
		return err
	}
	if tf.TwoFAEnabled {
		need, err := s.needsTwoFA(r, user.ID, tf, now)
		if err != nil {
			return err
		}
		if need {
			s.metrics.logins.WithLabelValues("twofa_pending").Inc()
			return s.startTwoFA(w, r, mt, user, tf, p, now)
		}
	}
	sess, token, csrf := newSession(user.ID, tenant, now)
	if err := s.store.CreateSession(ctx, sess, !p.login.ConcurrentLogin); err != nil {
		return err
	}
	s.metrics.logins.WithLabelValues("success").Inc()
	s.log.InfoContext(ctx, "login", "tenant", tenant, "user", user.ID)
	s.setSessionCookies(w, r, tenant, token, csrf, sess.ExpiresAt(p.login), p)
	writeBody(w, http.StatusOK, mt, s.loginResponse(user, sess, p))
	return nil
}

func newSession(userID, tenant string, now time.Time) (sess auth.Session, token, csrf string) {
	token, csrf = auth.NewSecret(), auth.NewSecret()
	return auth.Session{
		TokenHash:  auth.HashSecret(token),
		CSRFHash:   auth.HashSecret(csrf),
		UserID:     userID,
		TenantID:   tenant,
		State:      auth.StateActive,
		IssuedAt:   now,
		LastSeenAt: now,
	}, token, csrf
}

func (s *Server) loginResponse(u store.User, sess auth.Session, p tenantPolicy) loginResponse {
	return loginResponse{
		UserName:            u.Name,
		UserFDN:             u.ID,
		LoginDomainID:       "siteusers." + u.TenantID,
		AuthTokenValidUntil: sess.ExpiresAt(p.login).UnixMilli(),
		LoginState:          "LoggedIn",
		Status:              "Success",
		PendingTasks:        []string{},
	}
}

// hostPolicy returns the tenant the request's host belongs to and its policy:
// the login service has no business in its path.
func (s *Server) hostPolicy(r *http.Request) (string, tenantPolicy, error) {
	tenant, err := s.store.TenantForHost(r.Context(), hostOnly(r.Host))
	if err != nil {
		return "", tenantPolicy{}, err
	}
	p, err := s.policy(r.Context(), tenant)
	return tenant, p, err
}

// current returns the caller's live session on the login endpoints, where
// the tenant comes from the host rather than a business.
func (s *Server) current(r *http.Request) (auth.Session, string, tenantPolicy, error) {
	tenant, p, err := s.hostPolicy(r)
	if err != nil {
		return auth.Session{}, "", tenantPolicy{}, err
	}
	sess, err := s.session(r, tenant, p.login)
	return sess, tenant, p, err
}

func (s *Server) loginStatus(w http.ResponseWriter, r *http.Request, mt string) error {
	sess, tenant, p, err := s.current(r)
	if err == errNoSession {
		return s.pendingStatus(w, r, mt, tenant)
	}
	if err != nil {
		return err
	}
	u, err := s.store.UserByID(r.Context(), sess.UserID)
	if err != nil {
		return err
	}
	writeBody(w, http.StatusOK, mt, s.loginResponse(u, sess, p))
	return nil
}

// renewToken swaps the session for a new one with new tokens and a new
// active period; the old cookie stops working at once.
func (s *Server) renewToken(w http.ResponseWriter, r *http.Request, mt string) error {
	old, tenant, p, err := s.current(r)
	if err != nil {
		return err
	}
	u, err := s.store.UserByID(r.Context(), old.UserID)
	if err != nil {
		return err
	}
	sess, token, csrf := newSession(old.UserID, tenant, s.now())
	if err := s.store.ReplaceSession(r.Context(), old.TokenHash, sess); err != nil {
		return err
	}
	s.setSessionCookies(w, r, tenant, token, csrf, sess.ExpiresAt(p.login), p)
	writeBody(w, http.StatusOK, mt, s.loginResponse(u, sess, p))
	return nil
}

// endSession logs out: the session ends and the cookies are cleared.
func (s *Server) endSession(w http.ResponseWriter, r *http.Request, _ string) error {
	tenant, p, err := s.hostPolicy(r)
	if err != nil {
		return err
	}
	if hash, ok := tokenHash(r, tenant); ok {
		if err := s.store.DeleteSession(r.Context(), hash); err != nil {
			return err
		}
	}
	for _, name := range []string{AuthCookie(tenant), CSRFCookie(tenant)} {
		c := s.cookie(r, name, "", p.security)
		c.MaxAge = -1
		http.SetCookie(w, c)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// setSessionCookies sends the auth cookie, and the CSRF cookie when csrf is
// set and either CSRF setting is on, with the attributes the tenant's
// settings ask for.
func (s *Server) setSessionCookies(w http.ResponseWriter, r *http.Request, tenant, token, csrf string, expires time.Time, p tenantPolicy) {
	ac := s.cookie(r, AuthCookie(tenant), auth.FormatToken(token,
		auth.Field("issueTime", auth.Millis(s.now())),
		auth.Field("expirationTime", auth.Millis(expires))), p.security)
	ac.HttpOnly = true
	if p.login.PersistentSession {
		ac.Expires = expires
	}
	http.SetCookie(w, ac)
	if csrf != "" && (settings.Feature(p.security.ReadRequestCSRFSupport) || settings.Feature(p.security.WriteRequestCSRFSupport)) {
		c := s.cookie(r, CSRFCookie(tenant), auth.FormatToken(csrf, auth.Field("expirationTime", auth.Millis(expires))), p.security)
		c.Expires = ac.Expires
		http.SetCookie(w, c) // not HttpOnly: the client's script reads it to build the header
	}
}

func (s *Server) cookie(r *http.Request, name, value string, sec settings.Security) *http.Cookie {
	c := &http.Cookie{Name: name, Value: value, Path: "/", Secure: s.secureCookies || r.TLS != nil}
	switch sec.AuthTokenCookieSameSite {
	case "Strict":
		c.SameSite = http.SameSiteStrictMode
	case "None":
		c.SameSite = http.SameSiteNoneMode
		c.Secure = true // browsers drop SameSite=None cookies that are not Secure
	default:
		c.SameSite = http.SameSiteLaxMode
	}
	if sec.AuthTokenCookieDomain != settings.CookieDomainHostname {
		c.Domain = sec.AuthTokenCookieDomain
	}
	return c
}

// checkCaptcha requires a verified CAPTCHA response when CaptchaSupport is
// enabled. It runs before the password is checked, so bots cost no hashing,
// and it fails closed when the verification service cannot be reached.
func (s *Server) checkCaptcha(r *http.Request, response string, sec settings.Security) error {
	if !settings.Feature(sec.CaptchaSupport) {
		return nil
	}
	if response == "" {
		return fault.New(fault.Unauthorized, "a CAPTCHA response (captchaResponse) is required")
	}
	ip, _, _ := net.SplitHostPort(r.RemoteAddr)
	ok, err := s.captcha.Verify(r.Context(), sec.CaptchaSiteSecret, response, ip)
	if err != nil {
		s.log.WarnContext(r.Context(), "captcha verification unavailable", "err", err)
		return fault.New(fault.Unavailable, "the CAPTCHA could not be verified; try again later")
	}
	if !ok {
		return fault.New(fault.Unauthorized, "the CAPTCHA response was not accepted")
	}
	return nil
}
