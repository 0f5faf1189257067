package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// testCert is a self-signed certificate for 127.0.0.1 written as PEM files.
type testCert struct {
	cert   *x509.Certificate
	serial string
}

// writeCert makes a new certificate with serial and writes it and its key
// over certFile and keyFile, each by a rename, as certificate managers do.
func writeCert(t *testing.T, certFile, keyFile string, serial int64) testCert {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "bizsec test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	replace := func(name string, block *pem.Block) {
		tmp := name + ".tmp"
		if err := os.WriteFile(tmp, pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, name); err != nil {
			t.Fatal(err)
		}
	}
	replace(keyFile, &pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
	replace(certFile, &pem.Block{Type: "CERTIFICATE", Bytes: der})
	c, _ := x509.ParseCertificate(der)
	return testCert{c, c.SerialNumber.String()}
}

// startBin starts bizsec serve with args on a free loopback port and waits
// until it logs that it serves. It does not probe the port: the caller
// knows whether it speaks TLS.
func startBin(t *testing.T, env []string, args ...string) (*proc, string) {
	t.Helper()
	p, addr := launch(t, env, args...)
	waitFor(t, p.stderr, regexp.MustCompile(`"msg":"serving"`))
	return p, addr
}

// servedSerial is the serial of the certificate a TLS handshake shows.
func servedSerial(t *testing.T, addr string, cfg *tls.Config) string {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, cfg)
	if err != nil {
		t.Fatalf("TLS handshake: %v", err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber.String()
}

// waitSerial waits until the server shows the certificate with serial.
func waitSerial(t *testing.T, addr string, cfg *tls.Config, serial string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if servedSerial(t, addr, cfg) == serial {
			return
		}
	}
	t.Fatalf("the server still shows serial %s, want %s", servedSerial(t, addr, cfg), serial)
}

// TestTLS: -tls-cert/-tls-key serve HTTPS with TLS 1.2 and newer only,
// cookies are Secure over it without -secure-cookies, a certificate
// replaced on disk is served without a restart (watch), SIGHUP reloads it
// at once, and a broken pair on SIGHUP keeps the one served.
func TestTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	first := writeCert(t, certFile, keyFile, 1)
	data := filepath.Join(dir, "data")
	setupTenant(t, []string{"-data", data})
	p, addr := startBin(t, nil, "-data", data, "-tls-cert", certFile, "-tls-key", keyFile, "-tls-watch", "50ms", "-drain", "0")
	insecure := &tls.Config{InsecureSkipVerify: true} // the certificate changes under the test; serials are compared
	pool := x509.NewCertPool()
	pool.AddCert(first.cert)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	base := "https://" + addr

	resp, err := client.Post(base+"/api/login", "application/json", strings.NewReader(`{"email":"admin@acme.example","password":"crash-test-pw"}`))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("login over TLS: %v %v", err, resp)
	}
	resp.Body.Close()
	if resp.TLS == nil || resp.TLS.Version < tls.VersionTLS12 {
		t.Errorf("negotiated %v", resp.TLS)
	}
	for _, c := range resp.Cookies() {
		if !c.Secure {
			t.Errorf("cookie %s is not Secure over TLS", c.Name)
		}
	}
	if _, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS11}); err == nil {
		t.Error("a TLS 1.1 handshake succeeded")
	}
	if resp, err := http.Get("http://" + addr + "/healthz"); err == nil && resp.StatusCode == 200 {
		t.Error("plain HTTP is served on the TLS listener")
	}

	second := writeCert(t, certFile, keyFile, 2)
	waitSerial(t, addr, insecure, second.serial)
	waitFor(t, p.stderr, regexp.MustCompile(`"msg":"TLS certificate reloaded","why":"file changed","changed":true`))

	// SIGHUP reloads at once; a server that does not watch proves it.
	p.cmd.Process.Signal(syscall.SIGTERM)
	<-p.done
	p, addr = startBin(t, nil, "-data", data, "-tls-cert", certFile, "-tls-key", keyFile, "-tls-watch", "0", "-drain", "0")
	third := writeCert(t, certFile, keyFile, 3)
	if got := servedSerial(t, addr, insecure); got != second.serial {
		t.Fatalf("before SIGHUP the server shows %s, want %s", got, second.serial)
	}
	p.cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, p.stderr, regexp.MustCompile(`"msg":"SIGHUP: reloaded","what":"tls certificate"`))
	if got := servedSerial(t, addr, insecure); got != third.serial {
		t.Errorf("after SIGHUP the server shows %s, want %s", got, third.serial)
	}

	os.WriteFile(keyFile, []byte("not a key"), 0o600)
	p.cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, p.stderr, regexp.MustCompile(`"msg":"TLS certificate not reloaded; the one served stays"`))
	if got := servedSerial(t, addr, insecure); got != third.serial {
		t.Errorf("after a broken reload the server shows %s, want %s", got, third.serial)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	<-p.done
	if p.err != nil {
		t.Errorf("exit after SIGHUPs and SIGTERM: %v\n%s", p.err, p.stderr)
	}
}

// TestSIGHUPLogLevel: SIGHUP reads -log-level from the config file and
// says what it reloaded; the process lives on; a setting that needs a
// restart is named, not applied.
func TestSIGHUPLogLevel(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	conf := filepath.Join(dir, "bizsec.toml")
	os.WriteFile(conf, []byte("log-level = \"info\"\nmail-from = \"a@example.com\"\n"), 0o600)
	p := startServer(t, "-data", data, "-config", conf, "-drain", "0")
	get := func(path string) {
		resp, err := http.Get(p.base + path)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	// A path startServer's polling does not ask: once its line is written,
	// every earlier line is (the access log writes in order), and none is
	// left to land after the count below.
	get("/readyz")
	waitFor(t, p.stderr, regexp.MustCompile(`"msg":"request".*"path":"/readyz"`))
	os.WriteFile(conf, []byte("log-level = \"warn\"\nmail-from = \"b@example.com\"\n"), 0o600)
	p.cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, p.stderr, regexp.MustCompile(`"msg":"SIGHUP: reloaded","what":"log level,trusted proxies,limits","log_level":"WARN","previous_log_level":"INFO"`))
	waitFor(t, p.stderr, regexp.MustCompile(`"msg":"SIGHUP: changed in the config file but applied only at the next start","settings":"mail-from"`))
	before := strings.Count(p.stderr.String(), `"msg":"request"`)
	for range 3 {
		get("/healthz")
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	<-p.done
	if p.err != nil {
		t.Fatalf("exit: %v", p.err)
	}
	if after := strings.Count(p.stderr.String(), `"msg":"request"`); after != before {
		t.Errorf("at level warn %d request lines were logged", after-before)
	}
	if strings.Contains(p.stderr.String(), `"msg":"draining`) {
		t.Error("-drain 0 drained")
	}
}

// TestDrain: SIGTERM turns /readyz to 503 while other requests are still
// answered (with Connection: close, so clients reconnect elsewhere); the
// drain lasts -drain, or until SIGINT cuts it short; the process exits 0.
func TestDrain(t *testing.T) {
	args := dbArgs(t, "sqlite")
	setupTenant(t, args)
	p := startServer(t, append(args, "-drain", "10m")...)
	a := loginAdmin(t, p.base)
	status := func(path string) (int, bool) {
		resp, err := http.Get(p.base + path)
		if err != nil {
			t.Fatalf("GET %s during the drain: %v", path, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, resp.Close
	}
	if got, _ := status("/readyz"); got != 200 {
		t.Fatalf("/readyz before SIGTERM: %d", got)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	waitFor(t, p.stderr, regexp.MustCompile(`"msg":"draining: /readyz answers 503`))
	if got, _ := status("/readyz"); got != 503 {
		t.Errorf("/readyz while draining: %d, want 503", got)
	}
	resp, body, err := a.do("GET", "/api/businesses/tenantbusiness.acme/loginpolicy", "")
	if err != nil || resp.StatusCode != 200 || !resp.Close {
		t.Errorf("a request while draining: %v %v (Connection: close %v) %s", err, resp, resp != nil && resp.Close, body)
	}
	_, metrics, _ := a.do("GET", "/metrics", "")
	if !strings.Contains(string(metrics), "bizsec_draining 1") {
		t.Error("bizsec_draining is not 1 while draining")
	}
	select {
	case <-p.done:
		t.Fatalf("the server stopped during a 10-minute drain: %v", p.err)
	default:
	}
	p.cmd.Process.Signal(syscall.SIGINT)
	<-p.done
	if p.err != nil {
		t.Errorf("exit: %v\n%s", p.err, p.stderr)
	}
	if !strings.Contains(p.stderr.String(), `"msg":"interrupted: the drain is cut short"`) ||
		!strings.Contains(p.stderr.String(), `"msg":"stopped"`) {
		t.Errorf("log:\n%s", p.stderr)
	}
}

// TestSIGHUPLimits: a reload applies the config file's client rate to the
// running server: past the new budget a login is refused.
func TestSIGHUPLimits(t *testing.T) {
	args := dbArgs(t, "sqlite")
	setupTenant(t, args)
	conf := filepath.Join(t.TempDir(), "bizsec.toml")
	os.WriteFile(conf, []byte("client-rate = \"1000/1m\"\n"), 0o600)
	p := startServer(t, append(args, "-config", conf, "-drain", "0")...)
	loginAdmin(t, p.base)
	os.WriteFile(conf, []byte("client-rate = \"1/1h\"\n"), 0o600)
	p.cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, p.stderr, regexp.MustCompile(`"msg":"SIGHUP: reloaded","what":"log level,trusted proxies,limits"`))
	statuses := map[int]int{}
	for range 3 {
		resp, err := http.Post(p.base+"/api/login", "application/json", strings.NewReader(`{"email":"nobody@acme.example","password":"x"}`))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		statuses[resp.StatusCode]++
	}
	if statuses[429] < 2 {
		t.Errorf("after a reload to client-rate 1/1h, 3 logins answered %v; want at least 2 refused", statuses)
	}
}
