// Package tlstest makes throwaway TLS certificates for tests: a
// self-signed server certificate for 127.0.0.1, as tls.Configs or as PEM
// files, and a certificate authority that issues server certificates with
// chosen names and validity, so each test needs no fixture on disk.
package tlstest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Cert is a certificate and its key.
type Cert struct {
	X509 *x509.Certificate
	DER  []byte
	Key  *ecdsa.PrivateKey
}

// New makes a certificate valid from an hour ago to an hour from now.
func New(t testing.TB, commonName string) Cert {
	t.Helper()
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: commonName},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	return create(t, tmpl, Cert{})
}

// CA is a throwaway certificate authority. A process given its PEM as its
// only trusted root (SSL_CERT_FILE for Go on Linux) trusts what it
// issues, so a certificate's one deliberate fault (expired, another host
// name) is the only thing wrong with it.
type CA struct{ Cert }

// NewCA makes a CA certificate valid from an hour ago to a day from now.
func NewCA(t testing.TB, commonName string) CA {
	t.Helper()
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: commonName},
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	return CA{create(t, tmpl, Cert{})}
}

// Leaf describes a server certificate for CA.Issue.
type Leaf struct {
	IPs      []net.IP
	DNSNames []string
	// NotBefore and NotAfter default to an hour ago and an hour from now.
	NotBefore, NotAfter time.Time
}

// Issue makes a server certificate for leaf signed by ca.
func (ca CA) Issue(t testing.TB, leaf Leaf) Cert {
	t.Helper()
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: "pictor test server"},
		NotBefore:   leaf.NotBefore,
		NotAfter:    leaf.NotAfter,
		IPAddresses: leaf.IPs,
		DNSNames:    leaf.DNSNames,
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	return create(t, tmpl, ca.Cert)
}

// create signs tmpl with parent's key, or self-signs it when parent is
// the zero Cert. Zero validity bounds become an hour ago and an hour from
// now.
func create(t testing.TB, tmpl *x509.Certificate, parent Cert) Cert {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl.SerialNumber, err = rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatal(err)
	}
	if tmpl.NotBefore.IsZero() {
		tmpl.NotBefore = time.Now().Add(-time.Hour)
	}
	if tmpl.NotAfter.IsZero() {
		tmpl.NotAfter = time.Now().Add(time.Hour)
	}
	issuer, signer := tmpl, key
	if parent.X509 != nil {
		issuer, signer = parent.X509, parent.Key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, issuer, &key.PublicKey, signer)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return Cert{X509: cert, DER: der, Key: key}
}

// PEM returns c's certificate PEM-encoded.
func (c Cert) PEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.DER})
}

// Configs returns a server config presenting c and a client config trusting it.
func (c Cert) Configs() (server, client *tls.Config) {
	pool := x509.NewCertPool()
	pool.AddCert(c.X509)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{c.DER}, PrivateKey: c.Key}}, MinVersion: tls.VersionTLS12},
		&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
}

// WriteFiles writes c as PEM files tls.crt and tls.key into dir.
func (c Cert) WriteFiles(t testing.TB, dir string) (certFile, keyFile string) {
	t.Helper()
	keyDER, err := x509.MarshalECPrivateKey(c.Key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	if err := os.WriteFile(certFile, c.PEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}
