package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/bizsec/bizsec/internal/auth"
	"github.com/bizsec/bizsec/internal/fault"
	"github.com/bizsec/bizsec/internal/mail"
	"github.com/bizsec/bizsec/internal/settings"
	"github.com/bizsec/bizsec/internal/store"
)

// Mailer sends the platform's emails.
type Mailer interface {
	Send(ctx context.Context, m mail.Message) error
}

// taskTwoFA is the platform's pending-task name for the 2FA step.
const taskTwoFA = "2fa.verification.code"

// needsTwoFA applies RecurrenceMode: every login; once per
// RecurrenceIntervalMinutes; or on a device without a cookie from a 2FA
// passed within RecurrenceIntervalMinutes.
func (s *Server) needsTwoFA(r *http.Request, userID string, tf settings.TwoFA, now time.Time) (bool, error) {
	interval := time.Duration(tf.RecurrenceIntervalMinutes) * time.Minute
	switch tf.RecurrenceMode {
	case settings.OnceEachInterval:
		last, err := s.store.LastTwoFA(r.Context(), userID)
		return last.IsZero() || now.Sub(last) >= interval, err
	case settings.LoginNewDevice:
		c, err := r.Cookie(tf.DeviceCookie())
		if err != nil {
			return true, nil
		}
		added, err := s.store.DeviceAdded(r.Context(), auth.HashSecret(c.Value), userID)
		return added.IsZero() || now.Sub(added) >= interval, err
	}
	return true, nil
}

// startTwoFA answers a good password with a pending session and emails the code.
func (s *Server) startTwoFA(w http.ResponseWriter, r *http.Request, mt string, u store.User, tf settings.TwoFA, p tenantPolicy, now time.Time) error {
	ctx := r.Context()
	code, c := auth.NewCode(now)
	sess, token, _ := newSession(u.ID, u.TenantID, now)
	sess.State, sess.Code = auth.StatePending, c
	if err := s.store.CreateSession(ctx, sess, false); err != nil {
		return err
	}
	err := s.mailer.Send(ctx, mail.Message{
		To:      u.Email,
		Subject: "Your verification code",
		Body: fmt.Sprintf("Your verification code is %s.\n\nIt is valid for %d seconds. If you did not try to log in, change your password.\n",
			code, tf.CodeValidSeconds),
	})
	if err != nil {
		s.store.DeleteSession(ctx, sess.TokenHash)
		s.log.ErrorContext(ctx, "2FA code not sent", "user", u.ID, "err", err)
		return fault.New(fault.Unavailable, "the verification code could not be sent; try again later")
	}
	s.metrics.twoFA.WithLabelValues("sent").Inc()
	expires := codeExpiry(sess, tf)
	s.setSessionCookies(w, r, u.TenantID, token, "", expires, p)
	writeBody(w, http.StatusOK, mt, pendingResponse(u, expires))
	return nil
}

func codeExpiry(sess auth.Session, tf settings.TwoFA) time.Time {
	return sess.Code.IssuedAt.Add(time.Duration(tf.CodeValidSeconds) * time.Second)
}

func pendingResponse(u store.User, expires time.Time) loginResponse {
	return loginResponse{
		UserName:            u.Name,
		UserFDN:             u.ID,
		LoginDomainID:       "siteusers." + u.TenantID,
		AuthTokenValidUntil: expires.UnixMilli(),
		LoginState:          "PendingTasks",
		Status:              "Success",
		PendingTasks:        []string{taskTwoFA},
	}
}

// pendingStatus answers GET /api/login/status for a login waiting for its code.
func (s *Server) pendingStatus(w http.ResponseWriter, r *http.Request, mt, tenant string) error {
	sess, tf, err := s.pendingSession(r, tenant)
	if err != nil {
		return err
	}
	if !s.now().Before(codeExpiry(sess, tf)) {
		return errNoSession
	}
	u, err := s.store.UserByID(r.Context(), sess.UserID)
	if err != nil {
		return err
	}
	writeBody(w, http.StatusOK, mt, pendingResponse(u, codeExpiry(sess, tf)))
	return nil
}

func (s *Server) pendingSession(r *http.Request, tenant string) (auth.Session, settings.TwoFA, error) {
	hash, ok := tokenHash(r, tenant)
	if !ok {
		return auth.Session{}, settings.TwoFA{}, errNoSession
	}
	sess, err := s.store.Session(r.Context(), hash)
	if fault.CodeOf(err) == fault.NotFound || err == nil && (sess.State != auth.StatePending || sess.TenantID != tenant) {
		return auth.Session{}, settings.TwoFA{}, errNoSession
	}
	if err != nil {
		return auth.Session{}, settings.TwoFA{}, err
	}
	tf, err := s.store.TwoFA(r.Context(), store.RootBusinessID(tenant))
	return sess, tf, err
}

var (
	errWrongCode = fault.New(fault.Unauthorized, "The verification code is incorrect.")
	errVoidCode  = fault.New(fault.Unauthorized, "The verification code has expired or was entered wrongly too often; log in again.")
)

// pendingTask resolves POST /api/login/pendingtasks
// {"parameters":{"2fa.verification.code":"123456","Action":"validate"}}.
func (s *Server) pendingTask(w http.ResponseWriter, r *http.Request, mt string) error {
	if _, err := jsonTypes.requestType(r); err != nil {
		return err
	}
	// Fields beyond "parameters" are ignored: the platform's body has more
	// that its documentation does not show.
	var in struct {
		Parameters map[string]string `json:"parameters"`
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 16<<10))
	if err != nil {
		return fault.New(fault.Invalid, "the request body could not be read")
	}
	if err := json.Unmarshal(body, &in); err != nil {
		return jsonFault(err)
	}
	if action := in.Parameters["Action"]; !strings.EqualFold(action, "validate") {
		return fault.New(fault.Invalid, `parameters.Action must be "validate", got %q`, clip(action, 40))
	}
	code := in.Parameters[taskTwoFA]
	if code == "" {
		return fault.New(fault.Invalid, "parameters.%s is required", taskTwoFA)
	}
	ctx := r.Context()
	tenant, p, err := s.hostPolicy(r)
	if err != nil {
		return err
	}
	pending, tf, err := s.pendingSession(r, tenant)
	if err != nil {
		return err
	}
	now := s.now()
	next, token, csrf := newSession(pending.UserID, tenant, now)
	result, err := s.store.CompleteTwoFA(ctx, pending.TokenHash, next, !p.login.ConcurrentLogin,
		func(c *auth.Code) auth.CodeResult { return c.Check(code, now, tf) })
	switch {
	case err != nil:
		return err
	case result == auth.CodeWrong:
		s.metrics.twoFA.WithLabelValues("wrong").Inc()
		s.log.InfoContext(ctx, "2FA code wrong", "user", pending.UserID)
		return errWrongCode
	case result == auth.CodeVoid:
		s.metrics.twoFA.WithLabelValues("void").Inc()
		s.log.InfoContext(ctx, "2FA code void", "user", pending.UserID)
		return errVoidCode
	}
	u, err := s.store.UserByID(ctx, next.UserID)
	if err != nil {
		return err
	}
	if tf.RecurrenceMode == settings.LoginNewDevice {
		if err := s.rememberDevice(w, r, u.ID, tf, p, now); err != nil {
			return err
		}
	}
	s.metrics.twoFA.WithLabelValues("ok").Inc()
	s.log.InfoContext(ctx, "login", "tenant", tenant, "user", u.ID, "twofa", true)
	s.setSessionCookies(w, r, tenant, token, csrf, next.ExpiresAt(p.login), p)
	writeBody(w, http.StatusOK, mt, s.loginResponse(u, next, p))
	return nil
}

// rememberDevice marks the browser as a device that passed 2FA, for
// RecurrenceIntervalMinutes, with a random cookie whose hash is stored.
func (s *Server) rememberDevice(w http.ResponseWriter, r *http.Request, userID string, tf settings.TwoFA, p tenantPolicy, now time.Time) error {
	token := auth.NewSecret()
	if err := s.store.AddDevice(r.Context(), auth.HashSecret(token), userID, now); err != nil {
		return err
	}
	c := s.cookie(r, tf.DeviceCookie(), token, p.security)
	c.HttpOnly = true
	c.Expires = now.Add(time.Duration(tf.RecurrenceIntervalMinutes) * time.Minute)
	http.SetCookie(w, c)
	return nil
}
