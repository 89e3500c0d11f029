// Package tracing builds a service's OpenTelemetry TracerProvider from its
// configuration. Tracing is off unless an OTLP endpoint is configured: then
// no exporter exists and every tracer is OpenTelemetry's no-op one, so
// instrumented code pays a nil-cheap IsRecording check and nothing more.
// Both services use this one implementation (no cgo).
package tracing

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Config says where spans go. The zero value turns tracing off.
type Config struct {
	// Endpoint is the OTLP/gRPC collector: a URL (http:// sends in
	// plaintext, https:// over TLS) or host:port (TLS). "" = off.
	Endpoint string
	// SampleRatio is the fraction of new traces recorded (0 < r <= 1);
	// a request whose caller sampled its trace is always recorded.
	SampleRatio float64
}

// Enabled reports whether spans are exported.
func (c Config) Enabled() bool { return c.Endpoint != "" }

// LoadConfig reads PICTOR_OTLP_ENDPOINT, falling back to the standard
// OTEL_EXPORTER_OTLP_ENDPOINT, and PICTOR_TRACE_SAMPLE_RATIO (default 1).
func LoadConfig(getenv func(string) string) (Config, error) {
	c := Config{Endpoint: strings.TrimSpace(getenv("PICTOR_OTLP_ENDPOINT")), SampleRatio: 1}
	field := "PICTOR_OTLP_ENDPOINT"
	if c.Endpoint == "" {
		c.Endpoint = strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_ENDPOINT"))
		field = "OTEL_EXPORTER_OTLP_ENDPOINT"
	}
	if c.Endpoint != "" {
		if err := checkEndpoint(c.Endpoint); err != nil {
			return Config{}, fmt.Errorf("%s: %w", field, err)
		}
	}
	if s := strings.TrimSpace(getenv("PICTOR_TRACE_SAMPLE_RATIO")); s != "" {
		r, err := strconv.ParseFloat(s, 64)
		if err != nil || !(r > 0 && r <= 1) {
			return Config{}, fmt.Errorf("PICTOR_TRACE_SAMPLE_RATIO: want a number in (0, 1], got %q", s)
		}
		c.SampleRatio = r
	}
	return c, nil
}

func checkEndpoint(s string) error {
	if strings.Contains(s, "://") {
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return errors.New("want an http:// or https:// URL, or host:port")
		}
		return nil
	}
	if _, port, err := net.SplitHostPort(s); err != nil || port == "" {
		return errors.New("want an http:// or https:// URL, or host:port")
	}
	return nil
}

// Masked is the endpoint as it may be logged: no user info, query or path
// (collectors' URLs sometimes carry a token).
func (c Config) Masked() string {
	if c.Endpoint == "" {
		return "off"
	}
	if u, err := url.Parse(c.Endpoint); err == nil && u.Host != "" {
		return u.Scheme + "://" + u.Host
	}
	return c.Endpoint
}

// Provider is a service's TracerProvider and how to stop it.
type Provider struct {
	trace.TracerProvider
	sdk *sdktrace.TracerProvider // nil when off
}

// Enabled reports whether spans are recorded and exported.
func (p *Provider) Enabled() bool { return p.sdk != nil }

// Shutdown flushes buffered spans and stops the exporter; a no-op when off.
func (p *Provider) Shutdown(ctx context.Context) error {
	if p.sdk == nil {
		return nil
	}
	return p.sdk.Shutdown(ctx)
}

// New builds the provider for service (e.g. "pictor-edge") and installs it
// and the W3C trace-context propagator as OpenTelemetry's globals. When
// tracing is off it creates no exporter and returns the no-op provider.
func New(ctx context.Context, c Config, service, version string) (*Provider, error) {
	if !c.Enabled() {
		return &Provider{TracerProvider: noop.NewTracerProvider()}, nil
	}
	opts := []otlptracegrpc.Option{otlptracegrpc.WithTimeout(10 * time.Second)}
	if strings.Contains(c.Endpoint, "://") {
		opts = append(opts, otlptracegrpc.WithEndpointURL(c.Endpoint))
	} else {
		opts = append(opts, otlptracegrpc.WithEndpoint(c.Endpoint))
	}
	// New does not connect: a collector that is down loses spans, it does
	// not stop the service.
	exp, err := otlptracegrpc.New(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("OTLP exporter: %w", err)
	}
	res := resource.NewWithAttributes(semconv.SchemaURL,
		semconv.ServiceName(service), semconv.ServiceVersion(version))
	ratio := c.SampleRatio
	if ratio == 0 {
		ratio = 1
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio))),
	)
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.TraceContext{})
	return &Provider{TracerProvider: tp, sdk: tp}, nil
}
