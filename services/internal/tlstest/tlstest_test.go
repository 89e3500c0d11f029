package tlstest

import (
	"crypto/tls"
	"testing"
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
