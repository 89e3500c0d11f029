package web

import (
	"io/fs"
	"regexp"
	"strings"
	"testing"
)

// TestPlaceholder: the committed placeholder is embedded and says what to
// do, so a control plane built before npm ran explains itself.
func TestPlaceholder(t *testing.T) {
	b, err := fs.ReadFile(Dist, "dist/index.html")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "not built yet") || !strings.Contains(string(b), "npm run build") {
		t.Fatalf("placeholder does not explain itself:\n%s", b)
	}
}

// TestDashboard: before a build Dashboard serves the placeholder; after
// one, the app, and every asset its index.html names is embedded with it
// (a stale or half-copied build would otherwise serve a blank page).
func TestDashboard(t *testing.T) {
	files, built := Dashboard()
	index, err := fs.ReadFile(files, "index.html")
	if err != nil {
		t.Fatal(err)
	}
	if !built {
		if !strings.Contains(string(index), "not built yet") {
			t.Fatal("not built, but index.html is not the placeholder")
		}
		t.Log("dashboard not built: serving the placeholder")
		return
	}
	refs := regexp.MustCompile(`(?:src|href)="/(assets/[^"]+)"`).FindAllStringSubmatch(string(index), -1)
	if len(refs) == 0 {
		t.Fatalf("built index.html names no assets:\n%s", index)
	}
	for _, r := range refs {
		if _, err := fs.Stat(files, r[1]); err != nil {
			t.Errorf("index.html names %s, which is not embedded: %v", r[1], err)
		}
	}
}
