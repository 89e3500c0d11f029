package redistest

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Server is a private redis-server a test can stop and start again on the
// same port, to show what happens while Redis is away.
type Server struct {
	Addr string

	t     testing.TB
	bin   string
	dir   string
	port  int
	extra []string

	mu   sync.Mutex
	stop func()
}

// StartServer is Start with control over the process and extra
// redis-server arguments (e.g. "--maxmemory", "1mb").
func StartServer(t testing.TB, extra ...string) *Server {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("redistest: redis-server not found on PATH (install redis-server): %v", err)
	}
	s := &Server{t: t, bin: bin, dir: t.TempDir(), extra: extra}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		if s.port, err = freePort(); err != nil {
			t.Fatalf("redistest: %v", err)
		}
		if lastErr = s.Start(); lastErr == nil {
			t.Cleanup(s.Stop)
			return s
		}
	}
	t.Fatalf("redistest: redis-server did not start: %v\n%s", lastErr, tail(filepath.Join(s.dir, "redis.log")))
	return nil
}

// Start starts the server (again) on its port. It is a no-op while running.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stop != nil {
		return nil
	}
	addr, stop, err := start(s.bin, s.dir, filepath.Join(s.dir, "redis.log"), s.port, s.extra...)
	if err != nil {
		return err
	}
	s.Addr, s.stop = addr, stop
	return nil
}

// Stop stops the server; Start brings it back on the same address.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stop != nil {
		s.stop()
		s.stop = nil
	}
}

// StartCluster starts a Redis Cluster of the given number of masters on
// loopback and returns their addresses once the cluster reports ok.
func StartCluster(t testing.TB, masters int) []string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("redistest: redis-server not found on PATH: %v", err)
	}
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		t.Fatalf("redistest: redis-cli not found on PATH (install redis-tools): %v", err)
	}
	var addrs []string
	for i := 0; i < masters; i++ {
		dir := t.TempDir()
		port, err := clusterPort()
		if err != nil {
			t.Fatalf("redistest: %v", err)
		}
		addr, stop, err := start(bin, dir, filepath.Join(dir, "redis.log"), port,
			"--cluster-enabled", "yes", "--cluster-config-file", filepath.Join(dir, "nodes.conf"),
			"--cluster-node-timeout", "2000")
		if err != nil {
			t.Fatalf("redistest: cluster node %d: %v\n%s", i, err, tail(filepath.Join(dir, "redis.log")))
		}
		t.Cleanup(stop)
		addrs = append(addrs, addr)
	}
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.Command(cli, args...).CombinedOutput(); err != nil {
		t.Fatalf("redistest: redis-cli --cluster create: %v\n%s", err, out)
	}
	deadline := time.Now().Add(15 * time.Second)
	for _, a := range addrs {
		for {
			state, err := clusterState(a)
			if err == nil && state == "ok" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("redistest: cluster node %s not ok after 15s (state %q, %v)", a, state, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return addrs
}

// clusterPort finds a port whose cluster bus port (port+10000) is free too.
func clusterPort() (int, error) {
	for i := 0; i < 100; i++ {
		p := 20000 + rand.IntN(20000)
		if portFree(p) && portFree(p+10000) {
			return p, nil
		}
	}
	return 0, fmt.Errorf("no free port pair for a cluster node")
}

func portFree(p int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

func clusterState(addr string) (string, error) {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(time.Second))
	if _, err := conn.Write([]byte("CLUSTER INFO\r\n")); err != nil {
		return "", err
	}
	r := bufio.NewReader(conn)
	head, err := r.ReadString('\n')
	if err != nil || !strings.HasPrefix(head, "$") {
		return "", fmt.Errorf("CLUSTER INFO answered %q", head)
	}
	n, _ := strconv.Atoi(strings.TrimSpace(head[1:]))
	buf := make([]byte, n)
	if _, err := io.ReadFull(r, buf); err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(buf), "\r\n") {
		if v, ok := strings.CutPrefix(line, "cluster_state:"); ok {
			return v, nil
		}
	}
	return "", fmt.Errorf("no cluster_state in CLUSTER INFO")
}
