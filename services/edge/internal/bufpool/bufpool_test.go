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
	b := Get(5<<20 + 7)
	if len(b) != 5<<20+7 || cap(b) != 6<<20 {
		t.Fatalf("len %d cap %d", len(b), cap(b))
	}
	b[0] = 42
	Put(b)
	// sync.Pool may drop it (a GC in between), so reuse is checked over a
	// few tries; a buffer of another class must never come back.
	reused := false
	for i := 0; i < 10 && !reused; i++ {
		c := Get(6 << 20)
		reused = cap(c) == 6<<20 && c[0] == 42
		Put(c)
	}
	if !reused {
		t.Fatal("a buffer given back was never reused for its class")
	}
	if d := Get(4 << 20); cap(d) != 4<<20 {
		t.Fatalf("class 4 MiB returned cap %d", cap(d))
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
