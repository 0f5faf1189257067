package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/bizsec/bizsec/internal/store"
)

// runBin runs the bizsec binary with args, stdin and env added to an
// environment without BIZSEC_ variables, and returns its exit status and
// output.
func runBin(t *testing.T, env []string, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(cleanEnv(), env...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), out.String(), errOut.String()
	}
	if err != nil {
		t.Fatalf("%v: %v", args, err)
	}
	return 0, out.String(), errOut.String()
}

func cleanEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "BIZSEC_") {
			out = append(out, kv)
		}
	}
	return out
}

// goNamesShown matches what a person should never read in an error: Go
// calls, package prefixes, url.Parse's quoting, fmt's bad verbs.
var goNamesShown = regexp.MustCompile(`[a-z]+\.[A-Z]\w*\(|\bparse "|\*[a-z]+\.[A-Z]|%!|\b(store|login|httpapi|fault): `)

// freeAddr is a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestExitCodes runs the binary as a person or a script would and checks
// each documented exit status: 0 done, 1 a finding or a refused
// operation, 2 usage, 3 a server or network error; errors are printed
// once, on stderr, without Go names.
func TestExitCodes(t *testing.T) {
	dir := t.TempDir()
	setupTenant(t, []string{"-data", dir})
	p := startServer(t, "-data", dir)
	dead := "http://" + freeAddr(t)
	badPolicy := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(badPolicy, []byte(`{"AttemptsPeriod":"-1"}`), 0o600)
	notJSON := filepath.Join(t.TempDir(), "not.json")
	os.WriteFile(notJSON, []byte(`{"AttemptsPeriod":`), 0o600)
	db := []string{"-data", dir}
	as := []string{"BIZSEC_EMAIL=admin@acme.example", "BIZSEC_PASSWORD=crash-test-pw", "BIZSEC_SERVER=" + p.base}
	biz := []string{"--business", "tenantbusiness.acme"}
	cat := func(lists ...[]string) []string {
		var out []string
		for _, l := range lists {
			out = append(out, l...)
		}
		return out
	}
	cases := []struct {
		name   string
		env    []string
		stdin  string
		args   []string
		want   int
		stdout string // a part of the standard output, when given
	}{
		{"help", nil, "", []string{"help"}, exitOK, "user set-password"},
		{"-h", nil, "", []string{"-h"}, exitOK, "Exit status"},
		{"--help", nil, "", []string{"--help"}, exitOK, "completion"},
		{"help of a command", nil, "", []string{"help", "user", "list"}, exitOK, "-tenant"},
		{"--version", nil, "", []string{"--version"}, exitOK, "bizsec "},
		{"version json", nil, "", []string{"version", "-o", "json"}, exitOK, `"version"`},
		{"user list", nil, "", cat([]string{"user", "list", "-tenant", "acme"}, db), exitOK, "admin@acme.example"},
		{"settings get", as, "", cat([]string{"settings", "get", "login"}, biz), exitOK, `"AttemptsPeriod"`},
		{"completion", nil, "", []string{"completion", "zsh"}, exitOK, "compdef"},

		{"unknown command", nil, "", []string{"frobnicate"}, exitUsage, ""},
		{"user alone", nil, "", []string{"user"}, exitUsage, ""},
		{"unknown user command", nil, "", []string{"user", "promote"}, exitUsage, ""},
		{"tenant alone", nil, "", []string{"tenant"}, exitUsage, ""},
		{"settings alone", nil, "", []string{"settings"}, exitUsage, ""},
		{"settings get alone", nil, "", cat([]string{"settings", "get"}, biz), exitUsage, ""},
		{"unknown object", nil, "", cat([]string{"settings", "get", "colours"}, biz), exitUsage, ""},
		{"missing flag", nil, "", cat([]string{"user", "list"}, db), exitUsage, ""},
		{"extra argument", nil, "", cat([]string{"user", "list", "-tenant", "acme", "extra"}, db), exitUsage, ""},
		{"extra argument after object", as, "", cat([]string{"settings", "get", "login", "extra"}, biz), exitUsage, ""},
		{"unknown flag", nil, "", []string{"serve", "-no-such-flag"}, exitUsage, ""},
		{"serve argument", nil, "", []string{"serve", "now"}, exitUsage, ""},
		{"bad -o", nil, "", []string{"version", "-o", "yaml"}, exitUsage, ""},
		{"no shell", nil, "", []string{"completion", "fish"}, exitUsage, ""},
		{"check without business", as, "", []string{"check"}, exitUsage, ""},
		{"bad server URL", as, "", cat([]string{"settings", "get", "login", "-server", "http://bad host"}, biz), exitUsage, ""},
		{"not an email", nil, "", cat([]string{"user", "create", "-tenant", "acme", "-email", "not-an-email"}, db), exitUsage, ""},
		{"bad role", nil, "", cat([]string{"user", "create", "-tenant", "acme", "-email", "k@acme.example", "-role", "King"}, db), exitUsage, ""},
		{"missing file", as, "", cat([]string{"settings", "put", "login", "-file", filepath.Join(dir, "missing.json")}, biz), exitUsage, ""},
		{"help of nothing", nil, "", []string{"help", "nosuch"}, exitUsage, ""},
		{"not logged in", nil, "", cat([]string{"settings", "get", "login", "-server", p.base}, biz), exitUsage, ""},
		{"no password", []string{"BIZSEC_EMAIL=admin@acme.example"}, "", cat([]string{"settings", "get", "login", "-server", p.base}, biz), exitUsage, ""},
		{"bad boolean variable", []string{"BIZSEC_SECURE_COOKIES=maybe"}, "", cat([]string{"serve", "-listen", "127.0.0.1:0"}, db), exitUsage, ""},

		{"unknown tenant", nil, "", cat([]string{"user", "list", "-tenant", "nosuch"}, db), exitRefused, ""},
		{"user of unknown tenant", nil, "", cat([]string{"user", "create", "-tenant", "nosuch", "-email", "x@y.example"}, db), exitRefused, ""},
		{"unknown user", nil, "", cat([]string{"user", "delete", "-tenant", "acme", "-email", "nobody@acme.example"}, db), exitRefused, ""},
		{"tenant exists", nil, "", cat([]string{"tenant", "create", "-id", "acme", "-admin-email", "x@acme.example"}, db), exitRefused, ""},
		{"bad tenant ID", nil, "", cat([]string{"tenant", "create", "-id", "bad id!", "-admin-email", "x@acme.example"}, db), exitRefused, ""},
		{"duplicate user", nil, "", cat([]string{"user", "create", "-tenant", "acme", "-email", "admin@acme.example"}, db), exitRefused, ""},
		{"short password", nil, "short\n", cat([]string{"user", "set-password", "-tenant", "acme", "-email", "admin@acme.example"}, db), exitRefused, ""},
		{"not suspended", nil, "", cat([]string{"user", "unlock", "-tenant", "acme", "-email", "admin@acme.example"}, db), exitRefused, ""},
		{"failing rule", as, "", cat([]string{"check"}, biz), exitRefused, "FAIL  lockout"},
		{"failing rule json", as, "", cat([]string{"check", "-o", "json"}, biz), exitRefused, `"Finding"`},
		{"wrong password", []string{"BIZSEC_EMAIL=admin@acme.example", "BIZSEC_PASSWORD=wrong-password"}, "", cat([]string{"settings", "get", "login", "-server", p.base}, biz), exitRefused, ""},
		{"invalid setting", as, "", cat([]string{"settings", "put", "login", "-file", badPolicy}, biz), exitRefused, ""},
		{"file not JSON", as, "", cat([]string{"settings", "put", "login", "-file", notJSON}, biz), exitRefused, ""},

		{"server down", as, "", cat([]string{"settings", "get", "login", "-server", dead}, biz), exitServer, ""},
		{"server down for check", as, "", cat([]string{"check", "-server", dead}, biz), exitServer, ""},
		{"server down for login", as, "", []string{"login", "-server", dead}, exitServer, ""},
		{"port taken", nil, "", []string{"serve", "-listen", strings.TrimPrefix(p.base, "http://"), "-data", filepath.Join(t.TempDir(), "new")}, exitServer, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, stdout, stderr := runBin(t, c.env, c.stdin, c.args...)
			if code != c.want {
				t.Fatalf("%v: exit %d, want %d\nstdout: %s\nstderr: %s", c.args, code, c.want, stdout, stderr)
			}
			if !strings.Contains(stdout, c.stdout) {
				t.Errorf("%v: stdout has no %q:\n%s", c.args, c.stdout, stdout)
			}
			if goNamesShown.MatchString(stderr) {
				t.Errorf("%v: stderr shows Go names: %s", c.args, stderr)
			}
			finding := c.want == exitRefused && (strings.Contains(stdout, "FAIL") || strings.Contains(stdout, `"Finding"`))
			switch {
			case c.want == exitOK && stderr != "":
				t.Errorf("%v: stderr %q, want none", c.args, stderr)
			case c.want != exitOK && !finding:
				n := 0
				for _, line := range strings.Split(stderr, "\n") {
					if strings.HasPrefix(line, "bizsec:") {
						n++
					}
				}
				if n != 1 {
					t.Errorf("%v: stderr %q, want the error once", c.args, stderr)
				}
			}
		})
	}
	if n := sessionCount(t, dir); n != 0 {
		t.Errorf("%d sessions after the commands that logged in for themselves, want 0: each logs out", n)
	}
}

// TestEveryHelp: -h of every command and group prints its usage on
// standard output and exits 0.
func TestEveryHelp(t *testing.T) {
	var all [][]string
	for group := range groups {
		all = append(all, []string{group, "-h"})
	}
	for _, c := range commands {
		all = append(all, append(strings.Fields(c.name), "-h"))
	}
	all = append(all, []string{"settings", "get", "login", "-h"}, []string{"settings", "put", "twofa", "--help"})
	for _, args := range all {
		code, stdout, stderr := runBin(t, nil, "", args...)
		if code != 0 || !strings.Contains(stdout, "Usage: bizsec") || stderr != "" {
			t.Errorf("%v: exit %d, stderr %q, stdout:\n%s", args, code, stderr, stdout)
		}
	}
}

// sessionCount counts the sessions in the SQLite database in dir.
func sessionCount(t *testing.T, dir string) int {
	t.Helper()
	db, err := sql.Open("sqlite", store.SQLiteDSN(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM sessions`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// mails returns the messages in the server's outbox, oldest first.
func mails(t *testing.T, dir string) []string {
	t.Helper()
	names, _ := filepath.Glob(filepath.Join(dir, "outbox", "*.eml"))
	var out []string
	for _, name := range names {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(b))
	}
	return out
}

var mailedCode = regexp.MustCompile(`verification code is ([0-9]+)`)

// waitForMail waits until the outbox holds n messages and returns the
// code of the last.
func waitForMail(t *testing.T, dir string, n int) string {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if m := mails(t, dir); len(m) >= n {
			if len(m) > n {
				t.Fatalf("%d mails, want %d", len(m), n)
			}
			code := mailedCode.FindStringSubmatch(m[n-1])
			if code == nil {
				t.Fatalf("no code in %s", m[n-1])
			}
			return code[1]
		}
	}
	t.Fatalf("mail %d never came", n)
	return ""
}

// keptSessionFile returns the one session file kept under the test's config directory.
func keptSessionFile(t *testing.T) string {
	t.Helper()
	dir, err := sessionsDir()
	if err != nil {
		t.Fatal(err)
	}
	names, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	if len(names) != 1 {
		t.Fatalf("session files %v, want one", names)
	}
	return names[0]
}

// TestLoginKeepsOneSession is issue 25's test from a shell: with 2FA on,
// bizsec login (two steps, as a script does it) and then ten bizsec
// settings get send one mail and create one session; the file is private,
// renewal swaps the token in place, logout ends the session and deletes
// the file. Then a one-call login with the code piped after the mail.
func TestLoginKeepsOneSession(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	dir := t.TempDir()
	setupTenant(t, []string{"-data", dir})
	p := startServer(t, "-data", dir)
	a := loginAdmin(t, p.base)
	if resp, body, err := a.do("PUT", "/api/businesses/tenantbusiness.acme/twofasettings",
		`{"TwoFAEnabled":true,"RecurrenceMode":"twofa.each.login"}`); err != nil || resp.StatusCode != 200 {
		t.Fatalf("turning 2FA on: %v %v %s", err, resp, body)
	}
	if resp, _, err := a.do("GET", "/api/login/endsession", ""); err != nil || resp.StatusCode != 204 {
		t.Fatalf("ending the admin's API session: %v %v", err, resp)
	}
	if n := sessionCount(t, dir); n != 0 {
		t.Fatalf("%d sessions before the CLI logs in, want 0", n)
	}
	env := []string{"XDG_CONFIG_HOME=" + os.Getenv("XDG_CONFIG_HOME"), "BIZSEC_SERVER=" + p.base}
	get := []string{"settings", "get", "login", "--business", "tenantbusiness.acme"}

	code, stdout, stderr := runBin(t, env, "crash-test-pw\n", "login", "-email", "admin@acme.example")
	if code != 0 || !strings.Contains(stdout, "bizsec login -code") {
		t.Fatalf("login, first step: exit %d\n%s%s", code, stdout, stderr)
	}
	if code, _, stderr := runBin(t, env, "", get...); code != exitRefused || !strings.Contains(stderr, "-code") {
		t.Errorf("settings get while the code is outstanding: exit %d, %s", code, stderr)
	}
	mailed := waitForMail(t, dir, 1)
	if code, stdout, stderr := runBin(t, env, "", "login", "-code", mailed, "-o", "json"); code != 0 || !strings.Contains(stdout, `"state": "LoggedIn"`) {
		t.Fatalf("login -code: exit %d\n%s%s", code, stdout, stderr)
	}
	for i := range 10 {
		if code, stdout, stderr := runBin(t, env, "", get...); code != 0 || !strings.Contains(stdout, `"AttemptsPeriod"`) {
			t.Fatalf("settings get %d: exit %d\n%s%s", i, code, stdout, stderr)
		}
	}
	if n := len(mails(t, dir)); n != 1 {
		t.Errorf("%d mails after login and ten settings get, want 1", n)
	}
	if n := sessionCount(t, dir); n != 1 {
		t.Errorf("%d sessions after login and ten settings get, want 1", n)
	}
	file := keptSessionFile(t)
	for path, want := range map[string]os.FileMode{file: 0o600, filepath.Dir(file): 0o700, filepath.Dir(filepath.Dir(file)): 0o700} {
		if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v (%v), want %04o", path, fi.Mode().Perm(), err, want)
		}
	}

	// Near its end the session is renewed: a new token in the same file,
	// the old one refused, still one session.
	var kept keptSession
	b, _ := os.ReadFile(file)
	json.Unmarshal(b, &kept)
	oldToken := kept.Cookies["AtmoAuthToken_acme"]
	kept.Since, kept.ValidUntil = time.Now().Add(-time.Hour), time.Now().Add(time.Minute)
	b, _ = json.Marshal(kept)
	os.WriteFile(file, b, 0o600)
	if code, _, stderr := runBin(t, env, "", get...); code != 0 {
		t.Fatalf("settings get with the session due for renewal: exit %d %s", code, stderr)
	}
	b, _ = os.ReadFile(file)
	json.Unmarshal(b, &kept)
	if kept.Cookies["AtmoAuthToken_acme"] == oldToken || kept.ValidUntil.Before(time.Now().Add(2*time.Minute)) {
		t.Errorf("after renewal the token is the same or the session ends at %v", kept.ValidUntil)
	}
	req, _ := http.NewRequest("GET", p.base+"/api/businesses/tenantbusiness.acme/loginpolicy", nil)
	req.AddCookie(&http.Cookie{Name: "AtmoAuthToken_acme", Value: oldToken})
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 401 {
		t.Errorf("the token before renewal: %v %v, want 401", err, resp)
	}
	if n := sessionCount(t, dir); n != 1 {
		t.Errorf("%d sessions after renewal, want 1", n)
	}

	// Commands started at once, all due to renew: each succeeds, one session remains.
	b, _ = os.ReadFile(file)
	json.Unmarshal(b, &kept)
	kept.Since, kept.ValidUntil = time.Now().Add(-time.Hour), time.Now().Add(time.Minute)
	b, _ = json.Marshal(kept)
	os.WriteFile(file, b, 0o600)
	errs := make(chan error, 5)
	for range 5 {
		go func() {
			cmd := exec.Command(bin, get...)
			cmd.Env = append(cleanEnv(), env...)
			out, err := cmd.CombinedOutput()
			if err != nil {
				err = fmt.Errorf("%v: %s", err, out)
			}
			errs <- err
		}()
	}
	for range 5 {
		if err := <-errs; err != nil {
			t.Errorf("settings get renewing at the same time as others: %v", err)
		}
	}
	if n := sessionCount(t, dir); n != 1 {
		t.Errorf("%d sessions after concurrent renewals, want 1", n)
	}

	if code, stdout, stderr := runBin(t, env, "", "logout"); code != 0 || !strings.Contains(stdout, "logged out") {
		t.Fatalf("logout: exit %d\n%s%s", code, stdout, stderr)
	}
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Errorf("the session file is still there after logout: %v", err)
	}
	if n := sessionCount(t, dir); n != 0 {
		t.Errorf("%d sessions after logout, want 0", n)
	}
	if code, _, _ := runBin(t, env, "", get...); code != exitUsage {
		t.Errorf("settings get after logout: exit %d, want %d (not logged in)", code, exitUsage)
	}

	// One call: the code is piped once it was mailed.
	cmd := exec.Command(bin, "login", "-email", "admin@acme.example")
	cmd.Env = append(cleanEnv(), env...)
	in, _ := cmd.StdinPipe()
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	io.WriteString(in, "crash-test-pw\n")
	io.WriteString(in, waitForMail(t, dir, 2)+"\n")
	in.Close()
	if err := cmd.Wait(); err != nil || !strings.Contains(out.String(), "logged in to") {
		t.Fatalf("login with the code piped: %v\n%s%s", err, out.String(), errOut.String())
	}
	if code, _, stderr := runBin(t, env, "", get...); code != 0 {
		t.Errorf("settings get after the one-call login: exit %d %s", code, stderr)
	}
	if n := sessionCount(t, dir); n != 1 {
		t.Errorf("%d sessions after the one-call login, want 1", n)
	}

	// A session ended on the server (here by its own cookie): the command
	// says to log in again; logout still deletes the file.
	b, _ = os.ReadFile(keptSessionFile(t))
	json.Unmarshal(b, &kept)
	req, _ = http.NewRequest("GET", p.base+"/api/login/endsession", nil)
	for name, value := range kept.Cookies {
		req.AddCookie(&http.Cookie{Name: name, Value: value})
	}
	req.Header.Set("X-Csrf-Token_acme", kept.Cookies["Csrf-Token_acme"])
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 204 {
		t.Fatalf("ending the kept session on the server: %v %v", err, resp)
	}
	if code, _, stderr := runBin(t, env, "", get...); code != exitRefused || !strings.Contains(stderr, "run bizsec login") {
		t.Errorf("settings get with an ended session: exit %d, %s", code, stderr)
	}
	if code, _, stderr := runBin(t, env, "", "logout"); code != 0 {
		t.Errorf("logout of an ended session: exit %d %s", code, stderr)
	}
	if _, err := os.Stat(keptFileName(t)); !os.IsNotExist(err) {
		t.Errorf("the session file is still there after logout: %v", err)
	}
}

// keptFileName is where the test server's session would be kept.
func keptFileName(t *testing.T) string {
	dir, err := sessionsDir()
	if err != nil {
		t.Fatal(err)
	}
	names, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	if len(names) > 0 {
		return names[0]
	}
	return filepath.Join(dir, "none.json")
}

// TestFirstStart: serve on an empty database creates a tenant and its
// Site Admin, prints the one-time password and the console URL (which
// serves), and the password logs in; a restart creates nothing.
func TestFirstStart(t *testing.T) {
	for _, c := range []struct {
		name         string
		env, args    []string
		tenant, user string
	}{
		{"defaults", nil, nil, bootstrapTenant, bootstrapEmail},
		{"flags", nil, []string{"-bootstrap-tenant", "acme", "-bootstrap-admin-email", "root@acme.example"}, "acme", "root@acme.example"},
		{"environment", []string{"BIZSEC_BOOTSTRAP_TENANT=globex", "BIZSEC_BOOTSTRAP_ADMIN_EMAIL=it@globex.example"}, nil, "globex", "it@globex.example"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			args := append([]string{"-data", dir}, c.args...)
			p := startServerWith(t, c.env, args...)
			console := waitFor(t, p.stdout, regexp.MustCompile(`console:\s+(\S+)`))
			out := p.stdout.String()
			pw := regexp.MustCompile(`password:\s+(\S+)`).FindStringSubmatch(out)
			if pw == nil || !strings.Contains(out, "tenant "+c.tenant) || !strings.Contains(out, c.user) {
				t.Fatalf("first start printed:\n%s", out)
			}
			if resp, err := http.Get(console[1]); err != nil || resp.StatusCode != 200 {
				t.Errorf("console %s: %v %v", console[1], err, resp)
			}
			body := fmt.Sprintf(`{"email":%q,"password":%q}`, c.user, pw[1])
			resp, err := http.Post(p.base+"/api/login", "application/json", strings.NewReader(body))
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("login with the printed password: %v %v", err, resp)
			}
			resp.Body.Close()
			p.cmd.Process.Kill()
			<-p.done
			if strings.Contains(p.stderr.String(), pw[1]) {
				t.Error("the password is in the log")
			}
			again := startServerWith(t, c.env, args...)
			again.cmd.Process.Kill()
			<-again.done // all its output has been read
			if strings.Contains(again.stdout.String(), "password") {
				t.Errorf("a restart bootstrapped again:\n%s", again.stdout.String())
			}
		})
	}
	t.Run("off", func(t *testing.T) {
		p := startServer(t, "-data", t.TempDir(), "-bootstrap-tenant", "")
		p.cmd.Process.Kill()
		<-p.done
		if out := p.stdout.String(); out != "" {
			t.Errorf("with -bootstrap-tenant empty, serve printed:\n%s", out)
		}
	})
}

// TestServeFailsCleanly: a serve that cannot listen, or is given a bad
// variable, exits before it creates the data directory, the database or
// the key.
func TestServeFailsCleanly(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	for _, c := range []struct {
		name   string
		env    []string
		args   []string
		want   int
		stderr string
	}{
		{"port taken", nil, []string{"-listen", taken.Addr().String(), "-ops-listen", "public"}, exitServer, "address already in use"},
		{"ops port taken", nil, []string{"-listen", "127.0.0.1:0", "-ops-listen", taken.Addr().String()}, exitServer, "address already in use"},
		{"bad boolean", []string{"BIZSEC_SECURE_COOKIES=maybe"}, []string{"-listen", "127.0.0.1:0"}, exitUsage, "BIZSEC_SECURE_COOKIES"},
		{"bad access log", []string{"BIZSEC_ACCESS_LOG=off"}, []string{"-listen", "127.0.0.1:0"}, exitUsage, "BIZSEC_ACCESS_LOG"},
		{"bad number", []string{"BIZSEC_MAX_CONNS=many"}, []string{"-listen", "127.0.0.1:0"}, exitUsage, "BIZSEC_MAX_CONNS"},
		{"bad body memory", []string{"BIZSEC_BODY_MEMORY=32M"}, []string{"-listen", "127.0.0.1:0"}, exitUsage, "BIZSEC_BODY_MEMORY"},
		{"bad cache", []string{"BIZSEC_AUTH_CACHE=-"}, []string{"-listen", "127.0.0.1:0"}, exitUsage, "BIZSEC_AUTH_CACHE"},
		{"bad timeout", []string{"BIZSEC_DB_TIMEOUT=soon"}, []string{"-listen", "127.0.0.1:0"}, exitUsage, "BIZSEC_DB_TIMEOUT"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			code, _, stderr := runBin(t, c.env, "", append([]string{"serve", "-data", dir}, c.args...)...)
			if code != c.want || !strings.Contains(stderr, c.stderr) {
				t.Errorf("exit %d, want %d; stderr %s", code, c.want, stderr)
			}
			if _, err := os.Stat(dir); !os.IsNotExist(err) {
				t.Errorf("the failed serve created %s (%v)", dir, err)
			}
		})
	}
}

// TestBooleanVariables: true, 1 or yes (any case) turns a switch on
// (BIZSEC_SECURE_COOKIES=1 marks the login cookies Secure); a flag given
// on the command line wins over a variable that cannot be read.
func TestBooleanVariables(t *testing.T) {
	for _, c := range []struct {
		env    string
		args   []string
		secure bool
	}{
		{"BIZSEC_SECURE_COOKIES=1", nil, true},
		{"BIZSEC_SECURE_COOKIES=TRUE", nil, true},
		{"BIZSEC_SECURE_COOKIES=0", nil, false},
		{"BIZSEC_SECURE_COOKIES=yes", nil, true},
		{"BIZSEC_SECURE_COOKIES=maybe", []string{"-secure-cookies=false"}, false},
	} {
		t.Run(c.env, func(t *testing.T) {
			dir := t.TempDir()
			setupTenant(t, []string{"-data", dir})
			p := startServerWith(t, []string{c.env}, append([]string{"-data", dir}, c.args...)...)
			resp, err := http.Post(p.base+"/api/login", "application/json", strings.NewReader(`{"email":"admin@acme.example","password":"crash-test-pw"}`))
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("login: %v %v", err, resp)
			}
			resp.Body.Close()
			for _, ck := range resp.Cookies() {
				if ck.Name == "AtmoAuthToken_acme" && ck.Secure != c.secure {
					t.Errorf("auth cookie Secure=%v, want %v", ck.Secure, c.secure)
				}
			}
		})
	}
}

// TestOpsListener: with -ops-listen on an address of its own, /metrics
// and /readyz are there and not on the public listener; -ops-listen
// public puts them back; the default is loopback.
func TestOpsListener(t *testing.T) {
	dir := t.TempDir()
	setupTenant(t, []string{"-data", dir})
	p := startServer(t, "-data", dir, "-ops-listen", "127.0.0.1:0")
	m := waitFor(t, p.stderr, regexp.MustCompile(`"msg":"serving operations","addr":"([^"]+)"`))
	status := func(url string) int {
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := status(p.base + "/metrics"); got != 404 {
		t.Errorf("public /metrics: %d, want 404", got)
	}
	for _, path := range []string{"/metrics", "/readyz", "/healthz"} {
		if got := status("http://" + m[1] + path); got != 200 {
			t.Errorf("ops %s: %d, want 200", path, got)
		}
	}
	p.cmd.Process.Kill()
	<-p.done
	public := startServer(t, "-data", dir) // startServer passes -ops-listen public
	if got := status(public.base + "/metrics"); got != 200 {
		t.Errorf("-ops-listen public: /metrics %d, want 200", got)
	}
	if _, stdout, _ := runBin(t, nil, "", "serve", "-h"); !strings.Contains(stdout, `(default "127.0.0.1:9091")`) {
		t.Errorf("serve -h does not show the loopback ops default:\n%s", stdout)
	}
}

// TestCompletion: the bash script, sourced in bash, completes commands,
// subcommands, settings objects and flags by asking the binary.
func TestCompletion(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("SKIP: no bash to source the completion script in")
	}
	for _, c := range []struct {
		words string // the words typed, the last one being completed
		want  string
	}{
		{"us", "user"},
		{"user l", "list"},
		{"settings get ", "challenges factors login password security sessions twofa"},
		{"user list -t", "-tenant"},
		{"check -o", "-o"},
		{"completion ", "bash zsh"},
	} {
		words := append([]string{bin}, strings.Split(c.words, " ")...)
		script := fmt.Sprintf(`source <(%q completion bash); COMP_WORDS=(%s); COMP_CWORD=%d; _bizsec; echo "${COMPREPLY[*]}"`,
			bin, quoteAll(words), len(words)-1)
		out, err := exec.Command(bash, "-c", script).CombinedOutput()
		if got := strings.TrimSpace(string(out)); err != nil || got != c.want {
			t.Errorf("%q: completed to %q (%v), want %q", c.words, got, err, c.want)
		}
	}
	if zsh, err := exec.LookPath("zsh"); err == nil {
		if out, err := exec.Command(zsh, "-n", "-c", zshCompletion).CombinedOutput(); err != nil {
			t.Errorf("zsh -n: %v %s", err, out)
		}
	} else {
		t.Log("SKIP: no zsh to check the zsh script's syntax")
	}
}

func quoteAll(words []string) string {
	var q []string
	for _, w := range words {
		q = append(q, fmt.Sprintf("%q", w))
	}
	return strings.Join(q, " ")
}
