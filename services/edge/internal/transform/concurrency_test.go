package transform

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"
)

// TestConcurrentTransformsDoNotCrash runs thousands of transforms, four
// at a time, every variant of one source at once as a CDN does. With
// libvips' run-time SIMD compiler (orc) on, 800 rounds of this crashed the
// process in each of three runs (SIGSEGV in g_object_unref, or in orc's
// code allocator under ASan); with it off, none of eight. Shorter, as here,
// it does not crash reliably, so the engine's setting is checked first.
func TestConcurrentTransformsDoNotCrash(t *testing.T) {
	e := New(Config{MaxSourcePixels: 1e8, Workers: 4, QueueLength: 64, QueueWait: time.Minute, Deadline: time.Minute},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	if vectorEnabled() {
		t.Fatal("libvips' orc SIMD is on: concurrent transforms can crash the process (initVips)")
	}
	src := photoJPEG(t, 800, 600)
	for round := 0; round < 150; round++ {
		var wg sync.WaitGroup
		for i := range 12 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				tr := mustParse(t, fmt.Sprintf("w-%d", 50+i))
				mine := append([]byte(nil), src...) // as distinct originals: it crashed either way
				if _, err := e.Transform(context.Background(), Request{Source: mine, Transformation: tr}); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
	}
}
