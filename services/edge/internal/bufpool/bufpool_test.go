package bufpool

import "testing"

func TestClasses(t *testing.T) {
	cases := []struct {
		name string
		n    int
		size int
	}{
		{"smallest pooled", minPooled, minPooled},
		{"just above a power of two", minPooled + 1, minPooled + minPooled/4},
		{"a quarter step", 5 << 20, 5 << 20},
		{"between steps", 5<<20 + 1, 6 << 20},
		{"seven quarters", 7<<20 + 3, 8 << 20},
		{"largest", maxPooled, maxPooled},
	}
	prev := -1
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			class, size := classOf(tc.n)
			if size != tc.size {
				t.Fatalf("classOf(%d) size %d, want %d", tc.n, size, tc.size)
			}
			if size < tc.n || size > tc.n+tc.n/4+1 {
				t.Fatalf("size %d for %d: more than a quarter over", size, tc.n)
			}
			if class <= prev && tc.n > minPooled {
				t.Fatalf("class %d not above the previous %d", class, prev)
			}
			if c2, s2 := classOf(size); c2 != class || s2 != size {
				t.Fatalf("a class's own size maps to class %d size %d, want %d %d", c2, s2, class, size)
			}
			prev = class
		})
	}
}

func TestReuse(t *testing.T) {
	SetIdleLimit(32 << 20)
	b := Get(5<<20 + 7)
	if len(b) != 5<<20+7 || cap(b) != 6<<20 {
		t.Fatalf("len %d cap %d", len(b), cap(b))
	}
	b[0] = 42
	Put(b)
	if Idle() != 6<<20 {
		t.Fatalf("idle %d after one 6 MiB buffer came back", Idle())
	}
	if c := Get(6 << 20); cap(c) != 6<<20 || c[0] != 42 {
		t.Fatal("the buffer given back was not reused for its class")
	}
	if d := Get(4 << 20); cap(d) != 4<<20 {
		t.Fatalf("class 4 MiB returned cap %d", cap(d))
	}
	if Idle() != 0 {
		t.Fatalf("idle %d with every buffer taken", Idle())
	}
}

func TestIdleLimit(t *testing.T) {
	SetIdleLimit(20 << 20)
	defer SetIdleLimit(32 << 20)
	bufs := [][]byte{Get(8 << 20), Get(8 << 20), Get(8 << 20)}
	for _, b := range bufs {
		Put(b)
	}
	if Idle() != 16<<20 {
		t.Fatalf("idle %d, want 16 MiB: the third 8 MiB buffer is over the 20 MiB limit", Idle())
	}
	SetIdleLimit(10 << 20)
	if Idle() != 8<<20 {
		t.Fatalf("idle %d after lowering the limit to 10 MiB, want 8 MiB", Idle())
	}
	SetIdleLimit(0)
	if Idle() != 0 {
		t.Fatalf("idle %d with no room", Idle())
	}
}

func TestOutsideThePool(t *testing.T) {
	for _, n := range []int{0, 1, minPooled - 1, maxPooled + 1} {
		b := Get(n)
		if len(b) != n || cap(b) != n {
			t.Fatalf("Get(%d): len %d cap %d", n, len(b), cap(b))
		}
		Put(b) // ignored
	}
	Put(make([]byte, 5<<20+1)) // not a class size: ignored
	if c := Get(6 << 20); cap(c) != 6<<20 {
		t.Fatal("a foreign buffer was pooled")
	}
}
