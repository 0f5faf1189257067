package login

import (
	"context"
	"fmt"
	"math"
	"net/netip"
	"time"

	"github.com/bizsec/bizsec/internal/fault"
	"github.com/bizsec/bizsec/internal/mail"
	"github.com/bizsec/bizsec/internal/settings"
	"github.com/bizsec/bizsec/internal/store"
)

// clientKey is what a client is throttled as: its IPv4 address, or the
// /64 of its IPv6 address, since one host commonly holds a whole /64.
func clientKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return "client:" + ip
	}
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return "client:" + p.String()
	}
	return "client:" + a.String()
}

// accountKey names an account by tenant and email, registered or not, so
// that throttling answers alike for both.
func accountKey(tenant, email string) string { return tenant + "/" + store.NormalizeEmail(email) }

func throttled(wait time.Duration, what string) error {
	secs := max(1, int(math.Ceil(wait.Seconds())))
	return fault.Throttled(time.Duration(secs)*time.Second, "Too many %s; try again in %d seconds.", what, secs)
}

func (s *Service) throttleClient(ip string, now time.Time) error {
	if ok, wait := s.clients.Allow(clientKey(ip), now); !ok {
		return throttled(wait, "requests from this address")
	}
	return nil
}

// throttleAccount refuses an attempt on an account whose failure budget is
// spent; the failures themselves are charged when they happen.
func (s *Service) throttleAccount(acct string, now time.Time) error {
	if ok, wait := s.failures.Check(acct, now); !ok {
		return throttled(wait, "failed attempts for this account")
	}
	return nil
}

func (s *Service) throttleMail(purpose, tenant, email string, now time.Time) error {
	if ok, wait := s.mails.Allow(purpose+":"+accountKey(tenant, email), now); !ok {
		return throttled(wait, "codes mailed to this address")
	}
	return nil
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
		s.log.ErrorContext(ctx, what+" not sent: the notice queue is full", "user", u.ID)
	}
}

// noticeWorker sends queued notices for the life of the process.
func (s *Service) noticeWorker() {
	for n := range s.notices {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		if err := s.mailer.Send(ctx, n.msg); err != nil {
			s.log.ErrorContext(ctx, n.what+" not sent", "user", n.userID, "err", err)
		}
		cancel()
		s.background.Done()
	}
}
