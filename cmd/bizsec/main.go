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
	"strings"
	"syscall"
	"time"

	"golang.org/x/net/netutil"

	"github.com/bizsec/bizsec/internal/auth"
	"github.com/bizsec/bizsec/internal/captcha"
	"github.com/bizsec/bizsec/internal/fault"
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
	} else if len(args) > 0 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help") {
		cmd = "help"
	}
	switch cmd {
	case "help":
		fmt.Fprint(stdout, overview)
		return nil
	case "version":
		v, goVersion := httpapi.BuildVersion()
		fmt.Fprintln(stdout, "bizsec", v, goVersion)
		return nil
	case "serve":
		return serve(ctx, args)
	case "bench":
		return bench(ctx, args, stdout)
	case "settings":
		return settingsCmd(ctx, args, stdin, stdout)
	case "check":
		return checkCmd(ctx, args, stdin, stdout)
	case "user":
		return userCmd(ctx, args, stdin, stdout)
	case "tenant":
		if len(args) == 0 || args[0] != "create" {
			return usagef("usage: bizsec tenant create [flags]")
		}
		return createTenant(ctx, args[1:], stdin, stdout)
	}
	return usagef("unknown command %q; bizsec help lists the commands", cmd)
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
	return store.Open(ctx, *f.database, *f.data)
}

func serve(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	db := addDBFlags(fs)
	data := db.data
	listen := fs.String("listen", env("BIZSEC_LISTEN", "127.0.0.1:8080"), "address to listen on (env BIZSEC_LISTEN)")
	secure := fs.Bool("secure-cookies", env("BIZSEC_SECURE_COOKIES", "") == "true", "mark cookies Secure, for TLS ended at a proxy (env BIZSEC_SECURE_COOKIES=true)")
	captchaURL := fs.String("captcha-verify-url", env("BIZSEC_CAPTCHA_VERIFY_URL", captcha.DefaultURL), "CAPTCHA siteverify URL (env BIZSEC_CAPTCHA_VERIFY_URL)")
	smtpAddr := fs.String("smtp-addr", env("BIZSEC_SMTP_ADDR", ""), "SMTP server host:port for 2FA and reset codes; unset: files in DATA/outbox (env BIZSEC_SMTP_ADDR; credentials in BIZSEC_SMTP_USERNAME, BIZSEC_SMTP_PASSWORD)")
	smtpTLS := fs.String("smtp-tls", env("BIZSEC_SMTP_TLS", "auto"),
		"auto (TLS from the first byte on port 465, else STARTTLS when offered), starttls (required) or implicit (env BIZSEC_SMTP_TLS)")
	smtpRequireTLS := fs.Bool("smtp-require-tls", env("BIZSEC_SMTP_REQUIRE_TLS", "") == "true",
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
	accessLog := fs.Bool("access-log", env("BIZSEC_ACCESS_LOG", "true") != "false",
		"log one line per request (env BIZSEC_ACCESS_LOG=false to turn off when a proxy logs requests)")
	opsListen := fs.String("ops-listen", env("BIZSEC_OPS_LISTEN", ""),
		"address for /metrics, /readyz and /healthz on their own (env BIZSEC_OPS_LISTEN); set in production so the public listener shows neither")
	maxConns := fs.Int("max-conns", 4096, "connections served at once; more wait in the kernel's queue")
	bodyMemory := fs.Int64("body-memory", httpapi.DefaultBodyMemory, "bytes of request bodies held in memory at once")
	authCache := fs.Int("auth-cache", store.DefaultAuthCacheSize,
		"sessions and roles kept in memory, at most; 0 reads every one from the database")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	trusted, err := parsePrefixes(*proxies)
	if err != nil {
		return err
	}
	limits := login.Limits{MaxKeys: d.MaxKeys}
	for _, r := range []struct {
		into *throttle.Rate
		spec string
	}{{&limits.Client, *clientRate}, {&limits.AccountFailures, *failureRate}, {&limits.Mail, *mailRate}} {
		if *r.into, err = throttle.ParseRate(r.spec); err != nil {
			return err
		}
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	var mailer httpapi.Mailer = &mail.Outbox{Dir: filepath.Join(*data, "outbox"), From: *from}
	if *smtpAddr != "" {
		mode := map[string]string{"auto": mail.TLSAuto, "starttls": mail.TLSStart, "implicit": mail.TLSImplicit}
		tlsMode, ok := mode[*smtpTLS]
		if !ok {
			return usagef("-smtp-tls must be auto, starttls or implicit, got %q", *smtpTLS)
		}
		mailer = &mail.SMTP{Addr: *smtpAddr, From: *from, TLS: tlsMode, RequireTLS: *smtpRequireTLS,
			Username: os.Getenv("BIZSEC_SMTP_USERNAME"), Password: os.Getenv("BIZSEC_SMTP_PASSWORD")}
		log.Info("mail via SMTP", "addr", *smtpAddr)
	} else {
		log.Info("mail into the outbox directory", "dir", filepath.Join(*data, "outbox"))
	}
	if !store.IsPostgres(*db.database) {
		unlock, err := store.LockDataDir(*data)
		if err != nil {
			return err
		}
		defer unlock()
	}
	st, err := store.Open(ctx, *db.database, *db.data, store.WithLogger(log), store.WithAuthCacheSize(*authCache))
	if err != nil {
		return err
	}
	defer st.Close()
	box, err := secretBox(*data)
	if err != nil {
		return err
	}
	st.SetSecretBox(box)
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
		OpsSeparate:    *opsListen != "",
		BodyMemory:     *bodyMemory,
	})
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	ln = netutil.LimitListener(ln, *maxConns)
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
	go prune(ctx, st, log)
	log.Info("serving", "addr", ln.Addr().String(), "postgres", store.IsPostgres(*db.database), "data", *data)
	errc := make(chan error, 2)
	go func() { errc <- srv.Serve(ln) }()
	var ops *http.Server
	if *opsListen != "" {
		opsLn, err := net.Listen("tcp", *opsListen)
		if err != nil {
			srv.Close()
			return err
		}
		ops = newServer(api.OpsHandler())
		log.Info("serving operations", "addr", opsLn.Addr().String())
		go func() { errc <- ops.Serve(opsLn) }()
	}
	select {
	case err := <-errc:
		return err
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
		return err
	}
	api.Wait() // mail still being sent for answered requests
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
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
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *id == "" || *email == "" {
		return usagef("tenant create needs -id and -admin-email")
	}
	if err := checkUser(*email, auth.RoleSiteAdmin); err != nil {
		return err
	}
	st, err := db.open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.CreateTenant(ctx, *id, strings.ToLower(*host)); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "tenant %s created with business %s\n", *id, store.RootBusinessID(*id))
	return addUser(ctx, st, *id, *email, *name, store.RootBusinessID(*id), auth.RoleSiteAdmin, *pwStdin, stdin, stdout)
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
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *tenant == "" || *email == "" {
		return usagef("user create needs -tenant and -email")
	}
	if *name == "" {
		*name = *email
	}
	if *business == "" {
		*business = store.RootBusinessID(*tenant)
	}
	st, err := db.open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	return addUser(ctx, st, *tenant, *email, *name, *business, auth.Role(*role), *pwStdin, stdin, stdout)
}

// checkUser rejects what would fail only after the user was stored.
func checkUser(email string, role auth.Role) error {
	if at := strings.IndexByte(email, '@'); at < 1 || at == len(email)-1 || strings.ContainsAny(email, " \t\r\n") {
		return fmt.Errorf("%q is not an email address", email)
	}
	if role != auth.RoleNone && !role.Valid() {
		return fmt.Errorf("role must be %s or %s", auth.RoleSiteAdmin, auth.RoleAuditor)
	}
	return nil
}

func addUser(ctx context.Context, st *store.Store, tenant, email, name, business string, role auth.Role, pwStdin bool, stdin io.Reader, stdout io.Writer) error {
	if err := checkUser(email, role); err != nil {
		return err
	}
	password := ""
	if pwStdin {
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		password = strings.TrimRight(line, "\r\n")
		if len(password) < 8 {
			return errors.New("the password must be at least 8 characters")
		}
	}
	generated := password == ""
	if generated {
		password = auth.NewSecret()[:20]
	}
	hash, err := auth.NewHasher(auth.DefaultParams, 1).Hash(ctx, password)
	if err != nil {
		return err
	}
	u, err := st.CreateUser(ctx, store.User{TenantID: tenant, Email: email, Name: name, PasswordHash: hash})
	if err != nil {
		return err
	}
	if role != "" {
		if err := st.GrantRole(ctx, u.ID, business, role); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "user %s created (%s)", u.Email, u.ID)
	if role != "" {
		fmt.Fprintf(stdout, ", %s of %s", role, business)
	}
	fmt.Fprintln(stdout)
	if generated {
		fmt.Fprintf(stdout, "password: %s\n", password) // shown once, never stored in clear
	}
	return nil
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
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *tenant == "" || *email == "" {
		return usagef("user unlock needs -tenant and -email")
	}
	st, err := db.open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	u, err := st.UserByEmail(ctx, *tenant, *email)
	if err != nil {
		return fmt.Errorf("no user %s in tenant %s", *email, *tenant)
	}
	if err := login.New(login.Config{Store: st}).Unlock(ctx, *tenant, u.ID, "cli"); err != nil {
		return errors.New(fault.MessageOf(err))
	}
	fmt.Fprintf(stdout, "user %s unlocked\n", u.Email)
	return nil
}
