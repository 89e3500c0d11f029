package cache

import (
	"encoding/binary"
	"errors"
	"time"
)

// Entry is one cached object: an original's bytes, its record, a variant,
// or a remembered failure.
type Entry struct {
	// Status is 200, or the status of a remembered failure of the
	// original: 404 (on no origin) or 422 (it does not decode).
	Status      int
	Body        []byte
	ContentType string
	ETag        string // the response ETag of a variant
	// ConfigVersion is the routing table version in force when the entry
	// was stored. A purge rule carried by a later version covers it.
	ConfigVersion uint64
	StoredAt      time.Time
	FreshUntil    time.Time // after this the original must be revalidated
	StaleUntil    time.Time // after this it may not even be served on origin errors
	// Validators of the original at the origin, for conditional requests.
	OriginETag         string
	OriginLastModified string
	SourceID           string
	// Format of the original as sniffed ("jpeg", ...), for originals.
	Format string
	// OriginSet is the endpoint's origin fingerprint when a miss was cached.
	OriginSet string
	// ErrReason and ErrMessage are a remembered failure's reason and
	// client-safe message.
	ErrReason, ErrMessage string
}

// Fresh reports whether the entry may be served without asking the origin.
func (e *Entry) Fresh(now time.Time) bool { return now.Before(e.FreshUntil) }

// Usable reports whether the entry may be served when the origin fails.
func (e *Entry) Usable(now time.Time) bool { return now.Before(e.StaleUntil) }

// Size approximates the memory an entry holds, for the L1 byte budget.
func (e *Entry) Size() int {
	return len(e.Body) + len(e.ContentType) + len(e.ETag) + len(e.OriginETag) +
		len(e.OriginLastModified) + len(e.SourceID) + len(e.Format) + len(e.OriginSet) +
		len(e.ErrReason) + len(e.ErrMessage) + 128
}

// magic names the encoding; an entry of an older one decodes as corrupt
// and is dropped (a miss), never misread.
const magic = "PCE3"

var errCorrupt = errors.New("cache entry is corrupt")

// encode serialises an entry for Redis: a fixed header, then
// length-prefixed strings, then the body.
func (e *Entry) encode() []byte { return append(e.encodeHeader(), e.Body...) }

// encodeHeader is encode without the body.
func (e *Entry) encodeHeader() []byte {
	strs := []string{e.ContentType, e.ETag, e.OriginETag, e.OriginLastModified, e.SourceID, e.Format, e.OriginSet,
		e.ErrReason, e.ErrMessage}
	n := len(magic) + 2 + 8*4
	for _, s := range strs {
		n += 2 + len(s)
	}
	b := make([]byte, 0, n)
	b = append(b, magic...)
	b = binary.BigEndian.AppendUint16(b, uint16(e.Status))
	b = binary.BigEndian.AppendUint64(b, e.ConfigVersion)
	b = binary.BigEndian.AppendUint64(b, uint64(e.StoredAt.UnixMilli()))
	b = binary.BigEndian.AppendUint64(b, uint64(e.FreshUntil.UnixMilli()))
	b = binary.BigEndian.AppendUint64(b, uint64(e.StaleUntil.UnixMilli()))
	for _, s := range strs {
		if len(s) > 0xFFFF {
			s = s[:0xFFFF]
		}
		b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
		b = append(b, s...)
	}
	return b
}

func decode(b []byte) (*Entry, error) {
	if len(b) < len(magic)+2+32 || string(b[:4]) != magic {
		return nil, errCorrupt
	}
	b = b[4:]
	e := &Entry{Status: int(binary.BigEndian.Uint16(b))}
	b = b[2:]
	e.ConfigVersion = binary.BigEndian.Uint64(b)
	e.StoredAt = time.UnixMilli(int64(binary.BigEndian.Uint64(b[8:])))
	e.FreshUntil = time.UnixMilli(int64(binary.BigEndian.Uint64(b[16:])))
	e.StaleUntil = time.UnixMilli(int64(binary.BigEndian.Uint64(b[24:])))
	b = b[32:]
	strs := []*string{&e.ContentType, &e.ETag, &e.OriginETag, &e.OriginLastModified, &e.SourceID, &e.Format, &e.OriginSet,
		&e.ErrReason, &e.ErrMessage}
	for _, p := range strs {
		if len(b) < 2 {
			return nil, errCorrupt
		}
		l := int(binary.BigEndian.Uint16(b))
		b = b[2:]
		if len(b) < l {
			return nil, errCorrupt
		}
		*p = string(b[:l])
		b = b[l:]
	}
	e.Body = b
	return e, nil
}
