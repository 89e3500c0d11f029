package cache

import (
	"crypto/sha256"
	"encoding/hex"
)

// Keys hash their parts with a separator no part can contain (NUL), so two
// different tuples never share a key, and the key length stays fixed
// however long the URL is. Keys start with a type tag so originals and
// variants of one image never collide.

// VariantKey is the key of a rendered variant: account, endpoint, image
// path with its forwarded query, canonical transformation and negotiated
// output format ("" for the source's own).
func VariantKey(account, endpoint, pathQuery, canonicalTr, format string) string {
	return "v:" + hashParts(account, endpoint, pathQuery, canonicalTr, format)
}

// OriginalKey is the key of an original (or of a cached miss) of one image.
func OriginalKey(account, endpoint, pathQuery string) string {
	return "o:" + hashParts(account, endpoint, pathQuery)
}

func hashParts(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	var sum [sha256.Size]byte
	return hex.EncodeToString(h.Sum(sum[:0])[:20])
}

func isOriginalKey(key string) bool { return len(key) > 2 && key[:2] == "o:" }
