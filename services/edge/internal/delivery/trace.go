package delivery

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// Tracing rides on the request's span, which the server wrapper (otelhttp
// in cmd/edge, only when tracing is configured) starts. Without a
// recording span each helper is one IsRecording check: no allocation.

// annotate puts the request's identity and outcome on its span.
func annotate(ctx context.Context, reqID string, req *request, status int, cacheStatus string) {
	span := trace.SpanFromContext(ctx)
	if !span.IsRecording() {
		return
	}
	span.SetAttributes(attribute.String("pictor.request_id", reqID), attribute.Int("http.response.status_code", status))
	if cacheStatus != "" {
		span.SetAttributes(attribute.String("pictor.cache", cacheStatus))
	}
	if req != nil {
		span.SetAttributes(attribute.String("pictor.account", req.route.Account.ID), attribute.String("pictor.endpoint", req.route.Endpoint.ID))
	}
}

// noSpan is what startSpan returns when there is no trace to join.
var noSpan = trace.SpanFromContext(context.Background())

// startSpan starts a child of the span in ctx, when that one records.
func startSpan(ctx context.Context, name string) (context.Context, trace.Span) {
	parent := trace.SpanFromContext(ctx)
	if !parent.IsRecording() {
		return ctx, noSpan
	}
	return parent.TracerProvider().Tracer("pictor/edge/delivery").Start(ctx, name)
}
