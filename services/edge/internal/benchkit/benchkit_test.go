package benchkit

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/jpeg"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"pictor/services/edge/internal/transform"
	"pictor/services/internal/imgurl"
)

func TestMedian(t *testing.T) {
	for _, c := range []struct {
		in   []float64
		want float64
	}{{nil, 0}, {[]float64{3}, 3}, {[]float64{5, 1, 3}, 3}, {[]float64{4, 1, 3, 2}, 3}} {
		if got := Median(c.in); got != c.want {
			t.Errorf("Median(%v) = %v, want %v", c.in, got, c.want)
		}
	}
}

func TestProc(t *testing.T) {
	// Burn a little CPU so that the tick-granular reading is not zero.
	for end := time.Now().Add(50 * time.Millisecond); time.Now().Before(end); {
	}
	if u, ok := ProcUsage(os.Getpid()); !ok || u.CPU() <= 0 || u.MinorFaults <= 0 {
		t.Errorf("ProcUsage(self) = %+v, %v", u, ok)
	}
	if u := SelfUsage(); u.User <= 0 || u.MinorFaults <= 0 {
		t.Errorf("SelfUsage() = %+v", u)
	}
	if rss, ok := ProcStatus(0, "VmRSS"); !ok || rss < 1<<20 {
		t.Errorf("ProcStatus(self, VmRSS) = %d, %v", rss, ok)
	}
	if hwm, ok := ProcStatus(os.Getpid(), "VmHWM"); !ok || hwm < 1<<20 {
		t.Errorf("ProcStatus(pid, VmHWM) = %d, %v", hwm, ok)
	}
	if _, ok := ProcStatus(0, "NoSuchField"); ok {
		t.Error("ProcStatus found a field that does not exist")
	}
	if _, ok := ProcUsage(-1); ok {
		t.Error("ProcUsage read a process that does not exist")
	}
}

func TestTransforms(t *testing.T) {
	var src bytes.Buffer
	if err := jpeg.Encode(&src, image.NewRGBA(image.Rect(0, 0, 64, 48)), nil); err != nil {
		t.Fatal(err)
	}
	tr, err := imgurl.Parse("w-16")
	if err != nil {
		t.Fatal(err)
	}
	e := transform.New(transform.Config{MaxSourcePixels: 1 << 20, Workers: 2, QueueLength: 2,
		QueueWait: time.Second, Deadline: time.Second}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	req := transform.Request{Source: src.Bytes(), Transformation: tr, Format: "jpeg"}

	r, err := Transforms(e, req, 2, 7, 0)
	if err != nil || r.Images != 7 {
		t.Fatalf("count: %+v, %v; want 7 images", r, err)
	}
	r, err = Transforms(e, req, 2, 0, 100*time.Millisecond)
	if err != nil || r.Images == 0 || r.Wall != 100*time.Millisecond || r.Used.CPU() <= 0 || r.Busy <= 0 {
		t.Fatalf("time limit: %+v, %v", r, err)
	}
	if _, err := Transforms(e, transform.Request{Source: []byte("not an image"), Transformation: tr}, 2, 0, time.Second); err == nil {
		t.Fatal("a failing transform was not reported")
	}
}

func TestFetchTransforms(t *testing.T) {
	var src bytes.Buffer
	if err := jpeg.Encode(&src, image.NewRGBA(image.Rect(0, 0, 64, 48)), nil); err != nil {
		t.Fatal(err)
	}
	tr, err := imgurl.Parse("w-16")
	if err != nil {
		t.Fatal(err)
	}
	e := transform.New(transform.Config{MaxSourcePixels: 1 << 20, Workers: 2, QueueLength: 2,
		QueueWait: time.Second, Deadline: time.Second}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	// No source in the request: every transform must use what fetch got.
	req := transform.Request{Transformation: tr, Format: "jpeg"}
	var fetches, reused atomic.Int64
	fetch := func(_ context.Context, buf []byte) ([]byte, error) {
		fetches.Add(1)
		if cap(buf) >= src.Len() {
			reused.Add(1)
			return append(buf[:0], src.Bytes()...), nil
		}
		return bytes.Clone(src.Bytes()), nil
	}
	r, err := FetchTransforms(e, req, fetch, 2, 100*time.Millisecond)
	if err != nil || r.Images == 0 {
		t.Fatalf("%+v, %v", r, err)
	}
	if f := fetches.Load(); f < int64(r.Images) || reused.Load() < f-2 {
		t.Errorf("%d images, %d fetches, %d into the worker's last buffer; want a fetch per image, every one but each worker's first reusing", r.Images, f, reused.Load())
	}
	failing := func(context.Context, []byte) ([]byte, error) { return nil, errors.New("origin down") }
	if _, err := FetchTransforms(e, req, failing, 2, time.Second); err == nil || !strings.Contains(err.Error(), "origin down") {
		t.Fatalf("a failing fetch: %v", err)
	}
}
