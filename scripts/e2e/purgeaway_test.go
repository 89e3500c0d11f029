package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"pictor/services/internal/redistest"
)

// TestPurgeWhileEdgeAway (issue 17): an edge loses its config stream
// while it holds a variant in L1 and another edge has put a second variant
// in the shared Redis. The image changes at the origin and is purged while
// the edge is away. The edge still serves the old bytes while it has not
// heard (it cannot know), resumes with a delta when the stream comes back
// (no whole snapshot), and then serves the new image for both variants:
// neither its L1 entry nor the Redis one outlives the purge.
func TestPurgeWhileEdgeAway(t *testing.T) {
	bin := binaries(t)
	dbURL := emptyDatabase(t)
	redisAddr := redistest.Start(t)
	httpAddr, grpcAddr := freeAddr(t), freeAddr(t)
	awayAddr, stayAddr := freeAddr(t), freeAddr(t)
	cpURL, awayURL, stayURL := "http://"+httpAddr, "http://"+awayAddr, "http://"+stayAddr
	adminToken := "e2e-admin-" + randomHex(t, 8)
	common := []string{
		"PICTOR_DATABASE_URL=" + dbURL,
		"PICTOR_ADMIN_TOKEN=" + adminToken,
		"PICTOR_MASTER_KEY=" + randomHex(t, 32),
		"PICTOR_EDGE_TOKEN=" + randomHex(t, 32),
		"PICTOR_ALLOW_PRIVATE_ORIGINS=true",
	}
	migrate := startProc(t, "controlplane migrate", filepath.Join(bin, "controlplane"), common, "migrate", "up")
	<-migrate.exited
	if migrate.waitErr != nil {
		migrate.dumpLog(t)
		t.Fatalf("controlplane migrate up: %v", migrate.waitErr)
	}
	cp := startProc(t, "controlplane", filepath.Join(bin, "controlplane"), append(common,
		"PICTOR_HTTP_ADDR="+httpAddr, "PICTOR_GRPC_ADDR="+grpcAddr, "PICTOR_PUBLIC_EDGE_URL="+awayURL), "serve")
	waitStatus(t, cpURL+"/healthz", http.StatusOK, 30*time.Second, cp)

	link := newCuttableProxy(t, grpcAddr)
	startEdge := func(name, addr, cpAddr string) *proc {
		p := startProc(t, name, filepath.Join(bin, "edge"), append(common,
			"PICTOR_EDGE_ADDR="+addr, "PICTOR_CONTROL_PLANE_ADDR="+cpAddr, "PICTOR_NODE_ID="+name,
			"PICTOR_EDGE_DATA_DIR="+t.TempDir(), "PICTOR_REDIS_ADDRS="+redisAddr, "PICTOR_LOG_LEVEL=debug"))
		waitStatus(t, "http://"+addr+"/healthz", http.StatusOK, 30*time.Second, p)
		return p
	}
	away := startEdge("edge-away", awayAddr, link.addr())
	stay := startEdge("edge-stay", stayAddr, grpcAddr)

	// The origin's photo.jpg: 1200×900 before, 1200×600 after the change,
	// so a 300-wide variant is 225 or 150 high.
	oldJPEG, newJPEG := sizedJPEG(t, 1200, 900), sizedJPEG(t, 1200, 600)
	var current atomic.Pointer[[]byte]
	current.Store(&oldJPEG)
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/photo.jpg" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "image/jpeg")
		w.Write(*current.Load())
	}))
	t.Cleanup(origin.Close)

	const account = "away"
	r := do(t, http.MethodPost, cpURL+"/admin/v1/accounts",
		map[string]any{"id": account, "name": "Away", "ownerEmail": "owner@away.example"},
		func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+adminToken) })
	var created struct {
		PrivateKey string `json:"privateKey"`
	}
	if err := json.Unmarshal(r.body, &created); r.status != http.StatusCreated || err != nil || created.PrivateKey == "" {
		t.Fatalf("create account: HTTP %d %s", r.status, truncate(r.body))
	}
	basic := func(r *http.Request) { r.SetBasicAuth(created.PrivateKey, "") }
	if r := do(t, http.MethodPost, cpURL+"/v1/accounts/origins",
		map[string]any{"type": "WEB_FOLDER", "name": "web", "baseUrl": origin.URL}, basic); r.status/100 != 2 {
		t.Fatalf("create origin: HTTP %d %s", r.status, truncate(r.body))
	}
	for _, e := range []struct {
		url string
		p   *proc
	}{{awayURL, away}, {stayURL, stay}} {
		// A fresh query each time: a 404 from before the origin arrived is cached.
		waitStatusFunc(t, func(n int) string { return fmt.Sprintf("%s/%s/photo.jpg?probe=%d", e.url, account, n) },
			http.StatusOK, 30*time.Second, e.p, cp)
	}

	inL1 := awayURL + "/" + account + "/tr:w-300/photo.jpg"
	inRedis := "/" + account + "/tr:w-400/photo.jpg"
	servedAs(t, inL1, 300, 225, "MISS")
	servedAs(t, inL1, 300, 225, "HIT-L1")
	servedAs(t, stayURL+inRedis, 400, 300, "MISS")
	waitCache(t, awayURL+inRedis, "HIT-L2") // stored in Redis after the other edge answered
	// The away edge now holds w-400 in its L1 too; drop it from there by
	// asking the test's question of Redis alone: a variant the away edge
	// never served.
	inRedisOnly := "/" + account + "/tr:w-500/photo.jpg"
	servedAs(t, stayURL+inRedisOnly, 500, 375, "MISS")
	waitCache(t, stayURL+inRedisOnly, "HIT-L1")

	link.cut()
	waitMetric(t, awayURL, "pictor_edge_control_plane_connected", 0, 10*time.Second, away)
	before, _ := metric(t, awayURL, "pictor_edge_config_version")
	logAt := logSize(t, away)

	current.Store(&newJPEG)
	r = do(t, http.MethodPost, cpURL+"/v1/files/purge", map[string]any{"url": awayURL + "/" + account + "/photo.jpg"}, basic)
	if r.status/100 != 2 {
		t.Fatalf("purge: HTTP %d %s", r.status, truncate(r.body))
	}
	// The edge that stayed has the purge; the one away has not heard.
	waitMetricAbove(t, stayURL, "pictor_edge_config_version", before, 10*time.Second, stay)
	servedAs(t, inL1, 300, 225, "HIT-L1")
	if v, _ := metric(t, awayURL, "pictor_edge_config_version"); v != before {
		t.Fatalf("the edge away moved from config v%v to v%v", before, v)
	}

	link.restore()
	waitMetric(t, awayURL, "pictor_edge_control_plane_connected", 1, 30*time.Second, away)
	waitMetricAbove(t, awayURL, "pictor_edge_config_version", before, 10*time.Second, away)
	after := readLog(t, away)[logAt:]
	if !strings.Contains(after, "applied config delta") || strings.Contains(after, "applied config snapshot") {
		t.Errorf("after the reconnect the edge did not resume with a delta alone; its log since:\n%s", after)
	}

	servedAs(t, awayURL+inRedisOnly, 500, 250, "MISS")
	servedAs(t, inL1, 300, 150, "MISS")
	servedAs(t, awayURL+inRedis, 400, 200, "MISS")
}

// servedAs fetches rawURL and fails unless it is a JPEG of w×h answered
// with X-Cache: cache.
func servedAs(t *testing.T, rawURL string, w, h int, cache string) {
	t.Helper()
	r := getImage(t, rawURL, w)
	cfg, _, _ := image.DecodeConfig(bytes.NewReader(r.body))
	if cfg.Height != h || r.header.Get("X-Cache") != cache {
		t.Fatalf("GET %s: %d×%d, X-Cache %q; want %d×%d, %q", rawURL, cfg.Width, cfg.Height, r.header.Get("X-Cache"), w, h, cache)
	}
}

// waitCache polls rawURL until it answers with X-Cache: cache (a store
// after the answer takes a moment).
func waitCache(t *testing.T, rawURL, cache string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := get(t, rawURL)
		if r.status == http.StatusOK && r.header.Get("X-Cache") == cache {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: still HTTP %d X-Cache %q after 10s, want %q", rawURL, r.status, r.header.Get("X-Cache"), cache)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func waitMetricAbove(t *testing.T, baseURL, series string, floor float64, timeout time.Duration, p *proc) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if v, _ := metric(t, baseURL, series); v > floor {
			return
		}
		if !p.running() || time.Now().After(deadline) {
			t.Fatalf("%s at %s did not pass %v within %s", series, baseURL, floor, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func readLog(t *testing.T, p *proc) string {
	t.Helper()
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func logSize(t *testing.T, p *proc) int { return len(readLog(t, p)) }

// cuttableProxy forwards TCP to target until cut: then it drops every
// connection and refuses new ones (accepts and closes them) until restored.
type cuttableProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	down   bool
	conns  map[net.Conn]struct{}
}

func newCuttableProxy(t *testing.T, target string) *cuttableProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cuttableProxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	go p.serve()
	t.Cleanup(func() {
		ln.Close()
		p.cut()
	})
	return p
}

func (p *cuttableProxy) addr() string { return p.ln.Addr().String() }

func (p *cuttableProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		go p.forward(c)
	}
}

func (p *cuttableProxy) forward(c net.Conn) {
	if !p.track(c) {
		c.Close()
		return
	}
	defer p.untrack(c)
	up, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		return
	}
	if !p.track(up) {
		up.Close()
		return
	}
	defer p.untrack(up)
	done := make(chan struct{}, 2)
	go func() { io.Copy(up, c); done <- struct{}{} }()
	go func() { io.Copy(c, up); done <- struct{}{} }()
	<-done
}

func (p *cuttableProxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.down {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *cuttableProxy) untrack(c net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.conns, c)
	c.Close()
}

func (p *cuttableProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for c := range p.conns {
		c.Close()
	}
}

func (p *cuttableProxy) restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = false
}
