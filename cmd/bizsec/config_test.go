package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestEveryFlagHasAVariable: each of serve's settings has an environment
// variable, and each one that is not secret is a flag too.
func TestEveryFlagHasAVariable(t *testing.T) {
	c, _ := newServeConfig()
	seen := map[string]string{}
	for _, s := range c.settings {
		if !strings.HasPrefix(s.env, "BIZSEC_") {
			t.Errorf("-%s has no BIZSEC_ variable (%q)", s.name, s.env)
		}
		if other, ok := seen[s.env]; ok {
			t.Errorf("-%s and -%s share %s", s.name, other, s.env)
		}
		seen[s.env] = s.name
	}
}

func TestParseBool(t *testing.T) {
	for in, want := range map[string]bool{"true": true, "1": true, "yes": true, "TRUE": true, "Yes": true,
		"false": false, "0": false, "no": false, "FALSE": false} {
		if got, err := parseBool(in); err != nil || got != want {
			t.Errorf("parseBool(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "t", "f", "on", "off", "2", "enabled", "y"} {
		if _, err := parseBool(in); err == nil {
			t.Errorf("parseBool(%q) accepted", in)
		}
	}
}

// TestConfigPrecedence: flag over variable over file over default, each
// value's source shown by -print-config, secrets masked there (file and
// variable alike, and a database URL's password).
func TestConfigPrecedence(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "bizsec.toml")
	os.WriteFile(conf, []byte(`listen = "127.0.0.1:1111"
mail-from = "file@example.com"
max-conns = 7
access-log = false
smtp-password = "file-secret-pw"
drain = "2s"
`), 0o600)
	env := []string{"BIZSEC_MAIL_FROM=env@example.com", "BIZSEC_SECRET_KEY=env-secret-key", "BIZSEC_DATABASE=postgres://u:db-secret-pw@db.internal/bizsec"}
	code, out, stderr := runBin(t, env, "", "serve", "-config", conf, "-print-config", "-max-conns", "9")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{
		`listen = "127.0.0.1:1111"  # file`,
		`mail-from = "env@example.com"  # env BIZSEC_MAIL_FROM`,
		`max-conns = 9  # flag`,
		`access-log = false  # file`,
		`drain = "2s"  # file`,
		`smtp-password = "********"  # file`,
		`secret-key = "********"  # env BIZSEC_SECRET_KEY`,
		`database = "postgres://u:xxxxx@db.internal/bizsec"  # env BIZSEC_DATABASE`,
		`ops-listen = "127.0.0.1:9091"  # default`,
	} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("no %q in\n%s", want, out)
		}
	}
	for _, secret := range []string{"file-secret-pw", "env-secret-key", "db-secret-pw"} {
		if strings.Contains(out+stderr, secret) {
			t.Errorf("-print-config shows %s", secret)
		}
	}
	// What -print-config prints is a config file serve reads back.
	again := filepath.Join(dir, "again.toml")
	os.WriteFile(again, []byte(regexp.MustCompile(`(?m)^(smtp-password|secret-key) = .*$`).ReplaceAllString(out, "")), 0o600)
	if code, out2, stderr := runBin(t, nil, "", "serve", "-config", again, "-print-config"); code != 0 || !strings.Contains(out2, `max-conns = 9  # file`) {
		t.Errorf("reading the printed configuration back: exit %d %s\n%s", code, stderr, out2)
	}
}

// TestConfigRefusals: an unknown key, a value of the wrong type, an
// unreadable boolean and a secret in a file others can read are refused
// at start (exit 2), before anything is created.
func TestConfigRefusals(t *testing.T) {
	for _, c := range []struct {
		name, file string
		mode       os.FileMode
		want       string
	}{
		{"unknown key", "lisen = \"127.0.0.1:0\"\n", 0o600, `unknown setting "lisen"`},
		{"bad boolean", "access-log = \"maybe\"\n", 0o600, "access-log"},
		{"bad number", "max-conns = \"many\"\n", 0o600, "max-conns"},
		{"table", "[listen]\nx = 1\n", 0o600, "must be a string"},
		{"not TOML", "listen = \n", 0o600, "bizsec.toml"},
		{"secret readable by others", "smtp-password = \"pw\"\n", 0o644, "others can read it"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			conf := filepath.Join(dir, "bizsec.toml")
			os.WriteFile(conf, []byte(c.file), c.mode)
			os.Chmod(conf, c.mode)
			data := filepath.Join(dir, "data")
			code, _, stderr := runBin(t, nil, "", "serve", "-data", data, "-listen", "127.0.0.1:0", "-config", conf)
			if code != exitUsage || !strings.Contains(stderr, c.want) {
				t.Errorf("exit %d, want %d; stderr %s", code, exitUsage, stderr)
			}
			if strings.Contains(stderr, `"pw"`) {
				t.Errorf("the secret is in the message: %s", stderr)
			}
			if _, err := os.Stat(data); !os.IsNotExist(err) {
				t.Errorf("the refused serve created %s", data)
			}
		})
	}
}
