package configpush_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	configv1 "pictor/proto/pictor/config/v1"
	"pictor/services/controlplane/internal/auth"
	"pictor/services/controlplane/internal/configpush"
	"pictor/services/controlplane/internal/postgres"
	"pictor/services/controlplane/internal/snapshot"
	"pictor/services/controlplane/internal/tenant"
	"pictor/services/internal/errkind"
	"pictor/services/internal/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

const edgeToken = "edge-token-for-tests"

// countingBuilder counts the snapshots the real builder makes.
type countingBuilder struct {
	inner *snapshot.Builder
	n     atomic.Int32
}

func (b *countingBuilder) Build(ctx context.Context) (*configv1.Snapshot, error) {
	b.n.Add(1)
	return b.inner.Build(ctx)
}

func (b *countingBuilder) BuildFrom(ctx context.Context, prev *configv1.Snapshot) (*configv1.Snapshot, error) {
	b.n.Add(1)
	return b.inner.BuildFrom(ctx, prev)
}

type harness struct {
	db      *postgres.DB
	push    *configpush.Server
	builder *countingBuilder
	client  configv1.ConfigServiceClient
	addr    string // the replica's gRPC address
}

// start runs a config service on a real TCP listener against a fresh
// database. Polling is slow unless opts say otherwise, so pushes in these
// tests prove that LISTEN/NOTIFY works.
func start(t *testing.T, opts configpush.Options) *harness {
	t.Helper()
	return startReplica(t, pgtest.NewDatabase(t), opts)
}

// startReplica runs a config service (a control-plane replica, with its
// own pool and its own LISTEN) against the database at dbURL.
func startReplica(t *testing.T, dbURL string, opts configpush.Options, serverOpts ...grpc.ServerOption) *harness {
	t.Helper()
	return startReplicaWith(t, dbURL, opts, nil, serverOpts...)
}

// startReplicaWith is startReplica with the config service's store wrapped
// by wrap (when not nil), to slow or break it.
func startReplicaWith(t *testing.T, dbURL string, opts configpush.Options, wrap func(configpush.Store) configpush.Store, serverOpts ...grpc.ServerOption) *harness {
	t.Helper()
	if opts.Poll == 0 {
		opts.Poll = time.Minute
	}
	log := slog.New(slog.DiscardHandler)
	db, err := postgres.Open(context.Background(), dbURL, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	kr, err := auth.NewKeyring(bytes.Repeat([]byte{3}, auth.MasterKeyLen))
	if err != nil {
		t.Fatal(err)
	}
	b := &countingBuilder{inner: snapshot.NewBuilder(db, kr, log)}
	var store configpush.Store = db
	if wrap != nil {
		store = wrap(db)
	}
	push := configpush.New(store, b, log, opts)
	runCtx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		push.Run(runCtx)
		close(done)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})

	srv := grpc.NewServer(append(configpush.ServerOptions(edgeToken, log), serverOpts...)...)
	configv1.RegisterConfigServiceServer(srv, push)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(lis)
	t.Cleanup(func() {
		push.Close()
		srv.GracefulStop()
	})
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &harness{db: db, push: push, builder: b, client: configv1.NewConfigServiceClient(conn), addr: lis.Addr().String()}
}

type edge struct {
	t      *testing.T
	stream configv1.ConfigService_WatchClient
	cancel context.CancelFunc
}

// connect opens a Watch stream presenting authorization (if not empty).
func (h *harness) connect(t *testing.T, authorization string) *edge {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	if authorization != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", authorization)
	}
	stream, err := h.client.Watch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return &edge{t: t, stream: stream, cancel: cancel}
}

func (h *harness) hello(t *testing.T, nodeID string, applied uint64) *edge {
	t.Helper()
	e := h.connect(t, "Bearer "+edgeToken)
	e.send(&configv1.WatchRequest{Kind: &configv1.WatchRequest_Hello{Hello: &configv1.Hello{
		NodeId: nodeID, EdgeGroup: "test", CapabilityVersion: 1, AppliedVersion: applied,
	}}})
	return e
}

func (e *edge) send(m *configv1.WatchRequest) {
	e.t.Helper()
	if err := e.stream.Send(m); err != nil && err != io.EOF {
		e.t.Fatalf("send: %v", err)
	}
}

func (e *edge) ack(resp *configv1.WatchResponse, applied uint64, detail string) {
	e.t.Helper()
	e.send(&configv1.WatchRequest{Kind: &configv1.WatchRequest_Ack{Ack: &configv1.Ack{
		Version: resp.GetSnapshot().GetVersion(), Nonce: resp.Nonce, ErrorDetail: detail, AppliedVersion: applied,
	}}})
}

// snapshot receives until a snapshot arrives, skipping keepalives.
func (e *edge) snapshot() *configv1.WatchResponse {
	e.t.Helper()
	for {
		resp, err := e.stream.Recv()
		if err != nil {
			e.t.Fatalf("recv: %v", err)
		}
		if resp.GetSnapshot() != nil {
			return resp
		}
	}
}

func (e *edge) wantCode(code codes.Code) {
	e.t.Helper()
	for {
		_, err := e.stream.Recv()
		if err == nil {
			continue
		}
		if status.Code(err) != code {
			e.t.Fatalf("stream ended with %v, want %v", err, code)
		}
		return
	}
}

// eventually polls the edge's record until ok accepts it.
func (h *harness) eventually(t *testing.T, nodeID string, ok func(tenant.EdgeNode) bool) tenant.EdgeNode {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		n, err := h.db.FindEdge(context.Background(), nodeID)
		if err == nil && ok(n) {
			return n
		}
		if errkind.KindOf(err) != errkind.NotFound && err != nil {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("edge %s never reached the expected state; last %+v, %v", nodeID, n, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func createAccount(t *testing.T, h *harness, id string) tenant.Caller {
	t.Helper()
	_, _, err := h.db.CreateAccount(context.Background(), tenant.Caller{Actor: "admin"}, tenant.NewAccount{
		ID: id, Name: id, OwnerEmail: id + "@example.com",
		Key: tenant.NewKey{ID: tenant.NewID(), DisplayPrefix: "p", Digest: []byte(id), Ciphertext: []byte("c")},
	})
	if err != nil {
		t.Fatal(err)
	}
	return tenant.Caller{AccountID: id, Actor: "test"}
}

func createOrigin(t *testing.T, h *harness, c tenant.Caller, name string) tenant.Origin {
	t.Helper()
	o, err := h.db.CreateOrigin(context.Background(), c, tenant.Origin{
		Type: tenant.OriginWebFolder, Name: name, BaseURL: "http://127.0.0.1:8079/" + name,
	})
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func TestAuthentication(t *testing.T) {
	h := start(t, configpush.Options{})
	tests := []struct {
		name          string
		authorization string
		want          codes.Code
	}{
		{"no token", "", codes.Unauthenticated},
		{"wrong token", "Bearer nope", codes.Unauthenticated},
		{"token prefix", "Bearer " + edgeToken[:5], codes.Unauthenticated},
		{"wrong scheme", "Basic " + edgeToken, codes.Unauthenticated},
		{"bare token", edgeToken, codes.Unauthenticated},
		{"lower-case scheme", "bearer " + edgeToken, codes.OK},
		{"right token", "Bearer " + edgeToken, codes.OK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := h.connect(t, tt.authorization)
			e.send(&configv1.WatchRequest{Kind: &configv1.WatchRequest_Hello{Hello: &configv1.Hello{NodeId: "edge-auth"}}})
			if tt.want != codes.OK {
				e.wantCode(tt.want)
				return
			}
			if resp := e.snapshot(); resp.GetSnapshot().GetVersion() == 0 {
				t.Fatal("snapshot without a version")
			}
		})
	}
}

func TestProtocolErrors(t *testing.T) {
	h := start(t, configpush.Options{HelloTimeout: 200 * time.Millisecond})
	hello := func(id string) *configv1.WatchRequest {
		return &configv1.WatchRequest{Kind: &configv1.WatchRequest_Hello{Hello: &configv1.Hello{NodeId: id}}}
	}
	tests := []struct {
		name string
		msgs []*configv1.WatchRequest
		want codes.Code
	}{
		{"ack first", []*configv1.WatchRequest{{Kind: &configv1.WatchRequest_Ack{Ack: &configv1.Ack{}}}}, codes.InvalidArgument},
		{"empty message", []*configv1.WatchRequest{{}}, codes.InvalidArgument},
		{"empty node id", []*configv1.WatchRequest{hello("")}, codes.InvalidArgument},
		{"node id with space", []*configv1.WatchRequest{hello("edge 1")}, codes.InvalidArgument},
		{"node id too long", []*configv1.WatchRequest{hello(strings.Repeat("e", 129))}, codes.InvalidArgument},
		{"edge group too long", []*configv1.WatchRequest{{Kind: &configv1.WatchRequest_Hello{Hello: &configv1.Hello{
			NodeId: "edge-g", EdgeGroup: strings.Repeat("g", 65)}}}}, codes.InvalidArgument},
		{"edge group with a newline", []*configv1.WatchRequest{{Kind: &configv1.WatchRequest_Hello{Hello: &configv1.Hello{
			NodeId: "edge-g", EdgeGroup: "eu\nwest"}}}}, codes.InvalidArgument},
		{"second hello", []*configv1.WatchRequest{hello("edge-p"), hello("edge-p")}, codes.InvalidArgument},
		{"no hello at all", nil, codes.DeadlineExceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := h.connect(t, "Bearer "+edgeToken)
			for _, m := range tt.msgs {
				e.send(m)
			}
			e.wantCode(tt.want)
		})
	}
}

// TestSnapshotPushAndAcks walks one edge through its life: a full snapshot
// on connect, a newer one after each config write (through LISTEN/NOTIFY:
// polling is off), ACK and NACK bookkeeping, stale nonces ignored, and
// disconnect.
func TestSnapshotPushAndAcks(t *testing.T) {
	h := start(t, configpush.Options{Keepalive: time.Minute})
	acme := createAccount(t, h, "acme")
	v0, _ := h.db.CurrentVersion(context.Background())

	e := h.hello(t, "edge-1", 0)
	// The replica may not have caught up with the account yet: an older
	// snapshot can come first; the current one must follow.
	first := e.snapshot()
	for first.GetSnapshot().Version < v0 {
		first = e.snapshot()
	}
	if got := first.GetSnapshot(); got.Version != v0 || len(got.Accounts) != 1 || got.Accounts[0].Id != "acme" {
		t.Fatalf("first snapshot version %d accounts %v, want version %d with acme", got.Version, got.Accounts, v0)
	}
	h.eventually(t, "edge-1", func(n tenant.EdgeNode) bool { return n.Connected && n.EdgeGroup == "test" })
	e.ack(first, v0, "")
	h.eventually(t, "edge-1", func(n tenant.EdgeNode) bool { return n.LastAckVersion == v0 && n.AppliedVersion == v0 })

	// An answer to a response this stream never sent is ignored.
	e.send(&configv1.WatchRequest{Kind: &configv1.WatchRequest_Ack{Ack: &configv1.Ack{
		Version: 999, Nonce: "bogus", ErrorDetail: "stale", AppliedVersion: 999,
	}}})

	o := createOrigin(t, h, acme, "web")
	second := e.snapshot()
	s := second.GetSnapshot()
	if s.Version != v0+1 || len(s.Accounts[0].Origins) != 1 || s.Accounts[0].Origins[0].Id != o.ID {
		t.Fatalf("pushed snapshot version %d origins %v, want version %d with origin %s", s.Version, s.Accounts[0].Origins, v0+1, o.ID)
	}
	if second.Nonce == first.Nonce {
		t.Fatal("two responses share a nonce")
	}
	e.ack(second, v0+1, "")
	h.eventually(t, "edge-1", func(n tenant.EdgeNode) bool { return n.LastAckVersion == v0+1 })

	createOrigin(t, h, acme, "web2")
	third := e.snapshot()
	e.ack(third, v0+1, "origin web2: unsupported")
	n := h.eventually(t, "edge-1", func(n tenant.EdgeNode) bool { return n.LastNackVersion == v0+2 })
	if n.LastNackDetail != "origin web2: unsupported" || n.AppliedVersion != v0+1 || n.LastAckVersion != v0+1 {
		t.Fatalf("after NACK: %+v", n)
	}

	// The rejected version is not sent again; the next one is.
	createOrigin(t, h, acme, "web3")
	if v := e.snapshot().GetSnapshot().Version; v != v0+3 {
		t.Fatalf("after a NACK of %d got version %d, want %d", v0+2, v, v0+3)
	}
	// Metrics read the streams: one edge, applied v0+1 of v0+3.
	if st := h.push.Stats(); st.Streams != 1 || st.Version != v0+3 || st.Lag["edge-1"] != 2 {
		t.Fatalf("stats %+v, want 1 stream at version %d, edge-1 2 behind", st, v0+3)
	}

	if err := e.stream.CloseSend(); err != nil {
		t.Fatal(err)
	}
	if _, err := e.stream.Recv(); err != io.EOF {
		t.Fatalf("after CloseSend: %v, want a clean end", err)
	}
	h.eventually(t, "edge-1", func(n tenant.EdgeNode) bool { return !n.Connected })
	if st := h.push.Stats(); st.Streams != 0 || len(st.Lag) != 0 {
		t.Fatalf("stats after disconnect: %+v", st)
	}
}

// TestUpToDateEdge: an edge that already has the current version gets no
// snapshot, only keepalives carrying the version.
func TestUpToDateEdge(t *testing.T) {
	h := start(t, configpush.Options{Keepalive: 100 * time.Millisecond})
	createAccount(t, h, "acme")
	v, _ := h.db.CurrentVersion(context.Background())
	e := h.hello(t, "edge-2", v)
	// Keepalives only; the first may still carry the version this replica
	// had before it read the account's.
	for i := 0; ; i++ {
		resp, err := e.stream.Recv()
		if err != nil {
			t.Fatal(err)
		}
		ka := resp.GetKeepalive()
		if ka == nil || ka.CurrentVersion > v {
			t.Fatalf("got %v, want keepalives up to version %d", resp, v)
		}
		if ka.CurrentVersion == v {
			return
		}
		if i == 10 {
			t.Fatalf("no keepalive at version %d", v)
		}
	}
}

// TestEdgeAheadOfDatabase: an edge claiming a version the database never
// reached (the database was restored or replaced) would ignore the
// database's older version. Once a fresh read confirms the database is
// behind, the version moves past the edge's, and the database's config
// reaches the edge under it.
func TestEdgeAheadOfDatabase(t *testing.T) {
	h := start(t, configpush.Options{Keepalive: time.Minute})
	createAccount(t, h, "acme")
	v, _ := h.db.CurrentVersion(context.Background())
	e := h.hello(t, "edge-ahead", v+50)
	snap := e.snapshot().GetSnapshot()
	if snap.Version != v+51 || len(snap.Accounts) != 1 || snap.Accounts[0].Id != "acme" {
		t.Fatalf("edge ahead got version %d with %d accounts, want the database's config as version %d", snap.Version, len(snap.Accounts), v+51)
	}
	if now, _ := h.db.CurrentVersion(context.Background()); now != v+51 {
		t.Fatalf("database at version %d, want %d", now, v+51)
	}
}

// TestFanOut: several edges, one build per version.
func TestFanOut(t *testing.T) {
	h := start(t, configpush.Options{Keepalive: time.Minute})
	edges := make([]*edge, 3)
	for i := range edges {
		edges[i] = h.hello(t, "edge-fan-"+string(rune('a'+i)), 0)
		edges[i].snapshot()
	}
	createAccount(t, h, "acme")
	var created int64
	for i, e := range edges {
		s := e.snapshot().GetSnapshot()
		if len(s.Accounts) != 1 {
			t.Fatalf("edge %d: %d accounts, want 1", i, len(s.Accounts))
		}
		if i > 0 && s.CreatedUnixMs != created {
			t.Fatal("edges received different builds of one version")
		}
		created = s.CreatedUnixMs
	}
	if n := h.builder.n.Load(); n != 2 {
		t.Fatalf("%d snapshot builds for 2 versions", n)
	}
}

// TestCloseEndsStreams: shutting down ends streams with Unavailable, so
// edges reconnect elsewhere, and records them disconnected.
func TestCloseEndsStreams(t *testing.T) {
	h := start(t, configpush.Options{Keepalive: time.Minute})
	e := h.hello(t, "edge-3", 0)
	e.snapshot()
	h.push.Close()
	e.wantCode(codes.Unavailable)
	h.eventually(t, "edge-3", func(n tenant.EdgeNode) bool { return !n.Connected })
}
