// Package fonts makes a font file from a tenant's origin usable by text
// layers (ff-fonts@@Brand.ttf) without letting it reach anyone else's
// text. Fontconfig, which Pango asks for fonts, is one per process and
// finds fonts by family name, so two tenants' files both called "Brand"
// would shadow each other, and a file calling itself "DejaVu Sans" could
// change every default text on the edge. Prepare therefore rewrites the
// file's naming table: the family becomes a name derived from the file's
// own bytes, which no installed font and no other file can have. Only
// plain TrueType and OpenType files are taken, their table directory
// checked before FreeType ever reads them.
package fonts

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"unicode/utf16"

	"pictor/services/internal/errkind"
)

// Limits on a font file.
const (
	MaxBytes  = 8 << 20 // larger than any real text face; CJK faces run to 5 MB
	maxTables = 64      // real fonts have 10 to 30
)

// Font is a prepared font: the family to ask Pango for and the file that
// holds it.
type Font struct {
	Family string
	Path   string
}

// Prepare checks that b is a TrueType or OpenType font and returns its
// private family name and the font with its naming table replaced.
func Prepare(b []byte) (family string, out []byte, err error) {
	tables, err := readDirectory(b)
	if err != nil {
		return "", nil, err
	}
	sum := sha256.Sum256(b)
	family = "Pictor " + letters(sum[:10])
	kept := tables[:0:0]
	for _, t := range tables {
		if t.tag != "name" {
			kept = append(kept, t)
		}
	}
	kept = append(kept, table{tag: "name", data: nameTable(family)})
	return family, writeFont(b[:4], kept), nil
}

// letters spells b in the letters a to p: a family name of letters only,
// which Pango's font descriptions cannot mistake for a size or a style.
func letters(b []byte) string {
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, 'a'+c>>4, 'a'+c&15)
	}
	return string(out)
}

type table struct {
	tag  string
	data []byte
}

func invalid(why string) error {
	return errkind.New(errkind.Invalid, "font_invalid", "font file: "+why)
}

// readDirectory reads the sfnt table directory, checking every table lies
// inside the file and the tables a scalable font needs are there.
func readDirectory(b []byte) ([]table, error) {
	if len(b) > MaxBytes {
		return nil, errkind.New(errkind.TooLarge, "font_too_large",
			fmt.Sprintf("font file: %d bytes is over the limit of %d", len(b), MaxBytes))
	}
	if len(b) < 12 {
		return nil, invalid("too short to be a font")
	}
	switch string(b[:4]) {
	case "\x00\x01\x00\x00", "OTTO", "true":
	case "ttcf":
		return nil, errkind.New(errkind.Unsupported, "font_unsupported", "font file: font collections (.ttc) are unsupported; use one .ttf or .otf")
	case "wOFF", "wOF2":
		return nil, errkind.New(errkind.Unsupported, "font_unsupported", "font file: WOFF fonts are unsupported; use the .ttf or .otf")
	default:
		return nil, invalid("not a TrueType or OpenType font")
	}
	n := int(binary.BigEndian.Uint16(b[4:6]))
	if n == 0 || n > maxTables || 12+16*n > len(b) {
		return nil, invalid("its table directory is damaged")
	}
	seen := map[string]bool{}
	tables := make([]table, 0, n)
	for i := range n {
		rec := b[12+16*i : 28+16*i]
		tag := string(rec[:4])
		off, size := uint64(binary.BigEndian.Uint32(rec[8:12])), uint64(binary.BigEndian.Uint32(rec[12:16]))
		if seen[tag] || off+size > uint64(len(b)) || off < uint64(12+16*n) {
			return nil, invalid("its table directory is damaged")
		}
		seen[tag] = true
		tables = append(tables, table{tag: tag, data: b[off : off+size]})
	}
	outlines := (seen["glyf"] && seen["loca"]) || seen["CFF "] || seen["CFF2"]
	if !seen["head"] || !seen["cmap"] || !seen["hhea"] || !seen["hmtx"] || !seen["maxp"] || !outlines {
		return nil, invalid("it lacks the tables of a scalable font")
	}
	for _, t := range tables {
		if t.tag == "head" && len(t.data) < 54 {
			return nil, invalid("its head table is damaged")
		}
	}
	return tables, nil
}

// nameTable is a naming table (format 0) that names the font family, in
// the Macintosh and Windows encodings fontconfig reads.
func nameTable(family string) []byte {
	ps := "Pictor-" + family[len("Pictor "):]
	type rec struct {
		platform, encoding, language, id uint16
		text                             []byte
	}
	var recs []rec
	for _, p := range []struct{ platform, encoding, language uint16 }{{1, 0, 0}, {3, 1, 0x409}} {
		for _, n := range []struct {
			id   uint16
			text string
		}{{1, family}, {2, "Regular"}, {4, family}, {6, ps}} {
			text := []byte(n.text)
			if p.platform == 3 {
				text = utf16BE(n.text)
			}
			recs = append(recs, rec{p.platform, p.encoding, p.language, n.id, text})
		}
	}
	var head, strs bytes.Buffer
	w := func(v uint16) { binary.Write(&head, binary.BigEndian, v) }
	w(0)
	w(uint16(len(recs)))
	w(uint16(6 + 12*len(recs)))
	for _, r := range recs {
		w(r.platform)
		w(r.encoding)
		w(r.language)
		w(r.id)
		w(uint16(len(r.text)))
		w(uint16(strs.Len()))
		strs.Write(r.text)
	}
	return append(head.Bytes(), strs.Bytes()...)
}

func utf16BE(s string) []byte {
	var out []byte
	for _, u := range utf16.Encode([]rune(s)) {
		out = binary.BigEndian.AppendUint16(out, u)
	}
	return out
}

// writeFont lays the tables out again: sorted by tag, each on a 4-byte
// boundary with its checksum, and head's checksum adjustment set for the
// whole file, as the OpenType specification asks.
func writeFont(version []byte, tables []table) []byte {
	sort.Slice(tables, func(i, j int) bool { return tables[i].tag < tables[j].tag })
	n := len(tables)
	entrySelector := 0
	for 1<<(entrySelector+1) <= n {
		entrySelector++
	}
	searchRange := 16 << entrySelector
	out := append([]byte(nil), version...)
	out = binary.BigEndian.AppendUint16(out, uint16(n))
	out = binary.BigEndian.AppendUint16(out, uint16(searchRange))
	out = binary.BigEndian.AppendUint16(out, uint16(entrySelector))
	out = binary.BigEndian.AppendUint16(out, uint16(16*n-searchRange))
	dir := len(out)
	out = append(out, make([]byte, 16*n)...)
	headAt := -1
	for i, t := range tables {
		off := len(out)
		out = append(out, t.data...)
		if t.tag == "head" {
			headAt = off
			binary.BigEndian.PutUint32(out[off+8:], 0)
		}
		for len(out)%4 != 0 {
			out = append(out, 0)
		}
		rec := out[dir+16*i:]
		copy(rec, t.tag)
		binary.BigEndian.PutUint32(rec[4:], checksum(out[off:off+len(t.data)]))
		binary.BigEndian.PutUint32(rec[8:], uint32(off))
		binary.BigEndian.PutUint32(rec[12:], uint32(len(t.data)))
	}
	binary.BigEndian.PutUint32(out[headAt+8:], 0xB1B0AFBA-checksum(out))
	return out
}

func checksum(b []byte) uint32 {
	var sum uint32
	for i := 0; i < len(b); i += 4 {
		var word [4]byte
		copy(word[:], b[i:])
		sum += binary.BigEndian.Uint32(word[:])
	}
	return sum
}

// Store keeps the prepared fonts of this process in files fontconfig can
// read, one per distinct font, up to a fixed number: fontconfig cannot
// forget a font it has been given, so the files and their count live as
// long as the process.
type Store struct {
	dir string
	max int

	mu    sync.Mutex
	fonts map[[32]byte]Font
}

// NewStore keeps up to max fonts in dir, which it creates.
func NewStore(dir string, max int) *Store {
	return &Store{dir: dir, max: max, fonts: map[[32]byte]Font{}}
}

// Load prepares b once and returns where it is.
func (s *Store) Load(b []byte) (Font, error) {
	key := sha256.Sum256(b)
	s.mu.Lock()
	defer s.mu.Unlock()
	if f, ok := s.fonts[key]; ok {
		return f, nil
	}
	if len(s.fonts) >= s.max {
		return Font{}, errkind.New(errkind.Unavailable, "font_store_full",
			fmt.Sprintf("this edge holds its limit of %d font files; try again later", s.max))
	}
	family, data, err := Prepare(b)
	if err != nil {
		return Font{}, err
	}
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return Font{}, fmt.Errorf("font store: %w", err)
	}
	path := filepath.Join(s.dir, fmt.Sprintf("%x.ttf", key[:16]))
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return Font{}, fmt.Errorf("font store: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return Font{}, fmt.Errorf("font store: %w", err)
	}
	f := Font{Family: family, Path: path}
	s.fonts[key] = f
	return f, nil
}
