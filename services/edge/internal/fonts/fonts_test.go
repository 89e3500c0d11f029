package fonts

import (
	"bytes"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"pictor/services/internal/errkind"
)

const (
	dejavuSerif = "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf"
	dejavuSans  = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
	wqyTTC      = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"
)

func read(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (the bootstrap installs fonts-dejavu-core and fonts-wqy-microhei)", err)
	}
	return b
}

// tiny is the smallest file readDirectory takes: the tables a scalable
// TrueType font needs, mostly empty.
func tiny() []byte {
	var tables []table
	for _, tag := range []string{"cmap", "glyf", "hhea", "hmtx", "loca", "maxp", "name"} {
		tables = append(tables, table{tag: tag, data: []byte(tag + "data")})
	}
	tables = append(tables, table{tag: "head", data: make([]byte, 54)})
	return writeFont([]byte("\x00\x01\x00\x00"), tables)
}

// patch returns b with the table record i's field at off (0 tag, 8
// offset, 12 length) set to v.
func patch(b []byte, i, off int, v []byte) []byte {
	out := append([]byte(nil), b...)
	copy(out[12+16*i+off:], v)
	return out
}

func u32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

func TestPrepare(t *testing.T) {
	serif := read(t, dejavuSerif)
	small := tiny()
	for _, tc := range []struct {
		name string
		in   []byte
		kind errkind.Kind
		has  string // in the error; "" for a font that is taken
	}{
		{name: "DejaVu Serif", in: serif},
		{name: "the smallest font", in: small},
		{name: "empty", in: nil, kind: errkind.Invalid, has: "too short"},
		{name: "an image", in: []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR"), kind: errkind.Invalid, has: "not a TrueType"},
		{name: "a collection", in: read(t, wqyTTC), kind: errkind.Unsupported, has: ".ttc"},
		{name: "WOFF", in: append([]byte("wOFF"), small[4:]...), kind: errkind.Unsupported, has: "WOFF"},
		{name: "WOFF2", in: append([]byte("wOF2"), small[4:]...), kind: errkind.Unsupported, has: "WOFF"},
		{name: "truncated", in: serif[:4096], kind: errkind.Invalid, has: "damaged"},
		{name: "no tables", in: append(append([]byte(nil), small[:4]...), make([]byte, 8)...), kind: errkind.Invalid, has: "damaged"},
		{name: "too many tables", in: patchCount(small, 65), kind: errkind.Invalid, has: "damaged"},
		{name: "table past the end", in: patch(small, 0, 12, u32(1<<31)), kind: errkind.Invalid, has: "damaged"},
		{name: "offset and length overflowing", in: patch(patch(small, 0, 8, u32(0xFFFFFFF0)), 0, 12, u32(0x20)), kind: errkind.Invalid, has: "damaged"},
		{name: "table inside the directory", in: patch(small, 0, 8, u32(4)), kind: errkind.Invalid, has: "damaged"},
		{name: "a table twice", in: patch(small, 1, 0, []byte("cmap")), kind: errkind.Invalid, has: "damaged"},
		{name: "no outlines", in: patch(small, 1, 0, []byte("xxxx")), kind: errkind.Invalid, has: "scalable"},
		{name: "short head", in: patchHead(small), kind: errkind.Invalid, has: "head"},
		{name: "too large", in: make([]byte, MaxBytes+1), kind: errkind.TooLarge, has: "over the limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			family, out, err := Prepare(tc.in)
			if tc.has != "" {
				if errkind.KindOf(err) != tc.kind || !strings.Contains(err.Error(), tc.has) {
					t.Fatalf("Prepare = %v; want a %v error with %q", err, tc.kind, tc.has)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(family, "Pictor ") || strings.ContainsAny(family[7:], "0123456789 ,") {
				t.Fatalf("family %q: want Pictor and letters", family)
			}
			if _, err := readDirectory(out); err != nil {
				t.Fatalf("the prepared font does not read back: %v", err)
			}
			if sum := checksum(out); sum != 0xB1B0AFBA {
				t.Fatalf("whole-font checksum %#x, want 0xB1B0AFBA", sum)
			}
			if again, _, _ := Prepare(tc.in); again != family {
				t.Fatalf("family %q then %q: want one name per file", family, again)
			}
		})
	}
}

func patchCount(b []byte, n uint16) []byte {
	out := append([]byte(nil), b...)
	binary.BigEndian.PutUint16(out[4:], n)
	return out
}

func patchHead(b []byte) []byte {
	tables, _ := readDirectory(b)
	for i := range tables {
		if tables[i].tag == "head" {
			tables[i].data = tables[i].data[:20]
		}
	}
	return writeFontUnchecked(tables)
}

// writeFontUnchecked lays out tables without writeFont's head fix-up.
func writeFontUnchecked(tables []table) []byte {
	out := []byte("\x00\x01\x00\x00")
	out = binary.BigEndian.AppendUint16(out, uint16(len(tables)))
	out = append(out, make([]byte, 6+16*len(tables))...)
	for i, tb := range tables {
		rec := out[12+16*i:]
		copy(rec, tb.tag)
		binary.BigEndian.PutUint32(rec[8:], uint32(len(out)))
		binary.BigEndian.PutUint32(rec[12:], uint32(len(tb.data)))
		out = append(out, tb.data...)
	}
	return out
}

// TestFontconfigReadsTheName asks fontconfig itself what the prepared file
// is called: the private family, and nothing of the original's.
func TestFontconfigReadsTheName(t *testing.T) {
	scan, err := exec.LookPath("fc-scan")
	if err != nil {
		t.Fatalf("fc-scan: %v (the bootstrap installs fontconfig)", err)
	}
	family, out, err := Prepare(read(t, dejavuSerif))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "f.ttf")
	if err := os.WriteFile(path, out, 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := exec.Command(scan, "--format", "%{family}|%{fullname}|%{postscriptname}|%{outline}", path).Output()
	if err != nil {
		t.Fatal(err)
	}
	want := family + "|" + family + "|Pictor-" + family[7:] + "|True"
	if string(got) != want {
		t.Fatalf("fc-scan says %q, want %q", got, want)
	}
}

func TestStore(t *testing.T) {
	serif, sans := read(t, dejavuSerif), read(t, dejavuSans)
	s := NewStore(filepath.Join(t.TempDir(), "fonts"), 2)
	a, err := s.Load(serif)
	if err != nil {
		t.Fatal(err)
	}
	again, err := s.Load(serif)
	if err != nil || again != a {
		t.Fatalf("second load = %+v, %v; want %+v", again, err, a)
	}
	b, err := s.Load(sans)
	if err != nil || b.Family == a.Family || b.Path == a.Path {
		t.Fatalf("two fonts share %+v and %+v (%v)", a, b, err)
	}
	onDisk, err := os.ReadFile(a.Path)
	if err != nil {
		t.Fatal(err)
	}
	if _, want, _ := Prepare(serif); !bytes.Equal(onDisk, want) {
		t.Fatal("the stored file is not the prepared font")
	}
	if _, err := s.Load(tiny()); errkind.KindOf(err) != errkind.Unavailable {
		t.Fatalf("a third font in a store of two = %v; want unavailable", err)
	}
	if _, err := s.Load([]byte("not a font")); errkind.KindOf(err) != errkind.Unavailable {
		t.Fatalf("full store: %v", err)
	}
	if f, err := NewStore(t.TempDir(), 5).Load([]byte("not a font at all")); err == nil || errkind.KindOf(err) != errkind.Invalid {
		t.Fatalf("a bad file = %+v, %v; want invalid", f, err)
	}
}

// FuzzPrepare: whatever the bytes, Prepare answers without panicking, and
// what it makes reads back as a font with a whole-file checksum.
func FuzzPrepare(f *testing.F) {
	small := tiny()
	f.Add(small)
	f.Add(patch(small, 0, 12, u32(1<<31)))
	f.Add(patch(small, 1, 0, []byte("cmap")))
	f.Add(patchHead(small))
	f.Add(append([]byte("OTTO"), small[4:]...))
	f.Add([]byte("ttcf\x00\x01"))
	f.Fuzz(func(t *testing.T, b []byte) {
		family, out, err := Prepare(b)
		if err != nil {
			if errkind.Of(err) == nil {
				t.Fatalf("error without a kind: %v", err)
			}
			return
		}
		if _, err := readDirectory(out); err != nil {
			t.Fatalf("prepared font does not read back: %v", err)
		}
		if checksum(out) != 0xB1B0AFBA {
			t.Fatal("prepared font's checksum is off")
		}
		if !strings.HasPrefix(family, "Pictor ") {
			t.Fatalf("family %q", family)
		}
	})
}
