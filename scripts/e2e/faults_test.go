package e2e

// Fault tests against the built binaries (RELIABILITY D32, F45, G): a
// Redis whose connections are reset mid-command, a full transform queue,
// and Postgres and the control plane going away under a serving edge.
// Each asserts what a client sees over HTTP.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	_ "image/jpeg" // image.DecodeConfig of the edge's answers
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"pictor/services/internal/pgtest"
	"pictor/services/internal/redistest"
)

// ---------------------------------------------------------------- helpers

// jpegOrigin serves jpg for every path ending in .jpg after delay, and
// counts the requests it answers.
type jpegOrigin struct {
	*httptest.Server
	requests atomic.Int32
}

func newJPEGOrigin(t *testing.T, jpg []byte, delay time.Duration) *jpegOrigin {
	t.Helper()
	o := &jpegOrigin{}
	o.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.requests.Add(1)
		time.Sleep(delay)
		if !strings.HasSuffix(r.URL.Path, ".jpg") {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "image/jpeg")
		w.Write(jpg)
	}))
	t.Cleanup(o.Close)
	return o
}

// oneAccount is a standalone snapshot: account id whose default endpoint
// serves originURL.
func oneAccount(id, originURL string) string {
	return fmt.Sprintf(`accounts:
  - id: %s
    status: active
    origins: [{id: o, type: WEB_FOLDER, name: web, baseUrl: %q}]
    endpoints: [{id: default, urlPrefix: "", originIds: [o]}]
`, id, originURL)
}

// getImage fetches rawURL and fails the test unless it is a 200 JPEG
// wantWidth wide.
func getImage(t *testing.T, rawURL string, wantWidth int) response {
	t.Helper()
	r := get(t, rawURL)
	if r.status != http.StatusOK {
		t.Fatalf("GET %s: HTTP %d %q, want 200", rawURL, r.status, r.header.Get("X-Pictor-Error"))
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(r.body))
	if err != nil || format != "jpeg" || cfg.Width != wantWidth {
		t.Fatalf("GET %s: %s %d px wide (%v), want a JPEG %d wide", rawURL, format, cfg.Width, err, wantWidth)
	}
	return r
}

// metrics scrapes baseURL/metrics (Prometheus text) into a map from
// series, e.g. `pictor_edge_refused_total{reason="x"}`, to value.
func metrics(t *testing.T, baseURL string) map[string]float64 {
	t.Helper()
	r := get(t, baseURL+"/metrics")
	if r.status != http.StatusOK {
		t.Fatalf("GET %s/metrics: HTTP %d", baseURL, r.status)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(bytes.NewReader(r.body))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		i := strings.LastIndexByte(line, ' ')
		if strings.HasPrefix(line, "#") || i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("%s/metrics: %q: %v", baseURL, line, err)
		}
		out[line[:i]] = v
	}
	return out
}

// metric is one series of metrics; found is false when it is absent.
func metric(t *testing.T, baseURL, series string) (value float64, found bool) {
	t.Helper()
	value, found = metrics(t, baseURL)[series]
	return value, found
}

// waitMetric polls series until it reads want, failing after timeout or
// when one of procs exits.
func waitMetric(t *testing.T, baseURL, series string, want float64, timeout time.Duration, procs ...*proc) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		v, found := metric(t, baseURL, series)
		if found && v == want {
			return
		}
		for _, p := range procs {
			if !p.running() {
				t.Fatalf("%s exited (%v) while waiting for %s to read %v", p.name, p.waitErr, series, want)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s read %v (present %v), not %v, for %v", series, v, found, want, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// ---------------------------------------------------------------- Redis

// TestEdgeRedisResetMidCommand: the edge process's Redis connections are
// reset (RST) in the middle of GETs and SETs — before the reply and
// half-way through it — while clients fetch new variants. Every answer is
// the image (the cache fails open to origin and transform), Redis errors
// are counted rather than answered 5xx, and once the resets stop the
// edge's writes reach Redis again: a second edge finds its new variants
// there.
func TestEdgeRedisResetMidCommand(t *testing.T) {
	redis := redistest.Start(t)
	proxy := redistest.NewProxy(t, redis)
	origin := newJPEGOrigin(t, generatedJPEG(t), 0)
	yaml := oneAccount("reset", origin.URL)
	viaProxy := runEdge(t, "edge (Redis through the resetting proxy)", yaml, "PICTOR_ALLOW_PRIVATE_ORIGINS=true", "PICTOR_REDIS_ADDRS="+proxy.Addr)
	direct := runEdge(t, "edge (Redis direct)", yaml, "PICTOR_ALLOW_PRIVATE_ORIGINS=true", "PICTOR_REDIS_ADDRS="+redis)
	edge, edgeProc, other := viaProxy.url, viaProxy.proc, direct.url

	cases := []struct {
		cmd string
		at  redistest.ResetPoint
	}{
		// GET: a variant's or an original's lookup, on the request's
		// path; SET: storing them, in work detached from the request.
		{"GET", redistest.BeforeReply},
		{"GET", redistest.MidReply},
		{"SET", redistest.BeforeReply},
		{"SET", redistest.MidReply},
	}
	width := 100
	for i, tc := range cases {
		t.Run(fmt.Sprintf("%s %s", tc.cmd, tc.at), func(t *testing.T) {
			// Fewer than the breaker's five consecutive failures: each
			// reset meets a live command, not a skipped one.
			const armed = 3
			before := proxy.Resets()
			proxy.ResetNext(armed, tc.cmd, tc.at)
			// New variants of a new image until every armed reset has met
			// a command (each request makes several Redis calls).
			for n := 0; proxy.Resets() < before+armed; n++ {
				if n == 40 {
					t.Fatalf("40 requests met %d of %d armed resets", proxy.Resets()-before, armed)
				}
				width++
				getImage(t, fmt.Sprintf("%s/reset/tr:w-%d/case-%d.jpg", edge, width, i), width)
			}
		})
	}
	if !edgeProc.running() {
		t.Fatal("the edge exited")
	}
	resets := proxy.Resets()
	if errs, _ := metric(t, edge, "pictor_edge_redis_errors_total"); errs < float64(resets) {
		t.Errorf("pictor_edge_redis_errors_total = %v after %d resets: a reset was not counted as a failed Redis call", errs, resets)
	}
	var fivexx float64
	for series, v := range metrics(t, edge) {
		if strings.HasPrefix(series, "pictor_edge_requests_total{") && strings.Contains(series, `status_class="5xx"`) {
			fivexx += v
		}
	}
	if fivexx != 0 {
		t.Errorf("the edge answered %v requests 5xx", fivexx)
	}

	// Recovered: a variant the first edge renders now reaches Redis (its
	// breaker, if it opened, closes after its 2 s cooldown).
	proxy.Disarm()
	deadline := time.Now().Add(15 * time.Second)
	for n := 0; ; n++ {
		target := fmt.Sprintf("/reset/tr:w-%d/after.jpg", 300+n)
		getImage(t, edge+target, 300+n)
		time.Sleep(50 * time.Millisecond) // the edge stores it after answering
		if r := getImage(t, other+target, 300+n); r.header.Get("X-Cache") == "HIT-L2" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the edge's writes did not reach Redis again within 15 s of the resets stopping")
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// ---------------------------------------------------------------- transform queue

// TestEdgeTransformQueueFull: an edge with one transform worker and room
// for one waiting miss (so 2 × 1 misses in production at once, 1 more
// waiting up to 2 s) gets a burst of distinct misses of a slow origin.
// The ones beyond the queue are refused at once with 503, Retry-After and
// the queue's message, without fetching anything; none gets another 5xx;
// the admitted ones are served; and after the burst a request succeeds.
func TestEdgeTransformQueueFull(t *testing.T) {
	// Slow enough that the admitted misses still hold their places when
	// the rest of the burst arrives.
	origin := newJPEGOrigin(t, generatedJPEG(t), 1500*time.Millisecond)
	const workers, queue, burst = 1, 1, 8
	edge := runEdge(t, "edge", oneAccount("queue", origin.URL), "PICTOR_ALLOW_PRIVATE_ORIGINS=true",
		fmt.Sprintf("PICTOR_TRANSFORM_WORKERS=%d", workers), fmt.Sprintf("PICTOR_TRANSFORM_QUEUE=%d", queue)).url

	type answer struct {
		status              int
		retryAfter, errText string
		err                 error
	}
	answers := make([]answer, burst)
	var wg sync.WaitGroup
	for i := range burst {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Distinct images: no coalescing, one miss each.
			resp, err := client.Get(fmt.Sprintf("%s/queue/tr:w-100/burst-%d.jpg", edge, i))
			if err != nil {
				answers[i].err = err
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			answers[i] = answer{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After"), errText: resp.Header.Get("X-Pictor-Error")}
		}()
	}
	wg.Wait()

	var served, refused []int
	for i, a := range answers {
		switch {
		case a.err != nil:
			t.Errorf("burst request %d: %v", i, a.err)
		case a.status == http.StatusOK:
			served = append(served, i)
		case a.status == http.StatusServiceUnavailable:
			refused = append(refused, i)
			if s, err := strconv.Atoi(a.retryAfter); err != nil || s <= 0 {
				t.Errorf("burst request %d: 503 with Retry-After %q, want a positive number of seconds", i, a.retryAfter)
			}
			if a.errText != "503 - too many images being processed, retry shortly" {
				t.Errorf("burst request %d: 503 with X-Pictor-Error %q, want the transform queue's refusal", i, a.errText)
			}
		default:
			t.Errorf("burst request %d: HTTP %d %q, want 200 or 503", i, a.status, a.errText)
		}
	}
	// At most 2 × workers in production and queue more waiting: the rest
	// are refused.
	t.Logf("%d distinct misses at once: %d served, %d refused", burst, len(served), len(refused))
	if admitted := 2*workers + queue; len(refused) < burst-admitted || len(served) == 0 {
		t.Fatalf("%d served, %d refused of %d distinct misses; want at least %d refused and the admitted served",
			len(served), len(refused), burst, burst-admitted)
	}
	// Refused before fetching: the origin saw only the admitted misses.
	if n := origin.requests.Load(); int(n) != len(served) {
		t.Errorf("origin asked %d times for %d served images: refused misses fetched", n, len(served))
	}
	// The refusals are counted under the queue's reasons.
	var counted float64
	for _, reason := range []string{"transform_queue_full", "transform_queue_timeout"} {
		v, _ := metric(t, edge, fmt.Sprintf("pictor_edge_refused_total{reason=%q}", reason))
		counted += v
	}
	if counted != float64(len(refused)) {
		t.Errorf("pictor_edge_refused_total for the transform queue = %v, want %d", counted, len(refused))
	}

	// The burst is over: a refused image is served on retry.
	getImage(t, fmt.Sprintf("%s/queue/tr:w-100/burst-%d.jpg", edge, refused[0]), 100)
}

// ---------------------------------------------------------------- Postgres and control plane

// TestEdgeOutlivesPostgresAndControlPlane: a whole stack over a Postgres
// cluster of the test's own. Postgres goes down, then the control plane is
// killed and restarted while Postgres is still down, then Postgres comes
// back. Throughout, the edge serves its account's images with the config
// it had (RELIABILITY F45); the control plane's API answers 503, never 500,
// while it has no database; pictor_edge_control_plane_connected reads 1
// while the stream is up and 0 while it is gone; and once Postgres is back
// a config change made through the API reaches the edge.
func TestEdgeOutlivesPostgresAndControlPlane(t *testing.T) {
	bin := binaries(t)
	pg := pgtest.StartCluster(t)
	httpAddr, grpcAddr, edgeAddr := freeAddr(t), freeAddr(t), freeAddr(t)
	cpURL, edgeURL := "http://"+httpAddr, "http://"+edgeAddr
	adminToken := "faults-admin-" + randomHex(t, 8)
	edgeToken := randomHex(t, 32)
	cpEnv := []string{
		"PICTOR_DATABASE_URL=" + pg.URL,
		"PICTOR_ADMIN_TOKEN=" + adminToken,
		"PICTOR_MASTER_KEY=" + randomHex(t, 32),
		"PICTOR_EDGE_TOKEN=" + edgeToken,
		"PICTOR_ALLOW_PRIVATE_ORIGINS=true",
		"PICTOR_HTTP_ADDR=" + httpAddr,
		"PICTOR_GRPC_ADDR=" + grpcAddr,
	}
	migrate := startProc(t, "controlplane migrate", filepath.Join(bin, "controlplane"), cpEnv, "migrate", "up")
	<-migrate.exited
	if migrate.waitErr != nil {
		migrate.dumpLog(t)
		t.Fatalf("controlplane migrate up: %v", migrate.waitErr)
	}
	startCP := func(name string) *proc {
		p := startProc(t, name, filepath.Join(bin, "controlplane"), cpEnv, "serve")
		waitStatus(t, cpURL+"/healthz", http.StatusOK, 30*time.Second, p)
		return p
	}
	cp := startCP("controlplane")
	edge := startProc(t, "edge", filepath.Join(bin, "edge"), []string{
		"PICTOR_EDGE_ADDR=" + edgeAddr,
		"PICTOR_CONTROL_PLANE_ADDR=" + grpcAddr,
		"PICTOR_EDGE_TOKEN=" + edgeToken,
		"PICTOR_NODE_ID=faults-edge-1",
		"PICTOR_EDGE_DATA_DIR=" + t.TempDir(),
		"PICTOR_ALLOW_PRIVATE_ORIGINS=true",
	})
	waitStatus(t, edgeURL+"/healthz", http.StatusOK, 30*time.Second, edge)

	jpg := generatedJPEG(t)
	originA := newJPEGOrigin(t, jpg, 0)
	// The origin the config change switches to: only it has moved.jpg.
	originB := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/moved.jpg" {
			http.NotFound(w, r)
			return
		}
		w.Write(jpg)
	}))
	t.Cleanup(originB.Close)

	const account = "outage"
	bearer := func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+adminToken) }
	r := do(t, http.MethodPost, cpURL+"/admin/v1/accounts",
		map[string]any{"id": account, "name": "Outage", "ownerEmail": "owner@outage.example"}, bearer)
	if r.status != http.StatusCreated {
		t.Fatalf("create account: HTTP %d %s", r.status, truncate(r.body))
	}
	var created struct {
		PrivateKey string `json:"privateKey"`
	}
	if err := json.Unmarshal(r.body, &created); err != nil || created.PrivateKey == "" {
		t.Fatalf("create account: no private key in %s (%v)", truncate(r.body), err)
	}
	basic := func(r *http.Request) { r.SetBasicAuth(created.PrivateKey, "") }
	r = do(t, http.MethodPost, cpURL+"/v1/accounts/origins", map[string]any{"type": "WEB_FOLDER", "name": "a", "baseUrl": originA.URL}, basic)
	var originResp struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(r.body, &originResp); r.status/100 != 2 || err != nil || originResp.ID == "" {
		t.Fatalf("create origin: HTTP %d %s", r.status, truncate(r.body))
	}
	// The origin reaches the edge through the stream; a fresh forwarded
	// query each time, as a 404 from before it arrived is cached.
	waitStatusFunc(t, func(n int) string {
		return fmt.Sprintf("%s/%s/tr:w-300/photo.jpg?probe=%d", edgeURL, account, n)
	}, http.StatusOK, 30*time.Second, edge, cp)
	const connected = "pictor_edge_control_plane_connected"
	waitMetric(t, edgeURL, connected, 1, 10*time.Second, edge)

	// edgeServes: a cached variant and one never rendered (origin fetch and
	// transform, routed by the config in force) are both served.
	width := 100
	edgeServes := func(t *testing.T) {
		t.Helper()
		getImage(t, edgeURL+"/"+account+"/tr:w-300/photo.jpg?probe=0", 300)
		width++
		getImage(t, fmt.Sprintf("%s/%s/tr:w-%d/photo.jpg", edgeURL, account, width), width)
		if r := get(t, edgeURL+"/readyz"); r.status != http.StatusOK {
			t.Fatalf("edge /readyz: HTTP %d %s", r.status, truncate(r.body))
		}
	}
	edgeServes(t)

	if !t.Run("Postgres down, control plane up", func(t *testing.T) {
		pg.Stop()
		cases := []struct {
			name, method, path string
			auth               func(*http.Request)
			body               any
			want               int
		}{
			{"healthz: the process is up", http.MethodGet, "/healthz", nil, nil, http.StatusOK},
			{"readyz: no database", http.MethodGet, "/readyz", nil, nil, http.StatusServiceUnavailable},
			{"admin: list accounts", http.MethodGet, "/admin/v1/accounts", bearer, nil, http.StatusServiceUnavailable},
			// The key itself is looked up in the database.
			{"account: list origins", http.MethodGet, "/v1/accounts/origins", basic, nil, http.StatusServiceUnavailable},
			{"account: create origin", http.MethodPost, "/v1/accounts/origins", basic,
				map[string]any{"type": "WEB_FOLDER", "name": "c", "baseUrl": originB.URL}, http.StatusServiceUnavailable},
			{"account: purge", http.MethodPost, "/v1/files/purge", basic,
				map[string]any{"url": edgeURL + "/" + account + "/photo.jpg"}, http.StatusServiceUnavailable},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				r := do(t, tc.method, cpURL+tc.path, tc.body, tc.auth)
				if r.status != tc.want {
					t.Fatalf("HTTP %d %s, want %d", r.status, truncate(r.body), tc.want)
				}
			})
		}
		// Until the control plane has polled the database for the config
		// version and failed (every 5 s), the edge keeps serving: a
		// control plane that cannot read its config pushes nothing.
		deadline := time.Now().Add(15 * time.Second)
		for {
			edgeServes(t)
			logs, err := os.ReadFile(cp.logPath)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(logs, []byte(`msg="read config version"`)) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the control plane logged no failed config version poll within 15 s of Postgres going down")
			}
			time.Sleep(250 * time.Millisecond)
		}
		time.Sleep(200 * time.Millisecond) // for anything that poll would push
		edgeServes(t)
	}) {
		return // the phases build on each other
	}

	if !t.Run("control plane killed", func(t *testing.T) {
		if err := cp.cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		<-cp.exited
		waitMetric(t, edgeURL, connected, 0, 10*time.Second, edge)
		// The stream has failed: the edge still serves what it had.
		edgeServes(t)
	}) {
		return // the phases build on each other
	}

	if !t.Run("control plane restarted, Postgres still down", func(t *testing.T) {
		cp = startCP("controlplane (restarted)")
		// Reconnect backoff grows while the control plane is away
		// (jittered, up to 15 s); the outage above lasts seconds.
		waitMetric(t, edgeURL, connected, 1, 20*time.Second, edge, cp)
		// A control plane with no database has no config to give: the
		// edge keeps its own.
		edgeServes(t)
	}) {
		return // the phases build on each other
	}

	t.Run("Postgres back", func(t *testing.T) {
		if err := pg.Start(); err != nil {
			t.Fatalf("restart Postgres: %v\n%s", err, pg.Log())
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			r := do(t, http.MethodGet, cpURL+"/v1/accounts/origins", nil, basic)
			if r.status == http.StatusOK {
				break
			}
			if r.status != http.StatusServiceUnavailable || time.Now().After(deadline) {
				t.Fatalf("account API after Postgres came back: HTTP %d %s", r.status, truncate(r.body))
			}
			time.Sleep(100 * time.Millisecond)
		}
		// Config flows again: the origin moved through the API reaches
		// the edge, which then serves what only the new origin has.
		r := do(t, http.MethodPut, cpURL+"/v1/accounts/origins/"+originResp.ID,
			map[string]any{"type": "WEB_FOLDER", "name": "b", "baseUrl": originB.URL}, basic)
		if r.status != http.StatusOK {
			t.Fatalf("update origin: HTTP %d %s", r.status, truncate(r.body))
		}
		waitStatusFunc(t, func(n int) string {
			return fmt.Sprintf("%s/%s/tr:w-200/moved.jpg?probe=%d", edgeURL, account, n)
		}, http.StatusOK, 30*time.Second, edge, cp)
		if v, _ := metric(t, edgeURL, connected); v != 1 {
			t.Errorf("%s = %v with the control plane up, want 1", connected, v)
		}
	})
}
