// Package signing implements ImageKit-compatible signed URLs (DESIGN §4), so
// URLs signed by ImageKit's own SDKs verify at Pictor's edge.
//
// The string to sign is the request target after the URL-endpoint
// ("{path}?{query}" with ik-s and ik-t removed, exactly as received, not
// decoded) followed by the expiry in unix seconds, or 9999999999 when the
// URL does not expire. The signature is lowercase hex HMAC-SHA1 under one of
// the account's private keys.
package signing

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/hex"
	"strconv"
	"strings"
	"time"

	"pictor/services/internal/errkind"
)

// NoExpiry is what ImageKit signs in place of ik-t for URLs that never expire.
const NoExpiry = "9999999999"

// Sign returns the signature of target (the URL after the endpoint, without
// ik-s/ik-t) with the given expiry ("" for none).
func Sign(key []byte, target, expires string) string {
	if expires == "" {
		expires = NoExpiry
	}
	m := hmac.New(sha1.New, key)
	m.Write([]byte(target))
	m.Write([]byte(expires))
	return hex.EncodeToString(m.Sum(nil))
}

// StripParams removes the ik-s and ik-t parameters from a raw request
// target, leaving no dangling '?' or '&' and every other byte as received.
func StripParams(target string) string {
	path, query, ok := strings.Cut(target, "?")
	if !ok {
		return target
	}
	var kept []string
	for _, p := range strings.Split(query, "&") {
		k, _, _ := strings.Cut(p, "=")
		if k == "ik-s" || k == "ik-t" || p == "" {
			continue
		}
		kept = append(kept, p)
	}
	if len(kept) == 0 {
		return path
	}
	return path + "?" + strings.Join(kept, "&")
}

// Verify checks sig for target under any of keys. expires is the raw ik-t
// value ("" for none). Every failure is errkind.Unauthorized with a message
// that says what is wrong but never which key was tried.
func Verify(keys [][]byte, target, sig, expires string, now time.Time) error {
	if sig == "" {
		return errkind.New(errkind.Unauthorized, "signature_missing", "this URL must be signed (ik-s)")
	}
	if expires != "" {
		t, err := strconv.ParseInt(expires, 10, 64)
		if err != nil || t <= 0 {
			return errkind.New(errkind.Unauthorized, "signature_bad_expiry", "ik-t must be a unix timestamp in seconds")
		}
		if now.Unix() > t {
			return errkind.New(errkind.Unauthorized, "signature_expired", "signed URL has expired")
		}
	}
	got, err := hex.DecodeString(sig)
	if err != nil || len(got) != sha1.Size {
		return errkind.New(errkind.Unauthorized, "signature_invalid", "invalid URL signature")
	}
	for _, k := range keys {
		want, _ := hex.DecodeString(Sign(k, target, expires))
		if hmac.Equal(got, want) {
			return nil
		}
	}
	return errkind.New(errkind.Unauthorized, "signature_invalid", "invalid URL signature")
}
