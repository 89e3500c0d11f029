// Package facetest gives tests a photo with a face in it.
package facetest

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Astronaut is NASA's public-domain portrait of Eileen Collins, from
// Debian's python3-skimage package: downloaded (only the package, not its
// dependencies) and unpacked once per machine, never committed.
func Astronaut(t testing.TB) string {
	t.Helper()
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "pictor-testdata")
	png := filepath.Join(dir, "astronaut.png")
	if _, err := os.Stat(png); err == nil {
		return png
	}
	work := t.TempDir()
	dl := exec.Command("apt-get", "download", "python3-skimage")
	dl.Dir = work
	if out, err := dl.CombinedOutput(); err != nil {
		t.Fatalf("apt-get download python3-skimage (the test photo): %v\n%s", err, out)
	}
	debs, _ := filepath.Glob(filepath.Join(work, "python3-skimage_*.deb"))
	if len(debs) != 1 {
		t.Fatalf("apt-get download left %v", debs)
	}
	if out, err := exec.Command("dpkg-deb", "-x", debs[0], filepath.Join(work, "x")).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb -x: %v\n%s", err, out)
	}
	src := filepath.Join(work, "x", "usr", "lib", "python3", "dist-packages", "skimage", "data", "astronaut.png")
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(png, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return png
}
