package main

import (
	"slices"
	"strings"
	"testing"
)

// TestEgressAddresses: PICTOR_EDGE_EGRESS_ADDRESSES is optional, takes IP
// addresses and CIDR ranges (written back canonically) and names itself
// when an entry is neither.
func TestEgressAddresses(t *testing.T) {
	c, err := loadConfig(env(serveEnv(nil)), true)
	if err != nil || c.EgressAddresses != nil {
		t.Fatalf("unset: %v %v", c.EgressAddresses, err)
	}
	c, err = loadConfig(env(serveEnv(func(m map[string]string) {
		m[envEgressAddresses] = " 203.0.113.7, 198.51.100.0/24 ,,2001:DB8::1,2001:db8:1::5/48"
	})), true)
	want := []string{"203.0.113.7", "198.51.100.0/24", "2001:db8::1", "2001:db8:1::/48"}
	if err != nil || !slices.Equal(c.EgressAddresses, want) {
		t.Fatalf("got %v, %v; want %v", c.EgressAddresses, err, want)
	}
	for _, bad := range []string{"edge.example.com", "203.0.113.7/33", "fe80::1%eth0", "1.2.3"} {
		_, err := loadConfig(env(serveEnv(func(m map[string]string) { m[envEgressAddresses] = "203.0.113.7," + bad })), true)
		if err == nil || !strings.Contains(err.Error(), envEgressAddresses) || !strings.Contains(err.Error(), bad) {
			t.Errorf("%q: error %v", bad, err)
		}
	}
}
