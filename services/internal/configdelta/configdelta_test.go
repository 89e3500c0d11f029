package configdelta

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	configv1 "pictor/proto/pictor/config/v1"
)

var now = time.UnixMilli(1_800_000_000_000)

// apply is snap advanced by d, as an edge's State holds it.
func apply(snap *configv1.Snapshot, d *configv1.Delta, now time.Time) (*configv1.Snapshot, error) {
	st := NewState(snap)
	if err := st.Advance(d, nil); err != nil {
		return nil, err
	}
	return st.Snapshot(now), nil
}

func account(id, origin string) *configv1.Account {
	return &configv1.Account{Id: id, Status: "active", Origins: []*configv1.Origin{{Id: "o", BaseUrl: origin}},
		Endpoints: []*configv1.Endpoint{{Id: "e", OriginIds: []string{"o"}}}}
}

func purgeRule(id string, version uint64) *configv1.PurgeRule {
	return &configv1.PurgeRule{Id: id, AccountId: "a", EndpointId: "e", Path: id, Version: version, CreatedUnixMs: now.UnixMilli()}
}

func TestDiffapply(t *testing.T) {
	prev := &configv1.Snapshot{Version: 5, Accounts: []*configv1.Account{account("a", "https://a"), account("b", "https://b"), account("c", "https://c")},
		Purges: []*configv1.PurgeRule{purgeRule("p1", 4)}}
	next := &configv1.Snapshot{Version: 7, Accounts: []*configv1.Account{account("a", "https://a"), account("b", "https://b2"), account("d", "https://d")},
		Purges: []*configv1.PurgeRule{purgeRule("p1", 4), purgeRule("p2", 6)}}
	d := Diff(prev, next)
	if d.FromVersion != 5 || d.Version != 7 || len(d.Accounts) != 2 || d.Accounts[0].Id != "b" || d.Accounts[1].Id != "d" ||
		len(d.RemovedAccounts) != 1 || d.RemovedAccounts[0] != "c" || len(d.Purges) != 1 || d.Purges[0].Id != "p2" {
		t.Fatalf("Diff = %v", d)
	}
	got, err := apply(prev, d, now)
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(got, next) {
		t.Fatalf("apply(Diff) = %v\nwant %v", got, next)
	}
	if _, err := apply(next, d, now); err == nil {
		t.Fatal("a delta applied on top of another version")
	}
	// Rules past the retention period are dropped on the way.
	old := proto.Clone(prev).(*configv1.Snapshot)
	old.Purges[0].CreatedUnixMs = now.Add(-38 * 24 * time.Hour).UnixMilli()
	got, _ = apply(old, d, now)
	if len(got.Purges) != 1 || got.Purges[0].Id != "p2" {
		t.Fatalf("purges after Apply = %v, want only p2", got.Purges)
	}
}

// TestComposeMatchesSteps: over random chains of versions, applying the
// composed delta gives what applying each step gives, and the snapshot
// diffed directly.
func TestComposeMatchesSteps(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for round := 0; round < 50; round++ {
		snaps := []*configv1.Snapshot{{Version: 1}}
		for v := uint64(2); v < 2+uint64(r.IntN(20)+1); v++ {
			prev := snaps[len(snaps)-1]
			next := &configv1.Snapshot{Version: v, Purges: prev.Purges}
			for _, a := range prev.Accounts {
				switch r.IntN(4) {
				case 0: // removed
				case 1:
					next.Accounts = append(next.Accounts, account(a.Id, fmt.Sprintf("https://%s/%d", a.Id, v)))
				default:
					next.Accounts = append(next.Accounts, a)
				}
			}
			if r.IntN(2) == 0 {
				id := fmt.Sprintf("acct-%d", r.IntN(8))
				if !hasAccount(next, id) {
					next.Accounts = append(next.Accounts, account(id, "https://new"))
					sortAccounts(next)
				}
			}
			if r.IntN(2) == 0 {
				next.Purges = append(slicesClone(next.Purges), purgeRule(fmt.Sprintf("p%d", v), v))
			}
			snaps = append(snaps, next)
		}
		var steps []*configv1.Delta
		stepwise := snaps[0]
		for i := 1; i < len(snaps); i++ {
			d := Diff(snaps[i-1], snaps[i])
			steps = append(steps, d)
			var err error
			if stepwise, err = apply(stepwise, d, now); err != nil {
				t.Fatal(err)
			}
		}
		last := snaps[len(snaps)-1]
		composed, err := Compose(steps)
		if err != nil {
			t.Fatal(err)
		}
		once, err := apply(snaps[0], composed, now)
		if err != nil {
			t.Fatal(err)
		}
		direct, _ := apply(snaps[0], Diff(snaps[0], last), now)
		for name, got := range map[string]*configv1.Snapshot{"stepwise": stepwise, "composed": once, "direct": direct} {
			got.CreatedUnixMs = last.CreatedUnixMs
			if !proto.Equal(got, last) {
				t.Fatalf("round %d, %s: %v\nwant %v", round, name, got, last)
			}
		}
	}
	if _, err := Compose([]*configv1.Delta{{FromVersion: 1, Version: 2}, {FromVersion: 3, Version: 4}}); err == nil {
		t.Fatal("composed deltas with a gap")
	}
}

func hasAccount(s *configv1.Snapshot, id string) bool {
	for _, a := range s.Accounts {
		if a.Id == id {
			return true
		}
	}
	return false
}

func sortAccounts(s *configv1.Snapshot) {
	for i := 1; i < len(s.Accounts); i++ {
		for j := i; j > 0 && s.Accounts[j].Id < s.Accounts[j-1].Id; j-- {
			s.Accounts[j], s.Accounts[j-1] = s.Accounts[j-1], s.Accounts[j]
		}
	}
}

func slicesClone(p []*configv1.PurgeRule) []*configv1.PurgeRule {
	return append([]*configv1.PurgeRule(nil), p...)
}

// TestState: advancing a state by deltas gives what Apply gives, keeps the
// accounts it is told to keep, and refuses a delta from another version.
func TestState(t *testing.T) {
	prev := &configv1.Snapshot{Version: 5, Accounts: []*configv1.Account{account("a", "https://a"), account("b", "https://b"), account("c", "https://c")},
		Purges: []*configv1.PurgeRule{purgeRule("p1", 4)}}
	next := &configv1.Snapshot{Version: 7, Accounts: []*configv1.Account{account("a", "https://a"), account("b", "https://b2"), account("d", "https://d")},
		Purges: []*configv1.PurgeRule{purgeRule("p1", 4), purgeRule("p2", 6)}}
	d := Diff(prev, next)
	st := NewState(prev)
	if err := st.Advance(d, nil); err != nil {
		t.Fatal(err)
	}
	if got := st.Snapshot(now); !proto.Equal(got, next) {
		t.Fatalf("advanced state = %v\nwant %v", got, next)
	}
	if err := st.Advance(d, nil); err == nil {
		t.Fatal("a delta from another version advanced the state")
	}
	kept := NewState(prev)
	if err := kept.Advance(d, func(_ int, id string) bool { return id == "b" }); err != nil {
		t.Fatal(err)
	}
	if kept.Account("b") != prev.Accounts[1] || kept.Account("d") == nil || kept.Account("c") != nil || kept.Version() != 7 {
		t.Fatal("a refused account was not kept, or the rest did not apply")
	}
}

// TestSince: a delta made from the database's list of changed accounts
// brings an edge at base exactly to snap.
func TestSince(t *testing.T) {
	acct := func(id, status string) *configv1.Account { return &configv1.Account{Id: id, Status: status} }
	atBase := &configv1.Snapshot{Version: 5, Accounts: []*configv1.Account{acct("a", "active"), acct("b", "active"), acct("gone", "active")},
		Purges: []*configv1.PurgeRule{{Id: "p1", AccountId: "a", Path: "x", Version: 4}}}
	snap := &configv1.Snapshot{Version: 9, Accounts: []*configv1.Account{acct("a", "active"), acct("b", "suspended"), acct("new", "active")},
		Purges: []*configv1.PurgeRule{{Id: "p1", AccountId: "a", Path: "x", Version: 4}, {Id: "p2", AccountId: "b", Path: "y", Version: 7}}}
	cases := []struct {
		name    string
		changed []string
		want    *configv1.Snapshot
	}{
		{"exactly the changed accounts", []string{"b", "gone", "new"}, snap},
		// Accounts changed after snap, or deleted before it and unknown to
		// the edge, cost a resend or a no-op removal, never a wrong config.
		{"more than changed", []string{"a", "b", "gone", "new", "deleted-long-ago"}, snap},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := Since(atBase.Version, snap, tc.changed)
			st := NewState(atBase)
			if err := st.Advance(d, nil); err != nil {
				t.Fatal(err)
			}
			got := st.Snapshot(time.UnixMilli(0))
			if !proto.Equal(got, tc.want) {
				t.Fatalf("advanced by Since:\n%v\nwant\n%v", got, tc.want)
			}
			if len(d.Purges) != 1 || d.Purges[0].Id != "p2" {
				t.Errorf("purges sent %v, want p2 alone (p1 is from before base)", d.Purges)
			}
		})
	}
}
