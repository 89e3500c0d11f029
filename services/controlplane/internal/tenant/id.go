package tenant

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"time"
)

// NewID returns a new object id: 24 lowercase hex digits, a 4-byte
// big-endian creation time in seconds followed by 8 random bytes. The shape
// matches the ids ImageKit hands out, and ids sort roughly by age.
func NewID() string {
	var b [12]byte
	binary.BigEndian.PutUint32(b[:4], uint32(time.Now().Unix()))
	rand.Read(b[4:]) // never fails: crypto/rand crashes the program instead
	return hex.EncodeToString(b[:])
}

// ValidID reports whether s could be an id from NewID. Handlers check it
// before querying, so a malformed id is a plain 404 without a round trip.
func ValidID(s string) bool {
	if len(s) != 24 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
