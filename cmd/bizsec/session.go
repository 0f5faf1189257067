package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/bizsec/bizsec/internal/store"
)

// Session states, as the server's LoginResponse names them.
const (
	stateLoggedIn = "LoggedIn"
	statePending  = "PendingTasks" // waiting for the 2FA code
)

// keptSession is a login kept between runs, one file per server and
// tenant, readable only by its owner (as gh and kubectl keep theirs).
type keptSession struct {
	Server     string            `json:"server"`
	Tenant     string            `json:"tenant"`
	Email      string            `json:"email"`
	State      string            `json:"state"`
	Cookies    map[string]string `json:"cookies"`
	ValidUntil time.Time         `json:"validUntil"` // as the server said at the last login step or renewal
	Since      time.Time         `json:"since"`      // when it said so

	path string
}

// configDir is $XDG_CONFIG_HOME/bizsec, else ~/.config/bizsec.
func configDir() (string, error) {
	if d := os.Getenv("XDG_CONFIG_HOME"); filepath.IsAbs(d) {
		return filepath.Join(d, "bizsec"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", usagef("no place for the session: set XDG_CONFIG_HOME or HOME")
	}
	return filepath.Join(home, ".config", "bizsec"), nil
}

func sessionsDir() (string, error) {
	d, err := configDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(d, "sessions"), nil
}

// sessionFile names a server's and tenant's session file; the server is
// escaped so that "@" separates it from the tenant.
func sessionFile(dir, server, tenant string) string {
	return filepath.Join(dir, url.QueryEscape(server)+"@"+tenant+".json")
}

// findSession returns the session kept for a server (and tenant and
// email, when given), or nil when there is none.
func findSession(server, tenant, email string) (*keptSession, error) {
	dir, err := sessionsDir()
	if err != nil {
		return nil, err
	}
	names, _ := filepath.Glob(filepath.Join(dir, globEscape(url.QueryEscape(server))+"@*.json"))
	var found []*keptSession
	for _, name := range names {
		s, err := loadSession(name)
		if err != nil {
			return nil, err
		}
		if s.Server != server || tenant != "" && s.Tenant != tenant || email != "" && !strings.EqualFold(s.Email, email) {
			continue
		}
		found = append(found, s)
	}
	switch len(found) {
	case 0:
		return nil, nil
	case 1:
		return found[0], nil
	}
	var tenants []string
	for _, s := range found {
		tenants = append(tenants, s.Tenant)
	}
	sort.Strings(tenants)
	return nil, usagef("sessions for several tenants are kept for %s (%s): give -tenant", server, strings.Join(tenants, ", "))
}

func globEscape(s string) string {
	return strings.NewReplacer(`*`, `\*`, `?`, `\?`, `[`, `\[`, `\`, `\\`).Replace(s)
}

func loadSession(name string) (*keptSession, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, failed("reading the session file: %s", cause(err))
	}
	var s keptSession
	if err := json.Unmarshal(b, &s); err != nil || s.Server == "" {
		return nil, failed("the session file %s is damaged; delete it and run bizsec login", name)
	}
	s.path = name
	return &s, nil
}

// save writes the session atomically into a file of mode 0600 in a
// directory of mode 0700.
func (s *keptSession) save() error {
	dir, err := sessionsDir()
	if err != nil {
		return err
	}
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return failed("creating the session directory: %s", cause(err))
		}
		if err := os.Chmod(d, 0o700); err != nil {
			return failed("creating the session directory: %s", cause(err))
		}
	}
	s.path = sessionFile(dir, s.Server, s.Tenant)
	b, _ := json.MarshalIndent(s, "", "  ")
	f, err := os.CreateTemp(dir, ".session-*") // mode 0600
	if err != nil {
		return failed("writing the session file: %s", cause(err))
	}
	_, err = f.Write(append(b, '\n'))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), s.path)
	}
	if err != nil {
		os.Remove(f.Name())
		return failed("writing the session file: %s", cause(err))
	}
	return nil
}

func (s *keptSession) remove() error {
	os.Remove(s.path + ".lock")
	if err := os.Remove(s.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return failed("deleting the session file: %s", cause(err))
	}
	return nil
}

// keep records a login step's answer and the client's cookies.
func (s *keptSession) keep(c *client, r loginResponse) {
	s.Cookies = c.cookies
	s.Tenant = c.tenant()
	s.State = stateLoggedIn
	if r.pending() {
		s.State = statePending
	}
	s.ValidUntil, s.Since = r.validUntil(), time.Now()
}

// dueForRenewal: two thirds of the time the server last granted have
// passed. Uses push the server's inactivity deadline further out, so this
// is the earliest the session can end.
func (s *keptSession) dueForRenewal(now time.Time) bool {
	return !now.Before(s.Since.Add(s.ValidUntil.Sub(s.Since) * 2 / 3))
}

// renewedElsewhere reports whether the file now holds another token than
// c (a command running at the same time renewed the session) and, if so,
// gives c the new one.
func (s *keptSession) renewedElsewhere(c *client) bool {
	now, err := loadSession(s.path)
	name := authCookiePrefix + s.Tenant
	if err != nil || now.Cookies[name] == "" || now.Cookies[name] == c.cookies[name] {
		return false
	}
	*s = *now
	c.cookies = now.Cookies
	return true
}

// renew swaps the kept session's token for a new one, under a lock so
// that commands running at once renew it once.
func (s *keptSession) renew(ctx context.Context, c *client) error {
	unlock, err := lockFile(s.path + ".lock")
	if err != nil {
		return failed("locking the session file: %s", cause(err))
	}
	defer unlock()
	if s.renewedElsewhere(c) && !s.dueForRenewal(time.Now()) {
		return nil
	}
	r, err := c.postLogin(ctx, "/api/login/renewToken", nil)
	switch {
	case isUnauthorized(err) && s.renewedElsewhere(c):
		return nil // without flock: another bizsec renewed it first, and c now holds its token
	case isUnauthorized(err):
		s.remove()
		return refused("the session kept for %s has ended; run bizsec login", s.Server)
	case err != nil:
		return fmt.Errorf("renewing the session: %w", err)
	}
	s.keep(c, r)
	return s.save()
}

// connect returns a client with a live session for the command and a
// function to call when it is done: the kept session (renewed when near
// its end), or, without one, a login for this command alone that done
// ends.
func connect(ctx context.Context, cf clientFlags, stdin io.Reader) (*client, func(), error) {
	server, err := serverURL(*cf.server)
	if err != nil {
		return nil, nil, err
	}
	kept, err := findSession(server, *cf.tenant, *cf.email)
	if err != nil {
		return nil, nil, err
	}
	c := newClient(server)
	if kept != nil {
		if kept.State != stateLoggedIn {
			return nil, nil, refused("the login to %s as %s waits for its verification code: bizsec login -code CODE", server, kept.Email)
		}
		c.cookies = kept.Cookies
		if kept.dueForRenewal(time.Now()) {
			if err := kept.renew(ctx, c); err != nil {
				return nil, nil, err
			}
		}
		c.kept = kept
		c.onUnauthorized = " (the session kept for " + server + " has ended: run bizsec login)"
		return c, func() {}, nil
	}
	if *cf.email == "" {
		return nil, nil, usagef("not logged in to %s: run bizsec login, or give -email (or BIZSEC_EMAIL) with the password in BIZSEC_PASSWORD or on standard input", server)
	}
	lines := bufio.NewReader(orEmpty(stdin))
	password, err := secretInput("BIZSEC_PASSWORD", "Password for "+*cf.email+": ", lines)
	if errors.Is(err, errNoInput) {
		return nil, nil, usagef("no password: set BIZSEC_PASSWORD or give it on standard input, or run bizsec login first")
	}
	if err != nil {
		return nil, nil, err
	}
	r, err := c.login(ctx, *cf.email, password)
	if err != nil {
		return nil, nil, fmt.Errorf("logging in as %s: %w", *cf.email, err)
	}
	end := func() { c.logout(context.WithoutCancel(ctx)) }
	if r.pending() {
		code, err := secretInput("BIZSEC_2FA_CODE", "Verification code (mailed to "+*cf.email+"): ", lines)
		if errors.Is(err, errNoInput) {
			end()
			return nil, nil, refused("a verification code was mailed to %s: give it in BIZSEC_2FA_CODE or on the next line of standard input, or run bizsec login once", *cf.email)
		}
		if err == nil {
			_, err = c.sendCode(ctx, code)
		}
		if err != nil {
			end()
			return nil, nil, fmt.Errorf("2FA: %w", err)
		}
	}
	return c, end, nil
}

func orEmpty(r io.Reader) io.Reader {
	if r == nil {
		return strings.NewReader("")
	}
	return r
}

// sessionJSON is what login prints with -o json.
type sessionJSON struct {
	Server     string    `json:"server"`
	Tenant     string    `json:"tenant"`
	Email      string    `json:"email"`
	State      string    `json:"state"`
	ValidUntil time.Time `json:"validUntil"`
	File       string    `json:"file"`
}

// loginCmd is bizsec login: a password login whose session is kept for
// the other commands. With 2FA it asks for the code once it was mailed
// (a prompt, BIZSEC_2FA_CODE, or the next line of standard input); when
// none comes it keeps the pending login for a second call with -code.
func loginCmd(ctx context.Context, args []string, stdin io.Reader, stdout io.Writer) error {
	fs := flag.NewFlagSet("login", flag.ContinueOnError)
	cf := addClientFlags(fs)
	code := fs.String("code", "", "the verification code mailed by an earlier bizsec login (the second step of a 2FA login)")
	output := addOutputFlag(fs)
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	server, err := serverURL(*cf.server)
	if err != nil {
		return err
	}
	c := newClient(server)
	lines := bufio.NewReader(orEmpty(stdin))
	var s *keptSession
	if *code != "" {
		if s, err = findSession(server, *cf.tenant, *cf.email); err != nil {
			return err
		}
		if s == nil || s.State != statePending {
			return refused("no login to %s waits for a code: run bizsec login without -code first", server)
		}
		c.cookies = s.Cookies
		r, err := c.sendCode(ctx, *code)
		if err != nil {
			return fmt.Errorf("2FA: %w", err)
		}
		s.keep(c, r)
	} else {
		if *cf.email == "" {
			return usagef("bizsec login needs -email (or BIZSEC_EMAIL)")
		}
		password, err := secretInput("BIZSEC_PASSWORD", "Password for "+*cf.email+": ", lines)
		if errors.Is(err, errNoInput) {
			return usagef("no password: set BIZSEC_PASSWORD, type it at the prompt, or give it on standard input")
		}
		if err != nil {
			return err
		}
		r, err := c.login(ctx, *cf.email, password)
		if err != nil {
			return fmt.Errorf("logging in as %s: %w", *cf.email, err)
		}
		s = &keptSession{Server: server, Email: store.NormalizeEmail(*cf.email)}
		s.keep(c, r)
		replaceKept(ctx, s)
		if err := s.save(); err != nil {
			c.logout(context.WithoutCancel(ctx))
			return err
		}
		if r.pending() {
			fmt.Fprintf(os.Stderr, "A verification code was mailed to %s.\n", s.Email)
			entered, err := secretInput("BIZSEC_2FA_CODE", "Verification code: ", lines)
			switch {
			case errors.Is(err, errNoInput):
				return printSession(stdout, s, *output,
					fmt.Sprintf("a verification code was mailed to %s; finish with: bizsec login -code CODE", s.Email))
			case err != nil:
				return err
			}
			if r, err = c.sendCode(ctx, entered); err != nil {
				return fmt.Errorf("2FA: %w (bizsec login -code CODE tries another code)", err)
			}
			s.keep(c, r)
		}
	}
	if err := s.save(); err != nil {
		return err
	}
	return printSession(stdout, s, *output, fmt.Sprintf("logged in to %s as %s (tenant %s) until %s; the session is kept in %s",
		s.Server, s.Email, s.Tenant, s.ValidUntil.Local().Format(time.DateTime+" MST"), s.path))
}

// replaceKept ends the session that s is about to replace on the server.
func replaceKept(ctx context.Context, s *keptSession) {
	dir, err := sessionsDir()
	if err != nil {
		return
	}
	old, err := loadSession(sessionFile(dir, s.Server, s.Tenant))
	if err != nil || old.Cookies[authCookiePrefix+s.Tenant] == s.Cookies[authCookiePrefix+s.Tenant] {
		return
	}
	c := newClient(s.Server)
	c.cookies = old.Cookies
	c.logout(context.WithoutCancel(ctx))
}

func printSession(stdout io.Writer, s *keptSession, output outputFlag, text string) error {
	if output == "json" {
		return writeJSON(stdout, sessionJSON{Server: s.Server, Tenant: s.Tenant, Email: s.Email, State: s.State,
			ValidUntil: s.ValidUntil.UTC(), File: s.path})
	}
	_, err := fmt.Fprintln(stdout, text)
	return err
}

// logoutCmd is bizsec logout: the kept session ends on the server and its
// file is deleted. Without a server's answer the file stays, to try again.
func logoutCmd(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("logout", flag.ContinueOnError)
	cf := addClientFlags(fs)
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	server, err := serverURL(*cf.server)
	if err != nil {
		return err
	}
	s, err := findSession(server, *cf.tenant, *cf.email)
	if err != nil {
		return err
	}
	if s == nil {
		fmt.Fprintf(stdout, "not logged in to %s\n", server)
		return nil
	}
	c := newClient(server)
	c.cookies = s.Cookies
	var h *httpError
	if err := c.logout(ctx); err != nil && !(errors.As(err, &h) && h.status == exitRefused) {
		return fmt.Errorf("logout: %w (the session file stays, to try again)", err)
	}
	if err := s.remove(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "logged out of %s (tenant %s, %s)\n", server, s.Tenant, s.Email)
	return nil
}
