package netguard

import (
	"errors"
	"net"
	"net/netip"
	"testing"
)

var checkCases = []struct {
	name, ip, reason string
}{
	{"public v4", "93.184.216.34", ""},
	{"public v6", "2606:2800:220:1:248:1893:25c8:1946", ""},
	{"loopback", "127.0.0.1", "loopback"},
	{"loopback high", "127.255.0.9", "loopback"},
	{"unspecified v4", "0.0.0.0", "this-network"},
	{"this network", "0.1.2.3", "this-network"},
	{"private 10", "10.1.2.3", "private"},
	{"private 172", "172.20.0.1", "private"},
	{"private 192", "192.168.1.1", "private"},
	{"cgnat", "100.64.0.1", "cgnat"},
	{"cgnat top", "100.127.255.254", "cgnat"},
	{"not cgnat", "100.128.0.1", ""},
	{"metadata", "169.254.169.254", "link-local"},
	{"multicast v4", "224.0.0.1", "multicast"},
	{"reserved", "240.0.0.1", "reserved"},
	{"broadcast", "255.255.255.255", "reserved"},
	{"loopback v6", "::1", "loopback"},
	{"unspecified v6", "::", "unspecified"},
	{"link-local v6", "fe80::1", "link-local"},
	{"link-local v6 zone", "fe80::1%eth0", "link-local"},
	{"ula", "fd00::1", "unique-local"},
	{"multicast v6", "ff02::1", "multicast"},
	{"mapped loopback", "::ffff:127.0.0.1", "loopback"},
	{"mapped private", "::ffff:10.0.0.1", "private"},
	{"compatible loopback", "::127.0.0.1", "loopback"},
	{"nat64 metadata", "64:ff9b::a9fe:a9fe", "link-local"},
	{"nat64 public", "64:ff9b::5db8:d822", ""},
	{"6to4 loopback", "2002:7f00:1::", "loopback"},
	{"6to4 public", "2002:5db8:d822::1", ""},
	{"teredo client loopback", "2001:0:5db8:d822::80ff:fffe", "loopback"},
	{"documentation v6", "2001:db8::1", "documentation"},
	{"documentation v4", "192.0.2.10", "documentation"},
}

func TestCheck(t *testing.T) {
	for _, tc := range checkCases {
		t.Run(tc.name, func(t *testing.T) {
			got := Check(netip.MustParseAddr(tc.ip))
			if got != tc.reason {
				t.Fatalf("Check(%s) = %q, want %q", tc.ip, got, tc.reason)
			}
		})
	}
}

func TestHostLiteral(t *testing.T) {
	cases := []struct {
		name, host          string
		literal, obfuscated bool
	}{
		{"name", "www.example.com", false, false},
		{"numeric tld-like name", "cdn.123", false, false},
		{"dotted quad", "127.0.0.1", true, false},
		{"v6 bracketed", "[::1]", true, false},
		{"decimal integer", "2130706433", false, true},
		{"hex short", "0x7f.1", false, true},
		{"short form", "127.1", false, true},
		{"octal", "0177.0.0.1", false, true},
		{"hex full", "0x7f000001", false, true},
		{"trailing dot quad", "127.0.0.1.", true, false},
		{"hex-looking name", "cafe.be", false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, lit, obf := HostLiteral(tc.host)
			if lit != tc.literal || obf != tc.obfuscated {
				t.Fatalf("HostLiteral(%q) = literal %v obfuscated %v; want %v %v", tc.host, lit, obf, tc.literal, tc.obfuscated)
			}
		})
	}
}

func FuzzCheck(f *testing.F) {
	for _, tc := range checkCases {
		a := netip.MustParseAddr(tc.ip).As16()
		f.Add(a[:])
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) != 16 {
			return
		}
		ip := netip.AddrFrom16([16]byte(b))
		// An IPv4-mapped address must be judged exactly like its IPv4 form.
		if ip.Is4In6() && Check(ip) != Check(ip.Unmap()) {
			t.Fatalf("%s judged differently from %s", ip, ip.Unmap())
		}
	})
}

// TestDialControl: the dial guard refuses a private address after
// resolution and lets it through only when told to.
func TestDialControl(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	for _, tc := range []struct {
		name         string
		allowPrivate bool
		guard        func(netip.Addr) string
		blocked      bool
	}{
		{"loopback refused", false, nil, true},
		{"allowed for development", true, nil, false},
		{"a guard that passes it", false, func(netip.Addr) string { return "" }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := net.Dialer{Control: DialControl(tc.allowPrivate, tc.guard)}
			c, err := d.Dial("tcp", ln.Addr().String())
			if c != nil {
				c.Close()
			}
			if errors.Is(err, ErrBlocked) != tc.blocked {
				t.Fatalf("dial: %v, want blocked %v", err, tc.blocked)
			}
		})
	}
}
