package transform

import (
	"bytes"
	"context"
	"image/jpeg"
	"testing"
)

// containerSeeds are real encoder outputs that carry metadata (md-true and
// cp-true skip dropMetadata, so these are what the savers wrote), plus
// hand-made containers at the edges of the parsers.
func containerSeeds(t testing.TB) []struct {
	format string
	body   []byte
} {
	e := testEngine()
	photo := orientedJPEG(t, 64, 48, 6)
	p3 := readTestdata(t, "p3.jpg")
	type seed = struct {
		format string
		body   []byte
	}
	seeds := []seed{
		{"jpeg", photo},
		{"jpeg", p3},
		{"jpeg", readTestdata(t, "cmyk.jpg")},
		{"jpeg", []byte("\xFF\xD8\xFF\xE1\x00\x40short")},
		{"jpeg", []byte("\xFF\xD8\xFF\xFF\xE1\x00\x04\x00\x00\xFF\xDA\x00\x02")},
		{"webp", []byte("RIFF\x10\x00\x00\x00WEBPVP8X")},
		{"webp", []byte("RIFF\x12\x00\x00\x00WEBPVP8X\x00\x00\x00\x00")},
	}
	for _, c := range []struct {
		src        []byte
		tr, format string
	}{
		{photo, "w-40,md-true", "jpeg"},
		{photo, "w-40,md-true", "webp"},
		{p3, "cp-true", "jpeg"},
		{p3, "cp-true", "webp"},
		{alphaPNG(t, 40, 30), "md-true", "webp"},
		{photo, "w-40,lo-true,md-true", "webp"},
	} {
		res, err := e.Transform(context.Background(), Request{Source: c.src, Transformation: mustParse(t, c.tr), Format: c.format})
		if err != nil {
			t.Fatal(err)
		}
		seeds = append(seeds, seed{c.format, res.Body})
	}
	return seeds
}

// FuzzDropMetadata edits arbitrary bytes as a JPEG or WebP container. It
// must never panic nor grow the file, and a file libvips could read before
// the edit it must read after it, at the same size: only metadata goes.
func FuzzDropMetadata(f *testing.F) {
	for _, s := range containerSeeds(f) {
		f.Add(s.body, s.format == "webp", false)
		f.Add(s.body, s.format == "webp", true)
	}
	f.Fuzz(func(t *testing.T, b []byte, webp, keepICC bool) {
		format := map[bool]string{false: "jpeg", true: "webp"}[webp]
		out, err := dropMetadata(format, b, keepICC)
		if err != nil {
			return
		}
		if len(out) > len(b) {
			t.Fatalf("output %d bytes, input %d", len(out), len(b))
		}
		in, err := readHeader(b)
		if err != nil || in.loader != loaderOf[format] {
			return
		}
		got, err := readHeader(out)
		if err != nil {
			t.Fatalf("the input read as %d×%d, the output does not: %v", in.width, in.height, err)
		}
		if got.width != in.width || got.height != in.height || got.loader != in.loader {
			t.Fatalf("%s %d×%d became %s %d×%d", in.loader, in.width, in.height, got.loader, got.width, got.height)
		}
		// A small JPEG is decoded whole as well, by Go's decoder rather
		// than libvips: the image data must survive the edit, not only the
		// header. (Mutated frame headers claim gigapixels; those are not
		// worth decoding.)
		if cfg, err := jpeg.DecodeConfig(bytes.NewReader(b)); err == nil && !webp && cfg.Width*cfg.Height <= 1<<20 {
			if img, err := jpeg.Decode(bytes.NewReader(b)); err == nil {
				if img2, err := jpeg.Decode(bytes.NewReader(out)); err != nil || img2.Bounds() != img.Bounds() {
					t.Fatalf("decoded as %v before the edit; after: %v", img.Bounds(), err)
				}
			}
		}
	})
}
