package offheap

import (
	"bytes"
	"sync"
	"testing"
)

func TestBufLifecycle(t *testing.T) {
	before, liveBefore := Allocated(), Live()
	src := []byte("pixels that must survive the caller's buffer")
	b := Copy(src)
	src[0] = 'X' // the Buf holds its own copy
	if got := string(b.Bytes()); got != "pixels that must survive the caller's buffer" {
		t.Fatalf("Bytes = %q", got)
	}
	if Allocated()-before != int64(len(src)) || Live()-liveBefore != 1 {
		t.Fatalf("allocated +%d, live +%d", Allocated()-before, Live()-liveBefore)
	}
	if !b.Acquire() {
		t.Fatal("Acquire on a live Buf failed")
	}
	b.Release() // the reader's
	if Allocated()-before != int64(len(src)) {
		t.Fatal("freed while the owner still holds it")
	}
	b.Release() // the owner's: frees
	if Allocated() != before || Live() != liveBefore {
		t.Fatalf("not freed: allocated +%d, live +%d", Allocated()-before, Live()-liveBefore)
	}
	if b.Acquire() {
		t.Fatal("Acquire on a freed Buf succeeded")
	}
}

func TestEmptyBuf(t *testing.T) {
	b := Copy(nil)
	if b.Len() != 0 || b.Bytes() != nil || !b.Acquire() {
		t.Fatal("empty Buf misbehaves")
	}
	b.Release()
	b.Release()
}

func TestOverRelease(t *testing.T) {
	b := Copy([]byte("x"))
	b.Release()
	defer func() {
		if recover() == nil {
			t.Fatal("releasing a freed Buf did not panic")
		}
	}()
	b.Release()
}

// Readers racing the owner's release either get a reference to intact
// bytes or none at all.
func TestAcquireRacesRelease(t *testing.T) {
	want := bytes.Repeat([]byte("ab"), 4096)
	for range 200 {
		b := Copy(want)
		var wg sync.WaitGroup
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if b.Acquire() {
					if !bytes.Equal(b.Bytes(), want) {
						t.Error("read changed bytes")
					}
					b.Release()
				}
			}()
		}
		b.Release()
		wg.Wait()
		if b.Acquire() {
			t.Fatal("Buf alive after every reference was dropped")
		}
	}
	Trim()
}
