package configwatch

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
)

// ClientTLS returns the TLS settings for the control-plane connection. With
// caFile set, the control plane's certificate must chain to a certificate
// in that PEM file (a private CA, or the certificate itself when
// self-signed); otherwise the system's roots are used. The certificate must
// name the host of the control-plane address.
func ClientTLS(caFile string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile == "" {
		return cfg, nil
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("control plane CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, errors.New("control plane CA: " + caFile + " holds no PEM certificate")
	}
	cfg.RootCAs = pool
	return cfg, nil
}
