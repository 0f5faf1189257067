package httpapi

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/acme"
	"golang.org/x/crypto/acme/autocert"
)

// Certificate serves a certificate and key from files and reloads them
// when asked (SIGHUP) or when the files change (Watch), so a rotated
// certificate is served without a restart. A reload that fails (a file
// half written, a key that does not match) keeps the certificate being
// served and says why.
type Certificate struct {
	certFile, keyFile string

	mu      sync.Mutex // one reload at a time
	current atomic.Pointer[tls.Certificate]
	stamp   fileStamp // of the files current was read from
}

// fileStamp tells whether a file changed: size and modification time of
// both files (a rename onto the path, as cert managers do, changes them).
type fileStamp struct {
	certSize, keySize int64
	certMod, keyMod   time.Time
}

// LoadCertificate reads the pair once; a server that cannot read its
// certificate at start does not start.
func LoadCertificate(certFile, keyFile string) (*Certificate, error) {
	c := &Certificate{certFile: certFile, keyFile: keyFile}
	if _, err := c.Reload(); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Certificate) stampNow() (fileStamp, error) {
	cf, err := os.Stat(c.certFile)
	if err != nil {
		return fileStamp{}, err
	}
	kf, err := os.Stat(c.keyFile)
	if err != nil {
		return fileStamp{}, err
	}
	return fileStamp{cf.Size(), kf.Size(), cf.ModTime(), kf.ModTime()}, nil
}

// Reload reads the files again. changed says whether the certificate
// served is now another one.
func (c *Certificate) Reload() (changed bool, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	stamp, err := c.stampNow()
	if err != nil {
		return false, fmt.Errorf("TLS certificate: %w", err)
	}
	pair, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
	if err != nil {
		return false, fmt.Errorf("TLS certificate %s with key %s: %w", c.certFile, c.keyFile, err)
	}
	if pair.Leaf == nil {
		if pair.Leaf, err = x509.ParseCertificate(pair.Certificate[0]); err != nil {
			return false, fmt.Errorf("TLS certificate %s: %w", c.certFile, err)
		}
	}
	old := c.current.Load()
	c.current.Store(&pair)
	c.stamp = stamp
	return old == nil || !old.Leaf.Equal(pair.Leaf), nil
}

// Leaf is the certificate being served.
func (c *Certificate) Leaf() *x509.Certificate { return c.current.Load().Leaf }

// changedOnDisk reports whether the files differ from those last read.
func (c *Certificate) changedOnDisk() bool {
	stamp, err := c.stampNow()
	c.mu.Lock()
	defer c.mu.Unlock()
	return err == nil && stamp != c.stamp
}

// Watch checks the files every interval until stop is closed and reloads
// them when they changed; report hears of each reload and each failure.
func (c *Certificate) Watch(interval time.Duration, stop <-chan struct{}, report func(changed bool, err error)) {
	if interval <= 0 {
		return
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
			if c.changedOnDisk() {
				report(c.Reload())
			}
		}
	}
}

// TLSConfig serves the current certificate, TLS 1.2 and newer, with Go's
// default (forward-secret, AEAD) cipher suites for 1.2.
func (c *Certificate) TLSConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			if cert := c.current.Load(); cert != nil {
				return cert, nil
			}
			return nil, errors.New("no certificate")
		},
	}
}

// ACME is the TLS configuration of a public host whose certificates come
// from an ACME CA (Let's Encrypt unless directoryURL names another) through
// autocert: obtained on the first handshake for one of domains and renewed
// before they expire, with the TLS-ALPN-01 challenge answered on the TLS
// listener itself, so -listen must be the host's port 443. Certificates
// and the account key are cached in cacheDir (the data directory's acme/),
// so a restart neither asks again nor meets the CA's rate limits. email,
// when set, is the account's contact for expiry notices.
func ACME(domains []string, cacheDir, email, directoryURL string) (*tls.Config, error) {
	var names []string
	for _, d := range domains {
		if d = strings.TrimSpace(d); d != "" {
			names = append(names, d)
		}
	}
	if len(names) == 0 {
		return nil, errors.New("ACME: no domain")
	}
	if err := os.MkdirAll(cacheDir, 0o700); err != nil {
		return nil, fmt.Errorf("ACME certificate cache: %w", err)
	}
	m := &autocert.Manager{
		Prompt:     autocert.AcceptTOS,
		HostPolicy: autocert.HostWhitelist(names...),
		Cache:      autocert.DirCache(cacheDir),
		Email:      email,
	}
	if directoryURL != "" {
		m.Client = &acme.Client{DirectoryURL: directoryURL}
	}
	cfg := m.TLSConfig()
	cfg.MinVersion = tls.VersionTLS12
	return cfg, nil
}
