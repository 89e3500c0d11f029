// Package s3test starts a real S3-compatible server for integration tests:
// SeaweedFS's weed (Apache-2.0), built from source by scripts/bootstrap.sh
// into the user cache, on free 127.0.0.1 ports with one identity, its data
// in the test's temporary directory. Objects are written through weed's
// filer, so tests need no S3 client of their own; everything an edge does
// goes through the S3 API with signed requests.
package s3test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Version is the SeaweedFS module version the bootstrap builds.
const Version = "v0.0.0-20261109003541-7506e5f91cd6"

// Credentials of the one identity the server knows.
const (
	AccessKey = "PICTORTESTACCESSKEY"
	SecretKey = "pictor-test-secret-key-0123456789abcdef"
)

// Server is a running weed with its S3 gateway.
type Server struct {
	Endpoint string // http://127.0.0.1:PORT, the S3 API
	filer    string
}

// Binary is where the bootstrap puts weed.
func Binary() (string, error) {
	if p := os.Getenv("PICTOR_WEED"); p != "" {
		return p, nil
	}
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "pictor", "weed-"+Version, "weed"), nil
}

// Start runs weed for this test and stops it when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := Binary()
	if err == nil {
		_, err = os.Stat(bin)
	}
	if err != nil {
		t.Fatalf("s3test: weed not found (%v): scripts/bootstrap.sh builds SeaweedFS %s", err, Version)
	}
	dir := t.TempDir()
	cfg, _ := json.Marshal(map[string]any{"identities": []any{map[string]any{
		"name": "pictor", "credentials": []any{map[string]string{"accessKey": AccessKey, "secretKey": SecretKey}},
		"actions": []string{"Admin", "Read", "Write", "List", "Tagging"},
	}}})
	cfgPath := filepath.Join(dir, "s3.json")
	if err := os.WriteFile(cfgPath, cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	// weed's gRPC ports are its HTTP ports + 10000: keep both free.
	ports := freePorts(t, 4)
	logPath := filepath.Join(dir, "weed.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	// Each bucket is a collection that grows 7 (sparse) volumes when first
	// written: room for several buckets per server.
	cmd := exec.Command(bin, "server", "-dir="+filepath.Join(dir, "data"), "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
		"-master.port="+strconv.Itoa(ports[0]), "-volume.port="+strconv.Itoa(ports[1]), "-volume.max=64", "-master.volumeSizeLimitMB=64",
		"-filer", "-filer.port="+strconv.Itoa(ports[2]), "-s3", "-s3.port="+strconv.Itoa(ports[3]), "-s3.config="+cfgPath)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("s3test: start weed: %v", err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
	})
	s := &Server{Endpoint: "http://127.0.0.1:" + strconv.Itoa(ports[3]), filer: "http://127.0.0.1:" + strconv.Itoa(ports[2])}
	// Ready when the S3 API answers and the filer takes a write.
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(s.Endpoint + "/")
		if err == nil {
			resp.Body.Close()
			if s.put("/.pictor-ready", []byte("ok")) == nil {
				return s
			}
		}
		if time.Now().After(deadline) {
			out, _ := os.ReadFile(logPath)
			t.Fatalf("s3test: weed not ready in 60 s\n%s", tail(out))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// Put stores body as key in bucket (created when missing).
func (s *Server) Put(t testing.TB, bucket, key string, body []byte) {
	t.Helper()
	if err := s.put("/buckets/"+bucket+"/"+strings.TrimPrefix(key, "/"), body); err != nil {
		t.Fatalf("s3test: put %s/%s: %v", bucket, key, err)
	}
}

func (s *Server) put(path string, body []byte) error {
	req, err := http.NewRequest(http.MethodPut, s.filer+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("filer answered %d", resp.StatusCode)
	}
	return nil
}

// freePorts finds n free ports below 55000, whose +10000 is free too.
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	var out []int
	var held []net.Listener
	defer func() {
		for _, l := range held {
			l.Close()
		}
	}()
	for len(out) < n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, l)
		p := l.Addr().(*net.TCPAddr).Port
		if p >= 55000 {
			continue
		}
		g, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p+10000))
		if err != nil {
			continue
		}
		held = append(held, g)
		out = append(out, p)
	}
	return out
}

func tail(b []byte) string {
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}
