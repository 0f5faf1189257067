package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/term"

	"github.com/bizsec/bizsec/internal/auth"
	"github.com/bizsec/bizsec/internal/fault"
	"github.com/bizsec/bizsec/internal/login"
	"github.com/bizsec/bizsec/internal/store"
)

// Exit statuses, the same for every command.
const (
	exitOK      = 0 // done (help and -h included)
	exitRefused = 1 // a finding (check), or the server or database refused the operation
	exitUsage   = 2 // the command line is wrong
	exitServer  = 3 // the server, the network or the database failed
)

// command is one line of the command table: help, dispatch and shell
// completion all read it.
type command struct {
	name     string // "user list"
	synopsis string // what follows the name in the usage line
	summary  string
}

var commands = []command{
	{"serve", "[flags]", "serve the API, the login service and the console (the default)"},
	{"login", "[-server URL] [-email EMAIL] [-code CODE]", "log in and keep the session for the other commands (2FA: asks for the code, or -code on a second call)"},
	{"logout", "[-server URL]", "end the kept session on the server and delete its file"},
	{"tenant create", "-id TENANT -admin-email EMAIL [flags]", "create a tenant, its root business and its first Site Admin"},
	{"user create", "-tenant TENANT -email EMAIL [-role SiteAdmin|Auditor] [flags]", "add a user, optionally with a role"},
	{"user list", "-tenant TENANT [-o json]", "list a tenant's users, their roles and suspensions"},
	{"user role", "-tenant TENANT -email EMAIL -role SiteAdmin|Auditor|none", "grant SiteAdmin or Auditor in a business, or take the role away"},
	{"user set-password", "-tenant TENANT -email EMAIL [-temporary]", "set a user's password under the tenant's password policy (prompted, or the first line of standard input; ends their sessions and forgets their devices; -temporary: changed at the next login)"},
	{"user delete", "-tenant TENANT -email EMAIL", "delete a user and everything of theirs"},
	{"user unlock", "-tenant TENANT -email EMAIL", "lift a user's suspension"},
	{"user sessions", "-tenant TENANT -email EMAIL [-end] [-o json]", "list a user's live sessions, or end them all"},
	{"user disable", "-tenant TENANT -email EMAIL", "disable a user: their sessions end at once and they cannot log in"},
	{"user enable", "-tenant TENANT -email EMAIL", "enable a disabled user"},
	{"user factors", "-tenant TENANT -email EMAIL [-remove ID] [-o json]", "list a user's second factors, or remove one (ends their sessions)"},
	{"settings get", strings.Join(objectNames, "|") + " --business ID [-file FILE]", "read a settings object over the API (JSON)"},
	{"settings put", strings.Join(objectNames, "|") + " --business ID -file FILE", "change a settings object over the API"},
	{"check", "--business ID [-o json]", "rate a business's settings against OWASP ASVS and NIST SP 800-63B (exit 1 while a rule fails)"},
	{"backup", "-o FILE [-with-key] [-data DIR]", "write an online snapshot of the SQLite database (and, with -with-key, the secret key sealed under a passphrase)"},
	{"restore", "-i FILE [-force] [-data DIR]", "restore a backup into a data directory no server is serving"},
	{"migrate", "[-status] [-data DIR | -database URL]", "apply the database migrations (a job before a rollout), or say which are pending (exit 1)"},
	{"bench", "[flags]", "measure the server against the machine's limits"},
	{"completion", "bash|zsh", "print a shell completion script: source <(bizsec completion bash)"},
	{"version", "[-o json]", "print the version (also --version)"},
	{"help", "[COMMAND]", "show this help, or a command's"},
}

// groups are the commands that take a subcommand.
var groups = map[string]string{
	"tenant":   "tenants",
	"user":     "a tenant's users, in the database directly",
	"settings": "settings objects, over the API of a running server",
}

func commandNamed(name string) (command, bool) {
	for _, c := range commands {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

// overview is what `bizsec help`, `bizsec -h` and `bizsec --help` print.
func overview() string {
	var b strings.Builder
	b.WriteString(`bizsec serves the Akana API Platform's business security settings API and
the login service that obeys them; the same binary is its command-line client.

Usage: bizsec [command] [flags]     (bizsec alone serves; every command takes -h)

`)
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	for _, c := range commands {
		fmt.Fprintf(tw, "  %s\t%s\n", c.name, c.summary)
	}
	tw.Flush()
	b.WriteString(`
The user and tenant commands work on the database (-data, default ./bizsec-data, or
-database postgres://...). The client commands (login, logout, settings, check) talk to
a server (-server, env BIZSEC_SERVER, default http://127.0.0.1:8080) and use the session
that bizsec login keeps; without one they log in for the one command (BIZSEC_EMAIL,
BIZSEC_PASSWORD, BIZSEC_2FA_CODE or standard input) and log out after it.

Exit status: 0 done; 1 a finding (check) or a refused operation; 2 a usage error;
3 a server, network or database error.
`)
	return b.String()
}

// groupHelp lists a group's subcommands.
func groupHelp(group string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "bizsec %s: %s\n\nUsage: bizsec %s SUBCOMMAND [flags]     (each takes -h)\n\n", group, groups[group], group)
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	for _, c := range commands {
		if sub, ok := strings.CutPrefix(c.name, group+" "); ok {
			fmt.Fprintf(tw, "  %s\t%s\n", sub, c.summary)
		}
	}
	tw.Flush()
	return b.String()
}

// subcommands returns the names of a group's subcommands.
func subcommands(group string) []string {
	var out []string
	for _, c := range commands {
		if sub, ok := strings.CutPrefix(c.name, group+" "); ok {
			out = append(out, sub)
		}
	}
	return out
}

// usageError is a command line the commands cannot run; main exits 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{msg: fmt.Sprintf(format, args...)} }

// exitError is an error that carries its exit status and a message for
// people (no Go names).
type exitError struct {
	status int
	msg    string
}

func (e *exitError) Error() string { return e.msg }

// refused is an operation the server or the database said no to (exit 1).
func refused(format string, args ...any) error {
	return &exitError{status: exitRefused, msg: fmt.Sprintf(format, args...)}
}

// failed is a server, network or database failure (exit 3).
func failed(format string, args ...any) error {
	return &exitError{status: exitServer, msg: fmt.Sprintf(format, args...)}
}

// storeError turns an error of the store or the login service into what
// the CLI reports: the client message of a refusal (exit 1), or the cause
// of a failure (exit 3), without the Go names the store wraps it in.
func storeError(err error) error {
	var f *fault.Error
	var e *exitError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &e):
		return err
	case errors.As(err, &f) && f.Code != fault.Internal && f.Code != fault.Unavailable:
		return refused("%s", f.Message)
	}
	return failed("database: %s", plain(err))
}

// goNames matches what Go code prefixes errors with: package names and
// calls such as `store.CreateUser("acme", "x"): `.
var goNames = regexp.MustCompile(`\b[a-z]+\.[A-Za-z]+\([^)]*\): |\b(store|login|secret|auth|mail|httpapi|sqlite|pgx|fault): `)

// plain is an error's message without Go names.
func plain(err error) string { return goNames.ReplaceAllString(err.Error(), "") }

// errFailing ends bizsec check when a requirement fails (exit status 1).
var errFailing = errors.New("a requirement fails")

// exitCode is the process status for what run returned, printing the
// error once.
func exitCode(err error, stderr io.Writer) int {
	var u usageError
	var e *exitError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.Is(err, errFailing):
		return exitRefused // the table said why
	case errors.As(err, &u):
		fmt.Fprintln(stderr, "bizsec:", u.msg)
		return exitUsage
	case errors.As(err, &e):
		fmt.Fprintln(stderr, "bizsec:", err) // the CLI's own words
		return e.status
	}
	var f *fault.Error
	if errors.As(err, &f) {
		return exitCode(storeError(err), stderr)
	}
	fmt.Fprintln(stderr, "bizsec:", plain(err))
	return exitServer
}

// flagLister is the stdout of `bizsec __complete`: parseFlags lists the
// flags to it instead of parsing.
type flagLister struct{ io.Writer }

// parseFlags parses args. -h prints the command's usage on stdout and
// returns flag.ErrHelp (exit 0); a bad flag or an argument left over is a
// usageError.
func parseFlags(fs *flag.FlagSet, args []string, stdout io.Writer) error {
	if l, ok := stdout.(flagLister); ok {
		fs.VisitAll(func(f *flag.Flag) { fmt.Fprintln(l, "-"+f.Name) })
		return flag.ErrHelp
	}
	fs.SetOutput(io.Discard) // errors are returned and printed once by exitCode
	fs.Usage = func() {}
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		printUsage(stdout, fs)
		return flag.ErrHelp
	case err != nil:
		return usagef("%s (bizsec %s -h shows the flags)", err, fs.Name())
	case fs.NArg() > 0:
		return usagef("bizsec %s: unexpected argument %q (bizsec %s -h shows the usage)", fs.Name(), fs.Arg(0), fs.Name())
	}
	return nil
}

func printUsage(w io.Writer, fs *flag.FlagSet) {
	c, _ := commandNamed(fs.Name())
	fmt.Fprintf(w, "Usage: bizsec %s %s\n\n", fs.Name(), c.synopsis)
	if c.summary != "" {
		fmt.Fprintf(w, "%s.\n\n", strings.ToUpper(c.summary[:1])+c.summary[1:])
	}
	fmt.Fprintln(w, "Flags:")
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
}

// outputFlag is -o: text (the default) or json.
type outputFlag string

func (o *outputFlag) String() string { return string(*o) }
func (o *outputFlag) Set(v string) error {
	if v != "text" && v != "json" {
		return errors.New("want text or json")
	}
	*o = outputFlag(v)
	return nil
}

func addOutputFlag(fs *flag.FlagSet) *outputFlag {
	o := outputFlag("text")
	fs.Var(&o, "o", "output `format`: text or json")
	return &o
}

// writeJSON prints v as indented JSON.
func writeJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// userCmd runs bizsec user SUBCOMMAND.
func userCmd(ctx context.Context, args []string, stdin io.Reader, stdout io.Writer) error {
	if len(args) == 0 {
		return usagef("bizsec user needs a subcommand: %s (bizsec user -h)", strings.Join(subcommands("user"), ", "))
	}
	switch sub, rest := args[0], args[1:]; sub {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, groupHelp("user"))
		return nil
	case "create":
		return createUser(ctx, rest, stdin, stdout)
	case "unlock":
		return unlockUser(ctx, rest, stdout)
	case "list":
		return listUsers(ctx, rest, stdout)
	case "role":
		return roleUser(ctx, rest, stdout)
	case "set-password":
		return setPassword(ctx, rest, stdin, stdout)
	case "delete":
		return deleteUser(ctx, rest, stdout)
	case "sessions":
		return userSessions(ctx, rest, stdout)
	case "disable":
		return disableUser(true)(ctx, rest, stdout)
	case "enable":
		return disableUser(false)(ctx, rest, stdout)
	case "factors":
		return userFactors(ctx, rest, stdout)
	default:
		return usagef("unknown command bizsec user %s: want %s", sub, strings.Join(subcommands("user"), ", "))
	}
}

// userFlags are the flags that name a user of a tenant.
func userFlags(name string) (*flag.FlagSet, dbFlags, *string, *string) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	db := addDBFlags(fs)
	tenant := fs.String("tenant", "", "tenant ID")
	email := fs.String("email", "", "the user's email")
	return fs, db, tenant, email
}

// openUser parses the flags and returns the store and the user they name.
func openUser(ctx context.Context, fs *flag.FlagSet, db dbFlags, tenant, email *string, args []string, stdout io.Writer) (*store.Store, store.User, error) {
	if err := parseFlags(fs, args, stdout); err != nil {
		return nil, store.User{}, err
	}
	if *tenant == "" || *email == "" {
		return nil, store.User{}, usagef("bizsec %s needs -tenant and -email", fs.Name())
	}
	st, err := db.open(ctx)
	if err != nil {
		return nil, store.User{}, err
	}
	if err := tenantExists(ctx, st, *tenant); err != nil {
		st.Close()
		return nil, store.User{}, err
	}
	u, err := st.UserByEmail(ctx, *tenant, *email)
	if fault.CodeOf(err) == fault.NotFound {
		err = refused("no user %s in tenant %s", *email, *tenant)
	}
	if err != nil {
		st.Close()
		return nil, store.User{}, storeError(err)
	}
	return st, u, nil
}

// tenantExists refuses a tenant the database does not hold.
func tenantExists(ctx context.Context, st *store.Store, tenant string) error {
	_, err := st.Business(ctx, store.RootBusinessID(tenant))
	if fault.CodeOf(err) == fault.NotFound {
		return refused("no tenant %s", tenant)
	}
	return storeError(err)
}

// userJSON is a user as user list -o json prints it.
type userJSON struct {
	Email          string     `json:"email"`
	Name           string     `json:"name"`
	ID             string     `json:"id"`
	Roles          []roleJSON `json:"roles"`
	SuspendedUntil *time.Time `json:"suspendedUntil,omitempty"`
}

type roleJSON struct {
	Business string `json:"business"`
	Role     string `json:"role"`
}

func listUsers(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("user list", flag.ContinueOnError)
	db := addDBFlags(fs)
	tenant := fs.String("tenant", "", "tenant ID")
	output := addOutputFlag(fs)
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	if *tenant == "" {
		return usagef("bizsec user list needs -tenant")
	}
	st, err := db.open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := tenantExists(ctx, st, *tenant); err != nil {
		return err
	}
	users, err := st.Users(ctx, *tenant)
	if err != nil {
		return storeError(err)
	}
	list := make([]userJSON, 0, len(users))
	for _, u := range users {
		j := userJSON{Email: u.Email, Name: u.Name, ID: u.ID, Roles: []roleJSON{}}
		for biz, role := range u.Roles {
			j.Roles = append(j.Roles, roleJSON{Business: biz, Role: string(role)})
		}
		sort.Slice(j.Roles, func(a, b int) bool { return j.Roles[a].Business < j.Roles[b].Business })
		if !u.SuspendedUntil.IsZero() {
			until := u.SuspendedUntil.UTC()
			j.SuspendedUntil = &until
		}
		list = append(list, j)
	}
	if *output == "json" {
		return writeJSON(stdout, list)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "EMAIL\tNAME\tROLES\tSUSPENDED UNTIL\tID")
	for _, u := range list {
		roles := []string{}
		for _, r := range u.Roles {
			roles = append(roles, r.Role+" of "+r.Business)
		}
		until := "-"
		if u.SuspendedUntil != nil {
			until = u.SuspendedUntil.Format("2006-01-02 15:04 MST")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", u.Email, u.Name, strings.Join(roles, ", "), until, u.ID)
	}
	return tw.Flush()
}

func roleUser(ctx context.Context, args []string, stdout io.Writer) error {
	fs, db, tenant, email := userFlags("user role")
	role := fs.String("role", "", "SiteAdmin, Auditor, or none to take the role away")
	business := fs.String("business", "", "business of the role (default: the tenant's root business)")
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	if r := auth.Role(*role); *role != "none" && !r.Valid() {
		return usagef("-role must be %s, %s or none", auth.RoleSiteAdmin, auth.RoleAuditor)
	}
	st, u, err := openUser(ctx, fs, db, tenant, email, nil, stdout)
	if err != nil {
		return err
	}
	defer st.Close()
	if *business == "" {
		*business = store.RootBusinessID(*tenant)
	}
	if *role == "none" {
		err = st.RevokeRole(ctx, u.ID, *business)
	} else {
		err = st.GrantRole(ctx, u.ID, *business, auth.Role(*role))
	}
	if err != nil {
		return storeError(err)
	}
	fmt.Fprintf(stdout, "user %s: role %s in %s\n", u.Email, *role, *business)
	return nil
}

// checkPassword applies the limits login applies, so that the CLI sets no
// password that login would refuse.
func checkPassword(password string) error {
	if n := len(password); n < login.MinPassword || n > login.MaxPassword {
		return refused("the password must be %d to %d bytes, got %d", login.MinPassword, login.MaxPassword, n)
	}
	return nil
}

func setPassword(ctx context.Context, args []string, stdin io.Reader, stdout io.Writer) error {
	fs, db, tenant, email := userFlags("user set-password")
	temporary := fs.Bool("temporary", false, "make the user change it at their next login (the pending task change.password)")
	st, u, err := openUser(ctx, fs, db, tenant, email, args, stdout)
	if err != nil {
		return err
	}
	defer st.Close()
	password, err := readSecret(stdin, "New password for "+u.Email+": ")
	if err != nil {
		return err
	}
	if err := checkPassword(password); err != nil {
		return err
	}
	// The login service's rules: the tenant's password policy, known-bad
	// passwords, the reuse limit; the sessions and devices end with it.
	svc := login.New(login.Config{Store: st, Hasher: auth.NewHasher(auth.DefaultParams, 1)})
	if err := svc.SetPassword(ctx, u, password, *temporary); err != nil {
		if fault.CodeOf(err) == fault.Invalid {
			return refused("%s", fault.MessageOf(err))
		}
		return storeError(err)
	}
	fmt.Fprintf(stdout, "password of %s set; their sessions have ended and remembered devices are forgotten\n", u.Email)
	return nil
}

func deleteUser(ctx context.Context, args []string, stdout io.Writer) error {
	fs, db, tenant, email := userFlags("user delete")
	st, u, err := openUser(ctx, fs, db, tenant, email, args, stdout)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.DeleteUser(ctx, u.ID); err != nil {
		return storeError(err)
	}
	fmt.Fprintf(stdout, "user %s deleted\n", u.Email)
	return nil
}

// readSecret reads a secret: typed without echo on a terminal, else the
// first line of standard input.
func readSecret(stdin io.Reader, prompt string) (string, error) {
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(os.Stderr, prompt)
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(os.Stderr)
		return string(b), err
	}
	if stdin == nil {
		return "", usagef("give the password on standard input")
	}
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	return strings.TrimRight(line, "\r\n"), nil
}
