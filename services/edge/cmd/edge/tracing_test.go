package main

import (
	"bytes"
	"image"
	"image/jpeg"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	configv1 "pictor/proto/pictor/config/v1"
	"pictor/services/edge/internal/cache"
	"pictor/services/edge/internal/delivery"
	"pictor/services/edge/internal/origin"
	"pictor/services/edge/internal/routing"
	"pictor/services/edge/internal/transform"
)

// TestTracingRequestToOrigin wires the edge as main does with tracing on
// and checks the spans: one root "edge request" per image request carrying
// the request id (the X-Request-Id sent), account, endpoint, cache result
// and status, with the origin fetch and the transform as its children.
func TestTracingRequestToOrigin(t *testing.T) {
	var jpg bytes.Buffer
	jpeg.Encode(&jpg, image.NewRGBA(image.Rect(0, 0, 64, 48)), nil)
	var mu sync.Mutex
	var originTraceparent []string
	org := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		originTraceparent = append(originTraceparent, r.Header.Get("traceparent"))
		mu.Unlock()
		w.Write(jpg.Bytes())
	}))
	defer org.Close()

	table, err := routing.Build(&configv1.Snapshot{Version: 1, Accounts: []*configv1.Account{{
		Id: "demo", Status: "active",
		Origins:   []*configv1.Origin{{Id: "o", Type: "WEB_FOLDER", Name: "o", BaseUrl: org.URL}},
		Endpoints: []*configv1.Endpoint{{Id: "ep", OriginIds: []string{"o"}}},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	var tables routing.Holder
	tables.Store(table)

	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ocfg := origin.DefaultConfig()
	ocfg.AllowPrivate = true
	ocfg.TracerProvider = tp
	store, _ := cache.New(cache.Config{L1Bytes: 1 << 20, MaxObject: 1 << 20}, log)
	engine := transform.New(transform.Config{MaxSourcePixels: 1e8, Workers: 1, QueueLength: 2, QueueWait: time.Second, Deadline: 5 * time.Second}, log)
	srv := httptest.NewServer(traced(delivery.New(&tables, origin.New(ocfg), engine, store, log), tp))
	defer srv.Close()

	get := func(path string, hdr map[string]string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res
	}
	// A client's trace is linked, not adopted.
	const clientTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	res := get("/demo/tr:w-32/a.jpg", map[string]string{"traceparent": "00-" + clientTrace + "-00f067aa0ba902b7-01"})
	if res.StatusCode != 200 {
		t.Fatalf("status %d", res.StatusCode)
	}
	reqID := res.Header.Get("X-Request-Id")
	get("/healthz", nil)

	var spans []sdktrace.ReadOnlySpan
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if spans = rec.Ended(); len(spans) >= 3 {
			break
		}
	}
	byName := map[string][]sdktrace.ReadOnlySpan{}
	for _, s := range spans {
		byName[s.Name()] = append(byName[s.Name()], s)
	}
	if len(byName["edge request"]) != 1 || len(byName["origin fetch"]) != 1 || len(byName["transform"]) != 1 || len(spans) != 3 {
		names := []string{}
		for _, s := range spans {
			names = append(names, s.Name())
		}
		t.Fatalf("spans %v, want one edge request (not /healthz), one origin fetch, one transform", names)
	}
	root := byName["edge request"][0]
	if root.Parent().IsValid() || root.SpanKind() != trace.SpanKindServer {
		t.Errorf("edge request: parent %v kind %v, want a server root", root.Parent(), root.SpanKind())
	}
	if root.SpanContext().TraceID().String() == clientTrace || len(root.Links()) != 1 || root.Links()[0].SpanContext.TraceID().String() != clientTrace {
		t.Errorf("client trace adopted or not linked: trace %s links %v", root.SpanContext().TraceID(), root.Links())
	}
	attrs := map[string]string{}
	for _, kv := range root.Attributes() {
		attrs[string(kv.Key)] = kv.Value.Emit()
	}
	for k, want := range map[string]string{
		"pictor.request_id": reqID, "pictor.account": "demo", "pictor.endpoint": "ep",
		"pictor.cache": "MISS", "http.response.status_code": "200",
	} {
		if attrs[k] != want {
			t.Errorf("edge request %s = %q, want %q", k, attrs[k], want)
		}
	}
	for _, name := range []string{"origin fetch", "transform"} {
		s := byName[name][0]
		if s.Parent().SpanID() != root.SpanContext().SpanID() || s.SpanContext().TraceID() != root.SpanContext().TraceID() {
			t.Errorf("%s: parent %s, want the edge request %s", name, s.Parent().SpanID(), root.SpanContext().SpanID())
		}
	}
	if k := byName["origin fetch"][0].SpanKind(); k != trace.SpanKindClient {
		t.Errorf("origin fetch kind %v", k)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(originTraceparent) != 1 || originTraceparent[0] != "" {
		t.Errorf("origin saw traceparent %q: the trace context must not reach customers' origins", originTraceparent)
	}
}
