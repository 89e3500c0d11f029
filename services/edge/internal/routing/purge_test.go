package routing

import "testing"

func TestPurgeRuleCovers(t *testing.T) {
	exact := PurgeRule{EndpointID: "ep", Path: "a/b.jpg", Version: 10}
	prefix := PurgeRule{EndpointID: "ep", Path: "a/", Prefix: true, Version: 10}
	cases := []struct {
		name     string
		rule     PurgeRule
		endpoint string
		path     string
		stored   uint64
		want     bool
	}{
		{"exact older entry", exact, "ep", "a/b.jpg", 9, true},
		{"exact entry stored at the rule's version", exact, "ep", "a/b.jpg", 10, false},
		{"exact newer entry", exact, "ep", "a/b.jpg", 11, false},
		{"exact other path", exact, "ep", "a/b.jpgx", 9, false},
		{"exact other endpoint", exact, "ep2", "a/b.jpg", 9, false},
		{"prefix inside", prefix, "ep", "a/deep/c.png", 1, true},
		{"prefix outside", prefix, "ep", "ab/c.png", 1, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.rule.Covers(tc.endpoint, tc.path, tc.stored); got != tc.want {
				t.Fatalf("Covers = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestPurgeVersionDefaultsAndLimits(t *testing.T) {
	snap := fixture()
	snap.Purges[0].Version = 0
	table := mustBuild(t, snap)
	for _, r := range table.PurgeRules("demo") {
		if r.ID == "p2" && r.Version != snap.Version {
			t.Fatalf("unversioned rule got version %d, want the snapshot's %d", r.Version, snap.Version)
		}
	}
	snap.Purges[0].Version = snap.Version + 1
	if _, err := Build(snap); err == nil {
		t.Fatal("a rule newer than its snapshot was accepted")
	}
}
