package routing

// nShards splits a table's maps so that the table of the next version
// shares every shard its change does not touch: applying a delta copies
// a few shards, not ten thousand tenants' entries.
const nShards = 64

// shardedMap is a string-keyed map that forks cheaply: a fork shares its
// parent's shards and copies one only on its first write to it. A map is
// written only while its table is being built, then read-only.
type shardedMap[V any] struct {
	shards [nShards]map[string]V
	owned  [nShards]bool // shards this map may write in place
	n      int
}

func shardOf(k string) int {
	h := uint32(2166136261) // FNV-1a
	for i := 0; i < len(k); i++ {
		h = (h ^ uint32(k[i])) * 16777619
	}
	return int(h % nShards)
}

func (m *shardedMap[V]) get(k string) (V, bool) {
	v, ok := m.shards[shardOf(k)][k]
	return v, ok
}

// writable returns k's shard, copied first if it is shared.
func (m *shardedMap[V]) writable(k string) map[string]V {
	i := shardOf(k)
	if !m.owned[i] {
		fresh := make(map[string]V, len(m.shards[i])+1)
		for key, v := range m.shards[i] {
			fresh[key] = v
		}
		m.shards[i], m.owned[i] = fresh, true
	}
	return m.shards[i]
}

func (m *shardedMap[V]) set(k string, v V) {
	s := m.writable(k)
	if _, ok := s[k]; !ok {
		m.n++
	}
	s[k] = v
}

func (m *shardedMap[V]) del(k string) {
	if _, ok := m.get(k); !ok {
		return
	}
	delete(m.writable(k), k)
	m.n--
}

func (m *shardedMap[V]) len() int { return m.n }

// fork returns a map with m's entries that shares m's shards.
func (m *shardedMap[V]) fork() shardedMap[V] {
	return shardedMap[V]{shards: m.shards, n: m.n}
}

func (m *shardedMap[V]) each(f func(k string, v V)) {
	for _, s := range m.shards {
		for k, v := range s {
			f(k, v)
		}
	}
}
