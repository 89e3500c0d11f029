package configpush

import (
	"bytes"
	"crypto/x509"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"pictor/services/internal/tlstest"
)

// writeCert writes a fresh self-signed certificate for 127.0.0.1 and its
// key as PEM files in dir and returns their paths and the certificate.
func writeCert(t *testing.T, dir, cn string) (certFile, keyFile string, cert *x509.Certificate) {
	t.Helper()
	c := tlstest.New(t, cn)
	certFile, keyFile = c.WriteFiles(t, dir)
	return certFile, keyFile, c.X509
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
