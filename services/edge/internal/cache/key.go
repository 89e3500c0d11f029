package cache

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
)

// Image names one image as the edge caches it. Every part is in its one
// normal form before it gets here (DESIGN §7): the path and forwarded query
// with their escapes normalised, Host lower-cased without a default port.
type Image struct {
	Account  string
	Endpoint string
	// PathQuery is the image path with its forwarded query, if any.
	PathQuery string
	// Host is the client's Host when the endpoint forwards it to its
	// origins (a virtual-hosted origin answers per Host), else "".
	Host string
}

// Keys hash their parts, each prefixed with its length, so two different
// tuples never share a key whatever bytes the parts hold, and a key's length
// is fixed however long the URL. A type tag in front keeps variants,
// originals and records of one image apart.

// VariantKey is the key of a rendered variant: the image, the canonical
// transformation and the negotiated output format ("" for the source's own).
func (i Image) VariantKey(canonicalTr, format string) string {
	return "v:" + hashParts(i.Account, i.Endpoint, i.PathQuery, i.Host, canonicalTr, format)
}

// OriginalKey is the key of an original's bytes.
func (i Image) OriginalKey() string {
	return "o:" + hashParts(i.Account, i.Endpoint, i.PathQuery, i.Host)
}

// RecordKey is the key of an original's record: its freshness and
// validators, or the failure remembered for it (a 404, a source that does
// not decode). It is small, so it is read where the bytes would be too
// costly to read just to learn whether they are still good.
func (i Image) RecordKey() string {
	return "m:" + hashParts(i.Account, i.Endpoint, i.PathQuery, i.Host)
}

func hashParts(parts ...string) string {
	h := sha256.New()
	var n [binary.MaxVarintLen64]byte
	for _, p := range parts {
		h.Write(n[:binary.PutUvarint(n[:], uint64(len(p)))])
		h.Write([]byte(p))
	}
	var sum [sha256.Size]byte
	return hex.EncodeToString(h.Sum(sum[:0])[:20])
}

func isOriginalKey(key string) bool { return len(key) > 2 && key[:2] == "o:" }
