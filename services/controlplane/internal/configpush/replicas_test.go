package configpush_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	configv1 "pictor/proto/pictor/config/v1"
	"pictor/services/controlplane/internal/configpush"
	"pictor/services/controlplane/internal/tenant"
	"pictor/services/internal/pgtest"
)

// protoEdge is an edge at the protocol level: it tracks what it applied
// and ACKs every snapshot.
type protoEdge struct {
	*edge
	id      string
	applied uint64
}

// connectEdge opens a stream to h as node id, claiming applied.
func connectEdge(t *testing.T, h *harness, id string, applied uint64) *protoEdge {
	t.Helper()
	return &protoEdge{edge: h.hello(t, id, applied), id: id, applied: applied}
}

// await receives and ACKs snapshots until one of at least version v
// arrives, and returns it.
func (e *protoEdge) await(v uint64) *configv1.Snapshot {
	e.t.Helper()
	for {
		resp := e.snapshot()
		s := resp.GetSnapshot()
		if s.Version > e.applied {
			e.applied = s.Version
		}
		e.ack(resp, e.applied, "")
		if s.Version >= v {
			return s
		}
	}
}

// TestReplicasShareTheDatabase: two replicas over one database, each with
// its own LISTEN connection and polling off; a write made through one
// reaches the edges of both, both record their edges' ACKs, and an edge
// that reconnects to the other replica resumes from its applied version.
// A purge made while an edge is away reaches it, as a rule in the
// snapshot, when it comes back.
func TestReplicasShareTheDatabase(t *testing.T) {
	url := pgtest.NewDatabase(t)
	opts := configpush.Options{Keepalive: time.Minute}
	a, b := startReplica(t, url, opts), startReplica(t, url, opts)
	acme := createAccount(t, a, "acme")
	v0, err := a.db.CurrentVersion(context.Background())
	if err != nil {
		t.Fatal(err)
	}

	edges := make([]*protoEdge, 6)
	for i := range edges {
		h := a
		if i%2 == 1 {
			h = b
		}
		edges[i] = connectEdge(t, h, fmt.Sprintf("edge-%d", i), 0)
		edges[i].await(v0)
	}

	o := createOrigin(t, a, acme, "web")
	for i, e := range edges {
		s := e.await(v0 + 1)
		if s.Version != v0+1 || len(s.Accounts) != 1 || len(s.Accounts[0].Origins) != 1 || s.Accounts[0].Origins[0].Id != o.ID {
			t.Fatalf("edge %d got version %d %v, want version %d with origin %s", i, s.Version, s.Accounts, v0+1, o.ID)
		}
	}
	for _, e := range edges {
		b.eventually(t, e.id, func(n tenant.EdgeNode) bool {
			return n.Connected && n.AppliedVersion == v0+1 && n.LastAckVersion == v0+1
		})
	}

	// edge-0 (on a) goes away; a purge is made through b meanwhile.
	gone := edges[0]
	gone.cancel()
	a.eventually(t, gone.id, func(n tenant.EdgeNode) bool { return !n.Connected })
	p, err := b.db.CreatePurge(context.Background(), acme, tenant.PurgeURL{
		Raw: "http://edge.example/acme/products/shoe.jpg", Host: "edge.example", Path: "/acme/products/shoe.jpg",
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range edges[1:] {
		if s := e.await(p.Version); !hasPurge(s, p.ID, p.Version) {
			t.Fatalf("%s: snapshot v%d lacks purge %s", e.id, s.Version, p.ID)
		}
	}

	// It comes back to the other replica, saying what it applied.
	back := connectEdge(t, b, gone.id, gone.applied)
	s := back.await(p.Version)
	if s.Version != p.Version || !hasPurge(s, p.ID, p.Version) {
		t.Fatalf("reconnected edge got v%d (purge present: %v), want v%d with purge %s", s.Version, hasPurge(s, p.ID, p.Version), p.Version, p.ID)
	}
	b.eventually(t, gone.id, func(n tenant.EdgeNode) bool { return n.Connected && n.AppliedVersion == p.Version })
}

func hasPurge(s *configv1.Snapshot, id string, version uint64) bool {
	for _, r := range s.GetPurges() {
		if r.Id == id && r.Version == version && r.AccountId == "acme" && r.Path == "products/shoe.jpg" && !r.Prefix {
			return true
		}
	}
	return false
}

// TestWatchOverTLS: with a certificate configured the stream runs over TLS
// (it carries signing keys); a plaintext client gets nowhere.
func TestWatchOverTLS(t *testing.T) {
	certFile, keyFile, cert := configpush.WriteCert(t, t.TempDir(), "control plane")
	log := slog.New(slog.DiscardHandler)
	creds, err := configpush.ServerTLS(certFile, keyFile, log)
	if err != nil {
		t.Fatal(err)
	}
	h := startReplica(t, pgtest.NewDatabase(t), configpush.Options{Keepalive: time.Minute}, grpc.Creds(creds))

	pool := x509.NewCertPool()
	pool.AddCert(cert)
	conn, err := grpc.NewClient(h.addr, grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12})))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	secure := &harness{db: h.db, client: configv1.NewConfigServiceClient(conn)}
	if s := connectEdge(t, secure, "edge-tls", 0).await(0); s.Version == 0 {
		t.Fatal("no snapshot over TLS")
	}

	// h.client speaks plaintext to the TLS listener.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+edgeToken)
	stream, err := h.client.Watch(ctx)
	if err == nil {
		_, err = stream.Recv()
	}
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("plaintext client: %v, want Unavailable", err)
	}
}

// slowAcks is a store whose ACK bookkeeping takes ackDelay.
type slowAcks struct {
	configpush.Store
	ackDelay time.Duration
}

func (s slowAcks) EdgeAcked(ctx context.Context, a tenant.EdgeAck) error {
	select {
	case <-time.After(s.ackDelay):
	case <-ctx.Done():
		return ctx.Err()
	}
	return s.Store.EdgeAcked(ctx, a)
}

// TestSlowBookkeepingDoesNotDelayPushes: recording ACKs in a slow database
// happens beside the stream, so the next version reaches the edge at once;
// the records land later, in order.
func TestSlowBookkeepingDoesNotDelayPushes(t *testing.T) {
	const delay = 400 * time.Millisecond
	h := startReplicaWith(t, pgtest.NewDatabase(t), configpush.Options{Keepalive: time.Minute},
		func(s configpush.Store) configpush.Store { return slowAcks{s, delay} })
	acme := createAccount(t, h, "acme")
	v, _ := h.db.CurrentVersion(context.Background())
	e := connectEdge(t, h, "edge-slow-db", 0)
	e.await(v)

	for i := range 3 {
		createOrigin(t, h, acme, fmt.Sprintf("web%d", i))
		start := time.Now()
		e.await(v + uint64(i) + 1)
		if d := time.Since(start); d > delay/2 {
			t.Fatalf("version %d took %v to arrive behind a %v ACK write", v+uint64(i)+1, d, delay)
		}
	}
	h.eventually(t, "edge-slow-db", func(n tenant.EdgeNode) bool { return n.LastAckVersion == v+3 })
}
