// Command benchtransform measures the edge's transform engine against
// libvips' own vipsthumbnail on the same files, in one run, and the peak
// memory of concurrent transforms of distinct 12-megapixel JPEGs.
//
// Fairness, because the ratio is the point:
//
//   - Same work: the same source file, the same output size, encoder and
//     options (JPEG Q=80 with optimize_coding and strip; WebP Q=80,
//     effort 4, strip) and the same shrink-on-load path (both go through
//     vips_thumbnail).
//   - Same parallelism: the engine runs one transform per core with
//     libvips' own threading off (VIPS_CONCURRENCY=1 semantics, as in
//     production); vipsthumbnail runs as one process per core, each with
//     VIPS_CONCURRENCY=1 and an equal share of the files.
//   - Start-up amortised: each vipsthumbnail process handles many files in
//     one invocation, so process start-up is a small fraction of its time.
//     The engine's sources are read from memory; vipsthumbnail's from the
//     page cache (the files were just written).
//   - Repeated: each measurement runs -rounds times, alternating the two,
//     and the median is reported.
//   - Counted two ways: images per second of wall time with every core
//     busy, and images per CPU-second (user + system time of the engine's
//     process, or of the vipsthumbnail children), which is the per-core
//     figure and barely moves when other work shares the machine. The
//     ratio the target refers to is the per-core one.
//
// Peak RSS is measured in a fresh child process (VmHWM only grows), with
// the production engine settings (2 × cores workers, a queue for the rest).
//
// With -bimg it instead compares the engine with github.com/h2non/bimg
// doing the same operations (bimg.go says how, and what "the same" is
// checked to mean).
//
// Usage: benchtransform [-n 120] [-rounds 3] [-keep]
//
//	benchtransform -bimg [-bimg-rounds 9] [-keep]
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"pictor/services/edge/internal/benchkit"
	"pictor/services/edge/internal/transform"
	"pictor/services/internal/imgurl"
)

const photos = "/usr/share/backgrounds/mate"

type scenario struct {
	name      string
	src       string // file in the work directory
	tr        string // Pictor transformation
	format    string
	thumbSize string // vipsthumbnail -s
	thumbOut  string // vipsthumbnail -o suffix, with saver options
	perRound  func(n int) int
}

func main() {
	n := flag.Int("n", 120, "images per measurement of the 4000×3000 JPEG (the PNG scenario uses n/3)")
	rounds := flag.Int("rounds", 3, "repetitions of each measurement; the median is reported")
	keep := flag.Bool("keep", false, "keep the work directory")
	rssChild := flag.String("rss-child", "", "internal: measure peak RSS for the sources in this directory")
	rssWorkers := flag.Int("rss-workers", 0, "internal: engine workers for -rss-child")
	withBimg := flag.Bool("bimg", false, "compare the engine with bimg instead")
	bimgRounds := flag.Int("bimg-rounds", 9, "alternating rounds per operation and concurrency for -bimg; medians are reported")
	bimgChild := flag.String("bimg-rss-child", "", "internal: measure peak RSS of one -bimg case on the sources in this directory")
	bimgCase := flag.Int("bimg-case", 0, "internal: case index for -bimg-rss-child")
	bimgSide := flag.String("bimg-side", "ours", "internal: ours or bimg, for -bimg-rss-child")
	bimgWorkers := flag.Int("bimg-workers", 1, "internal: transforms at once for -bimg-rss-child")
	flag.Parse()
	var err error
	switch {
	case *bimgChild != "":
		err = bimgRSSChild(*bimgChild, *bimgCase, *bimgSide, *bimgWorkers)
	case *withBimg:
		err = runBimg(*bimgRounds, *keep)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchtransform:", err)
		os.Exit(1)
	}
	if *bimgChild != "" || *withBimg {
		return
	}
	if *rssChild != "" {
		if err := measureRSS(*rssChild, *rssWorkers); err != nil {
			fmt.Fprintln(os.Stderr, "benchtransform:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(*n, *rounds, *keep); err != nil {
		fmt.Fprintln(os.Stderr, "benchtransform:", err)
		os.Exit(1)
	}
}

func newEngine(workers, queue int) *transform.Engine {
	return transform.New(transform.Config{
		MaxSourcePixels: 100_000_000,
		Workers:         workers,
		QueueLength:     queue,
		QueueWait:       time.Minute,
		Deadline:        time.Minute,
		AVIFEffort:      2,
	}, discardLog())
}

func discardLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func run(n, rounds int, keep bool) error {
	if _, err := exec.LookPath("vipsthumbnail"); err != nil {
		return errors.New("vipsthumbnail not found (apt-get install libvips-tools)")
	}
	work, done, err := workDir("pictor-bench-transform-", keep)
	if err != nil {
		return err
	}
	defer done()
	cores := runtime.NumCPU()
	fmt.Printf("== transform: %d cores, %s\n", cores, vipsVersion())
	fmt.Println("preparing sources from", photos)
	if err := prepare(work); err != nil {
		return err
	}

	scenarios := []scenario{
		{name: "4000×3000 JPEG → w-300 JPEG q80", src: "big.jpg", tr: "w-300,q-80", format: "jpeg",
			thumbSize: "300", thumbOut: ".jpg[Q=80,optimize_coding,strip]", perRound: func(n int) int { return n }},
		{name: "4000×3000 JPEG → w-300 WebP q80", src: "big.jpg", tr: "w-300,q-80", format: "webp",
			thumbSize: "300", thumbOut: ".webp[Q=80,effort=4,strip]", perRound: func(n int) int { return n }},
		{name: "2140×1200 PNG+alpha → w-800 WebP q80", src: "alpha.png", tr: "w-800,q-80", format: "webp",
			thumbSize: "800", thumbOut: ".webp[Q=80,effort=4,strip]", perRound: func(n int) int { return max(n/3, 2*cores) }},
	}
	engine := newEngine(cores, 1<<20)
	fmt.Printf("\n| workload | Pictor img/s (wall, %d cores) | vipsthumbnail img/s (wall) | Pictor img per CPU-s | vipsthumbnail img per CPU-s | ratio per core |\n|---|---:|---:|---:|---:|---:|\n", cores)
	for _, sc := range scenarios {
		src, err := os.ReadFile(filepath.Join(work, sc.src))
		if err != nil {
			return err
		}
		count := sc.perRound(n)
		files, err := copies(work, sc, count)
		if err != nil {
			return err
		}
		var eng, thumb, engCPU, thumbCPU []float64
		for r := 0; r < rounds; r++ {
			e, ec, err := engineRate(engine, src, sc, count, cores)
			if err != nil {
				return fmt.Errorf("%s: engine: %w", sc.name, err)
			}
			v, vc, err := thumbnailRate(work, files, sc, cores)
			if err != nil {
				return fmt.Errorf("%s: vipsthumbnail: %w", sc.name, err)
			}
			eng, thumb = append(eng, e), append(thumb, v)
			engCPU, thumbCPU = append(engCPU, ec), append(thumbCPU, vc)
		}
		me, mv, mec, mvc := benchkit.Median(eng), benchkit.Median(thumb), benchkit.Median(engCPU), benchkit.Median(thumbCPU)
		fmt.Printf("| %s | %.1f | %.1f | %.1f | %.1f | %.2f |\n", sc.name, me, mv, mec, mvc, mec/mvc)
	}

	fmt.Printf("\nAVIF encode effort, 4000×3000 JPEG → w-2000 AVIF q80, one transform at a time (best of 2):\n\n")
	fmt.Printf("| effort | time | bytes |\n|---:|---:|---:|\n")
	big, err := os.ReadFile(filepath.Join(work, "big.jpg"))
	if err != nil {
		return err
	}
	for _, effort := range []int{0, 1, 2, 3} {
		d, size, err := avifTime(big, effort)
		if err != nil {
			return err
		}
		fmt.Printf("| %d | %.2f s | %d |\n", effort, d.Seconds(), size)
	}

	fmt.Printf("\nPeak RSS, 16 concurrent transforms of distinct 4000×3000 JPEGs (w-300, then w-1600 WebP), fresh process:\n\n")
	fmt.Printf("| engine workers | RSS before (sources loaded) | peak RSS (VmHWM) |\n|---:|---:|---:|\n")
	for _, workers := range []int{2 * cores, 16} {
		out, err := exec.Command(os.Args[0], "-rss-child", work, "-rss-workers", strconv.Itoa(workers)).CombinedOutput()
		if err != nil {
			return fmt.Errorf("rss child: %v: %s", err, out)
		}
		fmt.Print(string(out))
	}
	return nil
}

// prepare writes the benchmark sources: a 4000×3000 JPEG cut from the
// 5640×3172 photo, the transparent PNG wallpaper, and 16 distinct
// 4000×3000 JPEGs (every photo, scaled and cropped to 4000×3000) for the
// memory measurement. They are made with the engine itself, at q-90.
func prepare(work string) error {
	e := newEngine(runtime.NumCPU(), 64)
	if err := make4k(e, filepath.Join(photos, "abstract/Elephants_5640x3172.jpg"), filepath.Join(work, "big.jpg"), "w-4000,h-3000,q-90"); err != nil {
		return err
	}
	png, err := os.ReadFile(filepath.Join(photos, "abstract/Arc-Colors-Transparent-Wallpaper.png"))
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(work, "alpha.png"), png, 0o644); err != nil {
		return err
	}
	jpegs, err := filepath.Glob(filepath.Join(photos, "*/*.jpg"))
	if err != nil || len(jpegs) < 16 {
		return fmt.Errorf("need 16 JPEGs under %s, found %d", photos, len(jpegs))
	}
	sort.Strings(jpegs)
	if err := os.MkdirAll(filepath.Join(work, "twelve"), 0o755); err != nil {
		return err
	}
	for i, in := range jpegs[:16] {
		if err := make4k(e, in, filepath.Join(work, "twelve", fmt.Sprintf("%02d.jpg", i)), "w-4000,h-3000,q-90"); err != nil {
			return err
		}
	}
	return nil
}

// make4k writes in, cover-scaled to 4000×3000 by the engine with the
// transformation tr, to out.
func make4k(e *transform.Engine, in, out, tr string) error {
	b, err := os.ReadFile(in)
	if err != nil {
		return err
	}
	t, err := imgurl.Parse(tr)
	if err != nil {
		return err
	}
	res, err := e.Transform(context.Background(), transform.Request{Source: b, Transformation: t, Format: "jpeg"})
	if err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	return os.WriteFile(out, res.Body, 0o644)
}

// copies makes count names for one source (symbolic links: vipsthumbnail
// names its outputs after its inputs, and must not read one file count
// times from one name).
func copies(work string, sc scenario, count int) ([]string, error) {
	dir := filepath.Join(work, "in-"+strings.TrimSuffix(sc.src, filepath.Ext(sc.src)))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	files := make([]string, count)
	for i := range files {
		files[i] = filepath.Join(dir, fmt.Sprintf("%04d%s", i, filepath.Ext(sc.src)))
		if _, err := os.Lstat(files[i]); err == nil {
			continue
		}
		if err := os.Symlink(filepath.Join(work, sc.src), files[i]); err != nil {
			return nil, err
		}
	}
	return files, nil
}

// engineRate returns images per wall second and per CPU-second.
func engineRate(e *transform.Engine, src []byte, sc scenario, count, workers int) (float64, float64, error) {
	tr, err := imgurl.Parse(sc.tr)
	if err != nil {
		return 0, 0, err
	}
	r, err := benchkit.Transforms(e, transform.Request{Source: src, Transformation: tr, Format: sc.format}, workers, count, 0)
	if err != nil {
		return 0, 0, err
	}
	return r.PerSecond(), 1 / r.CPUPerImage().Seconds(), nil
}

// thumbnailRate runs one vipsthumbnail per core over an equal share of the
// files, all at once, and returns images per wall second and per CPU-second
// of the children.
func thumbnailRate(work string, files []string, sc scenario, procs int) (float64, float64, error) {
	out := filepath.Join(work, "out")
	if err := os.MkdirAll(out, 0o755); err != nil {
		return 0, 0, err
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var cpu time.Duration
	errs := make(chan error, procs)
	start := time.Now()
	for p := range procs {
		var share []string
		for i := p; i < len(files); i += procs {
			share = append(share, files[i])
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			args := append([]string{"-s", sc.thumbSize, "-o", filepath.Join(out, "%s"+sc.thumbOut)}, share...)
			cmd := exec.Command("vipsthumbnail", args...)
			cmd.Env = append(os.Environ(), "VIPS_CONCURRENCY=1")
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Run(); err != nil {
				errs <- fmt.Errorf("%v: %s", err, stderr.String())
				return
			}
			mu.Lock()
			cpu += cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(errs)
	if err := <-errs; err != nil {
		return 0, 0, err
	}
	return float64(len(files)) / elapsed.Seconds(), float64(len(files)) / cpu.Seconds(), nil
}

func avifTime(src []byte, effort int) (time.Duration, int, error) {
	e := transform.New(transform.Config{MaxSourcePixels: 100_000_000, Workers: 1, QueueLength: 1,
		QueueWait: time.Minute, Deadline: 5 * time.Minute, AVIFEffort: effort}, discardLog())
	tr, err := imgurl.Parse("w-2000,q-80")
	if err != nil {
		return 0, 0, err
	}
	var best time.Duration
	size := 0
	for range 2 {
		start := time.Now()
		res, err := e.Transform(context.Background(), transform.Request{Source: src, Transformation: tr, Format: "avif"})
		if err != nil {
			return 0, 0, err
		}
		if d := time.Since(start); best == 0 || d < best {
			best = d
		}
		size = len(res.Body)
	}
	return best, size, nil
}

// measureRSS runs in a fresh process: 16 concurrent transforms of 16
// distinct 12-megapixel JPEGs, twice (a small JPEG output, then a large
// WebP one), through an engine with the given number of workers.
func measureRSS(work string, workers int) error {
	e := newEngine(workers, 64)
	var srcs [][]byte
	for i := 0; i < 16; i++ {
		b, err := os.ReadFile(filepath.Join(work, "twelve", fmt.Sprintf("%02d.jpg", i)))
		if err != nil {
			return err
		}
		srcs = append(srcs, b)
	}
	before := procStatus("VmRSS")
	for _, t := range []struct{ tr, format string }{{"w-300", "jpeg"}, {"w-1600", "webp"}} {
		tr, err := imgurl.Parse(t.tr)
		if err != nil {
			return err
		}
		var wg sync.WaitGroup
		errs := make(chan error, len(srcs))
		for _, src := range srcs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := e.Transform(context.Background(), transform.Request{Source: src, Transformation: tr, Format: t.format}); err != nil {
					errs <- err
				}
			}()
		}
		wg.Wait()
		close(errs)
		if err := <-errs; err != nil {
			return err
		}
	}
	fmt.Printf("| %d | %s | %s |\n", workers, before, procStatus("VmHWM"))
	return nil
}

func procStatus(field string) string {
	n, ok := benchkit.ProcStatus(0, field)
	if !ok {
		return "?"
	}
	return fmt.Sprintf("%.0f MB", float64(n)/(1<<20))
}

func vipsVersion() string {
	out, err := exec.Command("vips", "--version").Output()
	if err != nil {
		return "libvips (version unknown)"
	}
	return strings.TrimSpace(string(out))
}

// workDir makes a temporary work directory; done removes it, unless keep,
// in which case its path is printed and it stays.
func workDir(prefix string, keep bool) (dir string, done func(), err error) {
	dir, err = os.MkdirTemp("", prefix)
	if err != nil {
		return "", nil, err
	}
	if keep {
		fmt.Println("work directory:", dir)
		return dir, func() {}, nil
	}
	return dir, func() { os.RemoveAll(dir) }, nil
}
