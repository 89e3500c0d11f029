package configwatch

import (
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
)

// TestClientTLSFromCAFile: the CA file the edge is configured with is what
// the control plane's certificate is checked against.
func TestClientTLSFromCAFile(t *testing.T) {
	serverTLS, _ := testTLS(t)
	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.pem")
	der := serverTLS.Certificates[0].Certificate[0]
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	clientTLS, err := ClientTLS(caFile)
	if err != nil {
		t.Fatal(err)
	}
	cp := newFakeControlPlane("edge-token")
	_, addr := serve(t, cp, "127.0.0.1:0", grpc.Creds(credentials.NewTLS(serverTLS)))
	e := newEdge(t, Config{Addr: addr, Token: "edge-token", TLS: clientTLS})
	e.run(t)
	recv(t, cp.hellos, "hello over TLS checked against the CA file")

	if sys, err := ClientTLS(""); err != nil || sys.RootCAs != nil {
		t.Errorf("no CA file: %v, roots %v; want the system roots", err, sys.RootCAs)
	}
	if _, err := ClientTLS(filepath.Join(dir, "missing.pem")); err == nil {
		t.Error("missing CA file accepted")
	}
	junk := filepath.Join(dir, "junk.pem")
	os.WriteFile(junk, []byte("not a certificate"), 0o600)
	if _, err := ClientTLS(junk); err == nil || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Errorf("junk CA file: %v", err)
	}
}
