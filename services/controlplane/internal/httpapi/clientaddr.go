package httpapi

import (
	"net/http"
	"net/netip"
	"strings"
)

// ipv6Client is the prefix length an IPv6 client is counted by: one
// subscriber usually gets a whole /64, so counting single addresses would
// hand each of them 2^64 fresh buckets.
const ipv6Client = 64

// clientAddr is the address the per-client limits count a request under.
//
// It is the connection's peer unless that peer is one of TrustedProxies:
// then X-Forwarded-For is read from the right (each proxy appends the
// address it received the request from), skipping trusted proxies, and the
// first address not trusted is the client. Anything left of it was written
// by the client and is ignored. An entry that does not parse stops the walk
// at the last trusted hop, so a forged header can only put a client in its
// proxy's bucket, never in a chosen one. Without trusted proxies the header
// is never read, and behind a load balancer every client shares the
// balancer's address.
func (s *server) clientAddr(r *http.Request) netip.Addr {
	peer, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		// net/http always sets host:port; a zero address is one shared
		// bucket for whatever else reaches here.
		return netip.Addr{}
	}
	addr := peer.Addr().Unmap().WithZone("")
	if !s.trustedProxy(addr) {
		return addr
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		hop, ok := parseHop(hops[i])
		if !ok {
			return addr
		}
		addr = hop
		if !s.trustedProxy(addr) {
			return addr
		}
	}
	return addr
}

// parseHop reads one X-Forwarded-For entry: an address, possibly with a
// port or in brackets, as proxies variously write them.
func parseHop(v string) (netip.Addr, bool) {
	v = strings.TrimSpace(v)
	if ap, err := netip.ParseAddrPort(v); err == nil {
		return ap.Addr().Unmap().WithZone(""), true
	}
	a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(v, "["), "]"))
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap().WithZone(""), true
}

func (s *server) trustedProxy(a netip.Addr) bool {
	for _, p := range s.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// clientKey is the bucket key of a request's client: its address, or its
// /64 for IPv6.
func (s *server) clientKey(r *http.Request) netip.Addr {
	a := s.clientAddr(r)
	if a.Is6() {
		p, _ := a.Prefix(ipv6Client)
		return p.Addr()
	}
	return a
}
