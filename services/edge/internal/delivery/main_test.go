package delivery

import (
	"fmt"
	"os"
	"testing"
)

// TestMain fails the run if any request in any test was answered 500: bad
// input must always map to a 4xx/5xx of its kind, never to "internal error".
func TestMain(m *testing.M) {
	code := m.Run()
	if n := internalErrors.Load(); n > 0 && code == 0 {
		fmt.Fprintf(os.Stderr, "FAIL: %d test request(s) were answered 500 (a bug, not a kind of bad input)\n", n)
		code = 1
	}
	os.Exit(code)
}
