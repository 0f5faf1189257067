package login

import (
	"context"
	"log/slog"
	"time"

	"github.com/bizsec/bizsec/internal/auth"
	"github.com/bizsec/bizsec/internal/fault"
	"github.com/bizsec/bizsec/internal/settings"
	"github.com/bizsec/bizsec/internal/store"
)

// TaskEnrolment is bizsec's pending task of a login whose user the factor
// policy requires to enrol an authenticator app or security key. Within
// the grace period the login's session is live beside it (the task may be
// skipped); after it the session is held in StateEnrol.
const TaskEnrolment = "factor.enrolment"

// StateEnrol is the state of a login's session past its enrolment grace:
// the password (and any second factor) were right, and nothing but the
// enrolment routes accepts it until an app or key is confirmed.
const StateEnrol = auth.StateEnrol

// enrolFor bounds an enrolment-only session: as long as a login stays
// recent enough to enrol.
const enrolFor = RecentLogin

// allowed returns the tenant's factor policy, or an error if it does not
// allow kind.
func (s *Service) allowed(ctx context.Context, u store.User, kind string) (settings.FactorPolicy, error) {
	fp, err := s.factorPolicy(ctx, u.TenantID)
	if err != nil {
		return fp, err
	}
	if !fp.Allows(kind) {
		field := map[string]string{KindTOTP: "AllowTOTP", KindWebAuthn: "AllowWebAuthn", KindRecovery: "AllowRecoveryCodes", KindEmail: "AllowEmailCode"}[kind]
		return fp, fault.New(fault.Forbidden, "the tenant's factor policy does not allow %s (factorpolicy %s is false)", kindLabel(kind)+"s", field)
	}
	return fp, nil
}

// enrolment is what the factor policy asks of one login.
type enrolment struct {
	due       bool      // the user must enrol an app or key
	graceEnds time.Time // until when they may put it off
	blocking  bool      // past the grace: the session is for enrolment only
	kinds     []string  // the strong factors the policy allows
}

// enrolmentOf decides whether u must enrol a strong factor now. The grace
// period counts from the first login at which the requirement applied.
func (s *Service) enrolmentOf(ctx context.Context, u store.User, now time.Time) (enrolment, error) {
	fp, err := s.factorPolicy(ctx, u.TenantID)
	if err != nil || fp.StrongFactorRequired == settings.RequiredOfNobody {
		return enrolment{}, err
	}
	role, err := s.store.Role(ctx, u.ID, store.RootBusinessID(u.TenantID))
	if err != nil {
		return enrolment{}, err
	}
	if !fp.Requires(role.Allows(auth.Admin)) {
		return enrolment{}, nil
	}
	all, err := s.store.Factors(ctx, u.ID)
	if err != nil {
		return enrolment{}, err
	}
	var active []store.Factor
	for _, f := range all {
		if f.Active {
			active = append(active, f)
		}
	}
	if hasStrong(fp, active) {
		return enrolment{}, nil
	}
	since, err := s.store.EnrolmentRequiredSince(ctx, u.ID, now)
	if err != nil {
		return enrolment{}, err
	}
	e := enrolment{due: true, graceEnds: since.Add(time.Duration(fp.EnrolmentGraceDays) * 24 * time.Hour)}
	e.blocking = !now.Before(e.graceEnds)
	for _, k := range []string{KindWebAuthn, KindTOTP} {
		if fp.Allows(k) {
			e.kinds = append(e.kinds, k)
		}
	}
	return e, nil
}

// annotate adds the enrolment task to a login's result: beside the live
// session within the grace, in place of it after.
func (e enrolment) annotate(r *Result, now time.Time) {
	if !e.due {
		return
	}
	r.Pending = true
	r.Factors = &FactorChallenge{Tasks: []string{TaskEnrolment}, Factors: e.kinds, EnrolBy: e.graceEnds, EnrolNow: e.blocking}
	if e.blocking {
		r.Expires = now.Add(enrolFor)
	}
}

// startSession starts the session of a login that needs no more factors:
// live, or, for a user who must enrol and is past the grace, held for
// enrolment.
func (s *Service) startSession(ctx context.Context, u store.User, p Policy, now time.Time) (Result, error) {
	e, err := s.enrolmentOf(ctx, u, now)
	if err != nil {
		return Result{}, err
	}
	if e.blocking {
		return s.startEnrolment(ctx, u, p, now, e)
	}
	r, err := s.newSession(ctx, u, p, now)
	if err == nil {
		e.annotate(&r, now)
	}
	return r, err
}

// startEnrolment answers a login with a session held for enrolment.
func (s *Service) startEnrolment(ctx context.Context, u store.User, p Policy, now time.Time, e enrolment) (Result, error) {
	sess, token, csrf := newSession(u.ID, u.TenantID, now, now, p.Login)
	sess.State = StateEnrol
	if err := s.store.CreateSession(ctx, sess, false); err != nil {
		return Result{}, err
	}
	s.event(ctx, slog.LevelInfo, "login waits on a factor enrolment", "login", "pending", actor{u.TenantID, u.ID, u.Email, clientOf(ctx)},
		slog.String("pending_task", TaskEnrolment))
	r := Result{User: u, Session: sess, Token: token, CSRF: csrf, Policy: p}
	e.annotate(&r, now)
	return r, nil
}

// noFactorLeft answers a login that needs a second factor when the user
// has none the policy allows (no app or key, and no emailed code): the
// session is held for enrolment, as past the grace.
func (s *Service) noFactorLeft(ctx context.Context, pl *PendingLogin) (Result, bool, error) {
	if len(pl.Challenge.Factors) > 0 {
		return Result{}, false, nil
	}
	e, err := s.enrolmentOf(ctx, pl.User, pl.Now)
	if err != nil {
		return Result{}, true, err
	}
	e.due, e.blocking = true, true
	if len(e.kinds) == 0 {
		e.kinds = []string{KindWebAuthn, KindTOTP}
	}
	r, err := s.startEnrolment(ctx, pl.User, pl.Policy, pl.Now, e)
	return r, true, err
}

// EnrolmentSession returns the session of a cookie value held for
// enrolment (StateEnrol), and the tenant's policy.
func (s *Service) EnrolmentSession(ctx context.Context, tenant, cookie string) (auth.Session, Policy, error) {
	sess, err := s.session(ctx, tenant, cookie)
	if err == nil && (sess.State != StateEnrol || s.now().Sub(sess.IssuedAt) > enrolFor) {
		err = ErrNoSession
	}
	if err != nil {
		return auth.Session{}, Policy{}, err
	}
	p, err := s.Policy(ctx, tenant)
	return sess, p, err
}

// FinishEnrolment swaps a session held for enrolment for a live one once
// its user has an app or key the policy allows.
func (s *Service) FinishEnrolment(ctx context.Context, held auth.Session, u store.User) (Result, error) {
	now := s.now()
	e, err := s.enrolmentOf(ctx, u, now)
	if err != nil {
		return Result{}, err
	}
	if e.due {
		return Result{}, fault.New(fault.Conflict, "an authenticator app or security key must be enrolled and confirmed first")
	}
	p, err := s.Policy(ctx, u.TenantID)
	if err != nil {
		return Result{}, err
	}
	sess, token, csrf := newSession(u.ID, u.TenantID, held.IssuedAt, now, p.Login)
	if err := s.store.ReplaceSession(ctx, held.TokenHash, sess); err != nil {
		return Result{}, err
	}
	s.event(ctx, slog.LevelInfo, "login", "login", "success", actor{u.TenantID, u.ID, u.Email, clientOf(ctx)},
		slog.String("after", TaskEnrolment))
	return Result{User: u, Session: sess, Token: token, CSRF: csrf, Expires: sess.ExpiresAt(p.Login), Policy: p}, nil
}

// factorsOf is the tenant's factor policy and what it asks of u's login.
func (s *Service) factorsOf(ctx context.Context, u store.User, now time.Time) (settings.FactorPolicy, enrolment, error) {
	fp, err := s.factorPolicy(ctx, u.TenantID)
	if err != nil {
		return fp, enrolment{}, err
	}
	e, err := s.enrolmentOf(ctx, u, now)
	return fp, e, err
}

// FactorMetrics counts second-factor events by kind (email, totp,
// webauthn, recovery), action (enrol, use, remove) and outcome (success,
// failure). The service's Metrics implement it when they can.
type FactorMetrics interface {
	Factor(kind, action, outcome string)
}

func (s *Service) factorEvent(kind, action, outcome string) {
	if m, ok := s.metrics.(FactorMetrics); ok {
		m.Factor(kind, action, outcome)
	}
}

// enrolmentFailed counts and audits a confirmation that was refused.
func (s *Service) enrolmentFailed(ctx context.Context, u store.User, sess auth.Session, f store.Factor) {
	s.factorEvent(f.Kind, "enrol", "failure")
	err := s.store.RecordFactorEvent(ctx, u.ID, store.FactorEvent{Tenant: u.TenantID, Email: u.Email, Actor: sess.UserID,
		Event: "factor.enrolment.failed", Now: s.now()}, store.Factor{ID: f.ID, Kind: f.Kind, Name: f.Name})
	if err != nil {
		s.log.ErrorContext(ctx, "failed enrolment not audited", "user", u.ID, "err", err)
	}
}

// enrolmentStatus describes a session held for enrolment, as its login
// answered it: the pending factor.enrolment task, until enrolFor is over.
func (s *Service) enrolmentStatus(ctx context.Context, sess auth.Session) (Result, error) {
	now := s.now()
	if now.Sub(sess.IssuedAt) > enrolFor {
		return Result{}, ErrExpired
	}
	u, err := s.store.UserByID(ctx, sess.UserID)
	if err != nil {
		return Result{}, err
	}
	p, err := s.Policy(ctx, sess.TenantID)
	if err != nil {
		return Result{}, err
	}
	e, err := s.enrolmentOf(ctx, u, now)
	if err != nil {
		return Result{}, err
	}
	e.due, e.blocking = true, true // held: whatever the grace says now, only an enrolment frees it
	r := Result{User: u, Session: sess, Policy: p}
	e.annotate(&r, now)
	r.Expires = sess.IssuedAt.Add(enrolFor)
	return r, nil
}
