package sniff

import (
	"bytes"
	"image"
	"image/jpeg"
	"testing"
)

func testJPEG(t *testing.T) []byte {
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, image.NewRGBA(image.Rect(0, 0, 8, 6)), nil); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestSniff(t *testing.T) {
	cases := []struct {
		name string
		in   []byte
		want Format
	}{
		{"jpeg", testJPEG(t), JPEG},
		{"png", []byte("\x89PNG\r\n\x1a\n\x00\x00"), PNG},
		{"gif", []byte("GIF89a...."), GIF},
		{"webp", []byte("RIFF\x00\x00\x00\x00WEBPVP8 "), WebP},
		{"avif", []byte("\x00\x00\x00\x1cftypavif\x00\x00"), AVIF},
		{"svg", []byte(`<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>`), SVG},
		{"pdf", []byte("%PDF-1.7"), PDF},
		{"truetype font", []byte("\x00\x01\x00\x00\x00\x10\x01\x00"), TrueType},
		{"opentype font", []byte("OTTO\x00\x0b\x00\x80"), OpenType},
		{"html", []byte("<!doctype html><html>"), Unknown},
		{"empty", nil, Unknown},
		{"text", []byte("hello world"), Unknown},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := Sniff(tc.in); got != tc.want {
				t.Fatalf("Sniff = %q, want %q", got, tc.want)
			}
		})
	}
}
