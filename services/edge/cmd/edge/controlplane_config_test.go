package main

import (
	"strings"
	"testing"
	"time"
)

// TestControlPlaneConfig covers the settings of the control-plane
// connection: TLS, and how often usage is reported over it.
func TestControlPlaneConfig(t *testing.T) {
	load := func(env map[string]string) (config, error) {
		env["PICTOR_EDGE_TOKEN"] = "t"
		return loadConfig(func(k string) string { return env[k] }, "")
	}
	c, err := load(map[string]string{})
	if err != nil || c.ControlPlaneTLS || c.UsageInterval != 5*time.Second || c.plaintextBeyondHost() {
		t.Fatalf("defaults: tls %v interval %v plaintext-beyond-host %v, %v", c.ControlPlaneTLS, c.UsageInterval, c.plaintextBeyondHost(), err)
	}
	c, err = load(map[string]string{"PICTOR_CONTROL_PLANE_TLS_CA": "/etc/pictor/ca.pem", "PICTOR_USAGE_INTERVAL": "2s",
		"PICTOR_CONTROL_PLANE_ADDR": "cp.example.com:8090"})
	if err != nil || !c.ControlPlaneTLS || c.ControlPlaneCA != "/etc/pictor/ca.pem" || c.UsageInterval != 2*time.Second || c.plaintextBeyondHost() {
		t.Fatalf("a CA implies TLS: %+v, %v", c, err)
	}
	for addr, want := range map[string]bool{"cp.example.com:8090": true, "10.0.0.5:8090": true, "127.0.0.1:8090": false, "localhost:8090": false, "[::1]:8090": false} {
		c, err := load(map[string]string{"PICTOR_CONTROL_PLANE_ADDR": addr})
		if err != nil || c.plaintextBeyondHost() != want {
			t.Errorf("%s: plaintext beyond host = %v, want %v (%v)", addr, c.plaintextBeyondHost(), want, err)
		}
	}
	_, err = load(map[string]string{"PICTOR_USAGE_INTERVAL": "often", "PICTOR_CONTROL_PLANE_TLS": "yes please"})
	if err == nil || !strings.Contains(err.Error(), "PICTOR_USAGE_INTERVAL") || !strings.Contains(err.Error(), "PICTOR_CONTROL_PLANE_TLS") {
		t.Fatalf("bad values: %v", err)
	}
}
