package routing

import (
	"fmt"
	"strings"
	"testing"
)

// linearNewest is the rule-by-rule answer the index must give.
func linearNewest(rules []PurgeRule, endpoint, path string) uint64 {
	var v uint64
	for i := range rules {
		// Covers(…, 0) is "covers the path at all" for versions > 0.
		if rules[i].Covers(endpoint, path, 0) {
			v = max(v, rules[i].Version)
		}
	}
	return v
}

func indexOf(rules []PurgeRule) *PurgeIndex {
	x := newPurgeIndex()
	for _, r := range rules {
		x.add(r)
	}
	return x
}

func TestPurgeIndex(t *testing.T) {
	rules := []PurgeRule{
		{EndpointID: "ep", Path: "a/b.jpg", Version: 5},
		{EndpointID: "ep", Path: "a/b.jpg", Version: 3}, // an older rule for the same path
		{EndpointID: "ep", Path: "a/", Prefix: true, Version: 4},
		{EndpointID: "ep", Path: "a/deep/", Prefix: true, Version: 9},
		{EndpointID: "ep", Path: "ab", Prefix: true, Version: 2}, // splits "a/" and "ab"
		{EndpointID: "ep", Path: "", Prefix: true, Version: 1},   // the whole endpoint
		{EndpointID: "ep2", Path: "x/", Prefix: true, Version: 7},
	}
	x := indexOf(rules)
	for _, tc := range []struct {
		name, endpoint, path string
		want                 uint64
	}{
		{"exact beats its prefix", "ep", "a/b.jpg", 5},
		{"prefix only", "ep", "a/c.jpg", 4},
		{"deeper prefix is newer", "ep", "a/deep/c.jpg", 9},
		{"the prefix itself", "ep", "a/deep/", 9},
		{"a sibling of a split edge", "ep", "abc.jpg", 2},
		{"the endpoint-wide rule", "ep", "z.jpg", 1},
		{"another endpoint", "ep2", "x/y.jpg", 7},
		{"another endpoint, outside", "ep2", "a/b.jpg", 0},
		{"an endpoint without rules", "ep3", "a/b.jpg", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := x.Newest(tc.endpoint, tc.path); got != tc.want {
				t.Fatalf("Newest = %d, want %d", got, tc.want)
			}
			if ref := linearNewest(rules, tc.endpoint, tc.path); ref != tc.want {
				t.Fatalf("the linear reference says %d: the case is wrong", ref)
			}
		})
	}
	var none *PurgeIndex
	if none.Newest("ep", "a") != 0 || none.Covers("ep", "a", 0) || none.Rules() != nil {
		t.Fatal("a nil index covers something")
	}
	if !x.Covers("ep", "a/b.jpg", 4) || x.Covers("ep", "a/b.jpg", 5) {
		t.Fatal("Covers must purge only entries older than the newest covering rule")
	}
}

// FuzzPurgeIndex checks the index against the rule-by-rule scan for rules
// made from the fuzzer's text: each line "p path" (prefix) or "e path".
func FuzzPurgeIndex(f *testing.F) {
	f.Add("e a/b.jpg\np a/\np ab\np a/deep/", "a/deep/x")
	f.Add("p \np a\np aa\np aaa", "aaaa")
	f.Add("p abc\np abd\ne abc", "abc")
	f.Fuzz(func(t *testing.T, spec, path string) {
		var rules []PurgeRule
		for i, line := range strings.Split(spec, "\n") {
			if len(line) < 2 || (line[0] != 'p' && line[0] != 'e') || i >= 64 {
				continue
			}
			rules = append(rules, PurgeRule{EndpointID: "ep", Path: line[2:], Prefix: line[0] == 'p', Version: uint64(i + 1)})
		}
		x := indexOf(rules)
		for _, p := range []string{path, path + "/", ""} {
			if got, want := x.Newest("ep", p), linearNewest(rules, "ep", p); got != want {
				t.Fatalf("Newest(%q) = %d, want %d for rules %+v", p, got, want, rules)
			}
		}
	})
}

// BenchmarkPurgeCheck is a cache hit's purge check on an account with no
// rules and with 10,000 (half exact, half prefixes, none covering the
// path): the index keeps both near one map lookup.
func BenchmarkPurgeCheck(b *testing.B) {
	const path = "products/shoes/red-sneaker-1234.jpg"
	for _, n := range []int{0, 10_000} {
		var rules []PurgeRule
		for i := 0; i < n; i++ {
			rules = append(rules, PurgeRule{EndpointID: "ep", Path: fmt.Sprintf("products/item-%d/", i), Prefix: i%2 == 0, Version: uint64(i + 1)})
		}
		x := indexOf(rules)
		if n == 0 {
			x = nil
		}
		b.Run(fmt.Sprintf("rules=%d", n), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if x.Covers("ep", path, 1) {
					b.Fatal("covered")
				}
			}
		})
		b.Run(fmt.Sprintf("linear-scan/rules=%d", n), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if linearNewest(rules, "ep", path) > 1 {
					b.Fatal("covered")
				}
			}
		})
	}
}
