package routing

import (
	"sort"
	"strings"
)

// PurgeIndex holds an account's purge rules for the request path: the
// newest rule covering an endpoint's image path is found with one map
// lookup for exact paths and one walk down a radix tree for prefixes, so
// a hit costs the same whether the account has no rules or thousands.
// The walk visits only nodes on the path's own prefix, however many rules
// there are. Built once per routing table; read-only afterwards.
type PurgeIndex struct {
	exact  map[purgeKey]uint64   // newest version of an exact rule
	prefix map[string]*radixNode // endpoint -> its prefix rules
	rules  []PurgeRule           // oldest first, for listing
}

type purgeKey struct{ endpoint, path string }

// radixNode is a node of a path-compressed trie of prefixes: label is the
// edge from its parent, version the newest rule ending exactly here (0:
// none), children sorted by their label's first byte.
type radixNode struct {
	label    string
	version  uint64
	children []*radixNode
}

func newPurgeIndex() *PurgeIndex {
	return &PurgeIndex{exact: make(map[purgeKey]uint64), prefix: make(map[string]*radixNode)}
}

func (x *PurgeIndex) add(r PurgeRule) {
	x.rules = append(x.rules, r)
	if !r.Prefix {
		k := purgeKey{r.EndpointID, r.Path}
		x.exact[k] = max(x.exact[k], r.Version)
		return
	}
	root := x.prefix[r.EndpointID]
	if root == nil {
		root = &radixNode{}
		x.prefix[r.EndpointID] = root
	}
	root.insert(r.Path, r.Version)
}

// Rules are the account's purge rules, oldest first; shared, not to be
// modified.
func (x *PurgeIndex) Rules() []PurgeRule {
	if x == nil {
		return nil
	}
	return x.rules
}

// Newest is the version of the newest rule covering path (escaped,
// without query) on endpointID; 0 when none does.
func (x *PurgeIndex) Newest(endpointID, path string) uint64 {
	if x == nil {
		return 0
	}
	v := x.exact[purgeKey{endpointID, path}]
	if root := x.prefix[endpointID]; root != nil {
		v = max(v, root.newest(path))
	}
	return v
}

// Covers reports whether a rule purges an entry of endpointID at path
// stored under config version stored: one newer than the entry covers it.
func (x *PurgeIndex) Covers(endpointID, path string, stored uint64) bool {
	return stored < x.Newest(endpointID, path)
}

// newest walks down path, taking the newest version of every prefix of it
// that is a rule.
func (n *radixNode) newest(path string) uint64 {
	var v uint64
	for {
		v = max(v, n.version)
		if path == "" {
			return v
		}
		c := n.child(path[0])
		if c == nil || !strings.HasPrefix(path, c.label) {
			return v
		}
		path, n = path[len(c.label):], c
	}
}

func (n *radixNode) child(b byte) *radixNode {
	i := sort.Search(len(n.children), func(i int) bool { return n.children[i].label[0] >= b })
	if i < len(n.children) && n.children[i].label[0] == b {
		return n.children[i]
	}
	return nil
}

// insert records a rule for prefix p at version v under n.
func (n *radixNode) insert(p string, v uint64) {
	for {
		if p == "" {
			n.version = max(n.version, v)
			return
		}
		c := n.child(p[0])
		if c == nil {
			n.addChild(&radixNode{label: p, version: v})
			return
		}
		common := commonPrefix(c.label, p)
		if common < len(c.label) {
			// Split c's edge where p leaves it.
			tail := &radixNode{label: c.label[common:], version: c.version, children: c.children}
			c.label, c.version, c.children = c.label[:common], 0, []*radixNode{tail}
		}
		n, p = c, p[common:]
	}
}

func (n *radixNode) addChild(c *radixNode) {
	i := sort.Search(len(n.children), func(i int) bool { return n.children[i].label[0] >= c.label[0] })
	n.children = append(n.children, nil)
	copy(n.children[i+1:], n.children[i:])
	n.children[i] = c
}

func commonPrefix(a, b string) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}
