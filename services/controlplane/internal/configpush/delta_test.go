package configpush_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	configv1 "pictor/proto/pictor/config/v1"
	"pictor/services/controlplane/internal/configpush"
	"pictor/services/controlplane/internal/tenant"
	"pictor/services/internal/configdelta"
	"pictor/services/internal/pgtest"
)

// helloDeltas opens a stream as an edge that applies deltas.
func (h *harness) helloDeltas(t *testing.T, nodeID string, applied uint64) *edge {
	t.Helper()
	e := h.connect(t, "Bearer "+edgeToken)
	e.send(&configv1.WatchRequest{Kind: &configv1.WatchRequest_Hello{Hello: &configv1.Hello{
		NodeId: nodeID, EdgeGroup: "test", CapabilityVersion: configpush.DeltaCapability, AppliedVersion: applied,
	}}})
	return e
}

// config receives until a snapshot or a delta arrives.
func (e *edge) config() *configv1.WatchResponse {
	e.t.Helper()
	for {
		resp, err := e.stream.Recv()
		if err != nil {
			e.t.Fatalf("recv: %v", err)
		}
		if resp.GetSnapshot() != nil || resp.GetDelta() != nil {
			return resp
		}
	}
}

func (e *edge) ackConfig(resp *configv1.WatchResponse, applied uint64, detail string) {
	e.t.Helper()
	v := resp.GetSnapshot().GetVersion()
	if d := resp.GetDelta(); d != nil {
		v = d.GetVersion()
	}
	e.send(&configv1.WatchRequest{Kind: &configv1.WatchRequest_Ack{Ack: &configv1.Ack{
		Version: v, Nonce: resp.Nonce, ErrorDetail: detail, AppliedVersion: applied,
	}}})
}

// published waits until the server publishes the database's version.
func (h *harness) published(t *testing.T) uint64 {
	t.Helper()
	want, err := h.db.CurrentVersion(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for h.push.Stats().Version != want {
		if time.Now().After(deadline) {
			t.Fatalf("v%d never published (at v%d)", want, h.push.Stats().Version)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return want
}

// TestDeltas: an edge that applies deltas gets the whole config once, on
// first connect, then only what changed — one account's change costs a
// fraction of the snapshot however many accounts there are; reconnecting
// after missing 1,000 changes it resumes from its version with one delta
// (no full resync); a version it cannot resume from, or a delta it
// refuses, brings the version whole.
func TestDeltas(t *testing.T) {
	dbURL := pgtest.NewDatabase(t)
	h := startReplica(t, dbURL, configpush.Options{Poll: 50 * time.Millisecond})
	var acme tenant.Caller
	for i := range 100 {
		c := createAccount(t, h, fmt.Sprintf("acct-%03d", i))
		createOrigin(t, h, c, "web")
		if i == 0 {
			acme = c
		}
	}
	o := createOrigin(t, h, acme, "second")
	first := h.published(t)

	e := h.helloDeltas(t, "edge-delta", 0)
	full := e.config()
	if full.GetSnapshot().GetVersion() != first || len(full.GetSnapshot().GetAccounts()) != 100 {
		t.Fatalf("first connect: a %T, want the whole v%d with 100 accounts", full.GetKind(), first)
	}
	e.ackConfig(full, first, "")
	held := configdelta.NewState(full.GetSnapshot())

	// One account changes: a delta with that account alone.
	sent := h.push.Stats().SentBytes
	o.Name = "renamed"
	if _, err := h.db.UpdateOrigin(context.Background(), acme, o); err != nil {
		t.Fatal(err)
	}
	resp := e.config()
	d := resp.GetDelta()
	if d == nil || d.FromVersion != first || len(d.Accounts) != 1 || d.Accounts[0].Id != acme.AccountID {
		t.Fatalf("after one change: a %T (%d accounts), want a delta from v%d with %s alone", resp.GetKind(), len(d.GetAccounts()), first, acme.AccountID)
	}
	deltaBytes := h.push.Stats().SentBytes - sent
	if snapBytes := uint64(proto.Size(full)); deltaBytes*20 > snapBytes {
		t.Errorf("one account's change sent %d bytes; the whole config is %d", deltaBytes, snapBytes)
	}
	if err := held.Advance(d, nil); err != nil {
		t.Fatal(err)
	}
	e.ackConfig(resp, d.Version, "")
	h.eventually(t, "edge-delta", func(n tenant.EdgeNode) bool { return n.AppliedVersion == d.Version })
	e.cancel()

	// 1,000 changes while the edge is away.
	for i := range 1000 {
		o.Name = fmt.Sprintf("name-%d", i)
		if _, err := h.db.UpdateOrigin(context.Background(), acme, o); err != nil {
			t.Fatal(err)
		}
	}
	latest := h.published(t)
	from := held.Version()
	e = h.helloDeltas(t, "edge-delta", from)
	resp = e.config()
	d = resp.GetDelta()
	if d == nil || d.FromVersion != from || d.Version != latest || len(d.Accounts) != 1 {
		t.Fatalf("resuming from v%d: a %T (from v%d to v%d, %d accounts), want one delta to v%d", from, resp.GetKind(),
			d.GetFromVersion(), d.GetVersion(), len(d.GetAccounts()), latest)
	}
	if err := held.Advance(d, nil); err != nil {
		t.Fatal(err)
	}
	got := held.Snapshot(time.Now())
	want, err := h.builder.Build(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got.CreatedUnixMs = want.CreatedUnixMs
	if !proto.Equal(got, want) {
		t.Fatal("the resumed config differs from the database's")
	}
	// The edge refuses the delta: the version comes again, whole.
	e.ackConfig(resp, from, "delta from v1 does not apply to v2")
	if again := e.config(); again.GetSnapshot().GetVersion() != latest {
		t.Fatalf("after a refused delta: a %T, want the whole v%d", again.GetKind(), latest)
	}
	e.cancel()

	// A replica started since never published the edge's version: it
	// resumes the edge from the database's record of what changed.
	late := startReplica(t, dbURL, configpush.Options{Poll: 50 * time.Millisecond})
	late.published(t)
	e = late.helloDeltas(t, "edge-moved", from)
	resp = e.config()
	d = resp.GetDelta()
	if d == nil || d.FromVersion != from || d.Version != latest || len(d.Accounts) != 1 || d.Accounts[0].Id != acme.AccountID {
		t.Fatalf("from a version the replica never published: a %T (%d accounts), want a delta from v%d with %s alone",
			resp.GetKind(), len(d.GetAccounts()), from, acme.AccountID)
	}
	e.cancel()

	// After the version was moved past an edge (a database restored
	// under it), every account counts as changed: an edge from before
	// is resumed with all of them.
	if _, err := h.db.AdvanceVersion(context.Background(), latest); err != nil {
		t.Fatal(err)
	}
	advanced := late.published(t)
	e = late.helloDeltas(t, "edge-restored", from)
	resp = e.config()
	if d := resp.GetDelta(); resp.GetSnapshot().GetVersion() != advanced && (d.GetVersion() != advanced || len(d.GetAccounts()) != 100) {
		t.Fatalf("after the version was advanced: a %T with %d accounts, want v%d whole or with all 100", resp.GetKind(), len(d.GetAccounts()), advanced)
	}
}

// TestBurstBatched: a burst of writes within the batching window is
// published as a version or two, not one per write, and the last write is
// published. (The window is widened here so a slow machine's burst still
// fits in it; the default is DefaultBatch.)
func TestBurstBatched(t *testing.T) {
	h := start(t, configpush.Options{Poll: time.Hour, Batch: time.Second})
	c := createAccount(t, h, "acme")
	o := createOrigin(t, h, c, "web")
	h.published(t)
	before := h.builder.n.Load()
	for i := range 30 {
		o.Name = fmt.Sprintf("name-%d", i)
		if _, err := h.db.UpdateOrigin(context.Background(), c, o); err != nil {
			t.Fatal(err)
		}
	}
	h.published(t)
	if builds := h.builder.n.Load() - before; builds > 5 {
		t.Fatalf("30 writes in a burst were built into %d versions", builds)
	}
}
