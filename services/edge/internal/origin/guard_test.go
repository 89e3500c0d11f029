package origin

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"

	"golang.org/x/net/dns/dnsmessage"

	"pictor/services/internal/errkind"
	"pictor/services/internal/netguard"
)

// countingListener counts the connections it accepts: a refusal at dial
// time must leave it at zero.
type countingListener struct {
	net.Listener
	accepted atomic.Int32
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.accepted.Add(1)
	}
	return c, err
}

// serveCounting serves h on addr ("host:port", port 0 for any) until the
// test ends.
func serveCounting(t *testing.T, addr string, h http.Handler) *countingListener {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen %s: %v", addr, err)
	}
	cl := &countingListener{Listener: l}
	srv := &http.Server{Handler: h}
	go srv.Serve(cl)
	t.Cleanup(func() { srv.Close() })
	return cl
}

func portOf(t *testing.T, l net.Listener) string {
	t.Helper()
	_, port, err := net.SplitHostPort(l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// TestGuardRefusesLocalAddresses: origins whose address is this machine
// in any spelling are refused at dial time. Each listener is first reached
// through the same URL with the guard lifted, so a zero connection count
// under the guard means the guard stopped a connection that would happen.
func TestGuardRefusesLocalAddresses(t *testing.T) {
	img := testJPEG(t)
	cases := []struct {
		name, listen, host string
	}{
		{name: "IPv4 loopback", listen: "127.0.0.1:0", host: "127.0.0.1"},
		// Linux connects 0.0.0.0 to the local host (the CVE-2025-24354 bypass).
		{name: "IPv4 unspecified", listen: "127.0.0.1:0", host: "0.0.0.0"},
		{name: "IPv4-mapped loopback", listen: "127.0.0.1:0", host: "[::ffff:127.0.0.1]"},
		{name: "IPv6 loopback", listen: "[::1]:0", host: "[::1]"},
		{name: "IPv6 unspecified", listen: "[::1]:0", host: "[::]"},
		{name: "localhost by name", listen: "127.0.0.1:0", host: "localhost"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l := serveCounting(t, tc.listen, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(img) }))
			req := Request{Sources: []Source{source(t, "a", "http://"+tc.host+":"+portOf(t, l))}, ImagePath: "x.jpg"}
			open := testConfig() // AllowPrivate: the guard lifted
			if _, err := New(open).Fetch(context.Background(), req); err != nil || l.accepted.Load() != 1 {
				t.Fatalf("with the guard lifted: err = %v, %d connections; want the origin reached once", err, l.accepted.Load())
			}
			guarded := testConfig()
			guarded.AllowPrivate = false
			_, err := New(guarded).Fetch(context.Background(), req)
			if errkind.KindOf(err) != errkind.BadGateway || errkind.Reason(err) != "origin_address_blocked" {
				t.Fatalf("err = %v, want origin_address_blocked", err)
			}
			if n := l.accepted.Load(); n != 1 {
				t.Fatalf("%d connections reached the origin under the guard", n-1)
			}
		})
	}
}

// TestGuardRefusesRebinding: a name that first resolves to an allowed
// address and, on the next lookup, to a local one (DNS rebinding) is
// refused on the second connection, because the guard checks each
// connection's socket address rather than an earlier answer.
func TestGuardRefusesRebinding(t *testing.T) {
	img := testJPEG(t)
	allowed := netip.MustParseAddr("127.0.0.1") // stands in for the public answer
	cases := []struct {
		name        string
		privateHost string // where the second answer points
		dns         *fakeDNS
	}{
		{name: "A record to loopback", privateHost: "127.0.0.2",
			dns: &fakeDNS{a: []netip.Addr{allowed, netip.MustParseAddr("127.0.0.2")}, aaaa: []netip.Addr{{}}}},
		{name: "AAAA record to IPv6 loopback", privateHost: "::1",
			dns: &fakeDNS{a: []netip.Addr{allowed, {}}, aaaa: []netip.Addr{{}, netip.MustParseAddr("::1")}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// Connection: close makes the second fetch dial, so resolve, again.
			public := serveCounting(t, "127.0.0.1:0", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Connection", "close")
				w.Write(img)
			}))
			port := portOf(t, public)
			private := serveCounting(t, net.JoinHostPort(tc.privateHost, port), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(img) }))
			cfg := testConfig()
			cfg.AllowPrivate = false
			cfg.Resolver = tc.dns.resolver()
			cfg.Guard = func(ip netip.Addr) string {
				if ip == allowed {
					return ""
				}
				return netguard.Check(ip)
			}
			f := New(cfg)
			req := Request{Sources: []Source{source(t, "a", "http://rebind.pictor.test:"+port)}, ImagePath: "x.jpg"}
			if _, err := f.Fetch(context.Background(), req); err != nil {
				t.Fatalf("first fetch (allowed answer): %v", err)
			}
			_, err := f.Fetch(context.Background(), req)
			if errkind.Reason(err) != "origin_address_blocked" || private.accepted.Load() != 0 {
				t.Fatalf("second fetch (rebound): err = %v, %d connections to %s", err, private.accepted.Load(), tc.privateHost)
			}
			if a, aaaa := tc.dns.count(dnsmessage.TypeA), tc.dns.count(dnsmessage.TypeAAAA); a != 2 || aaaa != 2 || public.accepted.Load() != 1 {
				t.Fatalf("%d A and %d AAAA queries, %d connections to the allowed address; want 2, 2, 1", a, aaaa, public.accepted.Load())
			}
		})
	}
}

// fakeDNS is a DNS server in memory for a net.Resolver: the n-th A query
// for any name is answered with a[n], the n-th AAAA query with aaaa[n]
// (past the end the last entry repeats; an invalid Addr is an empty
// answer), so a test scripts what each successive lookup returns.
type fakeDNS struct {
	a, aaaa []netip.Addr
	mu      sync.Mutex
	asked   map[dnsmessage.Type]int
}

func (d *fakeDNS) resolver() *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(context.Context, string, string) (net.Conn, error) {
		client, server := net.Pipe()
		go d.serve(server)
		return client, nil
	}}
}

func (d *fakeDNS) count(t dnsmessage.Type) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.asked[t]
}

// next returns the scripted answer to the next query of type t.
func (d *fakeDNS) next(t dnsmessage.Type) netip.Addr {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.asked == nil {
		d.asked = map[dnsmessage.Type]int{}
	}
	script := d.a
	if t == dnsmessage.TypeAAAA {
		script = d.aaaa
	}
	n := d.asked[t]
	d.asked[t]++
	if len(script) == 0 {
		return netip.Addr{}
	}
	return script[min(n, len(script)-1)]
}

// serve answers queries framed as over TCP (a 2-byte length first): the
// Go resolver uses that framing on a connection that is not a
// net.PacketConn, such as a net.Pipe.
func (d *fakeDNS) serve(c net.Conn) {
	defer c.Close()
	for {
		var size [2]byte
		if _, err := io.ReadFull(c, size[:]); err != nil {
			return
		}
		query := make([]byte, binary.BigEndian.Uint16(size[:]))
		if _, err := io.ReadFull(c, query); err != nil {
			return
		}
		resp, err := d.answer(query)
		if err != nil {
			return // the resolver sees a failed exchange
		}
		if _, err := c.Write(append(binary.BigEndian.AppendUint16(nil, uint16(len(resp))), resp...)); err != nil {
			return
		}
	}
}

func (d *fakeDNS) answer(query []byte) ([]byte, error) {
	var p dnsmessage.Parser
	h, err := p.Start(query)
	if err != nil {
		return nil, err
	}
	q, err := p.Question()
	if err != nil {
		return nil, err
	}
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true,
		RecursionDesired: h.RecursionDesired, RecursionAvailable: true})
	if err := b.StartQuestions(); err != nil {
		return nil, err
	}
	if err := b.Question(q); err != nil {
		return nil, err
	}
	if err := b.StartAnswers(); err != nil {
		return nil, err
	}
	rh := dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET}
	switch addr := d.next(q.Type); {
	case q.Type == dnsmessage.TypeA && addr.Is4():
		err = b.AResource(rh, dnsmessage.AResource{A: addr.As4()})
	case q.Type == dnsmessage.TypeAAAA && addr.Is6():
		err = b.AAAAResource(rh, dnsmessage.AAAAResource{AAAA: addr.As16()})
	}
	if err != nil {
		return nil, err
	}
	return b.Finish()
}
