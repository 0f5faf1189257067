package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/bizsec/bizsec/internal/app"
	"github.com/bizsec/bizsec/internal/auth"
	"github.com/bizsec/bizsec/internal/captcha"
	"github.com/bizsec/bizsec/internal/httpapi"
	"github.com/bizsec/bizsec/internal/login"
	"github.com/bizsec/bizsec/internal/mail"
	"github.com/bizsec/bizsec/internal/secret"
	"github.com/bizsec/bizsec/internal/store"
)

// Main is the server's composition root (benbjohnson/wtf's cmd/wtfd): Open
// builds every dependency once from serve's configuration table, Run starts
// the workers and the serving, Close stops them in the reverse order.
// Nothing but Run starts a goroutine that takes work: a one-shot CLI
// command builds what it needs and never calls Run.
type Main struct {
	o     *serveOptions
	k     checked
	log   *slog.Logger
	out   io.Writer // where the first start prints its Site Admin's password
	fresh bool

	Listener    net.Listener // -listen, bound before anything is created on disk
	OpsListener net.Listener // -ops-listen; nil when the operations endpoints are on Listener

	Cert     *httpapi.Certificate // nil: plain HTTP
	Retrying *mail.Retrying       // nil: the outbox
	Mailer   login.Mailer
	Box      *secret.Box
	Hasher   *auth.Hasher
	Store    *store.Store
	Queue    *mail.Queue // the mail the services send, persisted and sent by a worker of Run's
	Metrics  *httpapi.Metrics
	Login    *login.Service
	API      *httpapi.Server

	ConsoleURL string

	srv, ops         *http.Server
	srvDone, opsDone *served
	errc             chan error // the first end of serving, for Err
	stop             chan struct{}
	workers          sync.WaitGroup
	cancel           context.CancelFunc
	closers          []func() // what Open acquired, released by Close in reverse
	ran              bool
	closing          sync.Once
	closeErr         error
}

// NewMain returns a Main for serve's checked settings; log is the server's
// logger, out where a first start prints its one-time password.
func NewMain(o *serveOptions, k checked, log *slog.Logger, out io.Writer) *Main {
	return &Main{o: o, k: k, log: log, out: out, errc: make(chan error, 2), stop: make(chan struct{})}
}

// Open builds the server: listeners first (a server that cannot serve
// leaves no database and no key behind), then the data directory's lock,
// the secret key, the store, the first tenant, the login service and the
// HTTP server. It starts no worker. On an error what was built is closed.
func (m *Main) Open(ctx context.Context) (err error) {
	defer func() {
		if err != nil {
			m.release()
		}
	}()
	o, k := m.o, m.k
	data := *o.data
	m.Mailer = &mail.Outbox{Dir: filepath.Join(data, "outbox"), From: *o.from}
	mailMetrics := httpapi.NewMailMetrics()
	if *o.smtpAddr != "" {
		m.Retrying = &mail.Retrying{Attempts: *o.mailAttempts, Observe: mailMetrics.Observe,
			Next: &mail.SMTP{Addr: *o.smtpAddr, From: *o.from, TLS: k.smtpMode, RequireTLS: *o.smtpRequireTLS,
				Username: *o.smtpUser, Password: *o.smtpPassword}}
		m.Mailer = m.Retrying
	}
	if *o.tlsCert != "" {
		if m.Cert, err = httpapi.LoadCertificate(*o.tlsCert, *o.tlsKey); err != nil {
			return failed("%s", plain(err))
		}
	}
	if m.Listener, err = net.Listen("tcp", *o.listen); err != nil {
		return failed("cannot listen on %s: %s", *o.listen, cause(err))
	}
	m.closers = append(m.closers, func() { m.Listener.Close() })
	opsSeparate := *o.opsListen != "" && *o.opsListen != opsPublic
	if opsSeparate {
		if m.OpsListener, err = net.Listen("tcp", *o.opsListen); err != nil {
			return failed("cannot listen on %s (-ops-listen; %q serves the operations endpoints on -listen): %s", *o.opsListen, opsPublic, cause(err))
		}
		m.closers = append(m.closers, func() { m.OpsListener.Close() })
	}
	if *o.smtpAddr != "" {
		m.log.Info("mail via SMTP", "addr", *o.smtpAddr, "attempts", *o.mailAttempts)
	} else {
		m.log.Info("mail into the outbox directory", "dir", filepath.Join(data, "outbox"))
	}
	if !store.IsPostgres(*o.database) {
		unlock, err := store.LockDataDir(data)
		if err != nil {
			return failed("%s", plain(err))
		}
		m.closers = append(m.closers, unlock)
		// The key goes into the data directory: it must be private first.
		if err := store.PrivateDir(data); err != nil {
			return failed("cannot open the database: %s", plain(err))
		}
	}
	m.fresh = freshDatabase(*o.database, data)
	if m.Box, err = secretBox(data, *o.secretKey); err != nil {
		return failed("secret key: %s", plain(err))
	}
	if m.Store, err = store.Open(ctx, *o.database, data, store.WithLogger(m.log), store.WithAuthCacheSize(*o.authCache),
		store.WithSecretBox(m.Box)); err != nil {
		return failed("cannot open the database: %s", plain(err))
	}
	m.closers = append(m.closers, func() { m.Store.Close() })
	// Mail goes through the database (sealed), sent by a worker with the mailer's retries: it survives a restart.
	m.Queue = mail.NewQueue(m.Store, m.Mailer, m.log)
	scheme := "http"
	if m.Cert != nil || *o.acmeDomain != "" {
		scheme = "https"
	}
	m.ConsoleURL = scheme + "://" + loopbackURLHost(m.Listener.Addr()) + "/console/"
	if *o.bootTenant != "" {
		if err := bootstrap(ctx, m.Store, m.fresh, *o.bootTenant, *o.bootEmail, m.ConsoleURL, m.out, m.log); err != nil {
			return err
		}
	}
	m.Hasher = auth.NewHasher(auth.DefaultParams, runtime.GOMAXPROCS(0)) // the cores the process may use: its CPU quota in a container, its affinity under taskset
	m.Metrics = httpapi.NewMetrics()
	m.API, m.Login = app.NewAPI(login.Config{Store: m.Store, Hasher: m.Hasher, Box: m.Box, Captcha: captcha.New(*o.captchaURL),
		Mailer: m.Queue, Logger: m.log, Limits: k.limits, PublicURL: *o.publicURL},
		httpapi.Config{
			Store:          m.Store,
			Metrics:        m.Metrics,
			Logger:         m.log,
			SecureCookies:  *o.secure,
			AccessLog:      os.Stderr,
			TrustedProxies: k.trusted,
			NoAccessLog:    !*o.accessLog,
			OpsOnPublic:    !opsSeparate,
			BodyMemory:     *o.bodyMemory,
			DBTimeout:      *o.dbTimeout,
		})
	m.closers = append(m.closers, m.Login.Close)
	if err := errors.Join(registerMetrics(m.API, mailMetrics, m.Retrying, m.log), m.API.Register(m.Queue.Depth())); err != nil {
		return failed("metrics: %s", plain(err))
	}
	m.srv = newHTTPServer(m.API.Handler(), m.log)
	if *o.acmeDomain != "" {
		if m.srv.TLSConfig, err = httpapi.ACME(strings.Split(*o.acmeDomain, ","), filepath.Join(data, "acme"), *o.acmeEmail, ""); err != nil {
			return failed("%s", plain(err))
		}
	}
	if m.Cert != nil {
		m.srv.TLSConfig = m.Cert.TLSConfig()
	}
	if opsSeparate {
		m.ops = newHTTPServer(m.API.OpsHandler(), m.log)
	}
	return nil
}

// newHTTPServer is the server serve runs h in, with its limits on a
// client's time and header size; the bench runs both its sides in it.
func newHTTPServer(h http.Handler, log *slog.Logger) *http.Server {
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

// Run starts the workers (the login service's mail, the store's pruning,
// the certificate's watch) and the serving, and returns. Serving's end
// comes on Err; Close stops it all.
func (m *Main) Run(ctx context.Context) {
	m.ran = true
	ctx, m.cancel = context.WithCancel(ctx)
	m.Login.Start()
	m.Queue.Start()
	m.workers.Add(1)
	go func() { defer m.workers.Done(); prune(ctx, m.Login, m.log) }()
	if m.Cert != nil {
		m.workers.Add(1)
		go func() {
			defer m.workers.Done()
			m.Cert.Watch(*m.o.tlsWatch, m.stop, func(changed bool, err error) { logCertReload(m.log, m.Cert, "file changed", changed, err) })
		}()
	}
	m.log.Info("serving", "addr", m.Listener.Addr().String(), "tls", m.srv.TLSConfig != nil, "console", m.ConsoleURL,
		"postgres", store.IsPostgres(*m.o.database), "data", *m.o.data)
	if m.ops != nil {
		opsLn := httpapi.GuardListener(m.ops, m.OpsListener, 64)
		m.log.Info("serving operations", "addr", opsLn.Addr().String())
		m.opsDone = m.serve(func() error { return m.ops.Serve(opsLn) })
	}
	limited := httpapi.GuardListener(m.srv, m.Listener, *m.o.maxConns)
	m.srvDone = m.serve(func() error {
		if m.srv.TLSConfig != nil {
			return m.srv.ServeTLS(limited, "", "")
		}
		return m.srv.Serve(limited)
	})
}

// served is the end of one http.Server's serving.
type served struct {
	done chan struct{}
	err  error
}

func (m *Main) serve(f func() error) *served {
	s := &served{done: make(chan struct{})}
	go func() {
		s.err = f()
		close(s.done)
		select {
		case m.errc <- s.err:
		default:
		}
	}()
	return s
}

// Err receives an error when serving ends before Close.
func (m *Main) Err() <-chan error { return m.errc }

// Drain makes /readyz answer 503 and ends keep-alives while requests are
// still served: a balancer routes each client's next connection elsewhere.
func (m *Main) Drain() {
	m.API.Drain()
	m.srv.SetKeepAlivesEnabled(false)
}

// Close stops what Run started, in the reverse order, within
// -shutdown-timeout for the requests in flight: the serving (the answered
// requests' mail is then sent), the workers, the login service, the store,
// the lock and the listeners.
func (m *Main) Close() error {
	m.closing.Do(func() { m.closeErr = m.close() })
	return m.closeErr
}

func (m *Main) close() error {
	var err error
	if m.ran {
		shutdown, cancel := context.WithTimeout(context.Background(), *m.o.shutdownTimeout)
		defer cancel()
		if m.ops != nil {
			m.ops.Shutdown(shutdown)
			<-m.opsDone.done
		}
		if e := m.srv.Shutdown(shutdown); e != nil {
			err = failed("shutting down: %s", cause(e))
		} else if <-m.srvDone.done; !errors.Is(m.srvDone.err, http.ErrServerClosed) {
			err = failed("serving: %s", cause(m.srvDone.err))
		}
		m.API.Wait() // mail still being sent for answered requests
		m.cancel()
		close(m.stop)
		m.workers.Wait()
		m.Queue.Close() // what is not sent yet stays queued for the next start
	}
	m.release()
	return err
}

// release frees what Open acquired, newest first.
func (m *Main) release() {
	for i := len(m.closers) - 1; i >= 0; i-- {
		m.closers[i]()
	}
	m.closers = nil
}
