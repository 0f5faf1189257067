package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bizsec/bizsec/internal/app"
	"github.com/bizsec/bizsec/internal/auth"
	"github.com/bizsec/bizsec/internal/httpapi"
	"github.com/bizsec/bizsec/internal/login"
	"github.com/bizsec/bizsec/internal/store"
)

// TestSettingsClient drives `bizsec settings` against a real server on loopback.
// clientServer serves a tenant "acme" over HTTP for the CLI's client
// commands, and returns its data directory and URL.
func clientServer(t *testing.T) (dir, url string) {
	t.Helper()
	dir = t.TempDir()
	setupTenant(t, []string{"-data", dir})
	st, err := store.OpenSQLite(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	api, svc := app.NewAPI(login.Config{Hasher: auth.NewHasher(auth.DefaultParams, 2)}, httpapi.Config{Store: st})
	svc.Start()
	t.Cleanup(svc.Close)
	srv := httptest.NewServer(api.Handler())
	t.Cleanup(srv.Close)
	return dir, srv.URL
}

func TestSettingsClient(t *testing.T) {
	dir, url := clientServer(t)
	cli := func(stdin string, args ...string) (string, error) {
		var out bytes.Buffer
		full := append([]string{"settings"}, args...)
		full = append(full, "--business", "tenantbusiness.acme", "-server", url, "-email", "admin@acme.example")
		err := run(context.Background(), full, strings.NewReader(stdin), &out)
		return out.String(), err
	}
	const pw = "crash-test-pw\n"
	out, err := cli(pw, "get", "login")
	if err != nil || !strings.Contains(out, `"AttemptsPeriod": "5"`) {
		t.Fatalf("get login: %v\n%s", err, out)
	}
	in := filepath.Join(dir, "policy.json")
	os.WriteFile(in, []byte(`{"AttemptsPeriod":"9","ConcurrentLogin":false}`), 0o600)
	if out, err := cli(pw, "put", "login", "-file", in); err != nil || !strings.Contains(out, `"AttemptsPeriod": "9"`) {
		t.Fatalf("put login: %v\n%s", err, out)
	}
	saved := filepath.Join(dir, "saved.json")
	os.WriteFile(saved, nil, 0o644) // an earlier, readable file is made private
	if _, err := cli(pw, "get", "login", "-file", saved); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(saved); fi.Mode().Perm() != 0o600 {
		t.Errorf("saved settings have mode %04o, want 0600", fi.Mode().Perm())
	}
	var got map[string]string
	if b, _ := os.ReadFile(saved); json.Unmarshal(b, &got) != nil || got["AttemptsPeriod"] != "9" || got["ConcurrentLogin"] != "false" {
		t.Errorf("saved file: %v", got)
	}
	if out, err := cli(pw, "get", "challenges"); err != nil || !strings.Contains(out, "com.soa.challenge.question.pet") {
		t.Errorf("get challenges: %v\n%s", err, out)
	}
	os.WriteFile(in, []byte(`{"AttemptsPeriod":"-1"}`), 0o600)
	bad := []struct {
		stdin string
		args  []string
		want  string
	}{
		{pw, []string{"put", "login", "-file", in}, "400 InvalidRequest: AttemptsPeriod must be between"},
		{"wrong-password\n", []string{"get", "login"}, "logging in as admin@acme.example: 401"},
		{"", []string{"get", "login"}, "BIZSEC_PASSWORD"},
		{pw, []string{"get", "colours"}, "no settings object"},
		{pw, []string{"put", "login"}, "-file"},
		{pw, []string{"put", "login", "-file", filepath.Join(dir, "missing.json")}, "no such file"},
	}
	for _, c := range bad {
		if _, err := cli(c.stdin, c.args...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want an error about %q", c.args, err, c.want)
		}
	}
}

// TestCheckCommand: bizsec check prints each rule and fails (exit 1) while
// a requirement fails.
func TestCheckCommand(t *testing.T) {
	_, url := clientServer(t)
	var out bytes.Buffer
	err := run(context.Background(), []string{"check", "--business", "tenantbusiness.acme", "-server", url, "-email", "admin@acme.example"},
		strings.NewReader("crash-test-pw\n"), &out)
	if code := exitCode(err, io.Discard); code != 1 || !strings.Contains(out.String(), "FAIL  lockout") || !strings.Contains(out.String(), "NIST SP 800-63B 5.2.2") {
		t.Errorf("exit %d (%v), output:\n%s", code, err, out.String())
	}
}
