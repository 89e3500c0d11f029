package httpapi

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"pictor/services/controlplane/internal/tenant"
)

// Observer receives one event per API response (metrics). route is Echo's
// route template (c.Path()), never the raw URL, so its values are bounded.
// It is called on the request path and must not block.
type Observer interface {
	APIRequest(method, route string, status int, d time.Duration)
}

// routeOf is the request's route template; "unmatched" when no route took
// it (a 404 or 405 before any handler).
func routeOf(c echo.Context) string {
	if p := c.Path(); p != "" {
		return p
	}
	return "unmatched"
}

// observe times each request for metrics and, when tracing is on, makes it
// a server span (joining the caller's trace from traceparent) that the
// store's query spans hang under. It runs inside requestID and outside
// accessLog, which renders errors, so it sees the status sent.
func (s *server) observe(next echo.HandlerFunc) echo.HandlerFunc {
	if s.Observer == nil && s.tracer == nil {
		return next
	}
	return func(c echo.Context) error {
		start := time.Now()
		var span trace.Span
		if s.tracer != nil {
			req := c.Request()
			ctx := traceContext.Extract(req.Context(), propagation.HeaderCarrier(req.Header))
			ctx, span = s.tracer.Start(ctx, req.Method+" "+routeOf(c), trace.WithSpanKind(trace.SpanKindServer),
				trace.WithAttributes(
					attribute.String("http.request.method", req.Method),
					attribute.String("http.route", routeOf(c)),
					attribute.String("pictor.request_id", requestIDOf(c)),
				))
			c.SetRequest(req.WithContext(ctx))
		}
		err := next(c)
		status := c.Response().Status
		if s.Observer != nil {
			s.Observer.APIRequest(c.Request().Method, routeOf(c), status, time.Since(start))
		}
		if span != nil {
			span.SetAttributes(attribute.Int("http.response.status_code", status))
			if caller, ok := c.Get(ctxCaller).(tenant.Caller); ok && caller.AccountID != "" {
				span.SetAttributes(attribute.String("pictor.account", caller.AccountID))
			}
			if status >= 500 {
				span.SetStatus(codes.Error, http.StatusText(status))
			}
			span.End()
		}
		return err
	}
}

// traceContext reads W3C traceparent/tracestate: a caller's trace (a load
// balancer's, a test's) continues here.
var traceContext = propagation.TraceContext{}

// metrics serves /metrics when the control plane exposes them.
func (s *server) metrics(c echo.Context) error {
	if s.Metrics == nil {
		return echo.ErrNotFound
	}
	s.Metrics.ServeHTTP(c.Response(), c.Request())
	return nil
}
