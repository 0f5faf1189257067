package login

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/bizsec/bizsec/internal/auth"
	"github.com/bizsec/bizsec/internal/factor"
	"github.com/bizsec/bizsec/internal/fault"
	"github.com/bizsec/bizsec/internal/mail"
	"github.com/bizsec/bizsec/internal/settings"
	"github.com/bizsec/bizsec/internal/store"
)

// TaskWebAuthn is bizsec's pending task for a WebAuthn assertion: its
// answer is the PublicKeyCredential of navigator.credentials.get, as JSON.
const TaskWebAuthn = "2fa.webauthn.assertion"

// The kinds of second factor.
const (
	KindEmail    = "email"
	KindTOTP     = "totp"
	KindRecovery = "recovery"
	KindWebAuthn = "webauthn"
)

// Factor is one kind of second factor. The login service asks each of a
// user's usable factors to Begin a pending login, and each factor whose
// Task is answered to Verify the answer; nothing else in the service
// names a kind, so a new factor is a new implementation of this.
type Factor interface {
	// Kind names the factor in the login answer and the factor list.
	Kind() string
	// Task is the pending task whose answer the factor checks.
	Task() string
	// Usable reports whether the factor can answer, under the tenant's
	// factor policy, for a user with these active factors and unused
	// recovery codes.
	Usable(s *Service, fp settings.FactorPolicy, active []store.Factor, recoveryLeft int) bool
	// Begin readies the pending login: what it must keep (its Code) and
	// what the client must be told (its Challenge).
	Begin(ctx context.Context, s *Service, p *PendingLogin) error
	// Started runs once the pending login is stored (the emailed code is
	// mailed then); an error ends the pending login.
	Started(ctx context.Context, s *Service, p *PendingLogin) error
	// Verify checks an answer inside the transaction that counts the try,
	// spending what makes it single-use (a TOTP step, a recovery code, a
	// sign counter) there.
	Verify(s *Service, v *Verification) (bool, error)
}

// factors are every kind, in the order a login answer lists them.
var factors = []Factor{webAuthnFactor{}, totpFactor{}, recoveryFactor{}, emailFactor{}}

// PendingLogin is a login whose password was right, waiting for a second factor.
type PendingLogin struct {
	User      store.User
	Policy    Policy
	Session   *auth.Session
	Now       time.Time
	Challenge *FactorChallenge
	code      string // the emailed code, until it is mailed
}

// FactorChallenge is what a pending login may be answered with.
type FactorChallenge struct {
	// Tasks are the pending tasks; answering any one completes the login.
	Tasks []string
	// Factors are the kinds usable, strongest first.
	Factors []string
	// RecoveryCodesLeft counts the user's unused recovery codes.
	RecoveryCodesLeft int
	// WebAuthn is the request options for navigator.credentials.get.
	WebAuthn json.RawMessage
	// EnrolBy is, with TaskEnrolment, when the grace to enrol an app or
	// key ends (past it, the session is held for enrolment).
	EnrolBy time.Time
	// EnrolNow: past the grace, the session is held for enrolment.
	EnrolNow bool
}

// EmailOnly reports whether the challenge is the platform's own: the
// emailed code alone.
func (c *FactorChallenge) EmailOnly() bool {
	return c == nil || (len(c.Factors) == 1 && c.Factors[0] == KindEmail)
}

// Verification is one answer to a pending task being checked.
type Verification struct {
	Policy settings.FactorPolicy // the tenant's factor policy
	Tx     *store.FactorTx
	User   store.User
	Code   *auth.Code
	Answer string
	Now    time.Time
	Active []store.Factor // the user's active factors, read in the transaction
	// use is the factor event to count once the transaction commits (a
	// transaction run again would count it twice if counted inside).
	use *factorUse
}

// factorUse is a factor's use or failure at login, to be counted.
type factorUse struct{ kind, outcome string }

// hasStrong reports whether a user with these active factors has an app
// or key the policy allows.
func hasStrong(fp settings.FactorPolicy, active []store.Factor) bool {
	for _, f := range active {
		if (f.Kind == KindTOTP || f.Kind == KindWebAuthn) && fp.Allows(f.Kind) {
			return true
		}
	}
	return false
}

// factorPolicy is the tenant's factor policy.
func (s *Service) factorPolicy(ctx context.Context, tenant string) (settings.FactorPolicy, error) {
	fp, _, err := store.Get(ctx, s.store, settings.FactorPolicyKind, store.RootBusinessID(tenant))
	return fp, err
}

func ofKind(active []store.Factor, kind string) []store.Factor {
	var out []store.Factor
	for _, f := range active {
		if f.Kind == kind {
			out = append(out, f)
		}
	}
	return out
}

// usableFactors are the factors that can answer for u now, and u's
// active factors and unused recovery codes.
func (s *Service) usableFactors(ctx context.Context, u store.User) ([]Factor, []store.Factor, int, error) {
	fp, err := s.factorPolicy(ctx, u.TenantID)
	if err != nil {
		return nil, nil, 0, err
	}
	all, err := s.store.Factors(ctx, u.ID)
	if err != nil {
		return nil, nil, 0, err
	}
	var active []store.Factor
	for _, f := range all {
		if f.Active {
			active = append(active, f)
		}
	}
	left, err := s.store.RecoveryCodesLeft(ctx, u.ID)
	if err != nil {
		return nil, nil, 0, err
	}
	var usable []Factor
	for _, f := range factors {
		if f.Usable(s, fp, active, left) {
			usable = append(usable, f)
		}
	}
	return usable, active, left, nil
}

// challengeOf names the usable factors and their tasks, the platform's first.
func challengeOf(usable []Factor, left int) *FactorChallenge {
	c := &FactorChallenge{RecoveryCodesLeft: left}
	platform := false
	var others []string
	for _, f := range usable {
		c.Factors = append(c.Factors, f.Kind())
		switch t := f.Task(); {
		case t == TaskTwoFA:
			platform = true
		case !slices.Contains(others, t):
			others = append(others, t)
		}
	}
	if platform {
		c.Tasks = append(c.Tasks, TaskTwoFA)
	}
	c.Tasks = append(c.Tasks, others...)
	return c
}

// beginFactors readies a pending login for each of the user's usable
// factors.
func (s *Service) beginFactors(ctx context.Context, p *PendingLogin) error {
	usable, _, left, err := s.usableFactors(ctx, p.User)
	if err != nil {
		return err
	}
	p.Challenge = challengeOf(usable, left)
	p.Session.Code = auth.Code{IssuedAt: p.Now}
	for _, f := range usable {
		if err := f.Begin(ctx, s, p); err != nil {
			return err
		}
	}
	return nil
}

// verifyFactors checks an answer to task with every factor that takes it.
func (s *Service) verifyFactors(task string, v *Verification) (bool, error) {
	left := 0
	if has, err := v.Tx.HasRecoveryCodes(); err != nil {
		return false, err
	} else if has {
		left = 1
	}
	var usable []string
	for _, f := range factors {
		if f.Task() != task || !f.Usable(s, v.Policy, v.Active, left) {
			continue
		}
		usable = append(usable, f.Kind())
		ok, err := f.Verify(s, v)
		if err != nil {
			return false, err
		}
		if ok {
			return true, s.recordUse(v, f.Kind(), true)
		}
	}
	return false, s.recordUse(v, triedKind(task, v.Answer, usable), false)
}

// triedKind names the factor a wrong answer was most likely meant for:
// a key's assertion, six digits for the app (or else the emailed code),
// anything else a recovery code.
func triedKind(task, answer string, usable []string) string {
	switch {
	case task == TaskWebAuthn:
		return KindWebAuthn
	case sixDigits(answer) && slices.Contains(usable, KindTOTP):
		return KindTOTP
	case sixDigits(answer) || !slices.Contains(usable, KindRecovery):
		return KindEmail
	}
	return KindRecovery
}

// recordUse writes a factor's use or failure at login to the audit history
// in the transaction that counts the try, and notes it to be counted once
// that commits.
func (s *Service) recordUse(v *Verification, kind string, ok bool) error {
	event, outcome := "factor.used", "success"
	if !ok {
		event, outcome = "factor.failed", "failure"
	}
	if v.use != nil {
		*v.use = factorUse{kind, outcome}
	}
	return v.Tx.Record(store.FactorEvent{Tenant: v.User.TenantID, Email: v.User.Email, Actor: v.User.ID, Event: event, Now: v.Now}, kind)
}

// emailFactor is the platform's emailed six-digit code: for users with
// no stronger factor, and for all with the policy's EmailCodeFallback.
type emailFactor struct{}

func (emailFactor) Kind() string { return KindEmail }
func (emailFactor) Task() string { return TaskTwoFA }

func (emailFactor) Usable(_ *Service, fp settings.FactorPolicy, active []store.Factor, _ int) bool {
	return fp.AllowEmailCode && (fp.EmailCodeFallback || !hasStrong(fp, active))
}

func (emailFactor) Begin(ctx context.Context, s *Service, p *PendingLogin) error {
	if err := s.throttleMail(ctx, "2fa", p.User.TenantID, p.User.Email, p.Now); err != nil {
		s.metrics.Login("throttled")
		return err
	}
	var c auth.Code
	p.code, c = auth.NewCode(p.Now, s.digest)
	p.Session.Code.Hash = append(p.Session.Code.Hash, c.Hash...) // beside a key's challenge, with the fallback
	return nil
}

func (emailFactor) Started(ctx context.Context, s *Service, p *PendingLogin) error {
	err := s.mailer.Send(ctx, mail.Message{
		To:      p.User.Email,
		Subject: "Your verification code",
		Body: fmt.Sprintf("Your verification code is %s.\n\nIt is valid for %d seconds. If you did not try to log in, change your password.\n",
			p.code, p.Policy.TwoFA.CodeValidSeconds),
	})
	if err != nil {
		s.log.ErrorContext(ctx, "2FA code not sent", "user", p.User.ID, "err", err)
		return errMailDown("the verification code")
	}
	s.metrics.TwoFA("sent")
	return nil
}

func (emailFactor) Verify(s *Service, v *Verification) (bool, error) {
	// Only six digits can be a mailed code; the pending login's Code may
	// hold another factor's challenge, which its client knows.
	if !sixDigits(v.Answer) {
		return false, nil
	}
	return holdsDigest(v.Code.Hash, s.digest(v.Answer)), nil
}

// holdsDigest reports whether d is one of the digests of d's size laid
// end to end in hash (a pending login keeps one per factor that has a
// challenge: the emailed code, a key's), comparing each in constant time.
func holdsDigest(hash, d []byte) bool {
	if len(d) == 0 || len(hash)%len(d) != 0 {
		return false
	}
	found := 0
	for i := 0; i < len(hash); i += len(d) {
		found |= subtle.ConstantTimeCompare(hash[i:i+len(d)], d)
	}
	return found == 1
}

func sixDigits(s string) bool {
	if len(s) != 6 {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// totpFactor is an authenticator app's code (RFC 6238), entered in the
// platform's own task.
type totpFactor struct{}

func (totpFactor) Kind() string { return KindTOTP }
func (totpFactor) Task() string { return TaskTwoFA }

func (totpFactor) Usable(s *Service, fp settings.FactorPolicy, active []store.Factor, _ int) bool {
	return fp.AllowTOTP && s.box != nil && len(ofKind(active, KindTOTP)) > 0
}

func (totpFactor) Begin(context.Context, *Service, *PendingLogin) error   { return nil }
func (totpFactor) Started(context.Context, *Service, *PendingLogin) error { return nil }

func (totpFactor) Verify(s *Service, v *Verification) (bool, error) {
	for _, f := range ofKind(v.Active, KindTOTP) {
		secret, err := s.box.Open(f.Secret)
		if err != nil {
			return false, err
		}
		step, ok := factor.CheckTOTP(secret, v.Answer, v.Now, f.Counter)
		if !ok {
			continue
		}
		// A concurrent login that spent the same step first wins.
		if used, err := v.Tx.UseFactor(f.ID, step); err != nil || used {
			return used, err
		}
	}
	return false, nil
}

// recoveryFactor is a single-use recovery code, entered in the platform's
// own task in place of any other code.
type recoveryFactor struct{}

func (recoveryFactor) Kind() string { return KindRecovery }
func (recoveryFactor) Task() string { return TaskTwoFA }

func (recoveryFactor) Usable(_ *Service, fp settings.FactorPolicy, _ []store.Factor, left int) bool {
	return fp.AllowRecoveryCodes && left > 0
}

func (recoveryFactor) Begin(context.Context, *Service, *PendingLogin) error   { return nil }
func (recoveryFactor) Started(context.Context, *Service, *PendingLogin) error { return nil }

func (recoveryFactor) Verify(s *Service, v *Verification) (bool, error) {
	code, ok := factor.NormalizeRecovery(v.Answer)
	if !ok {
		return false, nil
	}
	return v.Tx.UseRecoveryCode(s.digest(code))
}

// webAuthnFactor is a security key or passkey: its own task, whose
// challenge the pending login keeps as a digest in its Code.
type webAuthnFactor struct{}

func (webAuthnFactor) Kind() string { return KindWebAuthn }
func (webAuthnFactor) Task() string { return TaskWebAuthn }

func (webAuthnFactor) Usable(s *Service, fp settings.FactorPolicy, active []store.Factor, _ int) bool {
	return fp.AllowWebAuthn && s.rp != nil && s.box != nil && len(ofKind(active, KindWebAuthn)) > 0
}

func (webAuthnFactor) Begin(ctx context.Context, s *Service, p *PendingLogin) error {
	all, err := s.store.Factors(ctx, p.User.ID)
	if err != nil {
		return err
	}
	var active []store.Factor
	for _, f := range all {
		if f.Active {
			active = append(active, f)
		}
	}
	acct, _, err := s.webAuthnAccount(p.User, ofKind(active, KindWebAuthn))
	if err != nil {
		return err
	}
	fp, err := s.factorPolicy(ctx, p.User.TenantID)
	if err != nil {
		return err
	}
	options, challenge, err := s.rp.BeginLogin(acct, fp.WebAuthnUserVerification)
	if err != nil {
		return err
	}
	p.Session.Code.Hash = append(p.Session.Code.Hash, s.digest(challenge)...)
	p.Challenge.WebAuthn = options
	return nil
}

func (webAuthnFactor) Started(context.Context, *Service, *PendingLogin) error { return nil }

func (webAuthnFactor) Verify(s *Service, v *Verification) (bool, error) {
	as, err := factor.ParseAssertion([]byte(v.Answer))
	if err != nil {
		return false, nil
	}
	challenge := as.Challenge()
	if !holdsDigest(v.Code.Hash, s.digest(challenge)) {
		return false, nil
	}
	acct, byCred, err := s.webAuthnAccount(v.User, ofKind(v.Active, KindWebAuthn))
	if err != nil {
		return false, err
	}
	cred, err := s.rp.FinishLogin(acct, challenge, as, v.Policy.WebAuthnUserVerification)
	if err != nil {
		s.log.Info("WebAuthn assertion refused", "user", v.User.ID, "err", err)
		return false, nil
	}
	f, ok := byCred[string(cred.ID)]
	if !ok {
		return false, nil
	}
	return v.Tx.UseFactor(f.ID, int64(cred.Authenticator.SignCount))
}

// webAuthnAccount is the user with their WebAuthn credentials, each with
// the sign counter the store holds, and the factor of each credential ID.
func (s *Service) webAuthnAccount(u store.User, fs []store.Factor) (factor.Account, map[string]store.Factor, error) {
	acct := factor.Account{UserID: u.ID, Name: u.Email, DisplayName: u.Name}
	byCred := map[string]store.Factor{}
	for _, f := range fs {
		if !f.Active {
			continue
		}
		plain, err := s.box.Open(f.Secret)
		if err != nil {
			return acct, nil, err
		}
		c, err := factor.CredentialOf(plain)
		if err != nil {
			return acct, nil, fmt.Errorf("login: WebAuthn credential of factor %s: %w", f.ID, err)
		}
		c.Authenticator.SignCount = uint32(f.Counter)
		acct.Credentials = append(acct.Credentials, c)
		byCred[string(c.ID)] = f
	}
	return acct, byCred, nil
}

// RecentLogin is how long after logging in a user may change their own
// factors without logging in again: a stolen session cannot add or remove
// factors once it is older than this.
const RecentLogin = 15 * time.Minute

// enrolmentValidFor is how long an enrolment waits for its confirmation.
const enrolmentValidFor = 10 * time.Minute

// FactorInfo is a factor as its owner and Site Admins see it: never a secret.
type FactorInfo struct {
	ID, Kind, Name        string
	Active                bool
	CreatedAt, LastUsedAt time.Time
}

// authorizeOwnFactors admits the user to change their own factors with a
// recent login.
func (s *Service) authorizeOwnFactors(sess auth.Session, u store.User) error {
	if sess.UserID != u.ID {
		return fault.New(fault.Forbidden, "only the user may enrol their own factors")
	}
	if s.now().Sub(sess.IssuedAt) > RecentLogin {
		return fault.New(fault.Unauthorized, "changing factors needs a recent login: log in again")
	}
	return nil
}

func (s *Service) sealer() error {
	if s.box == nil {
		return fault.New(fault.Unavailable, "second factors need the server's secret key")
	}
	return nil
}

// EnrolTOTP starts an authenticator app's enrolment for the session's own
// user: it answers the secret and its otpauth:// URI, and the factor works
// once ConfirmFactor has seen a code of it.
func (s *Service) EnrolTOTP(ctx context.Context, sess auth.Session, u store.User, name string) (id, secret, uri string, err error) {
	if err := s.authorizeOwnFactors(sess, u); err != nil {
		return "", "", "", err
	}
	if _, err := s.allowed(ctx, u, KindTOTP); err != nil {
		return "", "", "", err
	}
	if err := s.sealer(); err != nil {
		return "", "", "", err
	}
	if name, err = factorName(name, "Authenticator app"); err != nil {
		return "", "", "", err
	}
	if secret, uri, err = factor.NewTOTP(u.TenantID, u.Email); err != nil {
		return "", "", "", err
	}
	now := s.now()
	id, err = s.store.AddFactor(ctx, store.Factor{UserID: u.ID, Kind: KindTOTP, Name: name, Secret: s.box.Seal(secret),
		CreatedAt: now}, now.Add(-enrolmentValidFor))
	return id, secret, uri, err
}

// EnrolWebAuthn starts a security key's or passkey's registration for the
// session's own user and answers the creation options
// ({"publicKey":{...}}) for navigator.credentials.create.
func (s *Service) EnrolWebAuthn(ctx context.Context, sess auth.Session, u store.User, name string) (id string, options json.RawMessage, err error) {
	if err := s.authorizeOwnFactors(sess, u); err != nil {
		return "", nil, err
	}
	fp, err := s.allowed(ctx, u, KindWebAuthn)
	if err != nil {
		return "", nil, err
	}
	if err := s.sealer(); err != nil {
		return "", nil, err
	}
	if s.rp == nil {
		return "", nil, fault.New(fault.Unavailable, "WebAuthn needs the server's public URL (-public-url)")
	}
	if name, err = factorName(name, "Security key"); err != nil {
		return "", nil, err
	}
	existing, err := s.store.Factors(ctx, u.ID)
	if err != nil {
		return "", nil, err
	}
	acct, _, err := s.webAuthnAccount(u, ofKind(existing, KindWebAuthn))
	if err != nil {
		return "", nil, err
	}
	options, state, err := s.rp.BeginRegistration(acct, fp.WebAuthnUserVerification)
	if err != nil {
		return "", nil, err
	}
	now := s.now()
	id, err = s.store.AddFactor(ctx, store.Factor{UserID: u.ID, Kind: KindWebAuthn, Name: name, Secret: s.box.Seal(state),
		CreatedAt: now}, now.Add(-enrolmentValidFor))
	return id, options, err
}

func factorName(name, def string) (string, error) {
	if name == "" {
		return def, nil
	}
	if len(name) > 100 {
		return "", fault.New(fault.Invalid, "Name is longer than 100 bytes")
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return "", fault.New(fault.Invalid, "Name holds a control character")
		}
	}
	return name, nil
}

// ConfirmFactor finishes an enrolment: answer is a TOTP code of the new
// secret, or the attestation (the PublicKeyCredential of
// navigator.credentials.create, as JSON) of a WebAuthn registration.
func (s *Service) ConfirmFactor(ctx context.Context, sess auth.Session, u store.User, id, answer string) error {
	if err := s.authorizeOwnFactors(sess, u); err != nil {
		return err
	}
	if err := s.sealer(); err != nil {
		return err
	}
	f, err := s.store.Factor(ctx, u.ID, id)
	if err != nil {
		return err
	}
	if _, err := s.allowed(ctx, u, f.Kind); err != nil {
		return err
	}
	now := s.now()
	if f.Active || now.Sub(f.CreatedAt) > enrolmentValidFor {
		return fault.New(fault.NotFound, "factor %q is not waiting for confirmation; enrol again", id)
	}
	plain, err := s.box.Open(f.Secret)
	if err != nil {
		return err
	}
	switch f.Kind {
	case KindTOTP:
		step, ok := factor.CheckTOTP(plain, answer, now, 0)
		if !ok {
			s.enrolmentFailed(ctx, u, sess, f)
			return fault.New(fault.Invalid, "the code is not the app's current code; check the device's clock")
		}
		f.Counter = step // the confirming code does not log in afterwards
	case KindWebAuthn:
		if s.rp == nil {
			return fault.New(fault.Unavailable, "WebAuthn needs the server's public URL (-public-url)")
		}
		cred, err := s.rp.FinishRegistration(factor.Account{UserID: u.ID, Name: u.Email, DisplayName: u.Name}, plain, []byte(answer))
		if err != nil {
			s.enrolmentFailed(ctx, u, sess, f)
			return fault.New(fault.Invalid, "the attestation was not accepted: %v", err)
		}
		c, _ := factor.CredentialOf(cred)
		f.Counter = int64(c.Authenticator.SignCount)
		plain = cred
	default:
		return fault.New(fault.Invalid, "factor %q cannot be confirmed", id)
	}
	f.Secret = s.box.Seal(plain)
	err = s.store.ActivateFactor(ctx, f, store.FactorEvent{Tenant: u.TenantID, Email: u.Email, Actor: sess.UserID,
		Event: "factor.enrolled", Now: now})
	if err == nil {
		s.factorEvent(f.Kind, "enrol", "success")
		s.log.InfoContext(ctx, "factor enrolled", "user", u.ID, "kind", f.Kind)
	}
	return err
}

// Factors lists a user's factors and counts their unused recovery codes.
func (s *Service) Factors(ctx context.Context, u store.User) ([]FactorInfo, int, error) {
	fs, err := s.store.Factors(ctx, u.ID)
	if err != nil {
		return nil, 0, err
	}
	out := []FactorInfo{}
	now := s.now()
	for _, f := range fs {
		if !f.Active && now.Sub(f.CreatedAt) > enrolmentValidFor {
			continue // an abandoned enrolment
		}
		out = append(out, FactorInfo{ID: f.ID, Kind: f.Kind, Name: f.Name, Active: f.Active, CreatedAt: f.CreatedAt, LastUsedAt: f.LastUsedAt})
	}
	left, err := s.store.RecoveryCodesLeft(ctx, u.ID)
	return out, left, err
}

// RemoveFactor removes one of u's factors: by u with a recent login, or
// by a Site Admin of u's tenant (who must have been admitted so), whose
// removal also ends u's sessions. u's remembered devices are forgotten,
// the removal is audited, and u is mailed.
func (s *Service) RemoveFactor(ctx context.Context, sess auth.Session, u store.User, id string) error {
	actor := sess.UserID
	if actor == u.ID {
		if err := s.authorizeOwnFactors(sess, u); err != nil {
			return err
		}
	}
	return s.removeFactor(ctx, u, id, actor, actor != u.ID)
}

// RemoveFactorAs removes a user's factor for an operator outside the
// server (actor "cli"): as a Site Admin's removal.
func (s *Service) RemoveFactorAs(ctx context.Context, u store.User, id, actor string) error {
	return s.removeFactor(ctx, u, id, actor, true)
}

func (s *Service) removeFactor(ctx context.Context, u store.User, id, actor string, endSessions bool) error {
	now := s.now()
	f, err := s.store.RemoveFactor(ctx, u.ID, id, endSessions, store.FactorEvent{Tenant: u.TenantID, Email: u.Email,
		Actor: actor, Event: "factor.removed", Now: now})
	if err != nil {
		return err
	}
	if !f.Active {
		return nil
	}
	s.factorEvent(f.Kind, "remove", "success")
	s.log.InfoContext(ctx, "factor removed", "user", u.ID, "kind", f.Kind, "by", actor)
	by := "you"
	if actor != u.ID {
		by = "an administrator"
	}
	s.sendLater(ctx, u, mail.Message{To: u.Email, Subject: "A sign-in factor was removed from your account",
		Body: fmt.Sprintf("The %s %q was removed from your account by %s at %s.\n\nIf you did not expect this, reset your password and contact a Site Admin.\n",
			kindLabel(f.Kind), f.Name, by, now.UTC().Format(time.RFC1123))}, "factor removal notice")
	return nil
}

func kindLabel(kind string) string {
	switch kind {
	case KindTOTP:
		return "authenticator app"
	case KindWebAuthn:
		return "security key"
	}
	return kind
}

// NewRecoveryCodes gives the session's own user a new set of recovery
// codes, shown once; the old set stops working.
func (s *Service) NewRecoveryCodes(ctx context.Context, sess auth.Session, u store.User) ([]string, error) {
	if err := s.authorizeOwnFactors(sess, u); err != nil {
		return nil, err
	}
	if _, err := s.allowed(ctx, u, KindRecovery); err != nil {
		return nil, err
	}
	codes := factor.NewRecoveryCodes()
	hashes := make([][]byte, len(codes))
	for i, c := range codes {
		hashes[i] = s.digest(c)
	}
	err := s.store.ReplaceRecoveryCodes(ctx, u.ID, hashes, store.FactorEvent{Tenant: u.TenantID, Email: u.Email,
		Actor: sess.UserID, Event: "recoverycodes.replaced", Now: s.now()})
	if err != nil {
		return nil, err
	}
	s.factorEvent(KindRecovery, "enrol", "success")
	return codes, nil
}

// relyingParty is WebAuthn's relying party for the site's public URL; nil
// (and logged) when there is none or it is not a URL.
func (s *Service) relyingParty(publicURL string) *factor.RP {
	if publicURL == "" {
		return nil
	}
	rp, err := factor.NewRP(publicURL, "bizsec")
	if err != nil {
		s.log.Error("WebAuthn is off", "err", err)
		return nil
	}
	return rp
}

// PendingTOTPURI returns the otpauth:// URI of the session's own user's
// TOTP enrolment while it waits for confirmation (for its QR code); once
// the factor is active its secret is never shown again.
func (s *Service) PendingTOTPURI(ctx context.Context, sess auth.Session, u store.User, id string) (string, error) {
	if err := s.authorizeOwnFactors(sess, u); err != nil {
		return "", err
	}
	if err := s.sealer(); err != nil {
		return "", err
	}
	f, err := s.store.Factor(ctx, u.ID, id)
	if err != nil {
		return "", err
	}
	if f.Kind != KindTOTP || f.Active || s.now().Sub(f.CreatedAt) > enrolmentValidFor {
		return "", fault.New(fault.NotFound, "factor %q is not an authenticator app waiting for confirmation", id)
	}
	secret, err := s.box.Open(f.Secret)
	if err != nil {
		return "", err
	}
	return factor.TOTPURI(u.TenantID, u.Email, secret), nil
}
