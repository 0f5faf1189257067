package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"strings"
	"time"

	"golang.org/x/term"
)

// resources maps the CLI's short names to the API's.
var resources = map[string]string{
	"twofa": "twofasettings", "login": "loginpolicy", "security": "securitysettings", "challenges": "challenges",
}

// settingsCmd is the client: bizsec settings get|put OBJECT --business ID.
func settingsCmd(ctx context.Context, args []string, stdin io.Reader, stdout io.Writer) error {
	usage := usagef("usage: bizsec settings get|put twofa|login|security|challenges --business ID [-server URL] [-email EMAIL] [-file FILE]")
	if len(args) < 2 {
		return usage
	}
	verb, object := args[0], args[1]
	resource, ok := resources[object]
	if verb != "get" && verb != "put" || !ok {
		return usage
	}
	fs := flag.NewFlagSet("settings", flag.ContinueOnError)
	server := fs.String("server", env("BIZSEC_SERVER", "http://127.0.0.1:8080"), "bizsec server URL (env BIZSEC_SERVER)")
	email := fs.String("email", env("BIZSEC_EMAIL", ""), "your email (env BIZSEC_EMAIL); the password comes from BIZSEC_PASSWORD or the first line of standard input")
	business := fs.String("business", "", "BusinessID, e.g. tenantbusiness.acmepaymentscorp")
	file := fs.String("file", "", "get: write the JSON here instead of standard output; put: the JSON to send (required)")
	if err := parseFlags(fs, args[2:]); err != nil {
		return err
	}
	if *business == "" || *email == "" {
		return usagef("settings needs --business and -email (or BIZSEC_EMAIL)")
	}
	var body []byte
	if verb == "put" {
		if *file == "" {
			return usagef("settings put needs -file with the JSON to send")
		}
		var err error
		if body, err = os.ReadFile(*file); err != nil {
			return err
		}
		if !json.Valid(body) {
			return fmt.Errorf("%s is not valid JSON", *file)
		}
	}
	lines := bufio.NewReader(stdin)
	c, err := newClient(ctx, *server, *email, lines)
	if err != nil {
		return err
	}
	path := "/api/businesses/" + url.PathEscape(*business) + "/" + resource
	if verb == "get" && resource == "challenges" {
		path += "?IncludeInactive=true"
	}
	out, err := c.call(ctx, strings.ToUpper(verb), path, body)
	if err != nil {
		return fmt.Errorf("%s %s: %w", strings.ToUpper(verb), resource, err)
	}
	var pretty bytes.Buffer
	json.Indent(&pretty, out, "", "  ")
	pretty.WriteByte('\n')
	if verb == "get" && *file != "" {
		return writePrivate(*file, pretty.Bytes())
	}
	_, err = stdout.Write(pretty.Bytes())
	return err
}

// client is a logged-in session with a bizsec server.
type client struct {
	base string
	http *http.Client
	csrf map[string]string // CSRF header name -> value
}

func newClient(ctx context.Context, server, email string, lines *bufio.Reader) (*client, error) {
	jar, _ := cookiejar.New(nil)
	c := &client{base: strings.TrimRight(server, "/"), http: &http.Client{Jar: jar, Timeout: 30 * time.Second}}
	password, err := secretInput("BIZSEC_PASSWORD", lines)
	if err != nil {
		return nil, fmt.Errorf("password: %w", err)
	}
	login, _ := json.Marshal(map[string]string{"email": email, "password": password})
	out, err := c.call(ctx, "POST", "/api/login", login)
	if err != nil {
		return nil, fmt.Errorf("login: %w", err)
	}
	var resp struct{ PendingTasks []string }
	json.Unmarshal(out, &resp)
	if len(resp.PendingTasks) > 0 && resp.PendingTasks[0] == "2fa.verification.code" {
		code, err := secretInput("BIZSEC_2FA_CODE", lines)
		if err != nil {
			return nil, fmt.Errorf("2FA code (mailed to %s): %w", email, err)
		}
		task, _ := json.Marshal(map[string]any{"parameters": map[string]string{"2fa.verification.code": code, "Action": "validate"}})
		if _, err := c.call(ctx, "POST", "/api/login/pendingtasks", task); err != nil {
			return nil, fmt.Errorf("2FA: %w", err)
		}
	}
	return c, nil
}

// secretInput reads a secret from an environment variable or the next line of input.
func secretInput(name string, lines *bufio.Reader) (string, error) {
	if v := os.Getenv(name); v != "" {
		return v, nil
	}
	if fd := int(os.Stdin.Fd()); lines.Buffered() == 0 && stdinIsTerminal() {
		prompt := map[string]string{"BIZSEC_PASSWORD": "Password: ", "BIZSEC_2FA_CODE": "Verification code (mailed to you): "}[name]
		fmt.Fprint(os.Stderr, prompt)
		b, err := term.ReadPassword(fd)
		fmt.Fprintln(os.Stderr)
		return string(b), err
	}
	line, err := lines.ReadString('\n')
	if line = strings.TrimRight(line, "\r\n"); line != "" {
		return line, nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		err = fmt.Errorf("set %s or give it on standard input", name)
	}
	return "", err
}

// call sends a JSON request and returns the body of a 2xx answer, or an
// error carrying the server's faultcode and faultstring.
func (c *client) call(ctx context.Context, method, path string, body []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for name, value := range c.csrf {
		req.Header.Set(name, value)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, err
	}
	// Like the platform's clients: every Csrf-Token_* cookie becomes an X-Csrf-Token_* header.
	for _, ck := range resp.Cookies() {
		if strings.HasPrefix(ck.Name, "Csrf-Token_") && ck.MaxAge >= 0 {
			if c.csrf == nil {
				c.csrf = map[string]string{}
			}
			c.csrf["X-"+ck.Name] = ck.Value
		}
	}
	if resp.StatusCode/100 != 2 {
		var f struct{ Faultcode, Faultstring string }
		if json.Unmarshal(out, &f) == nil && f.Faultstring != "" {
			return nil, fmt.Errorf("%d %s: %s", resp.StatusCode, f.Faultcode, f.Faultstring)
		}
		return nil, fmt.Errorf("%s", resp.Status)
	}
	return out, nil
}

// writePrivate writes a file only its owner can read, also when it existed
// with a looser mode: settings can hold keys.
func writePrivate(name string, data []byte) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// stdinIsTerminal reports whether a person types standard input; tests
// and scripts pipe it.
var stdinIsTerminal = func() bool { return term.IsTerminal(int(os.Stdin.Fd())) }

// errFailing ends bizsec check when a requirement fails (exit status 1).
var errFailing = errors.New("a requirement fails")

// checkCmd is bizsec check --business ID: the standards check of the
// business's settings, as a table; exit status 1 when a rule fails.
func checkCmd(ctx context.Context, args []string, stdin io.Reader, stdout io.Writer) error {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	server := fs.String("server", env("BIZSEC_SERVER", "http://127.0.0.1:8080"), "bizsec server URL (env BIZSEC_SERVER)")
	email := fs.String("email", env("BIZSEC_EMAIL", ""), "your email (env BIZSEC_EMAIL); the password comes from BIZSEC_PASSWORD, a prompt, or standard input")
	business := fs.String("business", "", "BusinessID, e.g. tenantbusiness.acmepaymentscorp")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *business == "" || *email == "" {
		return usagef("check needs --business and -email (or BIZSEC_EMAIL)")
	}
	c, err := newClient(ctx, *server, *email, bufio.NewReader(stdin))
	if err != nil {
		return err
	}
	out, err := c.call(ctx, "GET", "/api/businesses/"+url.PathEscape(*business)+"/securitycheck", nil)
	if err != nil {
		return err
	}
	var report struct {
		Finding []struct{ ID, Requirement, Status, Reason string }
		Failing bool
	}
	if err := json.Unmarshal(out, &report); err != nil {
		return fmt.Errorf("the server's answer is not a security check: %w", err)
	}
	for _, f := range report.Finding {
		fmt.Fprintf(stdout, "%-4s  %-24s  %s\n      %s\n", strings.ToUpper(f.Status), f.ID, f.Reason, f.Requirement)
	}
	if report.Failing {
		return errFailing
	}
	return nil
}
