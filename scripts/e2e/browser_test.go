package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"pictor/services/internal/redistest"
	"pictor/services/internal/s3test"
)

// chromiumPath is Debian's Chromium, which scripts/bootstrap.sh installs;
// the browser test never uses a browser that Playwright downloads.
const chromiumPath = "/usr/bin/chromium"

// TestDashboardInBrowser starts the whole stack as processes, with the
// dashboard embedded in the control plane, and runs web/e2e/dashboard.mjs:
// Chromium driven by playwright-core signs up, adds origins, builds and
// previews image URLs served by the edge, orders an endpoint's origins,
// creates and revokes a key, purges, and visits every page. Screenshots go
// to artifacts/dashboard/ at the repository root (git-ignored).
//
// scripts/test.sh runs it as its own step ("browser tests") after the
// end-to-end step, which leaves it out with -skip.
func TestDashboardInBrowser(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("%s is required (Debian's chromium package; scripts/bootstrap.sh installs it): %v", chromiumPath, err)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is required (Node >= 20): %v", err)
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	webDir := filepath.Join(root, "web")
	if _, err := os.Stat(filepath.Join(webDir, "node_modules", "playwright-core")); err != nil {
		t.Fatalf("web/node_modules has no playwright-core: run `npm ci` in web/ (scripts/bootstrap.sh does): %v", err)
	}
	bin := binaries(t)

	dbURL := emptyDatabase(t)
	redisAddr := redistest.Start(t)
	httpAddr, grpcAddr, edgeAddr := freeAddr(t), freeAddr(t), freeAddr(t)
	cpURL, edgeURL := "http://"+httpAddr, "http://"+edgeAddr
	const egress = "203.0.113.10,2001:db8:7::/48"
	common := []string{
		"PICTOR_DATABASE_URL=" + dbURL,
		"PICTOR_ADMIN_TOKEN=browser-admin-" + randomHex(t, 8),
		"PICTOR_MASTER_KEY=" + randomHex(t, 32),
		"PICTOR_EDGE_TOKEN=" + randomHex(t, 32),
		"PICTOR_ALLOW_PRIVATE_ORIGINS=true",
	}
	migrate := exec.Command(filepath.Join(bin, "controlplane"), "migrate", "up")
	migrate.Env = append(cleanEnv(), common...)
	if out, err := migrate.CombinedOutput(); err != nil {
		t.Fatalf("controlplane migrate up: %v\n%s", err, out)
	}
	cp := startProc(t, "controlplane", filepath.Join(bin, "controlplane"), append(common,
		"PICTOR_HTTP_ADDR="+httpAddr,
		"PICTOR_GRPC_ADDR="+grpcAddr,
		"PICTOR_PUBLIC_EDGE_URL="+edgeURL,
		"PICTOR_SIGNUP_ENABLED=true",
		"PICTOR_EDGE_EGRESS_ADDRESSES="+egress,
	), "serve")
	edge := startProc(t, "edge", filepath.Join(bin, "edge"), append(common,
		"PICTOR_EDGE_ADDR="+edgeAddr,
		"PICTOR_CONTROL_PLANE_ADDR="+grpcAddr,
		"PICTOR_NODE_ID=browser-edge-1",
		// Usage (and the delivery errors the Not-found help page lists)
		// reaches the control plane within a second or so.
		"PICTOR_USAGE_INTERVAL=1s",
		"PICTOR_EDGE_DATA_DIR="+t.TempDir(),
		"PICTOR_REDIS_ADDRS="+redisAddr,
	))
	waitStatus(t, cpURL+"/healthz", http.StatusOK, 30*time.Second, cp)
	waitStatus(t, edgeURL+"/healthz", http.StatusOK, 30*time.Second, edge)
	origin := originServer(t, generatedJPEG(t), samplePhoto())
	origin2 := originServer(t, generatedJPEG(t), "")
	store := s3test.Start(t)
	store.Put(t, "images", "site/photos/generated.jpg", generatedJPEG(t))

	// The control plane must embed the built dashboard, not the placeholder.
	page := do(t, http.MethodGet, cpURL+"/", nil, func(r *http.Request) { r.Header.Set("Accept", "text/html") })
	if page.status != http.StatusOK {
		t.Fatalf("GET / on the control plane: HTTP %d %s", page.status, truncate(page.body))
	}
	if strings.Contains(string(page.body), "not built yet") {
		t.Fatalf("the control plane in %s serves the dashboard placeholder: build the dashboard first (cd web && npm ci && npm run build), then the binaries (scripts/build.sh does both)", bin)
	}

	artifacts := filepath.Join(root, "artifacts", "dashboard")
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join("e2e", "dashboard.mjs"))
	cmd.Dir = webDir
	cmd.Env = append(cleanEnv(),
		"PICTOR_DASHBOARD_URL="+cpURL,
		"PICTOR_EDGE_URL="+edgeURL,
		"PICTOR_ORIGIN_URL="+origin.URL,
		"PICTOR_ORIGIN2_URL="+origin2.URL,
		"PICTOR_S3_ENDPOINT="+store.Endpoint,
		"PICTOR_S3_ACCESS_KEY="+s3test.AccessKey,
		"PICTOR_S3_SECRET_KEY="+s3test.SecretKey,
		"PICTOR_EGRESS="+egress,
		"PICTOR_ARTIFACTS_DIR="+artifacts,
		"PICTOR_CHROMIUM="+chromiumPath,
	)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = 10 * time.Second
	start := time.Now()
	runErr := cmd.Run()
	t.Logf("node e2e/dashboard.mjs (%.1fs):\n%s", time.Since(start).Seconds(), out.String())
	if runErr != nil {
		t.Fatalf("the dashboard browser test failed: %v (screenshots in %s)", runErr, artifacts)
	}
	for _, p := range []*proc{cp, edge} {
		if !p.running() {
			t.Errorf("%s exited during the browser test: %v", p.name, p.waitErr)
		}
	}
	if entries, err := os.ReadDir(artifacts); err != nil || len(entries) < 10 {
		t.Errorf("expected a screenshot of each page in %s, found %d (%v)", artifacts, len(entries), err)
	} else {
		t.Log(fmt.Sprintf("%d screenshots in %s", len(entries), artifacts))
	}
}
