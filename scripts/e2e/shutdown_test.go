package e2e

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestEdgeDrainsOnSIGTERM: requests in flight when the edge is told to stop
// all complete, and the process then exits cleanly.
func TestEdgeDrainsOnSIGTERM(t *testing.T) {
	bin := binaries(t)
	jpg := generatedJPEG(t)
	// A slow origin keeps every request in flight across the signal.
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(1500 * time.Millisecond)
		w.Write(jpg)
	}))
	defer origin.Close()
	cfg := filepath.Join(t.TempDir(), "pictor.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`accounts:
  - id: drain
    status: active
    origins: [{id: o, type: WEB_FOLDER, name: slow, baseUrl: %q}]
    endpoints: [{id: default, urlPrefix: "", originIds: [o]}]
`, origin.URL)), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	edge := startProc(t, "edge", filepath.Join(bin, "edge"), []string{
		"PICTOR_EDGE_ADDR=" + addr, "PICTOR_ALLOW_PRIVATE_ORIGINS=true", "PICTOR_SHUTDOWN_TIMEOUT=20s",
	}, "--config", cfg)
	waitStatus(t, "http://"+addr+"/readyz", http.StatusOK, 30*time.Second, edge)

	const n = 8
	var wg sync.WaitGroup
	statuses := make([]int, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			// Distinct variants and paths: no coalescing, n separate fetches.
			resp, err := http.Get(fmt.Sprintf("http://%s/drain/tr:w-%d/img%d.jpg", addr, 100+i, i))
			if err != nil {
				statuses[i] = -1
				return
			}
			resp.Body.Close()
			statuses[i] = resp.StatusCode
		}(i)
	}
	time.Sleep(500 * time.Millisecond) // all n are waiting on the origin now
	if err := edge.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	for i, s := range statuses {
		if s != http.StatusOK {
			t.Errorf("request %d in flight at SIGTERM: status %d, want 200", i, s)
		}
	}
	select {
	case <-edge.exited:
		if edge.waitErr != nil {
			t.Errorf("edge exited with %v after SIGTERM, want a clean exit", edge.waitErr)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("edge did not exit after draining")
	}
	if _, err := http.Get("http://" + addr + "/healthz"); err == nil {
		t.Error("edge still accepts connections after shutdown")
	}
}
