package httpapi

import (
	"encoding/xml"
	"net/http"
	"strconv"
	"time"

	"github.com/bizsec/bizsec/internal/auth"
	"github.com/bizsec/bizsec/internal/login"
	"github.com/bizsec/bizsec/internal/settings"
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
	// AuthTokenValidUntil is epoch milliseconds in a string: the public
	// platform clients (ghchinoy/atmotool, ghchinoy/rwctl) decode it as one.
	AuthTokenValidUntil string   `json:"authTokenValidUntil" xml:"authTokenValidUntil"`
	LoginState          string   `json:"loginState" xml:"loginState"`
	Status              string   `json:"Status" xml:"Status"`
	PendingTasks        []string `json:"pendingTasks" xml:"pendingTasks>pendingTask"`
	// TwoFactor is bizsec's: the factors a pending login may use, when
	// they are more than the platform's emailed code.
	TwoFactor *twoFactorWire `json:"twoFactor,omitempty" xml:"twoFactor,omitempty"`
}

func loginResponseOf(res login.Result) loginResponse {
	out := loginResponse{
		UserName:            res.User.Name,
		UserFDN:             res.User.ID,
		LoginDomainID:       "siteusers." + res.User.TenantID,
		AuthTokenValidUntil: strconv.FormatInt(res.Expires.UnixMilli(), 10),
		LoginState:          "LoggedIn",
		Status:              "Success",
		PendingTasks:        []string{},
	}
	if res.Pending {
		task := res.Task
		if task == "" {
			task = login.TaskTwoFA
		}
		out.LoginState, out.PendingTasks = "PendingTasks", []string{task}
		if res.Factors != nil && res.Task == "" {
			out.PendingTasks, out.TwoFactor = res.Factors.Tasks, twoFactorOf(res.Factors)
		}
	}
	return out
}

func (s *Server) loginHandler(w http.ResponseWriter, r *http.Request, q *request) error {
	var in loginRequest
	if err := readBody(w, r, loginTypes, &in); err != nil {
		return err
	}
	tenant, err := s.hostTenant(r)
	if err != nil {
		return err
	}
	a := login.Attempt{Tenant: tenant, Email: in.Email, Password: in.Password, CaptchaResponse: in.CaptchaResponse,
		ClientIP: s.clientIP(r), UserAgent: r.UserAgent()}
	if p, err := s.login.Policy(r.Context(), tenant); err == nil {
		if c, err := r.Cookie(p.TwoFA.DeviceCookie()); err == nil {
			a.DeviceToken = c.Value
		}
	}
	res, err := s.login.Login(s.withClient(r, auth.MethodPassword), a)
	if err != nil {
		return err
	}
	s.answerSession(w, r, q, res)
	return nil
}

// answerSession sets the cookies of a login's result and answers with its
// LoginResponse.
func (s *Server) answerSession(w http.ResponseWriter, r *http.Request, q *request, res login.Result) {
	tenant := res.User.TenantID
	s.setSessionCookies(w, r, tenant, res.Token, res.CSRF, res.Expires, res.Policy)
	if res.Device != "" {
		c := s.cookie(r, res.Policy.TwoFA.DeviceCookie(), res.Device, res.Policy.Security)
		c.HttpOnly = true
		c.Expires = res.DeviceExpires
		http.SetCookie(w, c)
	}
	writeBody(w, http.StatusOK, q.mediaType, loginResponseOf(res))
}

func (s *Server) loginStatus(w http.ResponseWriter, r *http.Request, q *request) error {
	tenant, err := s.hostTenant(r)
	if err != nil {
		return err
	}
	res, err := s.login.Status(r.Context(), tenant, s.authCookie(r, tenant))
	if err != nil {
		return err
	}
	writeBody(w, http.StatusOK, q.mediaType, loginResponseOf(res))
	return nil
}

// renewToken swaps the session for a new one with new tokens and a new
// active period; the old cookie stops working at once.
func (s *Server) renewToken(w http.ResponseWriter, r *http.Request, q *request) error {
	tenant, err := s.hostTenant(r)
	if err != nil {
		return err
	}
	cookie := s.authCookie(r, tenant)
	sess, p, err := s.login.Authenticate(r.Context(), tenant, cookie)
	if err != nil {
		return err
	}
	if err := checkCSRF(r, tenant, sess, p.Security, true); err != nil && ambient(r, tenant) {
		return err
	}
	res, err := s.login.Renew(r.Context(), sess, *p)
	if err != nil {
		return err
	}
	s.answerSession(w, r, q, res)
	return nil
}

// endSession logs out: the session ends and the cookies are cleared. A
// live session ends only with its CSRF header (where the tenant asks for
// it on writes), so another site cannot log the user out.
func (s *Server) endSession(w http.ResponseWriter, r *http.Request, _ *request) error {
	tenant, err := s.hostTenant(r)
	if err != nil {
		return err
	}
	p, err := s.login.Policy(r.Context(), tenant)
	if err != nil {
		return err
	}
	cookie := s.authCookie(r, tenant)
	if sess, _, err := s.login.Authenticate(r.Context(), tenant, cookie); err == nil {
		if err := checkCSRF(r, tenant, sess, p.Security, true); err != nil && ambient(r, tenant) {
			return err
		}
	}
	if err := s.login.Logout(r.Context(), tenant, cookie); err != nil {
		return err
	}
	for _, name := range []string{AuthCookie(tenant), CSRFCookie(tenant)} {
		c := s.cookie(r, name, "", p.Security)
		c.MaxAge = -1
		http.SetCookie(w, c)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// setSessionCookies sends the auth cookie, and the CSRF cookie when csrf is
// set and either CSRF setting is on, with the attributes the tenant's
// settings ask for.
func (s *Server) setSessionCookies(w http.ResponseWriter, r *http.Request, tenant, token, csrf string, expires time.Time, p login.Policy) {
	ac := s.cookie(r, AuthCookie(tenant), auth.FormatToken(token,
		auth.Field("issueTime", auth.Millis(s.now())),
		auth.Field("expirationTime", auth.Millis(expires))), p.Security)
	ac.HttpOnly = true
	if p.Login.PersistentSession {
		ac.Expires = expires
	}
	http.SetCookie(w, ac)
	if csrf != "" && (settings.Feature(p.Security.ReadRequestCSRFSupport) || settings.Feature(p.Security.WriteRequestCSRFSupport)) {
		c := s.cookie(r, CSRFCookie(tenant), csrf, p.Security)
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
