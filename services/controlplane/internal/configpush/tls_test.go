package configpush

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeCert writes a fresh self-signed certificate for 127.0.0.1 and its
// key as PEM files in dir and returns their paths and the certificate.
func writeCert(t *testing.T, dir, cn string) (certFile, keyFile string, cert *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err = x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, cert
}

func TestServerTLSErrors(t *testing.T) {
	dir := t.TempDir()
	log := slog.New(slog.DiscardHandler)
	if _, err := ServerTLS(filepath.Join(dir, "none.crt"), filepath.Join(dir, "none.key"), log); err == nil {
		t.Error("missing files accepted")
	}
	certFile, _, _ := writeCert(t, dir, "a")
	if _, err := ServerTLS(certFile, certFile, log); err == nil || !strings.Contains(err.Error(), "load gRPC TLS certificate") {
		t.Errorf("certificate as its own key: %v", err)
	}
}

// TestCertReload: a renewed pair is picked up without a restart, at most
// certCheckEvery late; a broken renewal keeps the pair in use.
func TestCertReload(t *testing.T) {
	dir := t.TempDir()
	var logs bytes.Buffer
	certFile, keyFile, first := writeCert(t, dir, "first")
	now := time.Now()
	r := &certReloader{certFile: certFile, keyFile: keyFile, log: slog.New(slog.NewTextHandler(&logs, nil)), now: func() time.Time { return now }}
	if err := r.load(); err != nil {
		t.Fatal(err)
	}
	serving := func() string { return r.get().Leaf.Subject.CommonName }

	_, _, second := writeCert(t, dir, "second")
	if got := serving(); got != first.Subject.CommonName {
		t.Fatalf("reloaded before the check interval: serving %s", got)
	}
	now = now.Add(certCheckEvery + time.Second)
	if got := serving(); got != second.Subject.CommonName {
		t.Fatalf("serving %s after renewal, want %s", got, second.Subject.CommonName)
	}

	if err := os.WriteFile(certFile, []byte("half-written"), 0o600); err != nil {
		t.Fatal(err)
	}
	now = now.Add(certCheckEvery + time.Second)
	if got := serving(); got != second.Subject.CommonName {
		t.Fatalf("serving %s after a broken renewal, want the previous %s", got, second.Subject.CommonName)
	}
	if !strings.Contains(logs.String(), "does not load") {
		t.Errorf("broken renewal not logged:\n%s", logs.String())
	}
}

// WriteCert lets the external tests make certificates.
var WriteCert = writeCert
