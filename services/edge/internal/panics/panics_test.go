package panics

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"pictor/services/internal/errkind"
)

func TestRecovered(t *testing.T) {
	var logged bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logged, nil))
	before := Counts()
	if before[ConfigApply] != 0 && before[UsageReport] != 0 {
		t.Fatal("known places not exported at zero")
	}
	err := func() (err error) {
		defer func() {
			if p := recover(); p != nil {
				err = Recovered(log, UsageReport, p)
			}
		}()
		var s []int
		_ = s[3]
		return nil
	}()
	if errkind.KindOf(err) != errkind.Internal || errkind.SafeMessage(err) != "internal error" {
		t.Fatalf("err = %v (%q), want an internal error with a safe message", err, errkind.SafeMessage(err))
	}
	if got := Counts()[UsageReport] - before[UsageReport]; got != 1 {
		t.Fatalf("count rose by %d", got)
	}
	if !strings.Contains(logged.String(), "index out of range") || !strings.Contains(logged.String(), "panics_test.go") {
		t.Fatalf("log lacks the panic or the stack where it started: %s", logged.String())
	}
}
