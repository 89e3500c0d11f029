package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"io/fs"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"pictor/services/internal/azuretest"
	"pictor/services/internal/pgtest"
	"pictor/services/internal/redistest"
	"pictor/services/internal/s3test"
	"pictor/services/internal/signing"
)

// binDirEnv names the directory holding prebuilt controlplane and edge binaries.
const binDirEnv = "PICTOR_E2E_BIN_DIR"

// photoDir holds the sample photos of Debian's mate-backgrounds package.
const photoDir = "/usr/share/backgrounds/mate"

func TestMain(m *testing.M) {
	code := pgtest.Main(m)
	if builtDir != "" {
		os.RemoveAll(builtDir)
	}
	os.Exit(code)
}

// ---------------------------------------------------------------- binaries

var (
	buildOnce sync.Once
	builtDir  string
	buildErr  error
)

// binaries returns the directory holding the controlplane and edge binaries,
// building them on first use when PICTOR_E2E_BIN_DIR is not set.
func binaries(t *testing.T) string {
	t.Helper()
	if dir := os.Getenv(binDirEnv); dir != "" {
		for _, name := range []string{"controlplane", "edge"} {
			if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
				t.Fatalf("%s=%s: %v", binDirEnv, dir, err)
			}
		}
		return dir
	}
	buildOnce.Do(func() {
		builtDir, buildErr = os.MkdirTemp("", "pictor-e2e-bin-")
		if buildErr != nil {
			return
		}
		root, err := filepath.Abs(filepath.Join("..", ".."))
		if err != nil {
			buildErr = err
			return
		}
		for _, name := range []string{"controlplane", "edge"} {
			// Build inside the service's own module, so this works with
			// and without the workspace (GOWORK=off).
			cmd := exec.Command("go", "build", "-o", filepath.Join(builtDir, name), "./cmd/"+name)
			cmd.Dir = filepath.Join(root, "services", name)
			out, err := cmd.CombinedOutput()
			if err != nil {
				buildErr = fmt.Errorf("go build %s: %v\n%s", name, err, out)
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatalf("build binaries: %v", buildErr)
	}
	t.Logf("built controlplane and edge into %s (set %s to reuse prebuilt ones)", builtDir, binDirEnv)
	return builtDir
}

// ---------------------------------------------------------------- processes

// proc is one service process; its output goes to a log file that the test
// prints when it fails.
type proc struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	exited  chan struct{}
	waitErr error
}

// startProc starts bin with args and env (added to a copy of the test's
// environment without PICTOR_ variables) and stops it when the test ends.
func startProc(t *testing.T, name, bin string, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, logPath: filepath.Join(t.TempDir(), name+".log"), exited: make(chan struct{})}
	logFile, err := os.Create(p.logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = append(cleanEnv(), env...)
	p.cmd.Stdout, p.cmd.Stderr = logFile, logFile
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		p.waitErr = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.stop(t)
		if t.Failed() {
			p.dumpLog(t)
		}
	})
	return p
}

func (p *proc) running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// stop sends SIGTERM, then SIGKILL after 10 s.
func (p *proc) stop(t *testing.T) {
	if !p.running() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		t.Errorf("%s did not stop within 10s of SIGTERM; killing it", p.name)
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

func (p *proc) dumpLog(t *testing.T) {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		t.Logf("%s log: %v", p.name, err)
		return
	}
	const max = 16 << 10
	if len(b) > max {
		b = append([]byte("…\n"), b[len(b)-max:]...)
	}
	t.Logf("----- %s log (%s) -----\n%s----- end of %s log -----", p.name, p.logPath, b, p.name)
}

// cleanEnv is the test's environment without PICTOR_* settings, so a
// developer's shell cannot steer the services away from what the test gives.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PICTOR_") {
			env = append(env, kv)
		}
	}
	return env
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// ---------------------------------------------------------------- HTTP

var client = &http.Client{Timeout: 30 * time.Second}

type response struct {
	status int
	header http.Header
	body   []byte
}

func do(t *testing.T, method, rawURL string, body any, setup func(*http.Request)) response {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, rawURL, r)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if setup != nil {
		setup(req)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, rawURL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, rawURL, err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

func get(t *testing.T, rawURL string) response {
	t.Helper()
	return do(t, http.MethodGet, rawURL, nil, nil)
}

// waitStatus polls rawURL until it answers want, failing the test after
// timeout or as soon as one of procs exits.
func waitStatus(t *testing.T, rawURL string, want int, timeout time.Duration, procs ...*proc) response {
	t.Helper()
	return waitStatusFunc(t, func(int) string { return rawURL }, want, timeout, procs...)
}

// waitStatusFunc is waitStatus with the URL of the n-th attempt given by urlFor.
func waitStatusFunc(t *testing.T, urlFor func(n int) string, want int, timeout time.Duration, procs ...*proc) response {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last string
	for n := 0; ; n++ {
		rawURL := urlFor(n)
		resp, err := client.Get(rawURL)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == want {
				return response{status: resp.StatusCode, header: resp.Header, body: b}
			}
			last = fmt.Sprintf("HTTP %d %q", resp.StatusCode, truncate(b))
		} else {
			last = err.Error()
		}
		for _, p := range procs {
			if !p.running() {
				t.Fatalf("%s exited (%v) while waiting for %s to answer %d; last: %s", p.name, p.waitErr, rawURL, want, last)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not answer %d within %v; last: %s", rawURL, want, timeout, last)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func truncate(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "…"
	}
	return string(b)
}

// ---------------------------------------------------------------- fixtures

// emptyDatabase creates an empty database on the pgtest server (so the
// control plane's own `migrate up` has something to do) and drops it at the
// end of the test.
func emptyDatabase(t *testing.T) string {
	t.Helper()
	// pgtest hands out migrated databases; its server URL is the same with
	// the path swapped, and it connects as a superuser.
	u, err := url.Parse(pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	admin := *u
	admin.Path = "/postgres"
	name := "pictor_e2e_" + randomHex(t, 6)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin.String())
	if err != nil {
		t.Fatalf("connect to %s: %v", admin.Redacted(), err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, admin.String())
		if err != nil {
			t.Errorf("drop database %s: %v", name, err)
			return
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	db := *u
	db.Path = "/" + name
	return db.String()
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// generatedJPEG is a 1200×800 JPEG with a gradient, so resizing has real
// content to work on.
func generatedJPEG(t *testing.T) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 1200, 800))
	for y := 0; y < 800; y++ {
		for x := 0; x < 1200; x++ {
			img.Set(x, y, color.RGBA{R: uint8(x * 255 / 1199), G: uint8(y * 255 / 799), B: uint8((x + y) % 256), A: 255})
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// samplePhoto returns one JPEG from mate-backgrounds, preferring
// nature/Garden.jpg; "" when the package is not installed.
func samplePhoto() string {
	preferred := filepath.Join(photoDir, "nature", "Garden.jpg")
	if _, err := os.Stat(preferred); err == nil {
		return preferred
	}
	var found string
	_ = filepath.WalkDir(photoDir, func(path string, d fs.DirEntry, err error) error {
		if found != "" {
			return fs.SkipAll
		}
		if err != nil {
			return nil // unreadable entries are just not candidates
		}
		if !d.IsDir() && strings.HasSuffix(d.Name(), ".jpg") {
			found = path
		}
		return nil
	})
	return found
}

// webOnlyJPEG is a 640×480 image only the web server has.
var webOnlyJPEG = func() []byte {
	img := image.NewGray(image.Rect(0, 0, 640, 480))
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, nil); err != nil {
		panic(err)
	}
	return buf.Bytes()
}()

// originServer is the customer's web server: /photos/generated.jpg,
// /photos/web-only.jpg (640×480), /photos/real.jpg (when a sample photo
// exists), a font for text overlays (/fonts/Brand.ttf, Debian's DejaVu
// Serif), 404 for everything else.
func originServer(t *testing.T, generated []byte, realPath string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/photos/generated.jpg":
			w.Header().Set("Content-Type", "image/jpeg")
			_, _ = w.Write(generated)
		case "/photos/real.jpg":
			if realPath == "" {
				http.NotFound(w, r)
				return
			}
			http.ServeFile(w, r, realPath)
		case "/photos/web-only.jpg":
			_, _ = w.Write(webOnlyJPEG)
		case "/fonts/Brand.ttf":
			http.ServeFile(w, r, "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf")
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// ---------------------------------------------------------------- the test

// TestImageThroughEdge: account and origin created through the APIs, then
// an image fetched from the origin, resized by the edge and checked.
func TestImageThroughEdge(t *testing.T) {
	bin := binaries(t)

	dbURL := emptyDatabase(t)
	redisAddr := redistest.Start(t)
	httpAddr, grpcAddr, edgeAddr := freeAddr(t), freeAddr(t), freeAddr(t)
	adminToken := "e2e-admin-" + randomHex(t, 8)
	common := []string{
		"PICTOR_DATABASE_URL=" + dbURL,
		"PICTOR_ADMIN_TOKEN=" + adminToken,
		"PICTOR_MASTER_KEY=" + randomHex(t, 32),
		"PICTOR_EDGE_TOKEN=" + randomHex(t, 32),
		"PICTOR_ALLOW_PRIVATE_ORIGINS=true",
		"PICTOR_LOG_LEVEL=debug",
	}
	cpURL, edgeURL := "http://"+httpAddr, "http://"+edgeAddr

	// The control plane's own CLI migrates the empty database.
	migrate := exec.Command(filepath.Join(bin, "controlplane"), "migrate", "up")
	migrate.Env = append(cleanEnv(), common...)
	if out, err := migrate.CombinedOutput(); err != nil {
		t.Fatalf("controlplane migrate up: %v\n%s", err, out)
	}

	cp := startProc(t, "controlplane", filepath.Join(bin, "controlplane"), append(common,
		"PICTOR_HTTP_ADDR="+httpAddr,
		"PICTOR_GRPC_ADDR="+grpcAddr,
		"PICTOR_PUBLIC_EDGE_URL="+edgeURL,
	), "serve")
	waitStatus(t, cpURL+"/healthz", http.StatusOK, 30*time.Second, cp)

	// The edge learns where Azure accounts and Amazon S3 live: here,
	// Azurite and SeaweedFS.
	azure, store := azuretest.Start(t), s3test.Start(t)
	edge := startProc(t, "edge", filepath.Join(bin, "edge"), append(common,
		"PICTOR_EDGE_ADDR="+edgeAddr,
		"PICTOR_CONTROL_PLANE_ADDR="+grpcAddr,
		"PICTOR_NODE_ID=e2e-edge-1",
		"PICTOR_EDGE_DATA_DIR="+t.TempDir(),
		"PICTOR_REDIS_ADDRS="+redisAddr,
		"PICTOR_AZURE_BLOB_URL="+azure.URLTemplate,
		"PICTOR_S3_URL="+store.Endpoint,
	))
	waitStatus(t, edgeURL+"/healthz", http.StatusOK, 30*time.Second, edge)

	generated := generatedJPEG(t)
	realPhoto := samplePhoto()
	origin := originServer(t, generated, realPhoto)

	// Admin API: create the account.
	const account = "e2e-shop"
	bearer := func(token string) func(*http.Request) {
		return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+token) }
	}
	accountBody := map[string]any{"id": account, "name": "E2E Shop", "ownerEmail": "owner@e2e.example"}
	if r := do(t, http.MethodPost, cpURL+"/admin/v1/accounts", accountBody, bearer("wrong-token")); r.status != http.StatusUnauthorized {
		t.Errorf("create account with a wrong admin token: HTTP %d %s, want 401", r.status, truncate(r.body))
	}
	r := do(t, http.MethodPost, cpURL+"/admin/v1/accounts", accountBody, bearer(adminToken))
	if r.status != http.StatusCreated {
		t.Fatalf("create account: HTTP %d %s, want 201", r.status, truncate(r.body))
	}
	var created struct {
		Account struct {
			ID string `json:"id"`
		} `json:"account"`
		PrivateKey string `json:"privateKey"`
	}
	if err := json.Unmarshal(r.body, &created); err != nil {
		t.Fatalf("create account: decode %s: %v", truncate(r.body), err)
	}
	if created.Account.ID != account || created.PrivateKey == "" {
		t.Fatalf("create account: got account.id %q and privateKey %q in %s", created.Account.ID, created.PrivateKey, truncate(r.body))
	}

	// Account API (HTTP Basic, private key as the username): add the origin.
	basic := func(r *http.Request) { r.SetBasicAuth(created.PrivateKey, "") }
	r = do(t, http.MethodPost, cpURL+"/v1/accounts/origins", map[string]any{
		"type": "WEB_FOLDER", "name": "E2E origin", "baseUrl": origin.URL,
	}, basic)
	if r.status != http.StatusCreated && r.status != http.StatusOK {
		t.Fatalf("create origin: HTTP %d %s, want 201", r.status, truncate(r.body))
	}
	var originResp struct {
		ID      string `json:"id"`
		BaseURL string `json:"baseUrl"`
	}
	if err := json.Unmarshal(r.body, &originResp); err != nil || originResp.ID == "" {
		t.Fatalf("create origin: no id in %s (%v)", truncate(r.body), err)
	}
	if originResp.BaseURL != origin.URL {
		t.Errorf("create origin: baseUrl %q, want %q as sent", originResp.BaseURL, origin.URL)
	}

	// The edge is ready once it holds a config; the account and its origin
	// reach it through the Watch stream shortly after they are written. Until
	// the origin arrives an image is "not found", and the edge remembers a
	// 404 for a while, so the wait polls a fresh cache key each time (a
	// forwarded query parameter is part of the key) and the checks below use
	// URLs never asked before.
	waitStatus(t, edgeURL+"/readyz", http.StatusOK, 30*time.Second, edge)
	waitStatusFunc(t, func(n int) string {
		return fmt.Sprintf("%s/%s/tr:w-300/photos/generated.jpg?e2e-probe=%d", edgeURL, account, n)
	}, http.StatusOK, 30*time.Second, edge, cp)

	t.Run("path transformation", func(t *testing.T) {
		checkJPEG(t, get(t, edgeURL+"/"+account+"/tr:w-300/photos/generated.jpg"), 300, 1200, 800)
	})
	t.Run("query transformation", func(t *testing.T) {
		checkJPEG(t, get(t, edgeURL+"/"+account+"/photos/generated.jpg?tr=w-300"), 300, 1200, 800)
	})
	t.Run("real photo", func(t *testing.T) {
		if realPhoto == "" {
			t.Fatalf("no sample photo under %s: scripts/bootstrap.sh installs mate-backgrounds", photoDir)
		}
		f, err := os.Open(realPhoto)
		if err != nil {
			t.Fatal(err)
		}
		src, _, err := image.DecodeConfig(f)
		f.Close()
		if err != nil {
			t.Fatalf("decode %s: %v", realPhoto, err)
		}
		checkJPEG(t, get(t, edgeURL+"/"+account+"/tr:w-300/photos/real.jpg"), 300, src.Width, src.Height)
	})
	t.Run("missing image is 404", func(t *testing.T) {
		if r := get(t, edgeURL+"/"+account+"/tr:w-300/photos/missing.jpg"); r.status != http.StatusNotFound {
			t.Errorf("HTTP %d %s, want 404", r.status, truncate(r.body))
		}
	})
	t.Run("bad transformation is 400", func(t *testing.T) {
		if r := get(t, edgeURL+"/"+account+"/tr:w-abc/photos/generated.jpg"); r.status != http.StatusBadRequest {
			t.Errorf("HTTP %d %s, want 400", r.status, truncate(r.body))
		}
	})
	t.Run("origin types created by ImageKit's Node SDK", func(t *testing.T) {
		testOriginTypes(t, stack{cpURL: cpURL, edgeURL: edgeURL, account: account, privateKey: created.PrivateKey,
			web: origin, webID: originResp.ID, store: store, azure: azure, procs: []*proc{cp, edge}})
	})
	t.Run("URLs built by ImageKit's SDKs", func(t *testing.T) {
		for _, u := range sdkURLs(t, edgeURL+"/"+account, created.PrivateKey, "/photos/generated.jpg") {
			t.Run(u.Name, func(t *testing.T) {
				want := u.Width
				if want == 0 {
					want = 1200
				}
				r := get(t, u.URL)
				checkJPEG(t, r, want, 1200, 800)
				if p := u.Probe; p != nil && r.status == http.StatusOK {
					img, err := jpeg.Decode(bytes.NewReader(r.body))
					if err != nil {
						t.Fatal(err)
					}
					c := color.RGBAModel.Convert(img.At(p.X, p.Y)).(color.RGBA)
					got := [3]int{int(c.R), int(c.G), int(c.B)}
					for i := range got {
						if d := got[i] - p.RGB[i]; d > 24 || d < -24 {
							t.Errorf("%s: pixel (%d,%d) is %v, want %v: the overlay is not where the SDK put it", u.URL, p.X, p.Y, got, p.RGB)
							break
						}
					}
				}
			})
		}
	})
	t.Run("bad signatures are 401", func(t *testing.T) {
		base := edgeURL + "/" + account + "/photos/generated.jpg"
		future := strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10)
		past := strconv.FormatInt(time.Now().Add(-time.Hour).Unix(), 10)
		good := signing.Sign([]byte(created.PrivateKey), "photos/generated.jpg?tr=w-240", future)
		for name, u := range map[string]string{
			"valid":     base + "?tr=w-240&ik-t=" + future + "&ik-s=" + good,
			"tampered":  base + "?tr=w-241&ik-t=" + future + "&ik-s=" + good,
			"expired":   base + "?tr=w-240&ik-t=" + past + "&ik-s=" + signing.Sign([]byte(created.PrivateKey), "photos/generated.jpg?tr=w-240", past),
			"wrong key": base + "?tr=w-240&ik-t=" + future + "&ik-s=" + signing.Sign([]byte("private_other"), "photos/generated.jpg?tr=w-240", future),
		} {
			want := http.StatusUnauthorized
			if name == "valid" {
				want = http.StatusOK
			}
			if r := get(t, u); r.status != want {
				t.Errorf("%s: HTTP %d %s, want %d", name, r.status, truncate(r.body), want)
			}
		}
	})
	t.Run("healthz", func(t *testing.T) {
		for _, u := range []string{cpURL + "/healthz", edgeURL + "/healthz"} {
			if r := get(t, u); r.status != http.StatusOK {
				t.Errorf("%s: HTTP %d, want 200", u, r.status)
			}
		}
	})
}

// checkJPEG asserts a 200 JPEG exactly wantWidth wide whose height keeps the
// source's aspect ratio (±1 px for rounding).
func checkJPEG(t *testing.T, r response, wantWidth, srcWidth, srcHeight int) {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("HTTP %d %s, want 200", r.status, truncate(r.body))
	}
	if ct := r.header.Get("Content-Type"); ct != "image/jpeg" {
		t.Errorf("Content-Type %q, want image/jpeg", ct)
	}
	if cl := r.header.Get("Content-Length"); cl != "" && cl != strconv.Itoa(len(r.body)) {
		t.Errorf("Content-Length %s, body has %d bytes", cl, len(r.body))
	}
	img, err := jpeg.Decode(bytes.NewReader(r.body))
	if err != nil {
		t.Fatalf("body is not a JPEG: %v", err)
	}
	w, h := img.Bounds().Dx(), img.Bounds().Dy()
	wantHeight := float64(wantWidth) * float64(srcHeight) / float64(srcWidth)
	if w != wantWidth || math.Abs(float64(h)-wantHeight) > 1 {
		t.Errorf("got %d×%d, want %d×%.0f (±1 px) from a %d×%d source", w, h, wantWidth, wantHeight, srcWidth, srcHeight)
	}
}

type sdkURL struct {
	Name  string `json:"name"`
	URL   string `json:"url"`
	Width int    `json:"width"`
	// Probe is a pixel an overlay must have painted.
	Probe *struct {
		X, Y int
		RGB  [3]int
	} `json:"probe"`
}

// sdkScripts returns node and the directory of the scripts that drive
// ImageKit's SDKs (scripts/e2e/sdk), installing the pinned packages first
// when needed.
func sdkScripts(t *testing.T) (node, dir string) {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is required (Node >= 20): %v", err)
	}
	if dir, err = filepath.Abs("sdk"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@imagekit", "nodejs")); err != nil {
		install := exec.Command("npm", "ci", "--no-audit", "--no-fund")
		install.Dir = dir
		if out, err := install.CombinedOutput(); err != nil {
			t.Fatalf("npm ci in %s: %v\n%s", dir, err, out)
		}
	}
	return node, dir
}

// sdkURLs asks ImageKit's own SDKs (scripts/e2e/sdk) for image URLs on the
// given URL-endpoint, installing the pinned packages first when needed.
func sdkURLs(t *testing.T, urlEndpoint, privateKey, src string) []sdkURL {
	t.Helper()
	node, dir := sdkScripts(t)
	cmd := exec.Command(node, "urls.mjs", urlEndpoint, privateKey, src)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node urls.mjs: %v", err)
	}
	var urls []sdkURL
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var u sdkURL
		if err := json.Unmarshal([]byte(line), &u); err != nil {
			t.Fatalf("node urls.mjs printed %q: %v", line, err)
		}
		urls = append(urls, u)
	}
	if len(urls) < 5 {
		t.Fatalf("node urls.mjs printed %d URLs, want at least 5", len(urls))
	}
	return urls
}
