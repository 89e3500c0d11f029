// Package netguard classifies IP addresses for the SSRF guard: an origin
// fetch may only connect to public unicast addresses. The edge's dialer
// checks the address it is about to connect to (so DNS rebinding cannot
// slip past), and the control plane uses the same rules to refuse literal
// addresses and obfuscated numeric hosts in an origin's baseUrl.
//
// Go's netip.Addr.IsPrivate misses CGNAT, the "this network" block and
// IPv4 addresses carried inside IPv6 (mapped, compatible, NAT64, 6to4,
// Teredo); those are unwrapped and checked like the address they carry.
package netguard

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"syscall"
)

var blockedPrefixes = func() []blocked {
	list := []struct{ cidr, reason string }{
		{"0.0.0.0/8", "this-network"},
		{"10.0.0.0/8", "private"},
		{"100.64.0.0/10", "cgnat"},
		{"127.0.0.0/8", "loopback"},
		{"169.254.0.0/16", "link-local"},
		{"172.16.0.0/12", "private"},
		{"192.0.0.0/24", "ietf-reserved"},
		{"192.0.2.0/24", "documentation"},
		{"192.88.99.0/24", "6to4-relay"},
		{"192.168.0.0/16", "private"},
		{"198.18.0.0/15", "benchmarking"},
		{"198.51.100.0/24", "documentation"},
		{"203.0.113.0/24", "documentation"},
		{"224.0.0.0/4", "multicast"},
		{"240.0.0.0/4", "reserved"},
		{"::/128", "unspecified"},
		{"::1/128", "loopback"},
		{"100::/64", "discard"},
		{"2001:db8::/32", "documentation"},
		{"2001:10::/28", "orchid"},
		{"2001:20::/28", "orchid"},
		{"fc00::/7", "unique-local"},
		{"fe80::/10", "link-local"},
		{"fec0::/10", "site-local"},
		{"ff00::/8", "multicast"},
	}
	out := make([]blocked, len(list))
	for i, b := range list {
		out[i] = blocked{netip.MustParsePrefix(b.cidr), b.reason}
	}
	return out
}()

type blocked struct {
	prefix netip.Prefix
	reason string
}

var (
	nat64      = netip.MustParsePrefix("64:ff9b::/96")
	nat64Local = netip.MustParsePrefix("64:ff9b:1::/48")
	sixToFour  = netip.MustParsePrefix("2002::/16")
	teredo     = netip.MustParsePrefix("2001::/32")
	v4Compat   = netip.MustParsePrefix("::/96")
)

// Check returns "" when ip is a public unicast address an origin may live
// at, or a short reason ("loopback", "private", "cgnat", ...) otherwise.
func Check(ip netip.Addr) string {
	if !ip.IsValid() {
		return "invalid"
	}
	ip = ip.WithZone("")
	for _, inner := range embeddedV4(ip) {
		if r := Check(inner); r != "" {
			return r
		}
	}
	for _, b := range blockedPrefixes {
		if b.prefix.Contains(ip) {
			return b.reason
		}
	}
	if ip.Is4() && ip == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
		return "broadcast"
	}
	return ""
}

// embeddedV4 returns the IPv4 addresses an IPv6 address carries, so that
// ::ffff:127.0.0.1, ::127.0.0.1, 64:ff9b::a9fe:a9fe, 2002:7f00:1:: and a
// Teredo address are judged by the IPv4 address inside them.
func embeddedV4(ip netip.Addr) []netip.Addr {
	if ip.Is4() {
		return nil
	}
	if ip.Is4In6() {
		return []netip.Addr{ip.Unmap()}
	}
	b := ip.As16()
	last4 := netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]})
	switch {
	case v4Compat.Contains(ip) && ip != netip.IPv6Unspecified() && ip != netip.IPv6Loopback():
		return []netip.Addr{last4}
	case nat64.Contains(ip), nat64Local.Contains(ip):
		return []netip.Addr{last4}
	case sixToFour.Contains(ip):
		return []netip.Addr{netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]})}
	case teredo.Contains(ip):
		server := netip.AddrFrom4([4]byte{b[4], b[5], b[6], b[7]})
		client := netip.AddrFrom4([4]byte{^b[12], ^b[13], ^b[14], ^b[15]})
		return []netip.Addr{server, client}
	}
	return nil
}

// HostLiteral inspects the host part of a URL. It reports the address when
// the host is a literal IP in canonical form, and obfuscated=true when the
// host is a numeric form that resolvers read as an IPv4 address but that is
// not a plain dotted quad ("2130706433", "0x7f.1", "127.1", "0177.0.0.1").
// Such hosts are always refused: they only exist to smuggle an address
// past a filter.
func HostLiteral(host string) (addr netip.Addr, isLiteral, obfuscated bool) {
	h := strings.TrimSuffix(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"), ".")
	if a, err := netip.ParseAddr(h); err == nil {
		return a, true, false
	}
	parts := strings.Split(h, ".")
	if len(parts) == 0 || len(parts) > 4 {
		return netip.Addr{}, false, false
	}
	for _, p := range parts {
		if !numericPart(p) {
			return netip.Addr{}, false, false
		}
	}
	return netip.Addr{}, false, true
}

func numericPart(p string) bool {
	if p == "" {
		return false
	}
	if len(p) > 2 && (p[:2] == "0x" || p[:2] == "0X") {
		p = p[2:]
		for i := 0; i < len(p); i++ {
			c := p[i]
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
		return true
	}
	if p == "0x" || p == "0X" {
		return true
	}
	for i := 0; i < len(p); i++ {
		if p[i] < '0' || p[i] > '9' {
			return false
		}
	}
	return true
}

// ErrBlocked marks a connection DialControl refused.
var ErrBlocked = errors.New("address not allowed")

// DialControl is a net.Dialer Control function that refuses to connect to
// an address guard names a reason for (Check when guard is nil): it runs
// after name resolution, on the address actually dialled, so no DNS trick
// or redirect reaches a private address. allowPrivate turns it off (local
// development, tests).
func DialControl(allowPrivate bool, guard func(netip.Addr) string) func(network, address string, c syscall.RawConn) error {
	if guard == nil {
		guard = Check
	}
	return func(_, address string, _ syscall.RawConn) error {
		if allowPrivate {
			return nil
		}
		host, _, err := net.SplitHostPort(address)
		if err != nil {
			return fmt.Errorf("dial %s: %w", address, err)
		}
		ip, err := netip.ParseAddr(host)
		if err != nil {
			return fmt.Errorf("dial %s: %w", address, ErrBlocked)
		}
		if reason := guard(ip); reason != "" {
			return fmt.Errorf("dial %s (%s): %w", address, reason, ErrBlocked)
		}
		return nil
	}
}
