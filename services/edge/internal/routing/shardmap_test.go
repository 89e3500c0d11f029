package routing

import (
	"fmt"
	"testing"
)

// TestShardedMapFork: a fork sees its parent's entries, and its writes
// (sets and deletes, in shared and copied shards) never reach the parent.
func TestShardedMapFork(t *testing.T) {
	var parent shardedMap[int]
	for i := range 500 {
		parent.set(fmt.Sprint(i), i)
	}
	child := parent.fork()
	child.set("0", -1)
	child.del("1")
	child.set("new", 7)
	child.del("absent")
	for _, tc := range []struct {
		m      *shardedMap[int]
		key    string
		want   int
		wantOK bool
	}{
		{&parent, "0", 0, true}, {&parent, "1", 1, true}, {&parent, "new", 0, false}, {&parent, "499", 499, true},
		{&child, "0", -1, true}, {&child, "1", 0, false}, {&child, "new", 7, true}, {&child, "499", 499, true},
	} {
		if v, ok := tc.m.get(tc.key); v != tc.want || ok != tc.wantOK {
			t.Errorf("get(%q) = %d, %v; want %d, %v", tc.key, v, ok, tc.want, tc.wantOK)
		}
	}
	if parent.len() != 500 || child.len() != 500 {
		t.Fatalf("len: parent %d, child %d; want 500 and 500", parent.len(), child.len())
	}
	n := 0
	child.each(func(string, int) { n++ })
	if n != 500 {
		t.Fatalf("each visited %d entries of the fork, want 500", n)
	}
}
