package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"golang.org/x/term"

	"github.com/bizsec/bizsec/internal/auth"
	"github.com/bizsec/bizsec/internal/fault"
	"github.com/bizsec/bizsec/internal/store"
)

// overview is what `bizsec help` and `bizsec -h` print.
const overview = `bizsec serves the Akana API Platform's business security settings API and
the login service that obeys them.

Usage: bizsec [command] [flags]     (each command takes -h)

  serve                      serve the API, the login service and the console (the default)
  tenant create              create a tenant, its root business and its first Site Admin
  user create                add a user, optionally with a role
  user list                  list a tenant's users, their roles and suspensions
  user role                  grant SiteAdmin or Auditor in a business, or -role none
  user set-password          set a user's password (prompted; ends their sessions)
  user delete                delete a user and everything of theirs
  user unlock                lift a user's suspension
  settings get|put OBJECT    read or change twofa, login, security or challenges over the API
  check                      rate a business's settings against OWASP ASVS and NIST SP 800-63B
  bench                      measure the server against the machine's limits
  version                    print the version

The database is SQLite in -data (default ./bizsec-data) unless -database names PostgreSQL.
`

// usageError is a command line the commands cannot run; main exits 2.
type usageError struct {
	msg     string
	printed bool // the flag package has printed it already
}

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{msg: fmt.Sprintf(format, args...)} }

// parseFlags parses args, turning a bad flag into a usageError (flag has
// printed it with the usage) and -h into flag.ErrHelp.
func parseFlags(fs *flag.FlagSet, args []string) error {
	err := fs.Parse(args)
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return err
	}
	return usageError{msg: err.Error(), printed: true}
}

// exitCode is the process status for what run returned, printing the
// error once: 0 for help, 2 for usage, 1 for the rest.
func exitCode(err error, stderr io.Writer) int {
	var u usageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &u):
		if !u.printed {
			fmt.Fprintln(stderr, "bizsec:", u.msg)
		}
		return 2
	case errors.Is(err, errFailing):
		return 1 // the table said why
	}
	fmt.Fprintln(stderr, "bizsec:", err)
	return 1
}

// userCmd runs bizsec user SUBCOMMAND.
func userCmd(ctx context.Context, args []string, stdin io.Reader, stdout io.Writer) error {
	if len(args) == 0 {
		return usagef("usage: bizsec user create|list|role|set-password|delete|unlock [flags]")
	}
	switch sub, rest := args[0], args[1:]; sub {
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
	default:
		return usagef("unknown command user %q: want create, list, role, set-password, delete or unlock", sub)
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
func openUser(ctx context.Context, name string, fs *flag.FlagSet, db dbFlags, tenant, email *string, args []string) (*store.Store, store.User, error) {
	if err := parseFlags(fs, args); err != nil {
		return nil, store.User{}, err
	}
	if *tenant == "" || *email == "" {
		return nil, store.User{}, usagef("%s needs -tenant and -email", name)
	}
	st, err := db.open(ctx)
	if err != nil {
		return nil, store.User{}, err
	}
	u, err := st.UserByEmail(ctx, *tenant, *email)
	if err != nil {
		st.Close()
		return nil, store.User{}, fmt.Errorf("no user %s in tenant %s", *email, *tenant)
	}
	return st, u, nil
}

func listUsers(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("user list", flag.ContinueOnError)
	db := addDBFlags(fs)
	tenant := fs.String("tenant", "", "tenant ID")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *tenant == "" {
		return usagef("user list needs -tenant")
	}
	st, err := db.open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	users, err := st.Users(ctx, *tenant)
	if err != nil {
		return errors.New(fault.MessageOf(err))
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "EMAIL\tNAME\tROLES\tSUSPENDED UNTIL\tID")
	for _, u := range users {
		roles := []string{}
		for biz, role := range u.Roles {
			roles = append(roles, string(role)+" of "+biz)
		}
		until := "-"
		if !u.SuspendedUntil.IsZero() {
			until = u.SuspendedUntil.UTC().Format("2006-01-02 15:04 MST")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", u.Email, u.Name, strings.Join(roles, ", "), until, u.ID)
	}
	return tw.Flush()
}

func roleUser(ctx context.Context, args []string, stdout io.Writer) error {
	fs, db, tenant, email := userFlags("user role")
	role := fs.String("role", "", "SiteAdmin, Auditor, or none to take the role away")
	business := fs.String("business", "", "business of the role (default: the tenant's root business)")
	st, u, err := openUser(ctx, "user role", fs, db, tenant, email, args)
	if err != nil {
		return err
	}
	defer st.Close()
	if *business == "" {
		*business = store.RootBusinessID(*tenant)
	}
	switch r := auth.Role(*role); {
	case *role == "none":
		err = st.RevokeRole(ctx, u.ID, *business)
	case r.Valid():
		err = st.GrantRole(ctx, u.ID, *business, r)
	default:
		return usagef("-role must be SiteAdmin, Auditor or none")
	}
	if err != nil {
		return errors.New(fault.MessageOf(err))
	}
	fmt.Fprintf(stdout, "user %s: role %s in %s\n", u.Email, *role, *business)
	return nil
}

func setPassword(ctx context.Context, args []string, stdin io.Reader, stdout io.Writer) error {
	fs, db, tenant, email := userFlags("user set-password")
	st, u, err := openUser(ctx, "user set-password", fs, db, tenant, email, args)
	if err != nil {
		return err
	}
	defer st.Close()
	password, err := readSecret(stdin, "New password for "+u.Email+": ")
	if err != nil {
		return err
	}
	if len(password) < 8 {
		return errors.New("the password must be at least 8 characters")
	}
	hash, err := auth.NewHasher(auth.DefaultParams, 1).Hash(ctx, password)
	if err != nil {
		return err
	}
	if err := st.SetPassword(ctx, u.ID, hash); err != nil {
		return errors.New(fault.MessageOf(err))
	}
	fmt.Fprintf(stdout, "password of %s set; their sessions have ended\n", u.Email)
	return nil
}

func deleteUser(ctx context.Context, args []string, stdout io.Writer) error {
	fs, db, tenant, email := userFlags("user delete")
	st, u, err := openUser(ctx, "user delete", fs, db, tenant, email, args)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.DeleteUser(ctx, u.ID); err != nil {
		return errors.New(fault.MessageOf(err))
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
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	return strings.TrimRight(line, "\r\n"), nil
}
