// Package azuretest starts Microsoft's Azurite blob emulator (npm package
// azurite, installed into scripts/azurite by scripts/bootstrap.sh --test)
// for integration tests, on a free 127.0.0.1 port with its data in the
// test's temporary directory. Blobs are written and SAS tokens made with
// the Azure SDK for Go, as a customer's tools would; an edge then reads
// them with nothing but the token.
package azuretest

import (
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/sas"
)

// Azurite's well-known development account.
const (
	Account = "devstoreaccount1"
	key     = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)

// Server is a running Azurite blob service.
type Server struct {
	// URLTemplate is the edge's PICTOR_AZURE_BLOB_URL for it.
	URLTemplate string
	base        string
	client      *azblob.Client
	cred        *azblob.SharedKeyCredential
}

// Binary is azurite-blob under scripts/azurite.
func Binary() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "scripts", "azurite", "node_modules", ".bin", "azurite-blob")
}

// Start runs Azurite for this test and stops it when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	bin := Binary()
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("azuretest: %v: scripts/bootstrap.sh --test installs Azurite", err)
	}
	dir := t.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	logFile, err := os.Create(filepath.Join(dir, "azurite.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	cmd := exec.Command(bin, "--blobHost", "127.0.0.1", "--blobPort", strconv.Itoa(port), "--location", dir,
		"--silent", "--skipApiVersionCheck", "--loose")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("azuretest: start azurite: %v", err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
	})
	s := &Server{URLTemplate: "http://127.0.0.1:" + strconv.Itoa(port) + "/{account}"}
	s.base = "http://127.0.0.1:" + strconv.Itoa(port) + "/" + Account
	if s.cred, err = azblob.NewSharedKeyCredential(Account, key); err != nil {
		t.Fatal(err)
	}
	if s.client, err = azblob.NewClientWithSharedKeyCredential(s.base, s.cred, nil); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if resp, err := http.Get(s.base + "?comp=list"); err == nil {
			resp.Body.Close()
			return s
		}
		if time.Now().After(deadline) {
			out, _ := os.ReadFile(filepath.Join(dir, "azurite.log"))
			t.Fatalf("azuretest: azurite not ready in 30 s\n%s", out)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Put stores body as blob name in container (created when missing).
func (s *Server) Put(t testing.TB, container, name string, body []byte) {
	t.Helper()
	ctx := context.Background()
	if _, err := s.client.CreateContainer(ctx, container, nil); err != nil && !bloberror.HasCode(err, bloberror.ContainerAlreadyExists) {
		t.Fatalf("azuretest: create container %s: %v", container, err)
	}
	if _, err := s.client.UploadBuffer(ctx, container, name, body, nil); err != nil {
		t.Fatalf("azuretest: upload %s/%s: %v", container, name, err)
	}
}

// SAS is a read-only SAS token for container, valid for a day, without
// its '?', as a customer would paste it.
func (s *Server) SAS(t testing.TB, container string) string {
	t.Helper()
	q, err := sas.BlobSignatureValues{
		Protocol:      sas.ProtocolHTTPSandHTTP,
		StartTime:     time.Now().Add(-time.Hour).UTC(),
		ExpiryTime:    time.Now().Add(24 * time.Hour).UTC(),
		Permissions:   (&sas.ContainerPermissions{Read: true, List: true}).String(),
		ContainerName: container,
	}.SignWithSharedKey(s.cred)
	if err != nil {
		t.Fatalf("azuretest: SAS: %v", err)
	}
	return q.Encode()
}
