package transform

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"
)

// TestNoObjectsLeak: once transforms are done, successful or failed,
// killed at their deadline or cancelled by the caller, in every output
// format, every libvips object they made is gone. A reference the C code
// (or libvips: see save_webp) forgets to drop keeps a pipeline and its
// buffers alive for the life of the process.
func TestNoObjectsLeak(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	e := New(Config{MaxSourcePixels: 1e8, Workers: 2, QueueLength: 64, QueueWait: time.Minute, Deadline: time.Minute}, quiet)
	short := New(Config{MaxSourcePixels: 1e8, Workers: 2, QueueLength: 64, QueueWait: time.Minute, Deadline: 100 * time.Millisecond}, quiet)
	var srcs [][]byte
	for _, dir := range []string{corpusDir, oddDir} {
		for _, b := range readCorpus(t, dir) {
			srcs = append(srcs, b)
		}
	}
	for _, b := range oddLayouts(t) {
		srcs = append(srcs, b)
	}
	for _, b := range sources(t) {
		srcs = append(srcs, b)
	}
	trs := []string{
		"w-50,t-true:rt-45:r-max,b-3_FF0000:e-contrast,e-sharpen,e-usm-2-1-0.8-0.02,bl-3",
		"w-60,h-60,cm-pad_resize,bg-FF000080:o-50:e-grayscale,fl-h_v,rt-90,w-30,h-30,fo-auto",
		// Every kind of layer and blend, nested, and one that fails.
		"w-80,l-image,i-logo.png,w-20,rt-30,r-5,l-text,i-Hi,fs-8,l-end,l-end,l-text,i-Pictor,fs-12,tg-b_i,pa-2,bg-00000080,rt-10,l-end," +
			"l-image,i-ik_canvas,bg-FF000080,w-10,h-10,lm-multiply,l-end,l-image,i-ik_canvas,bg-red,w-5,h-5,lm-cutter,l-end:" +
			"l-image,i-ik_canvas,bg-blue,w-20,h-20,lm-cutout,l-end",
		"w-40,l-image,i-broken.png,l-end",
		"w-40,h-60,fo-face,z-0.8:w-30,h-30,cm-extract,fo-face",
		"w-60,e-dropshadow-az-45,e-shadow,e-gradient-ld-45_from-red_to-0000FF50_sp-0.5:l-image,i-ik_canvas,e-gradient,w-10,h-10,l-end",
	}
	layers := map[string][]byte{"logo.png": photoJPEG(t, 64, 48), "broken.png": []byte("not an image")}
	formats := []string{"png", "webp", "avif", "jpeg", "gif"}
	run := func() {
		i := 0
		for _, src := range srcs {
			for _, tr := range trs {
				i++
				e.Transform(context.Background(), Request{Source: src, Transformation: mustParse(t, tr), Format: formats[i%len(formats)], Layers: layers})
			}
		}
		// Killed in every saver, by the deadline and by the caller.
		photo := photoJPEG(t, 400, 300)
		for _, f := range formats {
			short.Transform(context.Background(), Request{Source: photo, Transformation: mustParse(t, "w-6000,bl-100"), Format: f})
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(30*time.Millisecond, cancel)
			e.Transform(ctx, Request{Source: photo, Transformation: mustParse(t, "w-6000,bl-100"), Format: f})
		}
	}
	run() // libvips makes some objects once per process
	before := liveObjects()
	run()
	if after := liveObjects(); after != before {
		t.Fatalf("%d libvips objects alive after the transforms, %d before", after, before)
	}
}
