package main

import (
	"bufio"
	"bytes"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"pictor/services/edge/internal/membudget"
)

// serve runs newServer with short limits on a loopback listener.
func serve(t *testing.T, h fasthttp.RequestHandler, maxConns int) string {
	_, addr := serveWith(t, h, maxConns)
	return addr
}

func serveWith(t *testing.T, h fasthttp.RequestHandler, maxConns int) (*fasthttp.Server, string) {
	t.Helper()
	cfg := config{ReadHeaderTimeout: 300 * time.Millisecond, IdleTimeout: 400 * time.Millisecond,
		WriteTimeout: 300 * time.Millisecond, MaxConnections: maxConns}
	srv := newServer(h, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Shutdown() })
	return srv, ln.Addr().String()
}

func small(ctx *fasthttp.RequestCtx) { ctx.WriteString("ok") }

// closedWithin reports whether the server let go of every connection
// within d (the kernel may still be delivering what was written).
func closedWithin(srv *fasthttp.Server, d time.Duration) bool {
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if srv.GetOpenConnectionsCount() == 0 {
			return true
		}
	}
	return false
}

func TestServerBoundsSlowAndIdleClients(t *testing.T) {
	big := bytes.Repeat([]byte("x"), 64<<20)
	srv, addr := serveWith(t, func(ctx *fasthttp.RequestCtx) {
		if string(ctx.Path()) == "/big" {
			ctx.Response.SetBodyRaw(big)
			return
		}
		small(ctx)
	}, 100)
	cases := []struct {
		name string
		act  func(conn net.Conn)
	}{
		{"headers sent a byte at a time", func(conn net.Conn) {
			for _, b := range []byte("GET / HTTP/1.1\r\nHost: x\r\n") {
				conn.Write([]byte{b})
				time.Sleep(20 * time.Millisecond)
			}
		}},
		{"idle keep-alive connection", func(conn net.Conn) {
			conn.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
			bufio.NewReader(conn).ReadString('k') // the response arrived; now stay idle
		}},
		{"response never read", func(conn net.Conn) {
			conn.(*net.TCPConn).SetReadBuffer(4 << 10)
			conn.Write([]byte("GET /big HTTP/1.1\r\nHost: x\r\n\r\n"))
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			for srv.GetOpenConnectionsCount() == 0 {
				time.Sleep(time.Millisecond) // accepted
			}
			tc.act(conn)
			if !closedWithin(srv, 3*time.Second) {
				t.Fatal("the server kept the connection open")
			}
		})
	}
}

// Past the cap a new connection is turned away at once; the ones inside
// keep being served.
func TestServerConnectionCap(t *testing.T) {
	addr := serve(t, small, 3)
	var held []net.Conn
	for range 3 {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n")) // unfinished: the server holds it
		held = append(held, conn)
	}
	time.Sleep(50 * time.Millisecond)
	extra, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	extra.SetReadDeadline(time.Now().Add(2 * time.Second))
	reply, _ := io.ReadAll(extra)
	if !strings.Contains(string(reply), "503") {
		t.Fatalf("connection over the cap got %q, want a 503 and a close", reply)
	}
	// Once the held ones are gone, connections are served again.
	for _, c := range held {
		c.Close()
	}
	time.Sleep(50 * time.Millisecond)
	resp, err := http.Get("http://" + addr + "/")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("after the crowd left: %v %v", resp, err)
	}
	resp.Body.Close()
}

// A crowd of slow clients costs little memory while it waits: about
// membudget.PerConn each at most, which the budget's runtime share counts.
func TestSlowClientsCostLittleMemory(t *testing.T) {
	addr := serve(t, small, 1000)
	const n = 300
	var ms0, ms1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms0)
	conns := make([]net.Conn, 0, n)
	for range n {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\nCookie: " + strings.Repeat("c", 2000)))
		conns = append(conns, conn)
	}
	time.Sleep(150 * time.Millisecond) // each is now in the server, mid-header
	runtime.GC()
	runtime.ReadMemStats(&ms1)
	grown := int64(ms1.HeapInuse+ms1.StackInuse) - int64(ms0.HeapInuse+ms0.StackInuse)
	per := grown / n
	t.Logf("%d slow connections: %d KiB of heap and stacks, %d B each (client side included)", n, grown>>10, per)
	if per > membudget.PerConn {
		t.Fatalf("%d bytes per waiting connection, over the %d the memory budget allows for", per, membudget.PerConn)
	}
}
