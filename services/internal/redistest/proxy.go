package redistest

import (
	"bytes"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// ResetPoint says when, in the life of a command, the proxy resets the
// client's connection.
type ResetPoint int

const (
	// BeforeReply: the command reaches Redis (a SET may well be stored),
	// its reply never reaches the client.
	BeforeReply ResetPoint = iota
	// MidReply: part of the reply reaches the client, then the reset: a
	// reader half-way through a bulk string.
	MidReply
)

func (p ResetPoint) String() string {
	if p == MidReply {
		return "mid reply"
	}
	return "before reply"
}

// Proxy is a TCP proxy a test puts between a client and a redis-server to
// reset connections in the middle of a command: the client has sent the
// command and waits for (or is reading) its reply when its connection is
// reset — SO_LINGER 0 then close, so the kernel sends RST — which is how a
// crashed or failed-over Redis, or a middlebox dropping the flow, looks to
// the client. Unarmed, it forwards everything unchanged.
type Proxy struct {
	// Addr is where clients connect ("127.0.0.1:PORT").
	Addr string

	upstream string
	ln       net.Listener

	mu     sync.Mutex
	armed  int    // commands still to reset
	cmd    string // the command name they match, upper case
	at     ResetPoint
	resets int
	conns  map[*proxyConn]struct{}
	closed bool
	wg     sync.WaitGroup
}

// NewProxy starts a proxy to upstream on a free loopback port; it is
// closed when the test ends.
func NewProxy(t testing.TB, upstream string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("redistest: proxy listen: %v", err)
	}
	p := &Proxy{Addr: ln.Addr().String(), upstream: upstream, ln: ln, conns: map[*proxyConn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.Close)
	return p
}

// ResetNext arms the proxy: each of the next n commands named cmd (GET,
// SET, ...; any case) has its connection reset at the given point. It
// replaces what was armed before.
func (p *Proxy) ResetNext(n int, cmd string, at ResetPoint) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.armed, p.cmd, p.at = n, strings.ToUpper(cmd), at
}

// Disarm stops resetting; connections opened from now on work.
func (p *Proxy) Disarm() { p.ResetNext(0, "", BeforeReply) }

// Resets reports how many connections the proxy has reset.
func (p *Proxy) Resets() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.resets
}

// Close stops accepting and drops every connection.
func (p *Proxy) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	conns := make([]*proxyConn, 0, len(p.conns))
	for c := range p.conns {
		conns = append(conns, c)
	}
	p.mu.Unlock()
	p.ln.Close()
	for _, c := range conns {
		c.client.Close()
		c.server.Close()
	}
	p.wg.Wait()
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		server, err := net.DialTimeout("tcp", p.upstream, 2*time.Second)
		if err != nil {
			client.Close()
			continue
		}
		c := &proxyConn{p: p, client: client.(*net.TCPConn), server: server, pumps: 2}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			client.Close()
			server.Close()
			return
		}
		p.conns[c] = struct{}{}
		p.mu.Unlock()
		p.wg.Add(2)
		go c.fromClient()
		go c.fromServer()
	}
}

// take reports whether a command named name is to be reset, and where.
func (p *Proxy) take(name string) (ResetPoint, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.armed == 0 || !strings.EqualFold(name, p.cmd) {
		return 0, false
	}
	p.armed--
	return p.at, true
}

// proxyConn is one client's connection and its own connection to Redis.
type proxyConn struct {
	p      *Proxy
	client *net.TCPConn
	server net.Conn

	// A command is marked doomed before its last byte goes to Redis, so
	// any reply bytes read while it is not marked belong to earlier
	// commands and pass through.
	mu     sync.Mutex
	doomed bool
	at     ResetPoint
	done   bool
	pumps  int // directions still running; forgotten at 0
}

// fromClient forwards the client's commands, parsing them to find the one
// to reset.
func (c *proxyConn) fromClient() {
	defer c.p.wg.Done()
	defer c.forget()
	defer c.server.Close()
	buf := make([]byte, 32<<10)
	var pending []byte // the start of a command not yet complete
	for {
		n, err := c.client.Read(buf)
		if n > 0 {
			pending = append(pending, buf[:n]...)
			for {
				name, size, ok := parseCommand(pending)
				if !ok {
					break
				}
				pending = pending[size:]
				if at, reset := c.p.take(name); reset {
					c.mu.Lock()
					c.doomed, c.at = true, at
					c.mu.Unlock()
				}
			}
			if _, werr := c.server.Write(buf[:n]); werr != nil {
				return
			}
			c.mu.Lock()
			kill := c.doomed && c.at == BeforeReply
			c.mu.Unlock()
			if kill {
				c.reset()
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// fromServer relays replies, cutting the doomed one short.
func (c *proxyConn) fromServer() {
	defer c.p.wg.Done()
	defer c.forget()
	buf := make([]byte, 32<<10)
	for {
		n, err := c.server.Read(buf)
		if n > 0 {
			c.mu.Lock()
			doomed, at := c.doomed, c.at
			c.mu.Unlock()
			switch {
			case !doomed:
				if _, werr := c.client.Write(buf[:n]); werr != nil {
					return
				}
			case at == MidReply:
				// Half of what arrived (at least a byte), a moment for the
				// client to start reading it, then the reset.
				c.client.Write(buf[:max(n/2, 1)])
				time.Sleep(20 * time.Millisecond)
				c.reset()
				return
			default:
				return // BeforeReply: fromClient resets
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				c.client.Close()
			} else {
				c.client.CloseWrite()
			}
			return
		}
	}
}

// reset ends the client's connection with RST and closes Redis's side.
func (c *proxyConn) reset() {
	c.mu.Lock()
	first := !c.done
	c.done = true
	c.mu.Unlock()
	if !first {
		return
	}
	// Counted first: the client may see the reset, and the test ask,
	// before Close returns here.
	c.p.mu.Lock()
	c.p.resets++
	c.p.mu.Unlock()
	c.client.SetLinger(0)
	c.client.Close()
	c.server.Close()
}

// forget drops the connection from the proxy's set once both directions
// have stopped: until then Close must be able to end it.
func (c *proxyConn) forget() {
	c.mu.Lock()
	c.pumps--
	last := c.pumps == 0
	c.mu.Unlock()
	if last {
		c.p.mu.Lock()
		delete(c.p.conns, c)
		c.p.mu.Unlock()
	}
}

// parseCommand reads one complete command at the start of b: a RESP array
// of bulk strings (what clients send), or an inline command line. It
// returns the command's name and length in bytes; ok is false until b
// holds all of it.
func parseCommand(b []byte) (name string, size int, ok bool) {
	line := func(from int) (string, int, bool) {
		i := bytes.Index(b[from:], []byte("\r\n"))
		if i < 0 {
			return "", 0, false
		}
		return string(b[from : from+i]), from + i + 2, true
	}
	if len(b) == 0 {
		return "", 0, false
	}
	if b[0] != '*' {
		l, end, ok := line(0)
		if !ok {
			return "", 0, false
		}
		name, _, _ = strings.Cut(strings.TrimSpace(l), " ")
		return name, end, true
	}
	head, pos, ok := line(0)
	if !ok {
		return "", 0, false
	}
	count, err := strconv.Atoi(head[1:])
	if err != nil || count < 0 {
		// Not RESP after all: treat the line as one unknown command.
		return "", pos, true
	}
	for i := 0; i < count; i++ {
		l, next, ok := line(pos)
		if !ok {
			return "", 0, false
		}
		n, err := strconv.Atoi(strings.TrimPrefix(l, "$"))
		if err != nil || n < 0 || !strings.HasPrefix(l, "$") {
			return "", next, true
		}
		if len(b) < next+n+2 {
			return "", 0, false
		}
		if i == 0 {
			name = string(b[next : next+n])
		}
		pos = next + n + 2
	}
	return name, pos, true
}
