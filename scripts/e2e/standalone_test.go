package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"log"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"pictor/services/internal/tlstest"
)

// standaloneEdge is an edge process serving a config file, without a
// control plane. It logs JSON, so a test can read the reason the edge
// gave each refusal (X-Pictor-Error carries only the status and message).
type standaloneEdge struct {
	url  string
	proc *proc
}

// startStandaloneEdge starts an edge whose config has one account per
// entry of origins (account id → the base URL of its one origin, "o"),
// served at /{account}/{path}, with env added to its environment.
func startStandaloneEdge(t *testing.T, env []string, origins map[string]string) *standaloneEdge {
	t.Helper()
	var cfg strings.Builder
	cfg.WriteString("accounts:\n")
	for _, id := range slices.Sorted(maps.Keys(origins)) {
		fmt.Fprintf(&cfg, "  - id: %s\n    status: active\n", id)
		fmt.Fprintf(&cfg, "    origins: [{id: o, type: WEB_FOLDER, name: o, baseUrl: %q}]\n", origins[id])
		fmt.Fprintf(&cfg, "    endpoints: [{id: default, urlPrefix: \"\", originIds: [o]}]\n")
	}
	return runEdge(t, "edge", cfg.String(), env...)
}

// runEdge runs the edge binary on the snapshot in yaml (no control plane:
// `edge --config`), logging JSON, with env added, once it is ready.
func runEdge(t *testing.T, name, yaml string, env ...string) *standaloneEdge {
	t.Helper()
	file := filepath.Join(t.TempDir(), "pictor.yaml")
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	p := startProc(t, name, filepath.Join(binaries(t), "edge"),
		append([]string{"PICTOR_EDGE_ADDR=" + addr, "PICTOR_LOG_FORMAT=json"}, env...), "--config", file)
	waitStatus(t, "http://"+addr+"/readyz", http.StatusOK, 30*time.Second, p)
	return &standaloneEdge{url: "http://" + addr, proc: p}
}

// get fetches path (after the edge's address) and, for an error, the
// reason the edge logged for it ("" for a success).
func (e *standaloneEdge) get(t *testing.T, path string) (response, string) {
	t.Helper()
	r := get(t, e.url+path)
	if r.status < 400 {
		return r, ""
	}
	return r, e.reason(t, r.header.Get("X-Request-Id"))
}

// reason reads the edge's log line for request reqID: the edge writes it
// around the time it answers, so it is polled for a few seconds.
func (e *standaloneEdge) reason(t *testing.T, reqID string) string {
	t.Helper()
	if reqID == "" {
		t.Fatal("response has no X-Request-Id")
	}
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		b, err := os.ReadFile(e.proc.logPath)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range bytes.Split(b, []byte("\n")) {
			var entry struct {
				RequestID string `json:"request_id"`
				Reason    string `json:"reason"`
			}
			if json.Unmarshal(line, &entry) == nil && entry.RequestID == reqID && entry.Reason != "" {
				return entry.Reason
			}
		}
	}
	t.Fatalf("no log line with a reason for request %s", reqID)
	return ""
}

// countingListener counts the connections it accepts: a connection the
// edge refused to make leaves it at zero.
type countingListener struct {
	net.Listener
	accepted atomic.Int32
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.accepted.Add(1)
	}
	return c, err
}

// testOrigin is an origin web server on a chosen address, counting
// connections and requests.
type testOrigin struct {
	URL      string
	conns    *countingListener
	requests atomic.Int32
}

// startOrigin serves h on addr ("host:port"), over TLS with cert when
// cert.DER is set, until the test ends. Handshake errors are not logged:
// the TLS tests provoke them.
func startOrigin(t *testing.T, addr string, cert tlstest.Cert, h http.HandlerFunc) *testOrigin {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen %s: %v", addr, err)
	}
	o := &testOrigin{conns: &countingListener{Listener: l}}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.requests.Add(1)
		h(w, r)
	}))
	srv.Listener.Close()
	srv.Listener = o.conns
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	if cert.DER != nil {
		srv.TLS, _ = cert.Configs()
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	o.URL = srv.URL
	return o
}

// serveImage answers every request with img.
func serveImage(img []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/jpeg")
		w.Write(img)
	}
}

// caFiles writes ca as the only root an edge should trust: SSL_CERT_FILE
// (which Go reads on Linux) holds it, SSL_CERT_DIR points at an empty
// directory so no system root joins it. It returns the two variables.
func caFiles(t *testing.T, ca tlstest.CA) []string {
	t.Helper()
	dir := t.TempDir()
	file := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(file, ca.PEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.Mkdir(empty, 0o700); err != nil {
		t.Fatal(err)
	}
	return []string{"SSL_CERT_FILE=" + file, "SSL_CERT_DIR=" + empty}
}

// smallJPEG is a w×h JPEG of a flat colour.
func smallJPEG(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = 0x80
	}
	img.Set(0, 0, color.RGBA{R: 255, A: 255})
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, nil); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
