package main

import (
	"context"
	"flag"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/bizsec/bizsec/internal/auth"
	"github.com/bizsec/bizsec/internal/captcha"
	"github.com/bizsec/bizsec/internal/factor"
	"github.com/bizsec/bizsec/internal/heapfloor"
	"github.com/bizsec/bizsec/internal/httpapi"
	"github.com/bizsec/bizsec/internal/login"
	"github.com/bizsec/bizsec/internal/logwriter"
	"github.com/bizsec/bizsec/internal/mail"
	"github.com/bizsec/bizsec/internal/store"
	"github.com/bizsec/bizsec/internal/throttle"
)

// opsPublic is the -ops-listen value that serves /metrics and /readyz
// on the public listener.
const opsPublic = "public"

// serveOptions are serve's settings, declared once in newServeConfig.
type serveOptions struct {
	data, database, listen, opsListen                     *string
	tlsCert, tlsKey                                       *string
	tlsWatch, drain, shutdownTimeout, dbTimeout           *time.Duration
	secure, smtpRequireTLS, accessLog                     *bool
	captchaURL, smtpAddr, smtpTLS, smtpUser, smtpPassword *string
	publicURL, acmeDomain, acmeEmail                      *string
	from, proxies, clientRate, failureRate, mailRate      *string
	mailAttempts, maxConns, authCache                     *int
	bodyMemory                                            *int64
	bootTenant, bootEmail, logLevel, secretKey            *string
}

// newServeConfig is serve's one configuration table: each setting is a
// flag (secrets excepted), an environment variable and a -config key.
func newServeConfig() (*config, *serveOptions) {
	c := &config{}
	d := login.DefaultLimits
	o := &serveOptions{
		data: c.String("data", "BIZSEC_DATA", "./bizsec-data", "directory of the embedded SQLite database, the outbox and the secret key"),
		database: c.String("database", "BIZSEC_DATABASE", "",
			"PostgreSQL URL (postgres://user:pass@host/db) for several instances; empty: SQLite in -data"),
		listen: c.String("listen", "BIZSEC_LISTEN", "127.0.0.1:8080", "address to listen on"),
		opsListen: c.String("ops-listen", "BIZSEC_OPS_LISTEN", "127.0.0.1:9091",
			"address for /metrics, /readyz and /healthz on their own, off the public listener; \""+opsPublic+"\" (or empty) serves them on -listen instead"),
		tlsCert: c.String("tls-cert", "BIZSEC_TLS_CERT", "", "PEM certificate chain: serve HTTPS (TLS 1.2+) on -listen; reloaded on SIGHUP and when the file changes"),
		tlsKey:  c.String("tls-key", "BIZSEC_TLS_KEY", "", "PEM private key of -tls-cert"),
		acmeDomain: c.String("acme-domain", "BIZSEC_ACME_DOMAIN", "",
			"public host name(s), comma-separated: serve HTTPS on -listen (port 443) with certificates from Let's Encrypt (ACME TLS-ALPN-01), cached in DATA/acme"),
		acmeEmail: c.String("acme-email", "BIZSEC_ACME_EMAIL", "", "contact address of the ACME account (expiry notices); optional"),
		tlsWatch: c.Duration("tls-watch", "BIZSEC_TLS_WATCH", 10*time.Second,
			"how often to look for a changed -tls-cert or -tls-key (0: only on SIGHUP)"),
		secure: c.Bool("secure-cookies", "BIZSEC_SECURE_COOKIES", false,
			"mark cookies Secure on plain HTTP too, for TLS ended at a proxy (they are Secure anyway over -tls-cert)"),
		captchaURL: c.String("captcha-verify-url", "BIZSEC_CAPTCHA_VERIFY_URL", captcha.DefaultURL, "CAPTCHA siteverify URL"),
		publicURL: c.String("public-url", "BIZSEC_PUBLIC_URL", "",
			"the site's URL as browsers see it (https://host[:port]): WebAuthn's relying party ID and origin; empty: no security keys or passkeys"),
		smtpAddr: c.String("smtp-addr", "BIZSEC_SMTP_ADDR", "", "SMTP server host:port for 2FA and reset codes; unset: files in DATA/outbox"),
		smtpTLS: c.String("smtp-tls", "BIZSEC_SMTP_TLS", "auto",
			"auto (TLS from the first byte on port 465, else STARTTLS when offered), starttls (required) or implicit"),
		smtpRequireTLS: c.Bool("smtp-require-tls", "BIZSEC_SMTP_REQUIRE_TLS", false, "refuse to send mail over a connection that is not TLS"),
		smtpUser:       c.String("smtp-username", "BIZSEC_SMTP_USERNAME", "", "SMTP user name (the password: BIZSEC_SMTP_PASSWORD or smtp-password in -config)"),
		smtpPassword:   c.Secret("smtp-password", "BIZSEC_SMTP_PASSWORD", "SMTP password"),
		mailAttempts: c.Int("mail-attempts", "BIZSEC_MAIL_ATTEMPTS", 4,
			"tries per mail when the relay fails transiently (backoff from 250ms, within the request's or notice's deadline)"),
		from: c.String("mail-from", "BIZSEC_MAIL_FROM", "bizsec@localhost", "sender address of the server's mail"),
		proxies: c.String("trusted-proxies", "BIZSEC_TRUSTED_PROXIES", "",
			"comma-separated addresses or CIDRs of proxies whose X-Forwarded-For names the client"),
		clientRate: c.String("client-rate", "BIZSEC_CLIENT_RATE", d.Client.String(),
			"login-service requests per client address (IPv6: per /64), as N/duration"),
		failureRate: c.String("account-failure-rate", "BIZSEC_ACCOUNT_FAILURE_RATE", d.AccountFailures.String(),
			"failed passwords, codes and answers per account before 429, as N/duration"),
		mailRate:  c.String("mail-rate", "BIZSEC_MAIL_RATE", d.Mail.String(), "codes mailed per address and purpose (2FA, reset), as N/duration"),
		accessLog: c.Bool("access-log", "BIZSEC_ACCESS_LOG", true, "log one line per request (false when a proxy logs requests)"),
		logLevel:  c.String("log-level", "BIZSEC_LOG_LEVEL", "info", "debug, info, warn or error; reloaded on SIGHUP from -config"),
		maxConns:  c.Int("max-conns", "BIZSEC_MAX_CONNS", 4096, "connections served at once; more wait in the kernel's queue"),
		bodyMemory: c.Int64("body-memory", "BIZSEC_BODY_MEMORY", httpapi.DefaultBodyMemory,
			"bytes of request bodies held in memory at once"),
		authCache: c.Int("auth-cache", "BIZSEC_AUTH_CACHE", store.DefaultAuthCacheSize,
			"sessions and roles kept in memory, at most; 0 reads every one from the database"),
		dbTimeout: c.Duration("db-timeout", "BIZSEC_DB_TIMEOUT", 3*time.Second, "deadline of each request's database work"),
		drain: c.Duration("drain", "BIZSEC_DRAIN", 5*time.Second,
			"on SIGTERM, how long /readyz answers 503 while requests are still served, before the listeners close (SIGINT skips it)"),
		shutdownTimeout: c.Duration("shutdown-timeout", "BIZSEC_SHUTDOWN_TIMEOUT", 30*time.Second,
			"after the drain, how long in-flight requests may take to finish"),
		bootTenant: c.String("bootstrap-tenant", "BIZSEC_BOOTSTRAP_TENANT", bootstrapTenant,
			"on first start, when the database holds no tenant, create this one and print its Site Admin's one-time password; empty: do not"),
		bootEmail: c.String("bootstrap-admin-email", "BIZSEC_BOOTSTRAP_ADMIN_EMAIL", bootstrapEmail, "email of the first-start tenant's Site Admin"),
		secretKey: c.Secret("secret-key", "BIZSEC_SECRET_KEY",
			"32-byte key in base64 sealing stored secrets; unset: DATA/secret.key, created on first start"),
	}
	return c, o
}

// parseServe reads serve's command line, environment and -config file.
func parseServe(args []string, stdout io.Writer) (c *config, o *serveOptions, configFile string, printOnly bool, err error) {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	c, o = newServeConfig()
	file := fs.String("config", os.Getenv("BIZSEC_CONFIG"),
		"TOML file of settings named as these flags (listen = \"0.0.0.0:8080\"); flags and variables win over it (env BIZSEC_CONFIG)")
	printConfig := fs.Bool("print-config", false, "print the effective configuration, secrets masked, as a -config file, and exit")
	c.register(fs)
	if err := parseFlags(fs, args, stdout); err != nil {
		return nil, nil, "", false, err
	}
	if err := c.resolve(fs, *file); err != nil {
		return nil, nil, "", false, err
	}
	return c, o, *file, *printConfig, nil
}

// checked are the settings serve reads into other types.
type checked struct {
	trusted  []netip.Prefix
	limits   login.Limits
	level    slog.Level
	smtpMode string
}

func (o *serveOptions) check() (checked, error) {
	var k checked
	if *o.maxConns < 1 || *o.bodyMemory < 1 || *o.authCache < 0 || *o.dbTimeout <= 0 || *o.mailAttempts < 1 {
		return k, usagef("-max-conns, -body-memory, -db-timeout and -mail-attempts must be positive, -auth-cache at least 0")
	}
	if *o.publicURL != "" {
		if _, err := factor.NewRP(*o.publicURL, "bizsec"); err != nil {
			return k, usagef("-public-url %q: %s", *o.publicURL, plain(err))
		}
	}
	if *o.drain < 0 || *o.shutdownTimeout <= 0 || *o.tlsWatch < 0 {
		return k, usagef("-drain and -tls-watch must be at least 0, -shutdown-timeout positive")
	}
	if (*o.tlsCert == "") != (*o.tlsKey == "") || (*o.tlsCert != "" && *o.acmeDomain != "") {
		return k, usagef("-tls-cert and -tls-key go together, and not with -acme-domain")
	}
	if *o.bootTenant != "" {
		if err := checkUser(*o.bootEmail, auth.RoleSiteAdmin); err != nil {
			return k, usagef("-bootstrap-admin-email: %s", err)
		}
	}
	var err error
	if k.trusted, err = parsePrefixes(*o.proxies); err != nil {
		return k, usagef("-trusted-proxies: %s", err)
	}
	d := login.DefaultLimits
	k.limits = login.Limits{MaxKeys: d.MaxKeys}
	for _, r := range []struct {
		flag string
		into *throttle.Rate
		spec string
	}{{"client-rate", &k.limits.Client, *o.clientRate}, {"account-failure-rate", &k.limits.AccountFailures, *o.failureRate}, {"mail-rate", &k.limits.Mail, *o.mailRate}} {
		if *r.into, err = throttle.ParseRate(r.spec); err != nil {
			return k, usagef("-%s: %s", r.flag, plain(err))
		}
	}
	if err := k.level.UnmarshalText([]byte(*o.logLevel)); err != nil {
		return k, usagef("-log-level must be debug, info, warn or error, got %q", *o.logLevel)
	}
	mode := map[string]string{"auto": mail.TLSAuto, "starttls": mail.TLSStart, "implicit": mail.TLSImplicit}
	var ok bool
	if k.smtpMode, ok = mode[*o.smtpTLS]; !ok {
		return k, usagef("-smtp-tls must be auto, starttls or implicit, got %q", *o.smtpTLS)
	}
	return k, nil
}

func serve(ctx context.Context, args []string, stdout io.Writer) error {
	// Listen for SIGHUP first: from here on it reloads instead of killing.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	interrupt := make(chan os.Signal, 1) // SIGINT (a person's ^C) skips the drain
	signal.Notify(interrupt, os.Interrupt)
	defer signal.Stop(interrupt)

	cfg, o, configFile, printOnly, err := parseServe(args, stdout)
	if err != nil {
		return err
	}
	k, err := o.check()
	if err != nil {
		return err
	}
	if printOnly {
		cfg.print(stdout)
		return nil
	}
	defer heapfloor.Start(heapfloor.Floor)()
	var level slog.LevelVar
	level.Set(k.level)
	// No request waits on stderr's reader: lines are written from a
	// goroutine of their own, the last ones as serve returns.
	stderr := logwriter.New(os.Stderr)
	defer stderr.Close()
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: &level}))
	log.Info("bizsec serve starting; `bizsec help` lists the commands, `bizsec serve -h` the flags")
	m := NewMain(o, k, log, stdout)
	if err := m.Open(ctx); err != nil {
		return err
	}
	defer m.Close()
	m.Run(ctx)
	for waiting := true; waiting; {
		select {
		case err := <-m.Err():
			return failed("serving: %s", cause(err))
		case <-hup:
			reload(log, &level, m.Cert, m.API, m.Login, cfg, args, configFile)
		case <-ctx.Done():
			waiting = false
		}
	}
	if *o.drain > 0 {
		log.Info("draining: /readyz answers 503 while requests are still served", "drain", o.drain.String())
		m.Drain()
		select {
		case <-time.After(*o.drain):
		case <-interrupt:
			log.Info("interrupted: the drain is cut short")
		case err := <-m.Err():
			return failed("serving: %s", cause(err))
		}
	}
	log.Info("shutting down: finishing in-flight requests", "timeout", o.shutdownTimeout.String())
	if err := m.Close(); err != nil {
		return err
	}
	log.Info("stopped")
	return nil
}

// registerMetrics adds mail, change-feed and pool metrics to /metrics.
func registerMetrics(api *httpapi.Server, m *httpapi.MailMetrics, r *mail.Retrying, log *slog.Logger) error {
	if r == nil {
		r = &mail.Retrying{} // the outbox: always zero in flight
	}
	if err := api.Register(m.Collectors(r)...); err != nil {
		return err
	}
	pools, err := api.RegisterStoreMetrics()
	if err != nil {
		return err
	}
	if len(pools) == 0 {
		log.Debug("the store shows no connection pools: no go_sql_* metrics")
	}
	return nil
}

// reload is SIGHUP: the TLS certificate from its files and, from the
// -config file, the log level. Settings that need a restart and changed in
// the file are named, not applied. The summary is logged before a new
// level applies, so it shows even when the level goes up.
func reload(log *slog.Logger, level *slog.LevelVar, cert *httpapi.Certificate, api *httpapi.Server, svc *login.Service, running *config, args []string, configFile string) {
	var reloaded []string
	if cert != nil {
		changed, err := cert.Reload()
		logCertReload(log, cert, "SIGHUP", changed, err)
		if err == nil {
			reloaded = append(reloaded, "tls certificate")
		}
	}
	newLevel := level.Level()
	if configFile != "" {
		fresh, o, _, _, err := parseServe(args, io.Discard)
		var k checked
		if err == nil {
			k, err = o.check()
		}
		if err != nil {
			log.Error("SIGHUP: the config file was not reloaded; the running configuration stays", "file", configFile, "err", plain(err))
		} else {
			newLevel = k.level
			api.SetTrustedProxies(k.trusted)
			svc.SetLimits(k.limits)
			reloaded = append(reloaded, "log level", "trusted proxies", "limits")
			live := map[string]bool{"log-level": true, "trusted-proxies": true, "client-rate": true, "account-failure-rate": true, "mail-rate": true}
			var restart []string
			for _, s := range fresh.settings {
				if !live[s.name] && s.value.String() != running.byName[s.name].value.String() {
					restart = append(restart, s.name)
				}
			}
			if len(restart) > 0 {
				log.Warn("SIGHUP: changed in the config file but applied only at the next start", "settings", strings.Join(restart, ","))
			}
		}
	}
	log.Warn("SIGHUP: reloaded", "what", strings.Join(reloaded, ","), "log_level", newLevel.String(), "previous_log_level", level.Level().String())
	level.Set(newLevel)
}

func logCertReload(log *slog.Logger, cert *httpapi.Certificate, why string, changed bool, err error) {
	if err != nil {
		log.Error("TLS certificate not reloaded; the one served stays", "why", why, "err", plain(err))
		return
	}
	leaf := cert.Leaf()
	log.Info("TLS certificate reloaded", "why", why, "changed", changed, "subject", leaf.Subject.String(),
		"serial", leaf.SerialNumber.String(), "not_after", leaf.NotAfter.UTC().Format(time.RFC3339))
}
