package main

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
)

// balancer is the load balancer a fleet's edges reach the control plane
// through: it spreads connections over the replicas in turn and skips one
// that refuses, so the edges of a replica that dies reconnect to another.
type balancer struct {
	ln       net.Listener
	backends []string
	next     atomic.Uint64
	wg       sync.WaitGroup
}

func newBalancer(backends []string) (*balancer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	b := &balancer{ln: ln, backends: backends}
	go b.serve()
	return b, nil
}

func (b *balancer) addr() string { return b.ln.Addr().String() }

func (b *balancer) close() { b.ln.Close() }

func (b *balancer) serve() {
	for {
		c, err := b.ln.Accept()
		if err != nil {
			return
		}
		go b.forward(c)
	}
}

func (b *balancer) forward(c net.Conn) {
	defer c.Close()
	start := b.next.Add(1)
	var up net.Conn
	for i := range uint64(len(b.backends)) {
		var err error
		if up, err = net.Dial("tcp", b.backends[(start+i)%uint64(len(b.backends))]); err == nil {
			break
		}
	}
	if up == nil {
		return
	}
	defer up.Close()
	done := make(chan struct{}, 2)
	go func() { io.Copy(up, c); done <- struct{}{} }()
	go func() { io.Copy(c, up); done <- struct{}{} }()
	<-done
}
