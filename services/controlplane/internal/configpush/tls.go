package configpush

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"google.golang.org/grpc/credentials"
)

// certCheckEvery is how often the certificate files are looked at for a
// renewal; a handshake in between uses the pair in memory.
const certCheckEvery = 30 * time.Second

// ServerTLS returns transport credentials that serve the certificate in
// certFile and its key in keyFile (PEM). Edges receive signing keys on the
// stream, so outside a trusted network it must run over TLS.
//
// The files are read again when they change, so a renewed certificate
// (cert-manager and ACME clients replace the files in place) takes effect
// without restarting the control plane and dropping every edge's stream. A
// renewal that does not load (a half-written pair) is logged and the pair
// in use is kept.
func ServerTLS(certFile, keyFile string, log *slog.Logger) (credentials.TransportCredentials, error) {
	r := &certReloader{certFile: certFile, keyFile: keyFile, log: log, now: time.Now}
	if err := r.load(); err != nil {
		return nil, err
	}
	return credentials.NewTLS(&tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return r.get(), nil },
	}), nil
}

type certReloader struct {
	certFile, keyFile string
	log               *slog.Logger
	now               func() time.Time

	mu      sync.Mutex
	cert    *tls.Certificate
	stamp   string // the files' sizes and modification times when loaded
	checked time.Time
}

func (r *certReloader) load() error {
	stamp, err := r.fileStamp()
	if err != nil {
		return err
	}
	cert, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		return fmt.Errorf("load gRPC TLS certificate %s and key %s: %w", r.certFile, r.keyFile, err)
	}
	r.cert, r.stamp, r.checked = &cert, stamp, r.now()
	return nil
}

func (r *certReloader) fileStamp() (string, error) {
	var stamp string
	for _, f := range []string{r.certFile, r.keyFile} {
		fi, err := os.Stat(f)
		if err != nil {
			return "", fmt.Errorf("gRPC TLS: %w", err)
		}
		stamp += fmt.Sprintf("%d@%d;", fi.Size(), fi.ModTime().UnixNano())
	}
	return stamp, nil
}

// get returns the pair to serve, reloading it first when the files changed
// since the last look (at most every certCheckEvery).
func (r *certReloader) get() *tls.Certificate {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.now().Sub(r.checked) < certCheckEvery {
		return r.cert
	}
	r.checked = r.now()
	stamp, err := r.fileStamp()
	if err != nil || stamp == r.stamp {
		if err != nil {
			r.log.Error("gRPC TLS certificate files unreadable; serving the loaded certificate", "err", err)
		}
		return r.cert
	}
	if err := r.load(); err != nil {
		r.log.Error("renewed gRPC TLS certificate does not load; serving the previous one", "err", err)
		return r.cert
	}
	r.log.Info("gRPC TLS certificate reloaded", "cert_file", r.certFile, "not_after", r.cert.Leaf.NotAfter)
	return r.cert
}
