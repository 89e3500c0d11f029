package configwatch

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	configv1 "pictor/proto/pictor/config/v1"
	"pictor/services/edge/internal/routing"

	"pictor/services/internal/tlstest"
)

const waitFor = 5 * time.Second

// fakeControlPlane is the peer of the stream: a real gRPC ConfigService on
// a 127.0.0.1 listener that records what the edge sends and sends what the
// test queues.
type fakeControlPlane struct {
	configv1.UnimplementedConfigServiceServer
	token    string
	attempts atomic.Int32 // every stream opened, authenticated or not
	hellos   chan *configv1.Hello
	acks     chan *configv1.Ack
	out      chan *configv1.WatchResponse
}

func newFakeControlPlane(token string) *fakeControlPlane {
	return &fakeControlPlane{
		token:  token,
		hellos: make(chan *configv1.Hello, 64),
		acks:   make(chan *configv1.Ack, 64),
		out:    make(chan *configv1.WatchResponse, 64),
	}
}

func (f *fakeControlPlane) authorize(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	f.attempts.Add(1)
	md, _ := metadata.FromIncomingContext(ss.Context())
	if got := md.Get("authorization"); len(got) != 1 || got[0] != "Bearer "+f.token {
		return status.Error(codes.Unauthenticated, "invalid edge token")
	}
	return handler(srv, ss)
}

func (f *fakeControlPlane) Watch(stream configv1.ConfigService_WatchServer) error {
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	if first.GetHello() == nil {
		return status.Error(codes.InvalidArgument, "first message must be a Hello")
	}
	f.hellos <- first.GetHello()
	errc := make(chan error, 1)
	go func() {
		for {
			req, err := stream.Recv()
			if err != nil {
				errc <- err
				return
			}
			f.acks <- req.GetAck()
		}
	}()
	for {
		select {
		case resp := <-f.out:
			if err := stream.Send(resp); err != nil {
				return err
			}
		case err := <-errc:
			return err
		}
	}
}

func (f *fakeControlPlane) sendSnapshot(nonce string, snap *configv1.Snapshot) {
	f.out <- &configv1.WatchResponse{Nonce: nonce, Kind: &configv1.WatchResponse_Snapshot{Snapshot: snap}}
}

// serve starts f on addr ("127.0.0.1:0" for a fresh port) and returns the
// server and the address it listens on.
func serve(t *testing.T, f *fakeControlPlane, addr string, opts ...grpc.ServerOption) (*grpc.Server, string) {
	t.Helper()
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen %s: %v", addr, err)
	}
	s := grpc.NewServer(append(opts, grpc.StreamInterceptor(f.authorize))...)
	configv1.RegisterConfigServiceServer(s, f)
	go s.Serve(lis)
	t.Cleanup(s.Stop)
	return s, lis.Addr().String()
}

// edge is a client wired the way cmd/edge wires it: apply builds a routing
// table and swaps it into a Holder.
type edge struct {
	*Client
	holder  routing.Holder
	applies atomic.Int32
	logs    *syncBuffer
}

func newEdge(t *testing.T, cfg Config) *edge {
	t.Helper()
	e := &edge{logs: new(syncBuffer)}
	apply := func(s *configv1.Snapshot, _ *configv1.Delta) ([]*configv1.Rejection, error) {
		e.applies.Add(1)
		tab, err := routing.Build(s)
		if err != nil {
			return nil, err
		}
		e.holder.Store(tab)
		return nil, nil
	}
	if cfg.NodeID == "" {
		cfg.NodeID, cfg.EdgeGroup = "edge-1", "eu"
	}
	log := slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e.Client = New(cfg, apply, log)
	e.backoffBase, e.backoffMax = 10*time.Millisecond, 100*time.Millisecond
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("edge log:\n%s", e.logs)
		}
	})
	return e
}

// run starts Run and stops it when the test ends, checking it returns the
// context's error.
func (e *edge) run(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("Run returned %v, want context.Canceled", err)
			}
		case <-time.After(waitFor):
			t.Error("Run did not return after cancel")
		}
	})
}

func (e *edge) version() uint64 {
	if tab := e.holder.Load(); tab != nil {
		return tab.Version()
	}
	return 0
}

func recv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitFor):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func checkAck(t *testing.T, ack *configv1.Ack, version uint64, nonce string, applied uint64, detail string) {
	t.Helper()
	if ack.GetVersion() != version || ack.GetNonce() != nonce || ack.GetAppliedVersion() != applied {
		t.Errorf("ack = version %d nonce %q applied %d, want %d %q %d",
			ack.GetVersion(), ack.GetNonce(), ack.GetAppliedVersion(), version, nonce, applied)
	}
	if detail == "" && ack.GetErrorDetail() != "" {
		t.Errorf("ack is a NACK: %q", ack.GetErrorDetail())
	}
	if detail != "" && !strings.Contains(ack.GetErrorDetail(), detail) {
		t.Errorf("NACK detail = %q, want it to contain %q", ack.GetErrorDetail(), detail)
	}
}

func TestRunAcksAndNacks(t *testing.T) {
	cp := newFakeControlPlane("edge-token")
	_, addr := serve(t, cp, "127.0.0.1:0")
	dir := t.TempDir()
	e := newEdge(t, Config{Addr: addr, Token: "edge-token", DataDir: dir})
	e.run(t)

	hello := recv(t, cp.hellos, "hello")
	if hello.GetNodeId() != "edge-1" || hello.GetEdgeGroup() != "eu" || hello.GetCapabilityVersion() != CapabilityVersion || hello.GetAppliedVersion() != 0 {
		t.Errorf("hello = %v", hello)
	}
	if e.Connected() {
		t.Error("Connected before the control plane said anything")
	}

	cp.sendSnapshot("n1", testSnapshot(2))
	checkAck(t, recv(t, cp.acks, "ack v2"), 2, "n1", 2, "")
	if e.version() != 2 || e.AppliedVersion() != 2 || !e.Connected() {
		t.Errorf("after v2: table v%d applied v%d connected %v", e.version(), e.AppliedVersion(), e.Connected())
	}
	if snap, err := e.LoadPersisted(); err != nil || snap.GetVersion() != 2 {
		t.Errorf("persisted = v%d, %v; want v2", snap.GetVersion(), err)
	}

	t.Run("invalid snapshot is NACKed and the old one kept", func(t *testing.T) {
		bad := testSnapshot(3)
		bad.Accounts[0].Origins[0].BaseUrl = "ftp://example.com"
		cp.sendSnapshot("n2", bad)
		checkAck(t, recv(t, cp.acks, "nack v3"), 3, "n2", 2, `origin "o1": base_url "ftp://example.com": must use http or https`)
		if e.version() != 2 || e.AppliedVersion() != 2 {
			t.Errorf("table v%d applied v%d, want v2 kept", e.version(), e.AppliedVersion())
		}
		if snap, err := e.LoadPersisted(); err != nil || snap.GetVersion() != 2 {
			t.Errorf("persisted = v%d, %v; want v2 kept", snap.GetVersion(), err)
		}
	})

	t.Run("older version is ignored but answered", func(t *testing.T) {
		before := e.applies.Load()
		cp.sendSnapshot("n3", testSnapshot(1))
		checkAck(t, recv(t, cp.acks, "ack v1"), 1, "n3", 2, "")
		cp.sendSnapshot("n4", testSnapshot(2))
		checkAck(t, recv(t, cp.acks, "ack v2 again"), 2, "n4", 2, "")
		if got := e.applies.Load(); got != before {
			t.Errorf("apply called %d times for old versions", got-before)
		}
		if e.version() != 2 {
			t.Errorf("table v%d, want v2", e.version())
		}
	})

	t.Run("keepalive is not answered", func(t *testing.T) {
		cp.out <- &configv1.WatchResponse{Nonce: "k1", Kind: &configv1.WatchResponse_Keepalive{Keepalive: &configv1.Keepalive{CurrentVersion: 2}}}
		cp.sendSnapshot("n5", testSnapshot(4))
		// The next ack must be for v4: nothing was sent for the keepalive.
		checkAck(t, recv(t, cp.acks, "ack v4"), 4, "n5", 4, "")
		if e.version() != 4 {
			t.Errorf("table v%d, want v4", e.version())
		}
	})

}

func TestRunReconnectsAfterServerRestart(t *testing.T) {
	cp := newFakeControlPlane("edge-token")
	srv, addr := serve(t, cp, "127.0.0.1:0")
	e := newEdge(t, Config{Addr: addr, Token: "edge-token", DataDir: t.TempDir()})
	e.run(t)

	recv(t, cp.hellos, "first hello")
	cp.sendSnapshot("a1", testSnapshot(2))
	checkAck(t, recv(t, cp.acks, "ack v2"), 2, "a1", 2, "")

	srv.Stop()
	eventually(t, "the edge notices the control plane is gone", func() bool { return !e.Connected() })
	if e.version() != 2 {
		t.Fatalf("table v%d while disconnected, want v2 kept", e.version())
	}
	time.Sleep(50 * time.Millisecond) // let a few reconnects fail

	cp2 := newFakeControlPlane("edge-token")
	serve(t, cp2, addr)
	hello := recv(t, cp2.hellos, "hello after restart")
	if hello.GetAppliedVersion() != 2 {
		t.Errorf("hello after restart reports applied v%d, want v2", hello.GetAppliedVersion())
	}
	cp2.sendSnapshot("b1", testSnapshot(3))
	checkAck(t, recv(t, cp2.acks, "ack v3"), 3, "b1", 3, "")
	if !e.Connected() || e.version() != 3 {
		t.Errorf("after restart: connected %v table v%d", e.Connected(), e.version())
	}
}

// TestColdStartFromDisk: an edge restarted while the control plane is down
// serves its persisted config, then resumes from it once it is back.
func TestColdStartFromDisk(t *testing.T) {
	dir := t.TempDir()
	first := newEdge(t, Config{Token: "edge-token", DataDir: dir})
	if err := first.persist(testSnapshot(7)); err != nil {
		t.Fatal(err)
	}

	// Reserve an address with nothing listening on it.
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()

	e := newEdge(t, Config{Addr: addr, Token: "edge-token", DataDir: dir})
	v, err := e.Restore()
	if err != nil || v != 7 || e.version() != 7 || e.AppliedVersion() != 7 {
		t.Fatalf("Restore = v%d, %v; table v%d applied v%d", v, err, e.version(), e.AppliedVersion())
	}
	e.run(t)
	time.Sleep(100 * time.Millisecond)
	if e.Connected() || e.version() != 7 {
		t.Fatalf("with no control plane: connected %v table v%d", e.Connected(), e.version())
	}

	cp := newFakeControlPlane("edge-token")
	serve(t, cp, addr)
	if hello := recv(t, cp.hellos, "hello"); hello.GetAppliedVersion() != 7 {
		t.Errorf("hello reports applied v%d, want v7", hello.GetAppliedVersion())
	}
	cp.sendSnapshot("c1", testSnapshot(7))
	checkAck(t, recv(t, cp.acks, "ack v7"), 7, "c1", 7, "")
	if got := e.applies.Load(); got != 1 {
		t.Errorf("apply called %d times, want once (the restore)", got)
	}
}

func TestRestoreRejectsCorruptFile(t *testing.T) {
	dir := t.TempDir()
	e := newEdge(t, Config{Token: "edge-token", DataDir: dir})
	if err := e.persist(testSnapshot(7)); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, snapshotFile)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0xff
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Restore(); !errors.Is(err, ErrCorruptSnapshot) {
		t.Fatalf("Restore = %v, want ErrCorruptSnapshot", err)
	}
	if e.holder.Load() != nil || e.AppliedVersion() != 0 {
		t.Error("a corrupt file produced a config")
	}
}

func TestRunWrongToken(t *testing.T) {
	cp := newFakeControlPlane("right-token")
	_, addr := serve(t, cp, "127.0.0.1:0")
	e := newEdge(t, Config{Addr: addr, Token: "wrong-token"})
	e.backoffBase, e.backoffMax = 20*time.Millisecond, 200*time.Millisecond
	e.run(t)

	const window = time.Second
	time.Sleep(window)
	n := cp.attempts.Load()
	t.Logf("%d stream attempts in %v", n, window)
	// Full jitter under a ceiling doubling from 20 ms to 200 ms averages
	// about 10 attempts a second; spinning would make thousands.
	if n < 3 || n > 40 {
		t.Errorf("%d stream attempts in %v, want backoff between 3 and 40", n, window)
	}
	if len(cp.hellos) != 0 || e.Connected() || e.AppliedVersion() != 0 {
		t.Errorf("refused edge got through: hellos %d connected %v", len(cp.hellos), e.Connected())
	}
	if logs := e.logs.String(); !strings.Contains(logs, "check the edge token") || !strings.Contains(logs, "Unauthenticated") {
		t.Errorf("refusal not logged clearly:\n%s", logs)
	}
}

// TestRunIdleTimeout: a stream on which the control plane stays silent is
// treated as dead (a host that vanished without closing the socket).
func TestRunIdleTimeout(t *testing.T) {
	cp := newFakeControlPlane("edge-token")
	_, addr := serve(t, cp, "127.0.0.1:0")
	e := newEdge(t, Config{Addr: addr, Token: "edge-token", IdleTimeout: 150 * time.Millisecond})
	e.run(t)

	recv(t, cp.hellos, "first hello")
	cp.out <- &configv1.WatchResponse{Nonce: "k", Kind: &configv1.WatchResponse_Keepalive{Keepalive: &configv1.Keepalive{}}}
	eventually(t, "connected", e.Connected)
	start := time.Now()
	recv(t, cp.hellos, "hello after the idle timeout")
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Errorf("reconnected after %v, before the idle timeout", d)
	}
	if !strings.Contains(e.logs.String(), errIdle.Error()) {
		t.Errorf("idle reconnect not logged with its cause:\n%s", e.logs)
	}
}

func TestRunTLS(t *testing.T) {
	serverTLS, clientTLS := testTLS(t)
	cp := newFakeControlPlane("edge-token")
	_, addr := serve(t, cp, "127.0.0.1:0", grpc.Creds(credentials.NewTLS(serverTLS)))
	e := newEdge(t, Config{Addr: addr, Token: "edge-token", TLS: clientTLS})
	e.run(t)

	recv(t, cp.hellos, "hello over TLS")
	cp.sendSnapshot("t1", testSnapshot(2))
	checkAck(t, recv(t, cp.acks, "ack over TLS"), 2, "t1", 2, "")
}

// TestApplyPanicIsNack: a bug that a snapshot triggers in apply costs a
// NACK, not the process.
func TestApplyPanicIsNack(t *testing.T) {
	c := New(Config{}, func(*configv1.Snapshot, *configv1.Delta) ([]*configv1.Rejection, error) { panic("boom") }, nil)
	ack := c.handleSnapshot("p", testSnapshot(1))
	if !strings.Contains(ack.GetErrorDetail(), "boom") || ack.GetAppliedVersion() != 0 {
		t.Errorf("ack = %v", ack)
	}
}

// TestNilSnapshot: an in-process peer can send a oneof holding a nil
// message (the wire cannot); it is NACKed, not dereferenced.
func TestNilSnapshot(t *testing.T) {
	c := New(Config{}, func(*configv1.Snapshot, *configv1.Delta) ([]*configv1.Rejection, error) {
		t.Fatal("apply called")
		return nil, nil
	}, nil)
	ack := c.handleSnapshot("n", nil)
	if !strings.Contains(ack.GetErrorDetail(), "empty snapshot") || ack.GetNonce() != "n" {
		t.Errorf("ack = %v", ack)
	}
}

// TestFirstSnapshotVersionZero: with nothing applied, even version 0 is
// applied (a fresh control plane may start counting there).
func TestFirstSnapshotVersionZero(t *testing.T) {
	var got *configv1.Snapshot
	c := New(Config{}, func(s *configv1.Snapshot, _ *configv1.Delta) ([]*configv1.Rejection, error) { got = s; return nil, nil }, nil)
	if ack := c.handleSnapshot("z", testSnapshot(0)); ack.GetErrorDetail() != "" || got == nil {
		t.Errorf("v0 not applied: ack %v", ack)
	}
}

func TestNackDetail(t *testing.T) {
	long := errors.New(strings.Repeat("é", maxDetailBytes))
	d := nackDetail(long)
	if len(d) > maxDetailBytes+8 || !utf8.ValidString(d) {
		t.Errorf("detail of %d bytes, valid UTF-8 %v", len(d), utf8.ValidString(d))
	}
	if d := nackDetail(errors.New("bad \xff byte")); !utf8.ValidString(d) {
		t.Errorf("detail %q is not valid UTF-8", d)
	}
}

// testTLS returns matching server and client configs around a fresh
// self-signed certificate for 127.0.0.1.
func testTLS(t *testing.T) (server, client *tls.Config) {
	t.Helper()
	return tlstest.New(t, "pictor test control plane").Configs()
}

// syncBuffer is a bytes.Buffer safe for the client's goroutine to write
// while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestHandleDelta: a delta applies on top of exactly the version served
// (the table is built from the delta alone, and the config held for disk
// advances with it); one from another version, or with nothing served
// yet, is NACKed so the control plane sends the version whole.
func TestHandleDelta(t *testing.T) {
	var gotSnap *configv1.Snapshot
	var gotDelta *configv1.Delta
	c := New(Config{}, func(s *configv1.Snapshot, d *configv1.Delta) ([]*configv1.Rejection, error) {
		gotSnap, gotDelta = s, d
		return nil, nil
	}, nil)
	t.Cleanup(c.Flush) // no put-off write outlives the test
	changed := testSnapshot(3).Accounts[0]
	changed.Status = "suspended"
	delta := &configv1.Delta{FromVersion: 2, Version: 3, Accounts: []*configv1.Account{changed}}
	if ack := c.handleDelta("d0", delta); !strings.Contains(ack.GetErrorDetail(), "holds no config") || gotDelta != nil {
		t.Fatalf("delta with nothing served: ack %v", ack)
	}
	c.handleSnapshot("s", testSnapshot(1))
	if ack := c.handleDelta("d1", delta); !strings.Contains(ack.GetErrorDetail(), "delta from v2 does not apply to v1") || ack.GetAppliedVersion() != 1 || gotDelta != nil {
		t.Fatalf("delta from another version: ack %v", ack)
	}
	c.handleSnapshot("s", testSnapshot(2))
	ack := c.handleDelta("d2", delta)
	if ack.GetErrorDetail() != "" || ack.GetAppliedVersion() != 3 || gotDelta != delta || gotSnap != nil {
		t.Fatalf("delta from the version served: ack %v, applied snapshot %v delta %v", ack, gotSnap, gotDelta)
	}
	// The state is the client's, and its put-off write may read it at any
	// moment: look at it under the client's lock.
	c.mu.Lock()
	held := c.state.Snapshot(time.Now())
	c.mu.Unlock()
	if held.GetVersion() != 3 || held.Accounts[0].Status != "suspended" || len(held.Accounts[0].Origins) != len(changed.Origins) {
		t.Fatalf("config held after the delta: %v", held)
	}
}
