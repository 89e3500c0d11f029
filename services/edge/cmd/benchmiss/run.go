package main

import (
	"bytes"
	"context"
	"fmt"
	"image/jpeg"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"pictor/services/edge/internal/benchkit"
	"pictor/services/edge/internal/transform"
	"pictor/services/internal/imgurl"
)

// missCase is one source and transformation; the origin serves src under
// every name in /dir/.
type missCase struct {
	dir string
	src string
	tr  string
}

// result is one case at one concurrency.
type result struct {
	label string
	conns int
	ratio float64 // median of the rounds' ratios
	// fetchRatio is the median of edge req/s ÷ fetch+engine img/s, 0
	// without that side: what the edge adds beyond getting the bytes.
	fetchRatio float64
	errors     int  // failed requests
	different  bool // the edge's bytes were not the engine's
}

func run(o options) (bool, error) {
	engine := transform.New(transform.Config{
		// The edge's settings (cmd/edge): the limits only refuse work,
		// they do not change how it is done.
		MaxSourcePixels: 100_000_000,
		Workers:         o.workers,
		QueueLength:     64,
		QueueWait:       2 * time.Second,
		Deadline:        10 * time.Second,
		AVIFEffort:      0,
	}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	script := filepath.Join(os.TempDir(), "benchmiss-"+o.run+".lua")
	if err := os.WriteFile(script, []byte(missScript), 0o644); err != nil {
		return false, err
	}
	defer os.Remove(script)

	for _, c := range o.conns {
		if cores := runtime.NumCPU(); c < min(o.workers, cores) {
			// A transform runs on one thread: with fewer requests than
			// cores in flight the edge cannot use them all, the engine can.
			fmt.Printf("note: at c%d the edge transforms at most %d images at once, the engine %d on %d cores: the ratio is bounded by about %.2f\n",
				c, c, min(o.workers, cores), cores, float64(c)/float64(min(o.workers, cores)))
		}
	}
	var results []result
	for _, c := range []missCase{{"12", o.src12, "w-300,q-80"}, {"18", o.src18, "w-800,f-webp"}} {
		rs, err := runCase(o, engine, script, c)
		if err != nil {
			return false, err
		}
		results = append(results, rs...)
	}
	// A process that has exited (a zombie included) has no VmHWM.
	hwm, alive := benchkit.ProcStatus(o.pid, "VmHWM")
	line, pass := summary(results, o.target, hwm, alive)
	fmt.Println(line)
	return pass, nil
}

// runCase probes the edge once for the case, checks that the engine makes
// the same bytes, then measures every concurrency.
func runCase(o options, engine *transform.Engine, script string, c missCase) ([]result, error) {
	src, err := os.ReadFile(c.src)
	if err != nil {
		return nil, err
	}
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(src))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.src, err)
	}
	tr, err := imgurl.Parse(c.tr)
	if err != nil {
		return nil, err
	}
	prefix := "/bench/tr:" + c.tr + "/" + c.dir + "/"
	// The probe is also each side's warm-up: the first miss and the first
	// transform pay for loading libvips' codecs.
	probe, format, err := get(o.edge+prefix+o.run+"-probe.jpg", o.accept)
	if err != nil {
		return nil, fmt.Errorf("probe: %w", err)
	}
	req := transform.Request{Source: src, Transformation: tr, Format: format}
	res, err := engine.Transform(context.Background(), req)
	if err != nil {
		return nil, fmt.Errorf("engine: %w", err)
	}
	label := caseLabel(cfg.Width*cfg.Height, c.tr, res.Format)
	same := bytes.Equal(res.Body, probe)
	fmt.Printf("\n== %s: %d×%d, %d bytes → %s; edge %d bytes, engine %d bytes (%s); %d engine workers; %d rounds of %s engine, %s edge\n",
		label, cfg.Width, cfg.Height, len(src), res.ContentType(), len(probe), len(res.Body),
		map[bool]string{true: "the same", false: "DIFFERENT: not the same work"}[same],
		o.workers, o.rounds, o.duration, o.duration)

	var out []result
	for _, conns := range o.conns {
		m := measurement{o: o, engine: engine, req: req, script: script, prefix: prefix, conns: conns}
		if o.origin != "" {
			m.fetch = originFetch(o.origin, c.dir, fmt.Sprintf("%s-c%d", o.run, conns), o.workers)
		}
		r, err := m.rounds(fmt.Sprintf("%s-%s-c%d", o.run, c.dir, conns))
		if err != nil {
			return nil, fmt.Errorf("%s c%d: %w", label, conns, err)
		}
		r.label, r.different = label, !same
		out = append(out, r)
	}
	return out, nil
}

// caseLabel names a case the way the summary does: "12MP w-300 jpeg".
// The quality is left out: it is the same on both sides and only makes
// the line longer.
func caseLabel(pixels int, tr, format string) string {
	var parts []string
	for _, p := range strings.Split(tr, ",") {
		if !strings.HasPrefix(p, "q-") && !strings.HasPrefix(p, "f-") {
			parts = append(parts, p)
		}
	}
	return fmt.Sprintf("%.0fMP %s %s", float64(pixels)/1e6, strings.Join(parts, ","), format)
}

// summary is the last line printed, and whether every target was met.
func summary(results []result, target float64, hwm int64, alive bool) (string, bool) {
	pass := alive
	var b strings.Builder
	errors := 0
	for i, r := range results {
		if i == 0 || r.label != results[i-1].label {
			if i > 0 {
				b.WriteString(" |")
			}
			b.WriteString(" " + r.label)
		}
		fmt.Fprintf(&b, " c%d %.2f", r.conns, r.ratio)
		if r.fetchRatio > 0 {
			fmt.Fprintf(&b, " [%.2f]", r.fetchRatio)
		}
		errors += r.errors
		pass = pass && r.ratio >= target && r.errors == 0 && !r.different
	}
	fmt.Fprintf(&b, " | peak RSS %.0f MiB", float64(hwm)/(1<<20))
	if len(results) > 0 && results[0].fetchRatio > 0 {
		b.WriteString(" | [edge ÷ fetch+engine]")
	}
	if errors > 0 {
		fmt.Fprintf(&b, " | %d failed requests", errors)
	}
	for _, r := range results {
		if r.different {
			b.WriteString(" | edge and engine made different bytes")
			break
		}
	}
	if !alive {
		b.WriteString(" | the edge died")
	}
	verdict := "PASS"
	if !pass {
		verdict = fmt.Sprintf("FAIL (target %.2f)", target)
	}
	return "bench-miss: " + verdict + b.String(), pass
}
