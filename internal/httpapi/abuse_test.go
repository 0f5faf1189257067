package httpapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bizsec/bizsec/internal/login"
	"github.com/bizsec/bizsec/internal/throttle"
)

// from is a call's client address as a trusted proxy reports it.
func from(ip string) map[string]string { return map[string]string{"X-Forwarded-For": ip} }

// TestTwoFAGuessesAcrossLogins: wrong 2FA codes count against the account
// like wrong passwords, and a good password does not clear the count, so
// guessing across 50 logins suspends the account at exactly the limit.
func TestTwoFAGuessesAcrossLogins(t *testing.T) {
	e := newEnv(t)
	admin := e.login("admin@acme.example")
	e.put(admin, "loginpolicy", `{"MaxSequentialFailureAttemptsAllowed":"10","AttemptsPeriod":"60","SuspensionMinutes":"30"}`)
	e.put(admin, "twofasettings", `{"TwoFAEnabled":true,"RecurrenceMode":"twofa.each.login","MaxAttempts":3}`)
	guesses, suspendedAt := 0, 0
	var first *session
	for i := range 50 {
		r := e.tryLogin("dev@acme.example", password)
		if code, _ := r.fault(); code == "AccountSuspended" {
			break
		}
		if r.status != 200 {
			t.Fatalf("login %d: %d %s", i+1, r.status, r.body)
		}
		s := sessionOf(tenant, r)
		if first == nil {
			first = s
		} else if r := e.enterCode(first, e.lastCode("dev@acme.example")); r.status != 401 {
			t.Fatalf("the first login's session took a later login's code: %d", r.status)
		}
		code := e.lastCode("dev@acme.example")
		wrong := fmt.Sprintf("%06d", (atoi(code)+1)%1_000_000)
		for range 2 { // two of the three tries per code: the code stays alive
			guesses++
			r := e.enterCode(s, wrong)
			if fc, _ := r.fault(); fc == "AccountSuspended" {
				suspendedAt = guesses
				break
			}
			if r.status != 401 {
				t.Fatalf("wrong code: %d %s", r.status, r.body)
			}
		}
		if suspendedAt > 0 {
			break
		}
	}
	if suspendedAt != 10 {
		t.Fatalf("suspended after %d wrong codes (%d guessed), want exactly 10", suspendedAt, guesses)
	}
	if r := e.tryLogin("dev@acme.example", password); r.status != 401 {
		t.Errorf("right password after the suspension: %d", r.status)
	}
	e.waitMail("dev@acme.example", "Your account is suspended")
}

func atoi(s string) int { n := 0; fmt.Sscan(s, &n); return n }

// waitMail waits for a mail to addr with subject (notices are sent after
// the answer) and returns how many there are.
func (e *env) waitMail(addr, subject string) int {
	e.t.Helper()
	count := func() int {
		n := 0
		for _, m := range e.smtp.Messages() {
			if m.To == addr && strings.Contains(m.Data, "Subject: "+subject) {
				n++
			}
		}
		return n
	}
	for deadline := time.Now().Add(5 * time.Second); count() == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			e.t.Fatalf("no %q mail to %s", subject, addr)
		}
	}
	return count()
}

// TestConcurrentWrongAnswers sends 100 wrong reset answers at once: each
// counts exactly once against the account and against the code.
func TestConcurrentWrongAnswers(t *testing.T) {
	e := newEnv(t)
	admin := e.login("admin@acme.example")
	e.put(admin, "loginpolicy", `{"MaxSequentialFailureAttemptsAllowed":"100","AttemptsPeriod":"60","SuspensionMinutes":"30"}`)
	e.put(admin, "twofasettings", `{"MaxAttempts":100}`)
	devID := e.users["dev@acme.example"]
	dev := e.login("dev@acme.example")
	e.put(admin, "challenges", sample(t, "challenges-put.request.json"))
	if r := e.do(call{method: "PUT", path: "/api/users/" + devID + "/challenges", as: dev, body: answersBody(devID, answersFor)}); r.status != 200 {
		t.Fatal(r.status, string(r.body))
	}
	e.do(call{method: "POST", path: "/api/passwordmanagement/sendPasswordResetCode?emailAddress=dev@acme.example"})
	msgs := e.smtp.Messages()
	code := resetCodePattern.FindStringSubmatch(msgs[len(msgs)-1].Data)[1]
	r := e.do(call{method: "POST", path: "/api/passwordmanagement/validatePasswordResetCode?emailAddress=dev@acme.example&passwordResetCode=" + url.QueryEscape(code)})
	var v struct {
		UserIdentificationChallenge struct{ ChallengeCode string }
	}
	json.Unmarshal(r.body, &v)
	asked := v.UserIdentificationChallenge.ChallengeCode
	body, _ := json.Marshal(map[string]any{"Email": "dev@acme.example", "PasswordResetCode": code, "NewPassword": "a new password",
		"UserIdentificationChallenge": map[string]string{"ChallengeCode": asked, "Answer": "certainly wrong"}})
	var mu sync.Mutex
	counts := map[string]int{}
	var wg sync.WaitGroup
	for range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := e.do(call{method: "POST", path: "/api/login/authenticateWithPasswordResetCode", body: string(body)})
			var out struct {
				Status                      string
				UserIdentificationChallenge *struct{ ChallengeCode string }
			}
			json.Unmarshal(r.body, &out)
			key := fmt.Sprint(r.status)
			if r.status == 200 {
				key = out.Status
				if out.UserIdentificationChallenge == nil || out.UserIdentificationChallenge.ChallengeCode != asked {
					key += " (another question)"
				}
			}
			mu.Lock()
			counts[key]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if counts["user.password.reset.invalid.answer"] != 99 || counts["401"] != 1 {
		t.Fatalf("got %v; want 99 wrong answers met by the same question, then the 100th voiding the code", counts)
	}
	if r := e.tryLogin("dev@acme.example", password); r.status != 401 {
		t.Errorf("the 100th failure did not suspend the account: %d", r.status)
	}
	if n := e.waitMail("dev@acme.example", "Your account is suspended"); n != 1 {
		t.Errorf("%d suspension mails, want 1", n)
	}
}

// TestUnlock: a Site Admin lists the suspended users and unlocks one; an
// Auditor may list but not unlock; each step is in the audit history.
func TestUnlock(t *testing.T) {
	e := newEnv(t)
	admin := e.login("admin@acme.example")
	auditor := e.login("auditor@acme.example")
	e.setPolicy(`{"MaxSequentialFailureAttemptsAllowed":"2","SuspensionMinutes":"60"}`)
	devID := e.users["dev@acme.example"]
	biz := "/api/businesses/" + business
	for range 3 {
		e.tryLogin("dev@acme.example", "nope")
	}
	e.tryLogin("nobody@acme.example", "nope") // unknown emails are suspended too, but are no users to list
	e.tryLogin("nobody@acme.example", "nope")
	var list struct {
		SuspendedUser []struct{ UserID, Email, SuspendedUntil string }
	}
	r := e.do(call{method: "GET", path: biz + "/suspendedusers", as: auditor})
	json.Unmarshal(r.body, &list)
	if r.status != 200 || len(list.SuspendedUser) != 1 || list.SuspendedUser[0].UserID != devID ||
		list.SuspendedUser[0].SuspendedUntil != e.clock.Now().Add(time.Hour).UTC().Format(time.RFC3339) {
		t.Fatalf("suspended users: %d %s", r.status, r.body)
	}
	if r := e.do(call{method: "POST", path: biz + "/suspendedusers/" + devID + "/unlock", as: auditor}); r.status != 403 {
		t.Errorf("auditor unlocks: %d", r.status)
	}
	if r := e.do(call{method: "POST", path: biz + "/suspendedusers/" + devID + "/unlock", as: admin, noCSRF: true}); r.status != 401 {
		t.Errorf("unlock without the CSRF header: %d", r.status)
	}
	if r := e.do(call{method: "POST", path: biz + "/suspendedusers/" + devID + "/unlock", as: admin}); r.status != 204 {
		t.Fatalf("unlock: %d %s", r.status, r.body)
	}
	if r := e.do(call{method: "POST", path: biz + "/suspendedusers/" + devID + "/unlock", as: admin}); r.status != 404 {
		t.Errorf("unlock again: %d, want 404 (not suspended)", r.status)
	}
	if r := e.tryLogin("dev@acme.example", password); r.status != 200 {
		t.Fatalf("login after unlock: %d %s", r.status, r.body)
	}
	if n := e.waitMail("dev@acme.example", "Your account is suspended"); n != 1 {
		t.Errorf("%d suspension mails for one suspension, want 1", n)
	}
	r = e.do(call{method: "GET", path: biz + "/audit?setting=account", as: auditor})
	var audit struct {
		AuditEntry []struct {
			UserID, Setting string
			New             struct{ Event, UserID string }
		}
	}
	json.Unmarshal(r.body, &audit)
	if r.status != 200 || len(audit.AuditEntry) != 2 || audit.AuditEntry[0].New.Event != "unlocked" ||
		audit.AuditEntry[0].UserID != e.users["admin@acme.example"] || audit.AuditEntry[1].New.Event != "suspended" ||
		audit.AuditEntry[1].New.UserID != devID {
		t.Errorf("account audit: %d %s", r.status, r.body)
	}
}

// TestThrottling: under the default limits a flooding client gets 429 with
// Retry-After while another client logs in; known and unknown accounts are
// throttled alike; X-Forwarded-For counts only from a trusted proxy.
func TestThrottling(t *testing.T) {
	e := newEnvLimited(t, testParams, login.DefaultLimits, netip.MustParsePrefix("127.0.0.0/8"))
	// One client floods with distinct emails (so only the per-client limit
	// applies) from 4 connections while another logs in.
	var mu sync.Mutex
	statuses := map[int]int{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 500; i++ {
				select {
				case <-stop:
					return
				default:
				}
				r := e.do(call{method: "POST", path: "/api/login", header: from("203.0.113.9"),
					body: fmt.Sprintf(`{"email":"x%d-%d@acme.example","password":"nope"}`, w, i)})
				if r.status == 429 && (r.header.Get("Retry-After") == "" || !strings.Contains(string(r.body), `"faultcode":"TooManyRequests"`)) {
					t.Errorf("429 without Retry-After or fault body: %v %s", r.header, r.body)
				}
				mu.Lock()
				statuses[r.status]++
				mu.Unlock()
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	body := `{"email":"dev@acme.example","password":"` + password + `"}`
	logins := 0
	for flooding := true; flooding && logins < 100; logins++ {
		if r := e.do(call{method: "POST", path: "/api/login", header: from("198.51.100.4"), body: body}); r.status != 200 {
			close(stop)
			t.Fatalf("another client's login %d during the flood: %d %s", logins+1, r.status, r.body)
		}
		select {
		case <-done:
			flooding = false
		case <-time.After(10 * time.Millisecond):
		}
	}
	close(stop)
	<-done
	if statuses[401] > login.DefaultLimits.Client.N || statuses[429] == 0 {
		t.Fatalf("flood answers %v: want at most %d refusals by password, then 429", statuses, login.DefaultLimits.Client.N)
	}

	// Account failures: after 10 from one client, the account answers that
	// client 429, known or not, alike.
	admin := e.do(call{method: "POST", path: "/api/login", header: from("198.51.100.5"),
		body: `{"email":"admin@acme.example","password":"` + password + `"}`})
	e.put(sessionOf(tenant, admin), "securitysettings", `{"AllowUserEnum":"com.soa.feature.disabled"}`)
	answers := map[string][]string{}
	for n, email := range []string{"dev@acme.example", "ghost@acme.example"} {
		for range 11 {
			r := e.do(call{method: "POST", path: "/api/login", header: from(fmt.Sprintf("192.0.2.%d", n+1)),
				body: `{"email":"` + email + `","password":"nope"}`})
			code, msg := r.fault()
			answers[email] = append(answers[email], fmt.Sprint(r.status, code, msg))
		}
	}
	for i := range 11 {
		if answers["dev@acme.example"][i] != answers["ghost@acme.example"][i] {
			t.Errorf("attempt %d: known %q, unknown %q", i+1, answers["dev@acme.example"][i], answers["ghost@acme.example"][i])
		}
	}
	if !strings.HasPrefix(answers["dev@acme.example"][10], "429") {
		t.Errorf("11th failure: %q, want 429", answers["dev@acme.example"][10])
	}

	// Without a trusted proxy, X-Forwarded-For is the client's own claim: ignored.
	untrusted := newEnvLimited(t, testParams, login.Limits{Client: throttle.Rate{N: 3, Per: time.Minute},
		AccountFailures: login.DefaultLimits.AccountFailures, Mail: login.DefaultLimits.Mail, MaxKeys: 100})
	var last int
	body = `{"email":"dev@acme.example","password":"` + password + `"}`
	for i := range 4 {
		last = untrusted.do(call{method: "POST", path: "/api/login", header: from(fmt.Sprintf("192.0.2.%d", i+1)), body: body}).status
	}
	if last != 429 {
		t.Errorf("4th login with a forged X-Forwarded-For: %d, want 429", last)
	}
}

// TestResetCaptchaAndMailCooldown: with CaptchaSupport on, mailing a reset
// code needs a CAPTCHA; the same address is mailed at most 3 codes per 15 minutes.
func TestResetCaptchaAndMailCooldown(t *testing.T) {
	e := newEnvLimited(t, testParams, login.DefaultLimits)
	admin := e.login("admin@acme.example")
	e.put(admin, "securitysettings", sample(t, "security-put-2.request.json"))
	send := func(captcha string) int {
		return e.do(call{method: "POST", path: "/api/passwordmanagement/sendPasswordResetCode?emailAddress=dev@acme.example" + captcha}).status
	}
	if got := send(""); got != 401 {
		t.Errorf("no CAPTCHA: %d", got)
	}
	if got := send("&captchaResponse=robot"); got != 401 {
		t.Errorf("refused CAPTCHA: %d", got)
	}
	before := len(e.smtp.Messages())
	for i := range 3 {
		if got := send("&captchaResponse=human"); got != 200 {
			t.Fatalf("reset mail %d: %d", i+1, got)
		}
	}
	if got := send("&captchaResponse=human"); got != http.StatusTooManyRequests {
		t.Errorf("4th reset mail within 15 minutes: %d, want 429", got)
	}
	e.settle()
	if n := len(e.smtp.Messages()) - before; n != 3 {
		t.Errorf("%d reset mails, want 3", n)
	}
	e.clock.Advance(5 * time.Minute)
	if got := send("&captchaResponse=human"); got != 200 {
		t.Errorf("after 5 minutes: %d", got)
	}
}
