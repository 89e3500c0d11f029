package redistest

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"
)

// command encodes args as a RESP array, as client libraries send them.
func command(args ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	return b.String()
}

// TestProxyResets: unarmed the proxy is transparent; armed, the matching
// command's connection is reset (RST, not a clean close) before or during
// its reply, other commands pass, and new connections work again.
func TestProxyResets(t *testing.T) {
	srv := Start(t)
	p := NewProxy(t, srv)
	big := strings.Repeat("x", 256<<10) // a reply that spans many reads

	dial := func(t *testing.T) (net.Conn, *bufio.Reader) {
		t.Helper()
		c, err := net.DialTimeout("tcp", p.Addr, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		c.SetDeadline(time.Now().Add(5 * time.Second))
		return c, bufio.NewReader(c)
	}
	c, r := dial(t)
	if _, err := io.WriteString(c, command("SET", "big", big)+command("set", "small", "v")); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if line, err := r.ReadString('\n'); err != nil || line != "+OK\r\n" {
			t.Fatalf("SET through the unarmed proxy: %q, %v", line, err)
		}
	}

	cases := []struct {
		name    string
		arm     string
		at      ResetPoint
		send    string
		partial bool // some reply bytes arrive before the reset
	}{
		{"GET before reply", "GET", BeforeReply, command("get", "small"), false},
		{"GET mid reply", "get", MidReply, command("GET", "big"), true},
		{"SET before reply", "SET", BeforeReply, command("SET", "k", "v"), false},
		{"SET mid reply", "SET", MidReply, command("SET", "k", "v"), true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := p.Resets()
			p.ResetNext(1, tc.arm, tc.at)
			c, r := dial(t)
			// Another command first: only the armed one is reset.
			if _, err := io.WriteString(c, command("PING")); err != nil {
				t.Fatal(err)
			}
			if line, err := r.ReadString('\n'); err != nil || line != "+PONG\r\n" {
				t.Fatalf("PING on an armed proxy: %q, %v", line, err)
			}
			if _, err := io.WriteString(c, tc.send); err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(r)
			if !errors.Is(err, syscall.ECONNRESET) {
				t.Fatalf("read after the armed command: %d bytes, %v; want ECONNRESET", len(got), err)
			}
			if tc.partial != (len(got) > 0) {
				t.Fatalf("%d reply bytes arrived before the reset, want some: %v", len(got), tc.partial)
			}
			if p.Resets() != before+1 {
				t.Fatalf("resets %d, want %d", p.Resets(), before+1)
			}
			// Used up: the next connection works.
			c2, r2 := dial(t)
			io.WriteString(c2, command("GET", "small"))
			if line, err := r2.ReadString('\n'); err != nil || line != "$1\r\n" {
				t.Fatalf("GET after the reset: %q, %v", line, err)
			}
		})
	}
}

func TestParseCommand(t *testing.T) {
	cases := []struct {
		name, in, want string
		size           int
		ok             bool
	}{
		{"resp", command("get", "k") + "rest", "get", len(command("get", "k")), true},
		{"incomplete header", "*2\r\n$3\r\nGE", "", 0, false},
		{"incomplete value", "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nab", "", 0, false},
		{"value holding CRLF", command("SET", "k", "a\r\n*1\r\n"), "SET", len(command("SET", "k", "a\r\n*1\r\n")), true},
		{"inline", "PING\r\n", "PING", 6, true},
		{"inline with args", "GET k\r\n", "GET", 7, true},
		{"empty", "", "", 0, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			name, size, ok := parseCommand([]byte(tc.in))
			if name != tc.want || size != tc.size || ok != tc.ok {
				t.Fatalf("parseCommand(%q) = %q, %d, %v; want %q, %d, %v", tc.in, name, size, ok, tc.want, tc.size, tc.ok)
			}
		})
	}
}

// TestProxyClose: Close ends the connections still open through the proxy
// instead of waiting for their clients to hang up.
func TestProxyClose(t *testing.T) {
	p := NewProxy(t, Start(t))
	c, err := net.DialTimeout("tcp", p.Addr, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, command("PING")); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(c)
	if line, err := r.ReadString('\n'); err != nil || line != "+PONG\r\n" {
		t.Fatalf("PING: %q, %v", line, err)
	}
	closed := make(chan struct{})
	go func() {
		p.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(2 * time.Second):
		t.Fatal("Close waited for an idle client")
	}
	if _, err := r.ReadByte(); err == nil {
		t.Fatal("the client's connection is still open after Close")
	}
}
