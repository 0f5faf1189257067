package httpapi

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// TestACMEWiring: the ACME configuration serves TLS 1.2+, offers the
// TLS-ALPN-01 protocol, answers a listed domain from the certificate cache
// in the data directory (no CA asked: the test has no network) and refuses
// a domain not listed, before any CA could be asked.
func TestACMEWiring(t *testing.T) {
	cache := filepath.Join(t.TempDir(), "acme")
	cfg, err := ACME([]string{"bizsec.example", " "}, cache, "ops@bizsec.example", "https://acme.invalid/directory")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MinVersion != tls.VersionTLS12 || !slices.Contains(cfg.NextProtos, "acme-tls/1") {
		t.Errorf("MinVersion %x, NextProtos %v: want TLS 1.2 and acme-tls/1", cfg.MinVersion, cfg.NextProtos)
	}
	if fi, err := os.Stat(cache); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("cache directory: %v %v, want mode 0700", fi, err)
	}
	// A certificate as autocert caches it: the key, then the chain, under the domain's name.
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "bizsec.example"},
		DNSNames: []string{"bizsec.example"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(365 * 24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	pemData := append(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	if err := os.WriteFile(filepath.Join(cache, "bizsec.example"), pemData, 0o600); err != nil {
		t.Fatal(err)
	}
	hello := func(name string) *tls.ClientHelloInfo {
		return &tls.ClientHelloInfo{ServerName: name, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256},
			SupportedCurves: []tls.CurveID{tls.CurveP256}, SignatureSchemes: []tls.SignatureScheme{tls.ECDSAWithP256AndSHA256}}
	}
	got, err := cfg.GetCertificate(hello("bizsec.example"))
	if err != nil {
		t.Fatalf("a listed domain with a cached certificate: %v", err)
	}
	if got.Leaf == nil || got.Leaf.Subject.CommonName != "bizsec.example" {
		t.Errorf("served %+v, want the cached certificate", got.Leaf)
	}
	if _, err := cfg.GetCertificate(hello("other.example")); err == nil {
		t.Error("a domain not listed got a certificate")
	}
	if _, err := ACME([]string{""}, cache, "", ""); err == nil {
		t.Error("no domain: want an error")
	}
}
