//go:build asan

// The asan build tag is set by the toolchain under go test -asan, so only
// an AddressSanitizer build pays for this test; scripts/test.sh runs it as
// the step "asan stress (transform)".

package transform

import (
	"context"
	"flag"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"pictor/services/internal/errkind"
)

var (
	stressTime = flag.Duration("stress-time", 20*time.Second, "how long TestStressASan runs")
	stressSeed = flag.Uint64("stress-seed", 0, "seed of TestStressASan's choices (0: from the clock)")
)

// TestStressASan runs transforms from more goroutines than the engine has
// workers and queue places, on the corpus and on ordinary images, with
// deadlines short enough to kill evaluations midway, queue time-outs, and
// callers that give up at random points, while AddressSanitizer watches
// vips.c and the Go side: an overrun, a use after free or a double free
// aborts the process. Every answer must be a result, a 422 or a 503 (a
// 400 where the URL asks for more than the image has), and afterwards no
// libvips object may be left alive.
func TestStressASan(t *testing.T) {
	if os.Getenv("G_SLICE") != "always-malloc" {
		rerunWithASanEnv(t)
		return
	}
	seed := *stressSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (rerun with -stress-seed=%d)", seed, seed)
	srcs := stressSources(t)
	trs := append([]string{
		"", "w-200", "w-2400,bl-20", "t-true:rt-45:r-max", "e-contrast:e-sharpen", "e-usm-2-1-0.8-0.02,fl-v",
		"w-300,h-200,cm-extract,x-10,y-10", "w-300,h-300,cm-pad_extract,bg-FF000080", "b-5_FF0000,r-20:o-40",
		"rt-33,bg-00FF0080", "w-200,h-200,fo-auto", "t-true,w-100",
	}, colourOps...)
	formats := []string{"", "png", "webp", "avif", "jpeg", "gif"}
	e := New(Config{MaxSourcePixels: 1e8, Workers: 2, QueueLength: 3, QueueWait: 40 * time.Millisecond, Deadline: 250 * time.Millisecond},
		slog.New(slog.NewTextHandler(io.Discard, nil)))

	// Any object libvips makes once per process exists before the count
	// is taken (none did in 8.14.1: the count is 0 once transforms end).
	small := photoJPEG(t, 64, 48)
	for _, f := range formats {
		e.Transform(context.Background(), Request{Source: small, Transformation: mustParse(t, "t-true:rt-45:r-max,b-3_FF0000:e-contrast,e-sharpen,bl-2:o-50"), Format: f})
	}
	before := liveObjects()

	var (
		mu     sync.Mutex
		counts = map[string]int{}
		wg     sync.WaitGroup
	)
	stop := time.Now().Add(*stressTime)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(g)))
			for time.Now().Before(stop) {
				src := srcs[rng.IntN(len(srcs))]
				tr := trs[rng.IntN(len(trs))]
				f := formats[rng.IntN(len(formats))]
				ctx, cancel := stressContext(rng)
				res, err := e.Transform(ctx, Request{Source: src, Transformation: mustParse(t, tr), Format: f})
				cancel()
				outcome := "result"
				switch {
				case err == nil && (res == nil || len(res.Body) == 0):
					t.Errorf("[%s] %s: empty result", tr, f)
				case err != nil:
					outcome = errkind.Reason(err)
					switch k := errkind.KindOf(err); k {
					case errkind.Unprocessable, errkind.Unavailable, errkind.Invalid:
					default:
						t.Errorf("[%s] %s: %v: kind %v, want a result, 422, 503 or 400", tr, f, err, k)
					}
				}
				mu.Lock()
				counts[outcome]++
				mu.Unlock()
				if outcome == "transform_queue_full" {
					time.Sleep(5 * time.Millisecond) // a client's back-off; keeps the spinning cheap
				}
			}
		}()
	}
	wg.Wait()
	t.Logf("outcomes: %s", countsText(counts))
	// Each way a transform can end must have happened, or the run did not
	// test what it claims to.
	for _, want := range []string{"result", "transform_deadline", "canceled", "transform_queue_timeout",
		"transform_queue_full", "source_corrupt", "source_pixel_format"} {
		if counts[want] == 0 {
			t.Errorf("no %s in %s of stress", want, *stressTime)
		}
	}
	if after := liveObjects(); after != before {
		t.Errorf("%d libvips objects alive after the stress, %d before", after, before)
	}
}

// stressContext is the caller: patient, with a deadline, or giving up at a
// random moment, possibly before the transform starts.
func stressContext(rng *rand.Rand) (context.Context, context.CancelFunc) {
	switch rng.IntN(4) {
	case 0:
		return context.WithTimeout(context.Background(), time.Duration(1+rng.IntN(300))*time.Millisecond)
	case 1:
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(time.Duration(rng.IntN(200))*time.Millisecond, cancel)
		return ctx, cancel
	}
	return context.WithCancel(context.Background())
}

// stressSources: an ordinary photo, big ones
// that take longer than the deadline, the fixtures, both corpora and the
// layouts only loaders deliver.
func stressSources(t *testing.T) [][]byte {
	srcs := [][]byte{photoJPEG(t, 400, 300), photoJPEG(t, 1600, 1200), alphaPNG(t, 1200, 900)}
	for _, b := range sources(t) {
		srcs = append(srcs, b)
	}
	for _, dir := range []string{corpusDir, oddDir} {
		for _, b := range readCorpus(t, dir) {
			srcs = append(srcs, b)
		}
	}
	for _, b := range oddLayouts(t) {
		srcs = append(srcs, b)
	}
	for _, b := range refusedLayouts() {
		srcs = append(srcs, b)
	}
	return srcs
}

func countsText(counts map[string]int) string {
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k + "=" + strconv.Itoa(counts[k]) + " ")
	}
	return strings.TrimSpace(b.String())
}

// rerunWithASanEnv runs this test again in a process that has, from its
// first allocation: G_SLICE=always-malloc, because GLib's slice allocator
// otherwise recycles GObjects in blocks of its own, where ASan cannot see
// a double unref as a double free; and detect_leaks=0, because GLib and
// libvips keep process-lifetime allocations (the type system, per-thread
// buffers) that LeakSanitizer reports at exit. Leaked references are
// caught by counting libvips objects instead. addr2line, when there is
// one, names the C frames of a report.
func rerunWithASanEnv(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestStressASan$", "-test.v",
		"-stress-time="+stressTime.String(), "-stress-seed="+strconv.FormatUint(*stressSeed, 10))
	opts := "detect_leaks=0"
	if path, err := exec.LookPath("addr2line"); err == nil {
		opts += ":external_symbolizer_path=" + path
	}
	if user := os.Getenv("ASAN_OPTIONS"); user != "" {
		opts += ":" + user
	}
	cmd.Env = append(os.Environ(), "G_SLICE=always-malloc", "ASAN_OPTIONS="+opts)
	out, err := cmd.CombinedOutput()
	t.Logf("G_SLICE=always-malloc %s:\n%s", strings.Join(cmd.Args, " "), out)
	if err != nil {
		t.Fatalf("stress process: %v", err)
	}
}
