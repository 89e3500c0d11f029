package tlstest

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"testing"
	"time"
)

func TestCertsWork(t *testing.T) {
	c := New(t, "test")
	server, client := c.Configs()
	certFile, keyFile := c.WriteFiles(t, t.TempDir())
	fromFiles, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if len(server.Certificates) != 1 || client.RootCAs == nil || len(fromFiles.Certificate) != 1 {
		t.Fatal("incomplete configs")
	}
	if err := c.X509.VerifyHostname("127.0.0.1"); err != nil {
		t.Fatal(err)
	}
}

// TestCAIssues: what the CA issues verifies against it, and each fault a
// test asks for is the one verification reports.
func TestCAIssues(t *testing.T) {
	ca := NewCA(t, "test CA")
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(ca.PEM()) {
		t.Fatal("CA PEM not parsed")
	}
	loopback := []net.IP{net.IPv4(127, 0, 0, 1)}
	cases := []struct {
		name string
		cert Cert
		want func(error) bool // nil: verifies
	}{
		{name: "valid", cert: ca.Issue(t, Leaf{IPs: loopback})},
		{name: "expired", cert: ca.Issue(t, Leaf{IPs: loopback, NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour)}),
			want: func(err error) bool {
				var e x509.CertificateInvalidError
				return errors.As(err, &e) && e.Reason == x509.Expired
			}},
		{name: "other host", cert: ca.Issue(t, Leaf{DNSNames: []string{"other.example"}}),
			want: func(err error) bool { var e x509.HostnameError; return errors.As(err, &e) }},
		{name: "self-signed", cert: New(t, "stranger"),
			want: func(err error) bool { var e x509.UnknownAuthorityError; return errors.As(err, &e) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.cert.X509.Verify(x509.VerifyOptions{Roots: roots, DNSName: "127.0.0.1"})
			if tc.want == nil && err != nil || tc.want != nil && !tc.want(err) {
				t.Fatalf("Verify: %v", err)
			}
		})
	}
}
