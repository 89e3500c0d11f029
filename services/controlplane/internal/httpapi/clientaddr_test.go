package httpapi

import (
	"net/http/httptest"
	"net/netip"
	"testing"
)

// TestClientKey: the address per-client limits count a request under,
// with and without trusted proxies, for the shapes X-Forwarded-For comes
// in (and forged ones).
func TestClientKey(t *testing.T) {
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	tests := []struct {
		name    string
		trusted []netip.Prefix
		remote  string
		xff     []string
		want    string
	}{
		{"no trusted proxies: the peer", nil, "203.0.113.1:5000", nil, "203.0.113.1"},
		{"no trusted proxies: the header is ignored", nil, "203.0.113.1:5000", []string{"198.51.100.1"}, "203.0.113.1"},
		{"an untrusted peer's header is ignored", proxies, "203.0.113.1:5000", []string{"198.51.100.1"}, "203.0.113.1"},
		{"a trusted proxy without a header", proxies, "10.1.2.3:5000", nil, "10.1.2.3"},
		{"a trusted proxy names the client", proxies, "10.1.2.3:5000", []string{"198.51.100.1"}, "198.51.100.1"},
		{"what the client wrote is ignored", proxies, "10.1.2.3:5000", []string{"192.0.2.66, 198.51.100.1"}, "198.51.100.1"},
		{"trusted hops are skipped", proxies, "10.1.2.3:5000", []string{"198.51.100.1, 10.9.9.9", "10.0.0.7"}, "198.51.100.1"},
		{"only trusted hops: the farthest", proxies, "10.1.2.3:5000", []string{"10.4.4.4, 10.5.5.5"}, "10.4.4.4"},
		{"garbage stops at the last trusted hop", proxies, "10.1.2.3:5000", []string{"198.51.100.1, not-an-ip"}, "10.1.2.3"},
		{"empty entries stop too", proxies, "10.1.2.3:5000", []string{"198.51.100.1,,"}, "10.1.2.3"},
		{"entries with ports", proxies, "10.1.2.3:5000", []string{"198.51.100.1:4711"}, "198.51.100.1"},
		{"bracketed IPv6", proxies, "10.1.2.3:5000", []string{"[2001:db8::1]"}, "2001:db8::"},
		{"IPv6 counts by /64", nil, "[2001:db8:1:2:3:4:5:6]:5000", nil, "2001:db8:1:2::"},
		{"IPv4-mapped IPv6 is IPv4", nil, "[::ffff:203.0.113.1]:5000", nil, "203.0.113.1"},
		{"a trusted IPv6 proxy", proxies, "[fd00::1]:5000", []string{"203.0.113.1"}, "203.0.113.1"},
		{"a zoned peer", proxies, "[fd00::1%eth0]:5000", []string{"203.0.113.1"}, "203.0.113.1"},
		{"an unparsable peer shares one bucket", nil, "pipe", nil, "invalid IP"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &server{Options: Options{TrustedProxies: tt.trusted}}
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tt.remote
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := s.clientKey(r).String(); got != tt.want {
				t.Fatalf("client %s, want %s", got, tt.want)
			}
		})
	}
}
