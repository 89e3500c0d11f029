package transform

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"pictor/services/internal/errkind"
)

// TestErrorKindsUnderConcurrency runs failures of every kind at once.
// libvips keeps one process-wide error buffer, so each failure's text can
// land in another's log line; the kind and reason must not move with it.
func TestErrorKindsUnderConcurrency(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	normal := New(Config{MaxSourcePixels: 1e8, Workers: 2, QueueLength: 64, QueueWait: time.Minute, Deadline: time.Minute}, quiet)
	// Its own slots, so killed runs do not wait behind the others.
	short := New(Config{MaxSourcePixels: 1e8, Workers: 2, QueueLength: 64, QueueWait: time.Minute, Deadline: 150 * time.Millisecond}, quiet)
	photo := photoJPEG(t, 400, 300)
	cases := []struct {
		name   string
		engine *Engine
		src    []byte
		tr     string
		reason string // "" for a result
	}{
		{"truncated", normal, photo[:len(photo)/2], "w-100", "source_corrupt"},
		{"not an image", normal, []byte("<html>not an image</html>"), "", "source_corrupt"},
		{"svg", normal, readTestdata(t, "malformed/script.svg"), "", "source_format_blocked"},
		{"float tiff", normal, refusedLayouts()["float-rgb"], "", "source_pixel_format"},
		{"six bands", normal, bandTIFF(40, 30, 6), "o-50,bg-FF000080", ""},
		{"killed", short, photo, "w-6000,bl-100", "transform_deadline"},
	}
	const rounds = 8
	var wg sync.WaitGroup
	errs := make(chan string, rounds*len(cases))
	for r := 0; r < rounds; r++ {
		for _, tc := range cases {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res, err := tc.engine.Transform(context.Background(), Request{Source: tc.src, Transformation: mustParse(t, tc.tr), Format: "png"})
				switch {
				case tc.reason == "" && err != nil:
					errs <- fmt.Sprintf("%s: %v, want a result", tc.name, err)
				case tc.reason != "" && (res != nil || errkind.Reason(err) != tc.reason):
					errs <- fmt.Sprintf("%s: reason %s (%v), want %s", tc.name, errkind.Reason(err), err, tc.reason)
				case err != nil && strings.Contains(strings.ToLower(errkind.SafeMessage(err)), "vips"):
					errs <- fmt.Sprintf("%s: libvips text in the client message %q", tc.name, errkind.SafeMessage(err))
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
