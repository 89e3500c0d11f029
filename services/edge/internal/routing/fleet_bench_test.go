package routing

import (
	"runtime"
	"testing"

	"google.golang.org/protobuf/proto"

	configv1 "pictor/proto/pictor/config/v1"
	"pictor/services/internal/configdelta"
	"pictor/services/internal/configfixture"
)

// BenchmarkFleetUpdate: one account's change on a 10,000-tenant edge,
// applied whole (BuildOver) and as a delta (ApplyDelta).
func BenchmarkFleetUpdate(b *testing.B) {
	snap := configfixture.Fleet(10_000)
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
	snap := configfixture.Fleet(10_000)
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
