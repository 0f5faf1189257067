package main

import (
	"io"
	"net/http"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bizsec/bizsec/internal/mail/mailtest"
	"github.com/bizsec/bizsec/internal/store/storetest"
)

// TestMailSurvivesKill: a reset code asked for while the SMTP relay is
// down waits in the database; the server is killed with SIGKILL, started
// again with the relay up, and the code arrives.
func TestMailSurvivesKill(t *testing.T) {
	args := dbArgs(t, storetest.Default())
	t.Setenv("BIZSEC_SECRET_KEY", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
	setupTenant(t, args)
	down := append([]string{"-smtp-addr", "127.0.0.1:1", "-mail-attempts", "1000"}, args...)
	p := startServer(t, down...)
	resp, err := http.Post(p.base+"/api/passwordmanagement/sendPasswordResetCode?emailAddress=admin@acme.example", "application/json", nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("reset code: %v %v", err, resp)
	}
	resp.Body.Close()
	// The mail is queued and its first try failed: it waits in the database.
	retried := regexp.MustCompile(`(?m)^bizsec_mail_total\{outcome="retried"\} [1-9]`)
	queued := regexp.MustCompile(`(?m)^bizsec_mail_queued 1$`)
	for end := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		m := metrics(t, p.base)
		if retried.MatchString(m) && queued.MatchString(m) {
			break
		}
		if time.Now().After(end) {
			t.Fatalf("the mail was never queued and retried:\n%s", m)
		}
	}
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done

	srv := mailtest.Start(t)
	startServer(t, append([]string{"-smtp-addr", srv.Addr}, args...)...)
	for end := time.Now().Add(30 * time.Second); len(srv.Messages()) == 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatal("the queued mail did not arrive after the restart")
		}
	}
	got := srv.Messages()[0]
	if got.To != "admin@acme.example" || !strings.Contains(strings.ToLower(got.Data), "reset") {
		t.Errorf("delivered %+v", got)
	}
}

func metrics(t *testing.T, base string) string {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
