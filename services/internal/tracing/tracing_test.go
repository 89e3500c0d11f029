package tracing

import (
	"context"
	"testing"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestLoadConfig(t *testing.T) {
	c, err := LoadConfig(env(nil))
	if err != nil || c.Enabled() || c.Masked() != "off" {
		t.Fatalf("unset: %+v %v", c, err)
	}
	c, err = LoadConfig(env(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://u:secret@otel:4317/x?token=t"}))
	if err != nil || !c.Enabled() || c.Masked() != "http://otel:4317" {
		t.Fatalf("OTEL_: %+v %q %v", c, c.Masked(), err)
	}
	c, _ = LoadConfig(env(map[string]string{"PICTOR_OTLP_ENDPOINT": "collector:4317", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://other:4317"}))
	if c.Endpoint != "collector:4317" {
		t.Fatalf("PICTOR_ wins: %+v", c)
	}
	for _, bad := range []map[string]string{
		{"PICTOR_OTLP_ENDPOINT": "ftp://x:1"},
		{"PICTOR_OTLP_ENDPOINT": "collector"},
		{"PICTOR_TRACE_SAMPLE_RATIO": "0"},
		{"PICTOR_TRACE_SAMPLE_RATIO": "1.5"},
	} {
		if _, err := LoadConfig(env(bad)); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

func TestOffIsNoop(t *testing.T) {
	p, err := New(context.Background(), Config{}, "svc", "dev")
	if err != nil || p.Enabled() {
		t.Fatal(p, err)
	}
	_, span := p.Tracer("t").Start(context.Background(), "x")
	if span.IsRecording() {
		t.Fatal("off: span records")
	}
	if err := p.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestOnExports(t *testing.T) {
	p, err := New(context.Background(), Config{Endpoint: "http://127.0.0.1:1", SampleRatio: 1}, "svc", "dev")
	if err != nil || !p.Enabled() {
		t.Fatal(p, err)
	}
	_, span := p.Tracer("t").Start(context.Background(), "x")
	if !span.IsRecording() {
		t.Fatal("on: span does not record")
	}
	span.End()
	ctx, cancel := context.WithTimeout(context.Background(), 0)
	defer cancel()
	p.Shutdown(ctx) // the collector is absent: the flush fails, shutdown still returns
}
