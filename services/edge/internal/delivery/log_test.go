package delivery

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
)

// TestRequestLogsJSON: with a JSON logger (PICTOR_LOG_FORMAT=json) request
// lines carry the request id (the X-Request-Id sent), the account and the
// URL-endpoint — refusals at info, successes at debug.
func TestRequestLogsJSON(t *testing.T) {
	f := newFixture(t)
	var buf bytes.Buffer
	f.handler.(*Handler).log = slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ok := f.do("GET", "/demo/tr:w-40/photo.jpg", nil)
	bad := f.do("GET", "/demo/tr:w-abc/photo.jpg", nil)
	if ok.Code != 200 || bad.Code != 400 {
		t.Fatalf("status %d, %d", ok.Code, bad.Code)
	}
	want := map[string]string{
		ok.Header().Get("X-Request-Id"):  "image served",
		bad.Header().Get("X-Request-Id"): "image request refused",
	}
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("not JSON: %q", line)
		}
		id, _ := rec["request_id"].(string)
		msg, found := want[id]
		if !found {
			continue
		}
		if rec["msg"] != msg || rec["account_id"] != "demo" || rec["endpoint"] != "ep-default" {
			t.Errorf("log line %v", rec)
		}
		delete(want, id)
	}
	if len(want) > 0 {
		t.Fatalf("no log line for %v in %s", want, buf.String())
	}
}
