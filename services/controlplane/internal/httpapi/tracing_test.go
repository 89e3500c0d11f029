package httpapi_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"pictor/services/controlplane/internal/auth"
	"pictor/services/controlplane/internal/httpapi"
	"pictor/services/controlplane/internal/postgres"
)

// TestTracingAPIToQueries: an API request is a server span that joins the
// caller's trace and carries the request id, and its Postgres queries are
// its children.
func TestTracingAPIToQueries(t *testing.T) {
	t.Parallel()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	ctx := context.Background()
	dbURL := newDatabaseURL(t)
	super, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(super.Close)
	log := slog.New(slog.DiscardHandler)
	db, err := postgres.Open(ctx, appURL(t, super, dbURL), log, postgres.WithTracerProvider(tp))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	kr, err := auth.NewKeyring(bytes.Repeat([]byte{5}, auth.MasterKeyLen))
	if err != nil {
		t.Fatal(err)
	}
	h, err := httpapi.New(httpapi.Options{AdminToken: adminToken, PublicEdgeURL: edgeURL, Store: db, Keyring: kr, Log: log, TracerProvider: tp})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)

	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	req, _ := http.NewRequest("GET", srv.URL+"/admin/v1/accounts/nobody", nil)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	req.Header.Set("X-Request-Id", "req-trace-1")
	req.Header.Set("traceparent", "00-"+traceID+"-00f067aa0ba902b7-01")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound || res.Header.Get("X-Request-Id") != "req-trace-1" {
		t.Fatalf("status %d, X-Request-Id %q", res.StatusCode, res.Header.Get("X-Request-Id"))
	}

	// The server span ends just after the response is written.
	var server sdktrace.ReadOnlySpan
	for deadline := time.Now().Add(5 * time.Second); server == nil && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		for _, s := range rec.Ended() {
			if s.SpanKind() == trace.SpanKindServer {
				server = s
			}
		}
	}
	if server == nil {
		t.Fatal("no server span")
	}
	if server.Name() != "GET /admin/v1/accounts/:id" || server.SpanContext().TraceID().String() != traceID {
		t.Fatalf("server span %q in trace %s, want the route template in the caller's trace", server.Name(), server.SpanContext().TraceID())
	}
	attrs := map[string]string{}
	for _, kv := range server.Attributes() {
		attrs[string(kv.Key)] = kv.Value.Emit()
	}
	if attrs["pictor.request_id"] != "req-trace-1" || attrs["http.response.status_code"] != "404" || attrs["http.route"] != "/admin/v1/accounts/:id" {
		t.Fatalf("server span attributes %v", attrs)
	}
	var queries int
	for _, s := range rec.Ended() {
		if !strings.HasPrefix(s.Name(), "postgres ") {
			continue
		}
		if s.Parent().SpanID() != server.SpanContext().SpanID() || s.SpanKind() != trace.SpanKindClient {
			t.Errorf("query span %q: parent %s, want the request span %s", s.Name(), s.Parent().SpanID(), server.SpanContext().SpanID())
		}
		queries++
	}
	if queries == 0 {
		t.Fatal("no query spans under the request")
	}
}
