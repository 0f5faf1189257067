package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"github.com/bizsec/bizsec/internal/settings"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"golang.org/x/term"
)

// resources maps the CLI's short names to the API's.
// (from the settings objects' descriptors, plus the questions).
var resources, objectNames = func() (map[string]string, []string) {
	m, names := map[string]string{"challenges": "challenges"}, []string{}
	for _, o := range settings.Objects {
		m[o.Alias] = o.Name
		names = append(names, o.Alias)
	}
	return m, append(names, "challenges")
}()

// clientFlags are the flags of the commands that talk to a server.
type clientFlags struct {
	server, email, tenant *string
}

func addClientFlags(fs *flag.FlagSet) clientFlags {
	return clientFlags{
		server: fs.String("server", env("BIZSEC_SERVER", "http://127.0.0.1:8080"), "bizsec server URL (env BIZSEC_SERVER)"),
		email: fs.String("email", env("BIZSEC_EMAIL", ""),
			"your email (env BIZSEC_EMAIL); without a session kept by bizsec login, the password comes from BIZSEC_PASSWORD or standard input"),
		tenant: fs.String("tenant", env("BIZSEC_TENANT", ""), "the tenant of the kept session, when several are kept for the server (env BIZSEC_TENANT)"),
	}
}

// serverURL checks -server and returns it in the form sessions are kept under.
func serverURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "http" && u.Scheme != "https" || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", usagef("-server must be an http:// or https:// URL such as http://127.0.0.1:8080, got %q", raw)
	}
	return u.Scheme + "://" + strings.ToLower(u.Host) + strings.TrimRight(u.Path, "/"), nil
}

// settingsCmd is the client: bizsec settings get|put OBJECT --business ID.
func settingsCmd(ctx context.Context, args []string, stdin io.Reader, stdout io.Writer) error {
	if len(args) == 0 {
		return usagef("bizsec settings needs get or put (bizsec settings -h)")
	}
	verb := args[0]
	switch verb {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, groupHelp("settings"))
		fmt.Fprintf(stdout, "\nObjects: %s\n", strings.Join(objectNames, ", "))
		return nil
	case "get", "put":
	default:
		return usagef("unknown command bizsec settings %s: want get or put", verb)
	}
	fs := flag.NewFlagSet("settings "+verb, flag.ContinueOnError)
	cf := addClientFlags(fs)
	business := fs.String("business", env("BIZSEC_BUSINESS", ""), "BusinessID, e.g. tenantbusiness.acmepaymentscorp (env BIZSEC_BUSINESS)")
	file := fs.String("file", "", "get: write the JSON here (mode 0600) instead of standard output; put: the JSON to send (required)")
	addOutputFlag(fs) // the answer is JSON either way
	rest := args[1:]
	if len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
		rest = rest[1:]
	}
	if err := parseFlags(fs, rest, stdout); err != nil {
		return err
	}
	if len(args) < 2 || strings.HasPrefix(args[1], "-") {
		return usagef("bizsec settings %s needs an object: %s", verb, strings.Join(objectNames, ", "))
	}
	resource, ok := resources[args[1]]
	if !ok {
		return usagef("no settings object %q: want %s", args[1], strings.Join(objectNames, ", "))
	}
	if *business == "" {
		return usagef("bizsec settings %s needs --business", verb)
	}
	var body []byte
	if verb == "put" {
		if *file == "" {
			return usagef("bizsec settings put needs -file with the JSON to send")
		}
		var err error
		if body, err = os.ReadFile(*file); err != nil {
			return usagef("-file: %s", cause(err))
		}
		if !json.Valid(body) {
			return refused("%s is not valid JSON", *file)
		}
	}
	c, done, err := connect(ctx, cf, stdin)
	if err != nil {
		return err
	}
	defer done()
	path := "/api/businesses/" + url.PathEscape(*business) + "/" + resource
	if verb == "get" && resource == "challenges" {
		path += "?IncludeInactive=true"
	}
	out, err := c.call(ctx, strings.ToUpper(verb), path, body)
	if err != nil {
		return fmt.Errorf("%s %s: %w", strings.ToUpper(verb), resource, err)
	}
	var pretty bytes.Buffer
	if json.Indent(&pretty, out, "", "  ") != nil {
		return failed("%s %s: the server's answer is not JSON", strings.ToUpper(verb), resource)
	}
	pretty.WriteByte('\n')
	if verb == "get" && *file != "" {
		if err := writePrivate(*file, pretty.Bytes()); err != nil {
			return usagef("-file: %s", cause(err))
		}
		return nil
	}
	_, err = stdout.Write(pretty.Bytes())
	return err
}

// checkCmd is bizsec check --business ID: the standards check of the
// business's settings, as a table; exit status 1 when a rule fails.
func checkCmd(ctx context.Context, args []string, stdin io.Reader, stdout io.Writer) error {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	cf := addClientFlags(fs)
	business := fs.String("business", env("BIZSEC_BUSINESS", ""), "BusinessID, e.g. tenantbusiness.acmepaymentscorp (env BIZSEC_BUSINESS)")
	output := addOutputFlag(fs)
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	if *business == "" {
		return usagef("bizsec check needs --business")
	}
	c, done, err := connect(ctx, cf, stdin)
	if err != nil {
		return err
	}
	defer done()
	out, err := c.call(ctx, "GET", "/api/businesses/"+url.PathEscape(*business)+"/securitycheck", nil)
	if err != nil {
		return fmt.Errorf("security check: %w", err)
	}
	var report struct {
		Finding []struct{ ID, Requirement, Status, Reason string }
		Failing bool
	}
	if err := json.Unmarshal(out, &report); err != nil {
		return failed("the server's answer is not a security check")
	}
	if *output == "json" {
		var pretty bytes.Buffer
		json.Indent(&pretty, out, "", "  ")
		pretty.WriteByte('\n')
		stdout.Write(pretty.Bytes())
	} else {
		for _, f := range report.Finding {
			fmt.Fprintf(stdout, "%-4s  %-24s  %s\n      %s\n", strings.ToUpper(f.Status), f.ID, f.Reason, f.Requirement)
		}
	}
	if report.Failing {
		return errFailing
	}
	return nil
}

// client is a session with a bizsec server.
type client struct {
	base    string
	http    *http.Client
	cookies map[string]string // name -> value, as the server last set them
	// onUnauthorized is added to a 401's message: what to do about it.
	onUnauthorized string
	// kept is the kept session the cookies come from, nil for a login
	// of this command alone.
	kept *keptSession
}

func newClient(base string) *client {
	return &client{base: base, http: &http.Client{Timeout: 30 * time.Second}, cookies: map[string]string{}}
}

// tenant is the tenant of the session's auth cookie, "" before a login.
func (c *client) tenant() string {
	for name := range c.cookies {
		if t, ok := strings.CutPrefix(name, authCookiePrefix); ok {
			return t
		}
	}
	return ""
}

const (
	authCookiePrefix = "AtmoAuthToken_"
	csrfCookiePrefix = "Csrf-Token_"
)

// loginResponse is the part of the server's LoginResponse the CLI reads.
type loginResponse struct {
	UserName            string   `json:"userName"`
	LoginState          string   `json:"loginState"`
	AuthTokenValidUntil int64    `json:"authTokenValidUntil,string"` // epoch ms, in a string as the platform sends it
	PendingTasks        []string `json:"pendingTasks"`
}

func (r loginResponse) pending() bool {
	return len(r.PendingTasks) > 0 && r.PendingTasks[0] == "2fa.verification.code"
}

func (r loginResponse) validUntil() time.Time { return time.UnixMilli(r.AuthTokenValidUntil) }

// postLogin sends a login step and reads its LoginResponse.
func (c *client) postLogin(ctx context.Context, path string, body any) (loginResponse, error) {
	var in []byte
	if body != nil {
		in, _ = json.Marshal(body)
	}
	out, err := c.call(ctx, "POST", path, in)
	if err != nil {
		return loginResponse{}, err
	}
	var r loginResponse
	if err := json.Unmarshal(out, &r); err != nil {
		return loginResponse{}, failed("the server's answer to %s is not a LoginResponse", path)
	}
	return r, nil
}

func (c *client) login(ctx context.Context, email, password string) (loginResponse, error) {
	return c.postLogin(ctx, "/api/login", map[string]string{"email": email, "password": password})
}

func (c *client) sendCode(ctx context.Context, code string) (loginResponse, error) {
	return c.postLogin(ctx, "/api/login/pendingtasks",
		map[string]any{"parameters": map[string]string{"2fa.verification.code": code, "Action": "validate"}})
}

func (c *client) logout(ctx context.Context) error {
	_, err := c.call(ctx, "POST", "/api/login/logout", nil)
	return err
}

// call sends a JSON request and returns the body of a 2xx answer, or an
// error carrying the server's faultcode and faultstring: exit status 1
// for a refusal (4xx), 3 for a failure (5xx, network).
func (c *client) call(ctx context.Context, method, path string, body []byte) ([]byte, error) {
	out, err := c.send(ctx, method, path, body)
	if isUnauthorized(err) && c.kept != nil && c.kept.renewedElsewhere(c) {
		return c.send(ctx, method, path, body)
	}
	return out, err
}

func (c *client) send(ctx context.Context, method, path string, body []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, bytes.NewReader(body))
	if err != nil {
		return nil, usagef("-server %q: not a URL", c.base)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for name, value := range c.cookies {
		req.AddCookie(&http.Cookie{Name: name, Value: value})
		// Like the platform's clients: every Csrf-Token_* cookie becomes an X-Csrf-Token_* header.
		if strings.HasPrefix(name, csrfCookiePrefix) {
			req.Header.Set("X-"+name, value)
		}
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, failed("interrupted")
		}
		return nil, failed("cannot reach %s: %s", c.base, cause(err))
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, failed("reading the answer of %s: %s", c.base, cause(err))
	}
	for _, ck := range resp.Cookies() {
		if ck.MaxAge < 0 || ck.Value == "" || !ck.Expires.IsZero() && ck.Expires.Before(time.Now()) {
			delete(c.cookies, ck.Name)
		} else {
			c.cookies[ck.Name] = ck.Value
		}
	}
	if resp.StatusCode/100 != 2 {
		status := exitRefused
		if resp.StatusCode >= 500 {
			status = exitServer
		}
		msg := resp.Status
		var f struct{ Faultcode, Faultstring string }
		if json.Unmarshal(out, &f) == nil && f.Faultstring != "" {
			msg = fmt.Sprintf("%d %s: %s", resp.StatusCode, f.Faultcode, f.Faultstring)
		}
		if resp.StatusCode == http.StatusUnauthorized {
			msg += c.onUnauthorized
		}
		return nil, &httpError{exitError{status: status, msg: msg}, resp.StatusCode}
	}
	return out, nil
}

// httpError is a server's refusal or failure, with its HTTP status.
type httpError struct {
	exitError
	code int
}

func (e *httpError) Unwrap() error { return &e.exitError }

func isUnauthorized(err error) bool {
	var h *httpError
	return errors.As(err, &h) && h.code == http.StatusUnauthorized
}

// secretInput reads a secret from an environment variable, a prompt on a
// terminal, or the next line of piped input.
func secretInput(name, prompt string, lines *bufio.Reader) (string, error) {
	if v := os.Getenv(name); v != "" {
		return v, nil
	}
	if fd := int(os.Stdin.Fd()); lines.Buffered() == 0 && stdinIsTerminal() {
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
		err = errNoInput
	}
	return "", err
}

// errNoInput is standard input ending before a secret was read.
var errNoInput = errors.New("nothing on standard input")

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
