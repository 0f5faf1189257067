package login

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"net/netip"
	"strings"
	"time"

	"github.com/bizsec/bizsec/internal/fault"
	"github.com/bizsec/bizsec/internal/mail"
	"github.com/bizsec/bizsec/internal/settings"
	"github.com/bizsec/bizsec/internal/store"
	"github.com/bizsec/bizsec/internal/throttle"
)

// The budgets, kept in the database so that every instance shares them and
// a restart resets none (see package throttle):
//
//   - client:ADDR, per client address, every request to the login service;
//     an IPv6 client is charged to its /64, /56 and /48 at once, each four
//     times the one below, so a host that owns a /48 gets no more than 16
//     times one address;
//   - fail:ACCOUNT|CLIENT, an account's failed factors from one client
//     (its IPv4 address or IPv6 /64), taken before the factor is checked and
//     given back when it was right, so concurrency cannot overspend it;
//   - fail:ACCOUNT, the account's failures from every client, ten times the
//     above: what strangers spend from elsewhere does not lock the owner
//     out until they have spent ten clients' worth, and past that the
//     login policy's suspension (which a Site Admin sees and lifts) is the
//     hard stop. An unlock resets both;
//   - mail:PURPOSE:ACCOUNT, codes mailed to an address;
//   - answers:USER, changes of a user's security answers (each hashes).

// clientCharges are what a request from ip is charged to.
func (s *Service) clientCharges(ip string) []throttle.Charge {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return []throttle.Charge{{Key: "client:" + ip, Rate: s.lim().Client}}
	}
	a = a.Unmap()
	if !a.Is6() {
		return []throttle.Charge{{Key: "client:" + a.String(), Rate: s.lim().Client}}
	}
	var out []throttle.Charge
	for i, bits := range []int{64, 56, 48} {
		p, _ := a.Prefix(bits)
		out = append(out, throttle.Charge{Key: "client:" + p.String(), Rate: s.lim().Client.Times(1 << (2 * i))})
	}
	return out
}

// clientKey names a client within an account's failures: its IPv4
// address, or the /64 of its IPv6 address, since one host commonly holds a
// whole /64.
func clientKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}

// accountKey names an account by tenant and email, registered or not, so
// that throttling answers alike for both.
func accountKey(tenant, email string) string { return tenant + "/" + store.NormalizeEmail(email) }

// failureKey is the budget of an account's failures; below it, per client.
func failureKey(tenant, email string) string { return "fail:" + accountKey(tenant, email) }

// accountCeiling is how many clients' worth of failures the account-wide
// budget holds.
const accountCeiling = 10

func throttled(wait time.Duration, what string) error {
	secs := max(1, int(math.Ceil(wait.Seconds())))
	return fault.Throttled(time.Duration(secs)*time.Second, "Too many %s; try again in %d seconds.", what, secs)
}

func (s *Service) take(ctx context.Context, now time.Time, what string, charges ...throttle.Charge) error {
	ok, wait, err := s.budgets.Take(ctx, now, charges...)
	if err != nil {
		return err
	}
	if !ok {
		budget, _, _ := strings.Cut(charges[0].Key, ":")
		s.metrics.Throttled(budget)
		s.event(ctx, slog.LevelWarn, "throttled", "throttle", "failure", actor{client: clientOf(ctx)},
			slog.String("throttle.budget", budget), slog.String("reason", "too many "+what), slog.Duration("retry_after", wait))
		return throttled(wait, what)
	}
	return nil
}

func (s *Service) throttleClient(ctx context.Context, ip string, now time.Time) error {
	return s.take(ctx, now, "requests from this address", s.clientCharges(ip)...)
}

// attempt is one try of a secret (a password, a code, an answer) charged
// to the account's failure budgets before it is checked. Unless Wrong is
// called, Done gives the charge back: only a factor that was checked and
// was wrong counts.
type attempt struct {
	s       *Service
	charges []throttle.Charge
	wrong   bool
}

// chargeAttempt takes an attempt from the account's budgets for a client.
func (s *Service) chargeAttempt(ctx context.Context, tenant, email, ip string, now time.Time) (*attempt, error) {
	key := failureKey(tenant, email)
	charges := []throttle.Charge{
		{Key: throttle.Sub(key, clientKey(ip)), Rate: s.lim().AccountFailures},
		{Key: key, Rate: s.lim().AccountFailures.Times(accountCeiling)},
	}
	if err := s.take(ctx, now, "failed attempts for this account", charges...); err != nil {
		return nil, err
	}
	return &attempt{s: s, charges: charges}, nil
}

// Wrong marks the attempt's factor wrong: its charge stands.
func (a *attempt) Wrong() { a.wrong = true }

// Done gives the charge back unless the factor was wrong. It outlives the
// request's context: a client that hangs up must not keep the charge.
func (a *attempt) Done(ctx context.Context) {
	if a == nil || a.wrong {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := a.s.budgets.GiveBack(ctx, a.charges...); err != nil {
		a.s.log.WarnContext(ctx, "failure budget not given back", "err", err)
	}
}

// resetFailures gives an account full failure budgets again (an unlock, a
// completed reset).
func (s *Service) resetFailures(ctx context.Context, tenant, email string) {
	if err := s.budgets.Reset(ctx, failureKey(tenant, email)); err != nil {
		s.log.WarnContext(ctx, "failure budget not reset", "tenant", tenant, "err", err)
	}
}

func (s *Service) throttleMail(ctx context.Context, purpose, tenant, email string, now time.Time) error {
	return s.take(ctx, now, "codes mailed to this address",
		throttle.Charge{Key: "mail:" + purpose + ":" + accountKey(tenant, email), Rate: s.lim().Mail})
}

func errMailDown(what string) error {
	return fault.New(fault.Unavailable, "%s could not be sent; try again later", what)
}

// mailSuspension tells the owner once per suspension, after the answer:
// the mail's pace must not show in the login's.
func (s *Service) mailSuspension(ctx context.Context, u store.User, now time.Time, p settings.LoginPolicy) {
	until := now.Add(time.Duration(p.SuspensionMinutes) * time.Minute)
	msg := mail.Message{To: u.Email, Subject: "Your account is suspended",
		Body: fmt.Sprintf("Your account was suspended at %s after %d failed sign-in attempts (passwords, verification codes or security answers).\n\n"+
			"It will be usable again at %s. To use it sooner, reset your password: the reset lifts the suspension. "+
			"A Site Admin can also unlock it.\n\nIf these attempts were not yours, someone may be guessing your password.\n",
			now.UTC().Format(time.RFC1123), p.MaxSequentialFailureAttemptsAllowed, until.UTC().Format(time.RFC1123))}
	s.sendLater(ctx, u, msg, "suspension notice")
}

// notice is a mail to send after the request that caused it is answered.
type notice struct {
	userID, what string
	msg          mail.Message
}

// sendLater hands m to the notice worker, to be sent after the answer; it
// starts no goroutine, so nothing in the process's shape follows who is
// mailed. When the queue is full the notice is dropped and logged.
func (s *Service) sendLater(ctx context.Context, u store.User, m mail.Message, what string) {
	s.background.Add(1)
	select {
	case s.notices <- notice{u.ID, what, m}:
	default:
		s.background.Done()
		s.log.ErrorContext(ctx, what+" not sent: the notice queue is full", "user.id", u.ID)
	}
}

// noticeWorker sends queued notices until Close, then those still queued.
func (s *Service) noticeWorker() {
	for {
		select {
		case n := <-s.notices:
			s.sendNotice(n)
		case <-s.stop:
			for {
				select {
				case n := <-s.notices:
					s.sendNotice(n)
				default:
					return
				}
			}
		}
	}
}

func (s *Service) sendNotice(n notice) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := s.mailer.Send(ctx, n.msg); err != nil {
		s.log.ErrorContext(ctx, n.what+" not sent", "user.id", n.userID, "err", err)
	}
	s.background.Done()
}
