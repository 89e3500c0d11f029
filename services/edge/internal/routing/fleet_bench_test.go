package routing

import (
	"fmt"
	"runtime"
	"testing"

	"google.golang.org/protobuf/proto"

	configv1 "pictor/proto/pictor/config/v1"
	"pictor/services/internal/configdelta"
)

// fleetSnapshot is a SaaS-sized config: n accounts, each with 2 origins,
// 3 endpoints (one with a custom domain), 2 keys and 5 named
// transformations, as issue 17's fleet benchmark sizes it.
func fleetSnapshot(n int) *configv1.Snapshot {
	snap := &configv1.Snapshot{Version: 1}
	for i := range n {
		id := fmt.Sprintf("tenant-%05d", i)
		a := &configv1.Account{Id: id, Status: "active",
			Keys: []*configv1.SigningKey{{Id: id + "-k1", Secret: "private_" + id + "_1"}, {Id: id + "-k2", Secret: "private_" + id + "_2"}},
			Origins: []*configv1.Origin{
				{Id: id + "-o1", Type: "WEB_FOLDER", BaseUrl: "https://img." + id + ".example.com/"},
				{Id: id + "-o2", Type: "WEB_FOLDER", BaseUrl: "https://backup." + id + ".example.com/"},
			},
			Endpoints: []*configv1.Endpoint{
				{Id: id + "-e0", OriginIds: []string{id + "-o1", id + "-o2"}},
				{Id: id + "-e1", UrlPrefix: "products", OriginIds: []string{id + "-o1"}},
				{Id: id + "-e2", UrlPrefix: "media", OriginIds: []string{id + "-o2"}, CustomDomains: []string{"cdn." + id + ".example.com"}},
			},
		}
		for j := range 5 {
			a.NamedTransformations = append(a.NamedTransformations, &configv1.NamedTransformation{Name: fmt.Sprintf("t%d", j), Transformation: "w-300,h-200", Enabled: true})
		}
		snap.Accounts = append(snap.Accounts, a)
	}
	return snap
}

// BenchmarkFleetUpdate: one account's change on a 10,000-tenant edge,
// applied whole (BuildOver) and as a delta (ApplyDelta).
func BenchmarkFleetUpdate(b *testing.B) {
	snap := fleetSnapshot(10_000)
	prev, err := Build(snap)
	if err != nil {
		b.Fatal(err)
	}
	next := proto.Clone(snap).(*configv1.Snapshot)
	next.Version = 2
	next.Accounts[42].Status = "suspended"
	d := configdelta.Diff(snap, next)
	b.Run("whole", func(b *testing.B) {
		for range b.N {
			if _, _, err := BuildOver(next, prev); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("delta", func(b *testing.B) {
		for range b.N {
			if _, _, err := ApplyDelta(prev, d); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestFleetTableMemory reports the heap a 10,000-tenant routing table and
// its config hold (issue 17's target: under 64 MB per edge).
func TestFleetTableMemory(t *testing.T) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	snap := fleetSnapshot(10_000)
	table, err := Build(snap)
	if err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(table)
	runtime.KeepAlive(snap)
	heap := float64(after.HeapAlloc-before.HeapAlloc) / (1 << 20)
	t.Logf("10,000 tenants: config and routing table hold %.1f MiB of heap (%d bytes of config on the wire)", heap, proto.Size(snap))
	if heap > 64 {
		t.Fatalf("%.1f MiB for 10,000 tenants, target < 64 MiB", heap)
	}
}
