// Command bizsec serves the Akana-compatible business security settings
// API and the login service that obeys those settings.
//
//	bizsec [serve] [-data DIR] [-listen ADDR]
//	bizsec tenant create -id TENANT -admin-email EMAIL [-hostname HOST]
//	bizsec user create -tenant TENANT -email EMAIL [-role SiteAdmin|Auditor]
//	bizsec user unlock -tenant TENANT -email EMAIL
//	bizsec settings get|put twofa|login|security|challenges --business ID [-server URL] [-email EMAIL] [-file FILE]
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
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/bizsec/bizsec/internal/auth"
	"github.com/bizsec/bizsec/internal/captcha"
	"github.com/bizsec/bizsec/internal/httpapi"
	"github.com/bizsec/bizsec/internal/login"
	"github.com/bizsec/bizsec/internal/mail"
	"github.com/bizsec/bizsec/internal/secret"
	"github.com/bizsec/bizsec/internal/store"
	"github.com/bizsec/bizsec/internal/throttle"
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

// envDefaults reads flag defaults from environment variables and keeps
// the values it cannot read: they are refused unless the flag is given.
type envDefaults struct{ bad map[string]string } // flag name -> message

func (e *envDefaults) fail(flagName, format string, args ...any) {
	if e.bad == nil {
		e.bad = map[string]string{}
	}
	e.bad[flagName] = fmt.Sprintf(format, args...)
}

// lookup is the variable's value; unset and empty are alike.
func lookup(name string) (string, bool) {
	v := os.Getenv(name)
	return v, v != ""
}

func (e *envDefaults) boolean(flagName, name string, def bool) bool {
	v, ok := lookup(name)
	if !ok {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		e.fail(flagName, "%s=%q: want true or false (also 1, t, TRUE, 0, f, FALSE)", name, v)
		return def
	}
	return b
}

func (e *envDefaults) integer(flagName, name string, def int64) int64 {
	v, ok := lookup(name)
	if !ok {
		return def
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		e.fail(flagName, "%s=%q: want a whole number", name, v)
		return def
	}
	return n
}

func (e *envDefaults) duration(flagName, name string, def time.Duration) time.Duration {
	v, ok := lookup(name)
	if !ok {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		e.fail(flagName, "%s=%q: want a duration such as 3s or 500ms", name, v)
		return def
	}
	return d
}

// check refuses the variables that could not be read and whose flag was
// not given on the command line.
func (e *envDefaults) check(fs *flag.FlagSet) error {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var names []string
	for name := range e.bad {
		if !given[name] {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return nil
	}
	sort.Strings(names)
	return usagef("%s", e.bad[names[0]])
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

// opsPublic is the -ops-listen value that serves /metrics and /readyz
// on the public listener.
const opsPublic = "public"

func serve(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	var e envDefaults
	db := addDBFlags(fs)
	data := db.data
	listen := fs.String("listen", env("BIZSEC_LISTEN", "127.0.0.1:8080"), "address to listen on (env BIZSEC_LISTEN)")
	secure := fs.Bool("secure-cookies", e.boolean("secure-cookies", "BIZSEC_SECURE_COOKIES", false),
		"mark cookies Secure, for TLS ended at a proxy (env BIZSEC_SECURE_COOKIES=true)")
	captchaURL := fs.String("captcha-verify-url", env("BIZSEC_CAPTCHA_VERIFY_URL", captcha.DefaultURL), "CAPTCHA siteverify URL (env BIZSEC_CAPTCHA_VERIFY_URL)")
	smtpAddr := fs.String("smtp-addr", env("BIZSEC_SMTP_ADDR", ""), "SMTP server host:port for 2FA and reset codes; unset: files in DATA/outbox (env BIZSEC_SMTP_ADDR; credentials in BIZSEC_SMTP_USERNAME, BIZSEC_SMTP_PASSWORD)")
	smtpTLS := fs.String("smtp-tls", env("BIZSEC_SMTP_TLS", "auto"),
		"auto (TLS from the first byte on port 465, else STARTTLS when offered), starttls (required) or implicit (env BIZSEC_SMTP_TLS)")
	smtpRequireTLS := fs.Bool("smtp-require-tls", e.boolean("smtp-require-tls", "BIZSEC_SMTP_REQUIRE_TLS", false),
		"refuse to send mail over a connection that is not TLS (env BIZSEC_SMTP_REQUIRE_TLS=true)")
	from := fs.String("mail-from", env("BIZSEC_MAIL_FROM", "bizsec@localhost"), "sender address of the server's mail (env BIZSEC_MAIL_FROM)")
	proxies := fs.String("trusted-proxies", env("BIZSEC_TRUSTED_PROXIES", ""),
		"comma-separated addresses or CIDRs of proxies whose X-Forwarded-For names the client (env BIZSEC_TRUSTED_PROXIES)")
	d := login.DefaultLimits
	clientRate := fs.String("client-rate", env("BIZSEC_CLIENT_RATE", d.Client.String()),
		"login-service requests per client address (IPv6: per /64), as N/duration (env BIZSEC_CLIENT_RATE)")
	failureRate := fs.String("account-failure-rate", env("BIZSEC_ACCOUNT_FAILURE_RATE", d.AccountFailures.String()),
		"failed passwords, codes and answers per account before 429, as N/duration (env BIZSEC_ACCOUNT_FAILURE_RATE)")
	mailRate := fs.String("mail-rate", env("BIZSEC_MAIL_RATE", d.Mail.String()),
		"codes mailed per address and purpose (2FA, reset), as N/duration (env BIZSEC_MAIL_RATE)")
	accessLog := fs.Bool("access-log", e.boolean("access-log", "BIZSEC_ACCESS_LOG", true),
		"log one line per request (env BIZSEC_ACCESS_LOG=false to turn off when a proxy logs requests)")
	opsListen := fs.String("ops-listen", env("BIZSEC_OPS_LISTEN", "127.0.0.1:9091"),
		"address for /metrics, /readyz and /healthz on their own, off the public listener (env BIZSEC_OPS_LISTEN); "+
			"\""+opsPublic+"\" (or empty) serves them on -listen instead")
	maxConns := fs.Int("max-conns", int(e.integer("max-conns", "BIZSEC_MAX_CONNS", 4096)),
		"connections served at once; more wait in the kernel's queue (env BIZSEC_MAX_CONNS)")
	bodyMemory := fs.Int64("body-memory", e.integer("body-memory", "BIZSEC_BODY_MEMORY", httpapi.DefaultBodyMemory),
		"bytes of request bodies held in memory at once (env BIZSEC_BODY_MEMORY)")
	authCache := fs.Int("auth-cache", int(e.integer("auth-cache", "BIZSEC_AUTH_CACHE", store.DefaultAuthCacheSize)),
		"sessions and roles kept in memory, at most; 0 reads every one from the database (env BIZSEC_AUTH_CACHE)")
	dbTimeout := fs.Duration("db-timeout", e.duration("db-timeout", "BIZSEC_DB_TIMEOUT", 3*time.Second),
		"deadline of each request's database work (env BIZSEC_DB_TIMEOUT)")
	bootTenant := fs.String("bootstrap-tenant", env("BIZSEC_BOOTSTRAP_TENANT", bootstrapTenant),
		"on first start, when the database holds no tenant, create this one and print its Site Admin's one-time password; empty: do not (env BIZSEC_BOOTSTRAP_TENANT)")
	bootEmail := fs.String("bootstrap-admin-email", env("BIZSEC_BOOTSTRAP_ADMIN_EMAIL", bootstrapEmail),
		"email of the first-start tenant's Site Admin (env BIZSEC_BOOTSTRAP_ADMIN_EMAIL)")
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	if err := e.check(fs); err != nil {
		return err
	}
	if *maxConns < 1 || *bodyMemory < 1 || *authCache < 0 || *dbTimeout <= 0 {
		return usagef("-max-conns, -body-memory and -db-timeout must be positive, -auth-cache at least 0")
	}
	if *bootTenant != "" {
		if err := checkUser(*bootEmail, auth.RoleSiteAdmin); err != nil {
			return usagef("-bootstrap-admin-email: %s", err)
		}
	}
	trusted, err := parsePrefixes(*proxies)
	if err != nil {
		return usagef("-trusted-proxies: %s", err)
	}
	limits := login.Limits{MaxKeys: d.MaxKeys}
	for _, r := range []struct {
		flag string
		into *throttle.Rate
		spec string
	}{{"client-rate", &limits.Client, *clientRate}, {"account-failure-rate", &limits.AccountFailures, *failureRate}, {"mail-rate", &limits.Mail, *mailRate}} {
		if *r.into, err = throttle.ParseRate(r.spec); err != nil {
			return usagef("-%s: %s", r.flag, plain(err))
		}
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	log.Info("bizsec serve starting; `bizsec help` lists the commands, `bizsec serve -h` the flags")
	var mailer httpapi.Mailer = &mail.Outbox{Dir: filepath.Join(*data, "outbox"), From: *from}
	if *smtpAddr != "" {
		mode := map[string]string{"auto": mail.TLSAuto, "starttls": mail.TLSStart, "implicit": mail.TLSImplicit}
		tlsMode, ok := mode[*smtpTLS]
		if !ok {
			return usagef("-smtp-tls must be auto, starttls or implicit, got %q", *smtpTLS)
		}
		mailer = &mail.SMTP{Addr: *smtpAddr, From: *from, TLS: tlsMode, RequireTLS: *smtpRequireTLS,
			Username: os.Getenv("BIZSEC_SMTP_USERNAME"), Password: os.Getenv("BIZSEC_SMTP_PASSWORD")}
	}
	// Listen before anything is created: a server that cannot serve leaves
	// no database and no key behind.
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return failed("cannot listen on %s: %s", *listen, cause(err))
	}
	defer ln.Close()
	opsSeparate := *opsListen != "" && *opsListen != opsPublic
	var opsLn net.Listener
	if opsSeparate {
		if opsLn, err = net.Listen("tcp", *opsListen); err != nil {
			return failed("cannot listen on %s (-ops-listen; %q serves the operations endpoints on -listen): %s", *opsListen, opsPublic, cause(err))
		}
		defer opsLn.Close()
	}
	if *smtpAddr != "" {
		log.Info("mail via SMTP", "addr", *smtpAddr)
	} else {
		log.Info("mail into the outbox directory", "dir", filepath.Join(*data, "outbox"))
	}
	if !store.IsPostgres(*db.database) {
		unlock, err := store.LockDataDir(*data)
		if err != nil {
			return failed("%s", plain(err))
		}
		defer unlock()
	}
	fresh := freshDatabase(*db.database, *data)
	st, err := store.Open(ctx, *db.database, *db.data, store.WithLogger(log), store.WithAuthCacheSize(*authCache))
	if err != nil {
		return failed("cannot open the database: %s", plain(err))
	}
	defer st.Close()
	box, err := secretBox(*data)
	if err != nil {
		return failed("secret key: %s", plain(err))
	}
	st.SetSecretBox(box)
	consoleURL := "http://" + loopbackURLHost(ln.Addr()) + "/console/"
	if *bootTenant != "" {
		if err := bootstrap(ctx, st, fresh, *bootTenant, *bootEmail, consoleURL, stdout, log); err != nil {
			return err
		}
	}
	api := httpapi.New(httpapi.Config{
		Store:          st,
		Hasher:         auth.NewHasher(auth.DefaultParams, runtime.NumCPU()),
		Logger:         log,
		SecureCookies:  *secure,
		Captcha:        captcha.New(*captchaURL),
		Mailer:         mailer,
		Box:            box,
		TrustedProxies: trusted,
		Limits:         limits,
		NoAccessLog:    !*accessLog,
		AccessLog:      os.Stderr,
		OpsOnPublic:    !opsSeparate,
		BodyMemory:     *bodyMemory,
		DBTimeout:      *dbTimeout,
	})
	newServer := func(h http.Handler) *http.Server {
		return &http.Server{
			Handler:           h,
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       30 * time.Second,
			WriteTimeout:      30 * time.Second,
			IdleTimeout:       2 * time.Minute,
			MaxHeaderBytes:    64 << 10,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		}
	}
	srv := newServer(api.Handler())
	limited := httpapi.GuardListener(srv, ln, *maxConns)
	go prune(ctx, st, log)
	log.Info("serving", "addr", ln.Addr().String(), "console", consoleURL, "postgres", store.IsPostgres(*db.database), "data", *data)
	errc := make(chan error, 2)
	var ops *http.Server
	if opsSeparate {
		ops = newServer(api.OpsHandler())
		opsLn := httpapi.GuardListener(ops, opsLn, 64)
		log.Info("serving operations", "addr", opsLn.Addr().String())
		go func() { errc <- ops.Serve(opsLn) }()
	}
	go func() { errc <- srv.Serve(limited) }()
	select {
	case err := <-errc:
		return failed("serving: %s", cause(err))
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing in-flight requests")
	shutdown, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if ops != nil {
		ops.Shutdown(shutdown)
		<-errc
	}
	if err := srv.Shutdown(shutdown); err != nil {
		return failed("shutting down: %s", cause(err))
	}
	api.Wait() // mail still being sent for answered requests
	api.Login().Close()
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return failed("serving: %s", cause(err))
	}
	return nil
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

// prune deletes expired sessions, failure records and reset codes every
// five minutes until ctx ends. With several instances each prunes; the
// deletes are idempotent.
func prune(ctx context.Context, st *store.Store, log *slog.Logger) {
	tick := time.NewTicker(5 * time.Minute)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if n, err := st.Prune(ctx, time.Now(), login.ResetValidFor); err != nil {
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
func secretBox(data string) (*secret.Box, error) {
	var key []byte
	var err error
	if v := os.Getenv("BIZSEC_SECRET_KEY"); v != "" {
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
	hash, err := auth.NewHasher(auth.DefaultParams, 1).Hash(ctx, pw.value)
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
