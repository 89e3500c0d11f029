package delivery

import (
	"bytes"
	"image"
	"image/color"
	"testing"
)

// TestLayersFromTheEndpoint: a layer's image comes from the request's own
// URL-endpoint, through the cache like any original, and lands where the
// URL puts it; a layer's failure is not the base image's.
func TestLayersFromTheEndpoint(t *testing.T) {
	f := newFixture(t)
	w := f.do("GET", "/demo/tr:w-300,l-image,i-brand@@logo.png,w-20,lap-top_right,lx-0,ly-0,l-end/photo.jpg", nil)
	if w.Code != 200 {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	img, _, err := image.Decode(bytes.NewReader(w.Body.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if got := color.NRGBAModel.Convert(img.At(295, 4)).(color.NRGBA); got.B < 200 || got.R > 60 || got.G > 60 {
		t.Errorf("top-right corner %v, want the blue logo", got)
	}
	if got := color.NRGBAModel.Convert(img.At(270, 4)).(color.NRGBA); got.B > 200 && got.R < 60 {
		t.Errorf("left of the logo %v is blue too", got)
	}
	logoFetches := func() int {
		n := 0
		for _, r := range f.origin.requests {
			if r.URL.Path == "/img/brand/logo.png" {
				n++
			}
		}
		return n
	}
	// Another variant with the same layer: the logo's original is cached.
	if w := f.do("GET", "/demo/tr:w-200,l-image,i-brand@@logo.png,l-end/photo.jpg", nil); w.Code != 200 {
		t.Fatalf("second variant: %d %s", w.Code, w.Body)
	}
	f.origin.mu.Lock()
	n := logoFetches()
	f.origin.mu.Unlock()
	if n != 1 {
		t.Errorf("the logo was fetched %d times for two variants, want once", n)
	}
	// A broken layer refuses its variant, not the base image.
	if w := f.do("GET", "/demo/tr:w-100,l-image,i-page.html,l-end/photo.jpg", nil); w.Code != 502 {
		t.Fatalf("broken layer: %d, want 502", w.Code)
	}
	if w := f.do("GET", "/demo/tr:w-100/photo.jpg", nil); w.Code != 200 {
		t.Fatalf("the base image after a broken layer: %d %s", w.Code, w.Body)
	}
}
