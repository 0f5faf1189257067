// Package login is the platform's login service: password login with
// account suspension and masking of unknown users, sessions, two-factor
// codes, password reset with security questions, and who may do what. It
// speaks domain values and knows nothing of HTTP; the wire layer turns its
// results into cookies, statuses and metrics.
package login

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bizsec/bizsec/internal/auth"
	"github.com/bizsec/bizsec/internal/captcha"
	"github.com/bizsec/bizsec/internal/factor"
	"github.com/bizsec/bizsec/internal/fault"
	"github.com/bizsec/bizsec/internal/mail"
	"github.com/bizsec/bizsec/internal/secret"
	"github.com/bizsec/bizsec/internal/settings"
	"github.com/bizsec/bizsec/internal/store"
	"github.com/bizsec/bizsec/internal/throttle"
)

// Mailer sends the service's mail: codes and notices.
type Mailer interface {
	Send(ctx context.Context, m mail.Message) error
}

// Metrics counts outcomes. The HTTP layer exports them.
type Metrics interface {
	Login(outcome string) // success, bad_credentials, suspended, twofa_pending, captcha_refused, throttled
	Suspended()           // an account was suspended
	TwoFA(outcome string) // sent, ok, wrong, void
	// Throttled counts a refusal by a budget: client, fail, mail, answers.
	Throttled(budget string)
}

type noMetrics struct{}

func (noMetrics) Login(string)     {}
func (noMetrics) Suspended()       {}
func (noMetrics) TwoFA(string)     {}
func (noMetrics) Throttled(string) {}

// Limits bound how often the service may be asked to work. The budgets are
// kept in the database, shared by every instance and kept across restarts
// (see limits.go for the keys).
type Limits struct {
	// Client: requests to the login endpoints per client address (an
	// IPv6 client also per /56 and /48, at 4 and 16 times this).
	Client throttle.Rate
	// AccountFailures: failed factors (password, 2FA code, reset answer)
	// per account and client, known account or not; past it, that client's
	// attempts on the account get 429. The account's failures from all
	// clients together are bounded at ten times this.
	AccountFailures throttle.Rate
	// Mail: codes mailed per address and purpose (2FA, reset).
	Mail throttle.Rate
	// AnswerChanges: changes of one user's security answers (each hashes
	// every answer).
	AnswerChanges throttle.Rate
	// MaxKeys bounds the refusals remembered in memory in front of the
	// database; past it, refusals are asked of the database again.
	MaxKeys int
}

// DefaultLimits are generous to people and slow to machines: a person
// never sends 120 login requests a minute, nor fails 10 times in a row;
// a guesser who does waits 5 minutes per further guess.
var DefaultLimits = Limits{
	Client:          throttle.Rate{N: 120, Per: time.Minute},
	AccountFailures: throttle.Rate{N: 10, Per: 50 * time.Minute},
	Mail:            throttle.Rate{N: 3, Per: 15 * time.Minute},
	AnswerChanges:   throttle.Rate{N: 10, Per: time.Hour},
	MaxKeys:         100_000,
}

// orDefault fills the limits left zero from DefaultLimits.
func (l Limits) orDefault() Limits {
	d := DefaultLimits
	for _, f := range []struct{ to, def *throttle.Rate }{{&l.Client, &d.Client}, {&l.AccountFailures, &d.AccountFailures},
		{&l.Mail, &d.Mail}, {&l.AnswerChanges, &d.AnswerChanges}} {
		if f.to.N == 0 {
			*f.to = *f.def
		}
	}
	if l.MaxKeys == 0 {
		l.MaxKeys = d.MaxKeys
	}
	return l
}

// Config wires a Service.
type Config struct {
	Store   *store.Store
	Hasher  *auth.Hasher
	Box     *secret.Box // seals challenge answers (EncryptChallengeAnswers)
	Captcha *captcha.Verifier
	Mailer  Mailer
	Logger  *slog.Logger
	Metrics Metrics
	Now     func() time.Time // the clock; tests move it
	Limits  Limits           // zero: DefaultLimits
	// PublicURL is the site's URL as browsers see it: the WebAuthn relying
	// party's ID and origin ("": no WebAuthn factors).
	PublicURL string
}

// Service is the login service of every tenant in a store.
type Service struct {
	store   *store.Store
	hasher  *auth.Hasher
	box     *secret.Box
	captcha *captcha.Verifier
	mailer  Mailer
	log     *slog.Logger
	metrics Metrics
	now     func() time.Time

	digest auth.Digest // what is stored for 2FA and reset codes
	rp     *factor.RP  // WebAuthn's relying party; nil without a PublicURL
	// policies are the policies of the tenants whose policy was read
	// (tenants that exist, so a bounded set): tenant -> *policySnap.
	policies sync.Map

	limits  atomic.Pointer[Limits] // SetLimits swaps them while serving
	budgets *throttle.Budgets

	background sync.WaitGroup // mail that outlives its request
	resets     chan struct{}  // wakes the reset mail worker
	resetting  sync.Mutex     // held while the worker handles a queued reset
	notices    chan notice    // mail for the notice worker

	starting sync.Once
	stop     chan struct{} // closed by Close: the workers return
	workers  sync.WaitGroup
}

// New returns a Service for cfg. It starts nothing: a one-shot command (the
// CLI's unlock) must not take queued work off a server's hands; a server
// calls Start.
func New(cfg Config) *Service {
	s := &Service{store: cfg.Store, hasher: cfg.Hasher, box: cfg.Box, captcha: cfg.Captcha, mailer: cfg.Mailer,
		log: cfg.Logger, metrics: cfg.Metrics, now: cfg.Now}
	if s.captcha == nil {
		s.captcha = captcha.New(captcha.DefaultURL)
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.metrics == nil {
		s.metrics = noMetrics{}
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.mailer == nil {
		s.mailer = discardMail{}
	}
	s.digest = auth.HashSecret
	if s.box != nil {
		s.digest = s.box.MAC
	}
	l := cfg.Limits.orDefault()
	s.limits.Store(&l)
	s.rp = s.relyingParty(cfg.PublicURL)
	s.resets = make(chan struct{}, 1)
	s.notices = make(chan notice, 1000)
	s.stop = make(chan struct{})
	if s.store != nil {
		s.budgets = throttle.New(s.store, l.MaxKeys)
	}
	return s
}

// SetLimits replaces the limits (a reload); MaxKeys applies only at start.
func (s *Service) SetLimits(l Limits) {
	l = l.orDefault()
	s.limits.Store(&l)
}

// lim is the limits in force.
func (s *Service) lim() *Limits { return s.limits.Load() }

// NoticeQueueLen is how many notices wait for the notice worker.
func (s *Service) NoticeQueueLen() int { return len(s.notices) }

// Start starts the workers that send mail after the answer: suspension
// notices, and the queued password resets (every instance's, so any
// instance may mail a reset another queued). It is for servers, once.
func (s *Service) Start() {
	s.starting.Do(func() {
		s.workers.Add(1)
		go func() { defer s.workers.Done(); s.noticeWorker() }()
		if s.store != nil {
			s.workers.Add(1)
			go func() { defer s.workers.Done(); s.resetWorker() }()
		}
	})
}

// Close stops the workers once what they hold has been sent.
func (s *Service) Close() {
	s.starting.Do(func() {}) // never start after Close
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	s.workers.Wait()
}

type discardMail struct{}

func (discardMail) Send(context.Context, mail.Message) error { return nil }

// Wait returns when mail started for answered requests has been sent.
func (s *Service) Wait() {
	s.background.Wait()
	// Taking the lock waits for a queued reset being mailed now: the worker
	// holds it for the whole of one.
	s.resetting.Lock()
	//lint:ignore SA2001 the lock is taken only to wait for the worker's critical section to end
	s.resetting.Unlock()
}

// ResetValidFor is how long a mailed password reset code works.
const ResetValidFor = 30 * time.Minute

// MaxPassword bounds the work one login can cause.
const MaxPassword = 1024

// maxEmail is the longest address SMTP allows.
const maxEmail = 320

// Policy is what governs a tenant's logins: its root business's settings.
type Policy struct {
	Login    settings.LoginPolicy
	Security settings.Security
	TwoFA    settings.TwoFA
	Password settings.PasswordPolicy
}

// Policy returns the tenant's policy.
func (s *Service) Policy(ctx context.Context, tenant string) (Policy, error) {
	p, err := s.policy(ctx, tenant)
	if err != nil {
		return Policy{}, err
	}
	return *p, nil
}

// policySnap is a tenant's policy as read while the store's Generation
// was gen.
type policySnap struct {
	gen  uint64
	root string
	p    Policy
}

// policy returns the tenant's policy, shared: the caller must not change
// it. While no settings change, a request's policy is one lookup, not one
// per object.
func (s *Service) policy(ctx context.Context, tenant string) (*Policy, error) {
	gen, served := s.store.Generation()
	var root string
	if v, ok := s.policies.Load(tenant); ok {
		old := v.(*policySnap)
		if served && old.gen == gen {
			return &old.p, nil
		}
		root = old.root
	} else {
		root = store.RootBusinessID(tenant)
	}
	snap := &policySnap{gen: gen, root: root}
	p := &snap.p
	var err error
	if p.Login, _, err = store.Get(ctx, s.store, settings.LoginPolicyKind, snap.root); err != nil {
		return nil, err
	}
	if p.Security, _, err = store.Get(ctx, s.store, settings.SecurityKind, snap.root); err != nil {
		return nil, err
	}
	if p.Password, _, err = store.Get(ctx, s.store, settings.PasswordPolicyKind, snap.root); err != nil {
		return nil, err
	}
	if p.TwoFA, _, err = store.Get(ctx, s.store, settings.TwoFAKind, snap.root); err != nil {
		return nil, err
	}
	if served { // the tenant exists (store.Get found it), so the map stays bounded
		s.policies.Store(tenant, snap)
	}
	return p, nil
}

// TenantForHost returns the tenant whose login service a host name serves.
func (s *Service) TenantForHost(ctx context.Context, host string) (string, error) {
	return s.store.TenantForHost(ctx, host)
}

// Errors the service answers with. Their messages are for the client.
var (
	// ErrBadLogin is every login failure when AllowUserEnum is disabled,
	// so that no answer tells whether an email is registered.
	ErrBadLogin      = fault.New(fault.Unauthorized, "The email address or password is incorrect.")
	ErrUnknownEmail  = fault.New(fault.Unauthorized, "No user is registered with this email address.")
	ErrWrongPassword = fault.New(fault.Unauthorized, "The password is incorrect.")
	ErrSuspended     = fault.New(fault.Locked, "The account is suspended after too many failed logins; try again later.")
	ErrNoSession     = fault.New(fault.Unauthorized, "login is required: send the AtmoAuthToken cookie of a current session")
	ErrExpired       = fault.New(fault.Unauthorized, "the session has expired; log in again")
	ErrWrongCode     = fault.New(fault.Unauthorized, "The verification code is incorrect.")
	ErrVoidCode      = fault.New(fault.Unauthorized, "The verification code has expired or was entered wrongly too often; log in again.")
	ErrBadResetCode  = store.ErrBadResetCode
)

// Attempt is one password login.
type Attempt struct {
	Tenant          string
	Email           string
	Password        string
	CaptchaResponse string
	ClientIP        string // the client's address, for throttling and CAPTCHA
	UserAgent       string // the client's, shown with the session
	DeviceToken     string // the 2FA device cookie's value, "" if none
}

// Result is a login's outcome: a session, live or waiting for its 2FA code.
type Result struct {
	User    store.User
	Session auth.Session
	Token   string    // the auth token's secret, for the cookie
	CSRF    string    // the CSRF cookie's value, to be echoed in the header; "" while pending
	Expires time.Time // when the session (or the pending code) ends
	Pending bool      // a pending task is outstanding: Task
	Task    string    // TaskTwoFA or TaskChangePassword while Pending
	Policy  Policy
	// Device is a new remembered-device secret to set as the 2FA device
	// cookie until DeviceExpires ("" for none).
	Device        string
	DeviceExpires time.Time
	// Factors are what a pending login may be answered with.
	Factors *FactorChallenge
}

// Login checks a password under the tenant's policy. Known and unknown
// emails take the same path: one lookup, one argon2id verification
// (against a dummy hash when unknown), one transaction on the email's
// failure record.
func (s *Service) Login(ctx context.Context, a Attempt) (Result, error) {
	if a.Email == "" || a.Password == "" {
		return Result{}, fault.New(fault.Invalid, "email and password are required")
	}
	if len(a.Password) > MaxPassword || len(a.Email) > maxEmail {
		return Result{}, fault.New(fault.Invalid, "email or password is too long")
	}
	now := s.now()
	ctx = withClientAddr(ctx, a.ClientIP)
	if err := s.throttleClient(ctx, a.ClientIP, now); err != nil {
		s.metrics.Login("throttled")
		return Result{}, err
	}
	p, err := s.Policy(ctx, a.Tenant)
	if err != nil {
		return Result{}, err
	}
	if err := s.checkCaptcha(ctx, a.CaptchaResponse, a.ClientIP, p.Security); err != nil {
		s.metrics.Login("captcha_refused")
		return Result{}, err
	}
	try, err := s.chargeAttempt(ctx, a.Tenant, a.Email, a.ClientIP, now)
	if err != nil {
		if fault.CodeOf(err) == fault.TooMany {
			s.metrics.Login("throttled")
		}
		return Result{}, err
	}
	defer try.Done(ctx)
	user, err := s.store.UserByEmail(ctx, a.Tenant, a.Email)
	known := err == nil
	if err != nil && fault.CodeOf(err) != fault.NotFound {
		return Result{}, err
	}
	match, err := s.hasher.Verify(ctx, a.Password, user.PasswordHash)
	if err != nil {
		return Result{}, err
	}
	good := match && known
	if !good {
		try.Wrong()
	}
	if good && user.Disabled {
		s.metrics.Login("bad_credentials")
		s.event(ctx, slog.LevelWarn, "login refused", "login", "failure", actor{a.Tenant, user.ID, a.Email, a.ClientIP},
			slog.String("reason", "the user is disabled"))
		return Result{}, s.mask(ErrDisabled, p.Security)
	}
	needTwoFA := false
	if good {
		s.rehash(ctx, user, a.Password)
		if needTwoFA, err = s.needsTwoFA(ctx, user.ID, p.TwoFA, a.DeviceToken, now); err != nil {
			return Result{}, err
		}
	}
	if good && !needTwoFA && p.TwoFA.TwoFAEnabled && a.DeviceToken != "" {
		ctx = store.WithClient(ctx, store.ClientInfo{Addr: a.ClientIP, UserAgent: a.UserAgent, Method: auth.MethodDevice})
	}
	// A temporary password is changed first; 2FA, when due, comes after.
	needChange := good && user.PasswordTemporary
	if good && !needTwoFA && !needChange {
		// Nothing to clear or refuse without a failure record: skip the write.
		has, err := s.store.HasLockout(ctx, a.Tenant, a.Email)
		if err != nil {
			return Result{}, err
		}
		if !has {
			return s.loggedIn(ctx, user, p, now)
		}
	}
	var outcome error
	var suspended bool
	err = s.lockout(ctx, lockoutChange{Tenant: a.Tenant, Email: a.Email, UserID: user.ID, Now: now},
		func(l *auth.Lockout) error {
			switch {
			case l.Locked(now):
				outcome = ErrSuspended
			case good && !needTwoFA && !needChange:
				l.Succeed()
			case good:
				// The count stands until the whole login, its pending tasks
				// included, succeeds.
			default:
				outcome, suspended = s.fail(l, now, p.Login, known)
			}
			return nil
		})
	if err != nil {
		return Result{}, err
	}
	if outcome != nil {
		return Result{}, s.refuse(ctx, a.Tenant, a.Email, user, known, suspended, now, outcome, p)
	}
	if needChange {
		return s.startPasswordChange(ctx, user, p, now)
	}
	if needTwoFA {
		return s.startTwoFA(ctx, user, p, now)
	}
	return s.loggedIn(ctx, user, p, now)
}

// loggedIn starts the session of a successful login.
func (s *Service) loggedIn(ctx context.Context, user store.User, p Policy, now time.Time) (Result, error) {
	r, err := s.startSession(ctx, user, p, now) // live, or held for a factor enrolment
	if err == nil {
		s.metrics.Login("success")
		s.event(ctx, slog.LevelInfo, "login", "login", "success", actor{user.TenantID, user.ID, user.Email, clientOf(ctx)})
	}
	return r, err
}

// fail is how every wrong factor counts: one failure of the account toward
// the login policy's suspension. It returns the error to answer (before
// masking) and whether this failure suspended the account.
func (s *Service) fail(l *auth.Lockout, now time.Time, p settings.LoginPolicy, known bool) (error, bool) {
	if l.Fail(now, p) {
		return ErrSuspended, true
	}
	if known {
		return ErrWrongPassword, false
	}
	return ErrUnknownEmail, false
}

// refuse finishes a failed factor: counts it, tells the owner of a newly
// suspended account, and masks the answer when AllowUserEnum is disabled.
func (s *Service) refuse(ctx context.Context, tenant, email string, u store.User, known, suspended bool, now time.Time, outcome error, p Policy) error {
	who := actor{tenant, u.ID, email, clientOf(ctx)}
	if suspended {
		s.metrics.Suspended()
		s.event(ctx, slog.LevelWarn, "account suspended", "account-suspend", "success", who,
			slog.Int("failures", p.Login.MaxSequentialFailureAttemptsAllowed), slog.Int("minutes", p.Login.SuspensionMinutes))
		if known {
			s.mailSuspension(ctx, u, now, p.Login)
		}
	}
	label := "bad_credentials"
	if outcome == ErrSuspended {
		label = "suspended"
	}
	s.metrics.Login(label)
	s.event(ctx, slog.LevelWarn, "login failed", "login", "failure", who, slog.String("reason", fault.MessageOf(outcome)))
	return s.mask(outcome, p.Security)
}

// mask hides which of the login failures happened when AllowUserEnum is
// disabled: unknown email, wrong password and suspension answer alike.
func (s *Service) mask(err error, sec settings.Security) error {
	if settings.Feature(sec.AllowUserEnum) {
		return err
	}
	switch err {
	case ErrUnknownEmail, ErrWrongPassword, ErrSuspended, ErrDisabled:
		return ErrBadLogin
	}
	return err
}

// newSession starts a live session for u, ending u's others when the
// policy forbids concurrent logins.
func (s *Service) newSession(ctx context.Context, u store.User, p Policy, now time.Time) (Result, error) {
	sess, token, csrf := newSession(u.ID, u.TenantID, now, now, p.Login)
	if err := s.store.CreateSession(ctx, sess, !p.Login.ConcurrentLogin); err != nil {
		return Result{}, err
	}
	return Result{User: u, Session: sess, Token: token, CSRF: csrf, Expires: sess.ExpiresAt(p.Login), Policy: p}, nil
}

// newSession makes a live session and its secrets: the auth token, and
// the CSRF cookie's whole value, which the client must echo exactly in the
// CSRF header (only its hash is kept). issued is the login the session
// descends from: ActiveSessionTimeout counts from it, through renewals.
func newSession(userID, tenant string, issued, now time.Time, p settings.LoginPolicy) (sess auth.Session, token, csrf string) {
	token = auth.NewSecret()
	sess = auth.Session{
		TokenHash:  auth.HashSecret(token),
		UserID:     userID,
		TenantID:   tenant,
		State:      auth.StateActive,
		IssuedAt:   issued,
		LastSeenAt: now,
	}
	csrf = auth.FormatToken(auth.NewSecret(), auth.Field("expirationTime", auth.Millis(sess.ExpiresAt(p))))
	sess.CSRFHash = auth.HashSecret(csrf)
	return sess, token, csrf
}

// checkCaptcha requires a verified CAPTCHA response when CaptchaSupport is
// enabled. It runs before any password is checked or mail sent, so bots
// cost no hashing, and it fails closed when the service cannot be reached.
func (s *Service) checkCaptcha(ctx context.Context, response, clientIP string, sec settings.Security) error {
	if !settings.Feature(sec.CaptchaSupport) {
		return nil
	}
	if response == "" {
		return fault.New(fault.Unauthorized, "a CAPTCHA response (captchaResponse) is required")
	}
	ok, err := s.captcha.Verify(ctx, sec.CaptchaSiteSecret, response, clientIP)
	if err != nil {
		s.event(ctx, slog.LevelError, "captcha verification unavailable", "captcha", "failure", actor{client: clientIP}, slog.String("reason", err.Error()))
		return fault.New(fault.Unavailable, "the CAPTCHA could not be verified; try again later")
	}
	if !ok {
		return fault.New(fault.Unauthorized, "the CAPTCHA response was not accepted")
	}
	return nil
}
