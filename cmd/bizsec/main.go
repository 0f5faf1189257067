// Command bizsec serves the Akana-compatible business security settings
// API and the login service that obeys those settings.
//
//	bizsec [serve] [-data DIR] [-listen ADDR]
//	bizsec tenant create -id TENANT -admin-email EMAIL [-hostname HOST]
//	bizsec user create -tenant TENANT -email EMAIL [-role SiteAdmin|Auditor]
//	bizsec user unlock -tenant TENANT -email EMAIL
//	bizsec settings get|put twofa|login|security|challenges --business ID [-server URL] [-email EMAIL] [-file FILE]
//	bizsec backup -o FILE [-with-key]; bizsec restore -i FILE [-force]; bizsec migrate [-status]
//	bizsec bench [-database postgres://...] [-duration 3s]
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/bizsec/bizsec/internal/auth"
	"github.com/bizsec/bizsec/internal/fault"
	"github.com/bizsec/bizsec/internal/httpapi"
	"github.com/bizsec/bizsec/internal/login"
	"github.com/bizsec/bizsec/internal/secret"
	"github.com/bizsec/bizsec/internal/store"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(exitCode(run(ctx, os.Args[1:], os.Stdin, os.Stdout), os.Stderr))
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout io.Writer) error {
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	} else if len(args) > 0 {
		switch args[0] {
		case "-h", "-help", "--help":
			cmd, args = "help", args[1:]
		case "--version", "-version":
			cmd, args = "version", args[1:]
		}
	}
	switch cmd {
	case "help":
		return help(args, stdin, stdout)
	case "version":
		return version(args, stdout)
	case "serve":
		return serve(ctx, args, stdout)
	case "bench":
		return bench(ctx, args, stdout)
	case "backup":
		return backupCmd(ctx, args, stdin, stdout)
	case "restore":
		return restoreCmd(ctx, args, stdin, stdout)
	case "migrate":
		return migrateCmd(ctx, args, stdout)
	case "login":
		return loginCmd(ctx, args, stdin, stdout)
	case "logout":
		return logoutCmd(ctx, args, stdout)
	case "settings":
		return settingsCmd(ctx, args, stdin, stdout)
	case "check":
		return checkCmd(ctx, args, stdin, stdout)
	case "user":
		return userCmd(ctx, args, stdin, stdout)
	case "tenant":
		return tenantCmd(ctx, args, stdin, stdout)
	case "completion":
		return completionCmd(args, stdout)
	case "__complete":
		return complete(ctx, args, stdout)
	}
	return usagef("unknown command %q; bizsec help lists the commands", cmd)
}

// help prints the overview, or with a command name that command's usage.
func help(args []string, stdin io.Reader, stdout io.Writer) error {
	if len(args) == 0 || len(args) == 1 && strings.HasPrefix(args[0], "-") {
		fmt.Fprint(stdout, overview())
		return nil
	}
	if _, ok := groups[args[0]]; ok && len(args) == 1 {
		fmt.Fprint(stdout, groupHelp(args[0]))
		return nil
	}
	name := strings.Join(args, " ")
	if _, ok := commandNamed(name); !ok || name == "help" {
		return usagef("no command %q; bizsec help lists the commands", name)
	}
	return run(context.Background(), append(args, "-h"), stdin, stdout)
}

func version(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("version", flag.ContinueOnError)
	output := addOutputFlag(fs)
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	v, goVersion := httpapi.BuildVersion()
	if *output == "json" {
		return writeJSON(stdout, map[string]string{"version": v, "go": goVersion})
	}
	fmt.Fprintln(stdout, "bizsec", v, goVersion)
	return nil
}

func tenantCmd(ctx context.Context, args []string, stdin io.Reader, stdout io.Writer) error {
	if len(args) == 0 {
		return usagef("bizsec tenant needs a subcommand: create (bizsec tenant -h)")
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, groupHelp("tenant"))
		return nil
	case "create":
		return createTenant(ctx, args[1:], stdin, stdout)
	}
	return usagef("unknown command bizsec tenant %s: want create", args[0])
}

// env returns the environment variable's value, or def when it is unset.
func env(name, def string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return def
}

// dbFlags are the flags that choose the database.
type dbFlags struct{ data, database *string }

func addDBFlags(fs *flag.FlagSet) dbFlags {
	return dbFlags{
		data: fs.String("data", env("BIZSEC_DATA", "./bizsec-data"), "directory of the embedded SQLite database, the outbox and the secret key (env BIZSEC_DATA)"),
		database: fs.String("database", env("BIZSEC_DATABASE", ""),
			"PostgreSQL URL (postgres://user:pass@host/db) for several instances; empty: SQLite in -data (env BIZSEC_DATABASE)"),
	}
}

func (f dbFlags) open(ctx context.Context) (*store.Store, error) {
	st, err := store.Open(ctx, *f.database, *f.data)
	if err != nil {
		return nil, failed("cannot open the database: %s", plain(err))
	}
	return st, nil
}

// cause is the innermost message of an error chain: "address already in
// use" rather than the operation and addresses wrapped around it.
func cause(err error) string {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err.Error()
		}
		err = next
	}
}

// loopbackURLHost is the host:port a browser on this machine reaches a
// listener at: an unspecified address (0.0.0.0, ::) becomes loopback.
func loopbackURLHost(a net.Addr) string {
	tcp, ok := a.(*net.TCPAddr)
	if !ok {
		return a.String()
	}
	ip := tcp.IP
	if ip == nil || ip.IsUnspecified() {
		ip = net.IPv4(127, 0, 0, 1)
	}
	return net.JoinHostPort(ip.String(), strconv.Itoa(tcp.Port))
}

// prune deletes expired sessions, failure records and reset codes, and
// records the suspensions that ended, every five minutes until ctx ends.
// With several instances each prunes; the deletes are idempotent.
func prune(ctx context.Context, svc *login.Service, log *slog.Logger) {
	tick := time.NewTicker(5 * time.Minute)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if n, err := svc.Prune(ctx, time.Now()); err != nil {
				log.Warn("prune failed", "err", err)
			} else if n > 0 {
				log.Info("pruned expired records", "rows", n)
			}
		}
	}
}

// secretBox seals stored secrets with BIZSEC_SECRET_KEY (32 bytes, base64)
// or, when unset, with a key kept in the data directory, created on first
// use. Instances sharing PostgreSQL must share the key: set the variable.
func secretBox(data, keyText string) (*secret.Box, error) {
	var key []byte
	var err error
	if v := keyText; v != "" {
		key, err = secret.ParseKey(v)
	} else {
		key, err = secret.LoadOrCreateKey(filepath.Join(data, "secret.key"))
	}
	if err != nil {
		return nil, err
	}
	return secret.New(key)
}

func createTenant(ctx context.Context, args []string, stdin io.Reader, stdout io.Writer) error {
	fs := flag.NewFlagSet("tenant create", flag.ContinueOnError)
	db := addDBFlags(fs)
	id := fs.String("id", "", "tenant ID (fedmemberid), e.g. acmepaymentscorp")
	host := fs.String("hostname", "", "host name whose logins belong to this tenant (optional with one tenant)")
	email := fs.String("admin-email", "", "email of the tenant's first Site Admin")
	name := fs.String("admin-name", "Site Admin", "display name of the first Site Admin")
	pwStdin := fs.Bool("password-stdin", false, "read the admin's password from standard input instead of generating one")
	output := addOutputFlag(fs)
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	if *id == "" || *email == "" {
		return usagef("bizsec tenant create needs -id and -admin-email")
	}
	if err := checkUser(*email, auth.RoleSiteAdmin); err != nil {
		return err
	}
	password, err := newPassword(*pwStdin, stdin)
	if err != nil {
		return err
	}
	st, err := db.open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.CreateTenant(ctx, *id, strings.ToLower(*host)); err != nil {
		return storeError(err)
	}
	business := store.RootBusinessID(*id)
	u, err := addUser(ctx, st, *id, *email, *name, business, auth.RoleSiteAdmin, password)
	if err != nil {
		return err
	}
	if *output == "json" {
		return writeJSON(stdout, createdJSON{Tenant: *id, Business: business, Email: u.Email, ID: u.ID,
			Role: string(auth.RoleSiteAdmin), Password: password.generated()})
	}
	fmt.Fprintf(stdout, "tenant %s created with business %s\n", *id, business)
	printCreated(stdout, u, auth.RoleSiteAdmin, business, password)
	return nil
}

// createdJSON is what tenant create and user create print with -o json.
type createdJSON struct {
	Tenant   string `json:"tenant"`
	Business string `json:"business,omitempty"`
	Email    string `json:"email"`
	ID       string `json:"id"`
	Role     string `json:"role,omitempty"`
	Password string `json:"password,omitempty"` // a generated one, shown once
}

func createUser(ctx context.Context, args []string, stdin io.Reader, stdout io.Writer) error {
	fs := flag.NewFlagSet("user create", flag.ContinueOnError)
	db := addDBFlags(fs)
	tenant := fs.String("tenant", "", "tenant ID")
	email := fs.String("email", "", "the user's email")
	name := fs.String("name", "", "display name (default: the email)")
	role := fs.String("role", "", "role in the business: SiteAdmin or Auditor (default: none)")
	business := fs.String("business", "", "business of the role (default: the tenant's root business)")
	pwStdin := fs.Bool("password-stdin", false, "read the password from standard input instead of generating one")
	output := addOutputFlag(fs)
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	if *tenant == "" || *email == "" {
		return usagef("bizsec user create needs -tenant and -email")
	}
	if err := checkUser(*email, auth.Role(*role)); err != nil {
		return err
	}
	if *name == "" {
		*name = *email
	}
	if *business == "" {
		*business = store.RootBusinessID(*tenant)
	}
	password, err := newPassword(*pwStdin, stdin)
	if err != nil {
		return err
	}
	st, err := db.open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := tenantExists(ctx, st, *tenant); err != nil {
		return err
	}
	u, err := addUser(ctx, st, *tenant, *email, *name, *business, auth.Role(*role), password)
	if err != nil {
		return err
	}
	if *output == "json" {
		out := createdJSON{Tenant: *tenant, Email: u.Email, ID: u.ID, Role: *role, Password: password.generated()}
		if *role != "" {
			out.Business = *business
		}
		return writeJSON(stdout, out)
	}
	printCreated(stdout, u, auth.Role(*role), *business, password)
	return nil
}

// checkUser rejects, as a usage error, what would fail only after the
// user was stored.
func checkUser(email string, role auth.Role) error {
	if at := strings.IndexByte(email, '@'); at < 1 || at == len(email)-1 || strings.ContainsAny(email, " \t\r\n") {
		return usagef("%q is not an email address", email)
	}
	if role != auth.RoleNone && !role.Valid() {
		return usagef("-role must be %s or %s, got %q", auth.RoleSiteAdmin, auth.RoleAuditor, role)
	}
	return nil
}

// password is a new user's password: given, or generated to be shown once.
type password struct {
	value string
	gen   bool
}

func (p password) generated() string {
	if p.gen {
		return p.value
	}
	return ""
}

// newPassword reads the password from standard input (with the limits
// login applies) or generates one.
func newPassword(fromStdin bool, stdin io.Reader) (password, error) {
	if !fromStdin {
		return password{value: auth.NewSecret()[:20], gen: true}, nil
	}
	if stdin == nil {
		return password{}, usagef("-password-stdin: nothing on standard input")
	}
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return password{}, err
	}
	p := strings.TrimRight(line, "\r\n")
	if err := checkPassword(p); err != nil {
		return password{}, err
	}
	return password{value: p}, nil
}

func addUser(ctx context.Context, st *store.Store, tenant, email, name, business string, role auth.Role, pw password) (store.User, error) {
	// The tenant's password policy decides, as for every password set.
	svc := login.New(login.Config{Store: st, Hasher: auth.NewHasher(auth.DefaultParams, 1)})
	hash, err := svc.HashNewPassword(ctx, store.User{TenantID: tenant, Email: store.NormalizeEmail(email)}, pw.value)
	if fault.CodeOf(err) == fault.Invalid {
		return store.User{}, refused("%s", fault.MessageOf(err))
	}
	if err != nil {
		return store.User{}, err
	}
	u, err := st.CreateUser(ctx, store.User{TenantID: tenant, Email: email, Name: name, PasswordHash: hash})
	if err != nil {
		return store.User{}, storeError(err)
	}
	if role != "" {
		if err := st.GrantRole(ctx, u.ID, business, role); err != nil {
			return store.User{}, storeError(err)
		}
	}
	return u, nil
}

func printCreated(stdout io.Writer, u store.User, role auth.Role, business string, pw password) {
	fmt.Fprintf(stdout, "user %s created (%s)", u.Email, u.ID)
	if role != "" {
		fmt.Fprintf(stdout, ", %s of %s", role, business)
	}
	fmt.Fprintln(stdout)
	if pw.gen {
		fmt.Fprintf(stdout, "password: %s\n", pw.value) // shown once, never stored in clear
	}
}

// parsePrefixes reads a comma-separated list of addresses and CIDRs.
func parsePrefixes(list string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, item := range strings.Split(list, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if !strings.Contains(item, "/") {
			a, err := netip.ParseAddr(item)
			if err != nil {
				return nil, fmt.Errorf("trusted proxy %q: not an address or CIDR", item)
			}
			out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(item)
		if err != nil {
			return nil, fmt.Errorf("trusted proxy %q: not an address or CIDR", item)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// unlockUser lifts a user's suspension from the command line, recorded in
// the audit history as done by "cli".
func unlockUser(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("user unlock", flag.ContinueOnError)
	db := addDBFlags(fs)
	tenant := fs.String("tenant", "", "tenant ID")
	email := fs.String("email", "", "the suspended user's email")
	st, u, err := openUser(ctx, fs, db, tenant, email, args, stdout)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := login.New(login.Config{Store: st}).Unlock(ctx, *tenant, u.ID, "cli"); err != nil {
		return storeError(err)
	}
	fmt.Fprintf(stdout, "user %s unlocked\n", u.Email)
	return nil
}
