// Package auth holds the control plane's secrets handling: API keys
// (generation, the digest they are found by, their encryption at rest under
// the master key), owner passwords and the constant-time comparison of
// bearer tokens. It is pure crypto with no storage, so the database never
// sees a key or a password in the clear.
package auth

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"pictor/services/controlplane/internal/tenant"
)

// KeyPrefix starts every private API key, as ImageKit's do, so a leaked key
// is recognisable (secret scanners, logs).
const KeyPrefix = "private_"

// keyBytes is the key's entropy: 256 bits.
const keyBytes = 32

// keyLen is the length of a formatted key: prefix + unpadded base64url.
var keyLen = len(KeyPrefix) + base64.RawURLEncoding.EncodedLen(keyBytes)

// displayPrefixLen characters of a key are stored in the clear so a user
// can tell keys apart in a list; 4 random characters reveal 24 bits.
var displayPrefixLen = len(KeyPrefix) + 4

// sealVersion is the first byte of every ciphertext, so a later master-key
// rotation can tell old ciphertexts from new ones.
const sealVersion = 1

// MasterKeyLen is the length of PICTOR_MASTER_KEY once decoded: AES-256.
const MasterKeyLen = 32

// ParseMasterKey decodes a master key given as 64 hex digits or as base64
// (standard or URL alphabet, padded or not) of 32 bytes.
func ParseMasterKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if len(s) == 2*MasterKeyLen {
		if b, err := hex.DecodeString(s); err == nil {
			return b, nil
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			if len(b) != MasterKeyLen {
				return nil, fmt.Errorf("master key decodes to %d bytes, want %d", len(b), MasterKeyLen)
			}
			return b, nil
		}
	}
	return nil, errors.New("master key must be 64 hex digits or base64 of 32 bytes")
}

// Keyring seals and opens API keys and origin secrets under the master
// key.
type Keyring struct {
	aead cipher.AEAD
}

// NewKeyring returns a keyring for a 32-byte master key.
func NewKeyring(master []byte) (*Keyring, error) {
	if len(master) != MasterKeyLen {
		return nil, fmt.Errorf("master key is %d bytes, want %d", len(master), MasterKeyLen)
	}
	block, err := aes.NewCipher(master)
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	return &Keyring{aead: aead}, nil
}

// GeneratedKey is a new API key: the secret, shown to its owner once, and
// what storage keeps of it.
type GeneratedKey struct {
	Secret string
	Stored tenant.NewKey
}

// NewKey generates a private API key with a new id.
func (k *Keyring) NewKey() GeneratedKey {
	raw := make([]byte, keyBytes)
	rand.Read(raw) // never fails: crypto/rand crashes the program instead
	secret := KeyPrefix + base64.RawURLEncoding.EncodeToString(raw)
	id := tenant.NewID()
	return GeneratedKey{
		Secret: secret,
		Stored: tenant.NewKey{
			ID:            id,
			DisplayPrefix: secret[:displayPrefixLen],
			Digest:        Digest(secret),
			Ciphertext:    k.Seal(id, secret),
		},
	}
}

// Seal encrypts a key's secret. The key id is bound in as associated data,
// so a ciphertext copied onto another key's row does not open.
func (k *Keyring) Seal(keyID, secret string) []byte {
	return k.seal(secret, aad(keyID))
}

// Open decrypts a ciphertext made by Seal for the same key id.
func (k *Keyring) Open(keyID string, ciphertext []byte) (string, error) {
	return k.open("key", keyID, ciphertext, aad(keyID))
}

// SealOriginSecret encrypts an origin's secret (an S3 origin's secret
// access key) the way Seal encrypts API keys. The origin id is bound in,
// under a label of its own, so the ciphertext opens neither for another
// origin nor as an API key (nor an API key's as an origin secret).
func (k *Keyring) SealOriginSecret(originID, secret string) []byte {
	return k.seal(secret, originAAD(originID))
}

// OpenOriginSecret decrypts a ciphertext made by SealOriginSecret for the
// same origin id.
func (k *Keyring) OpenOriginSecret(originID string, ciphertext []byte) (string, error) {
	return k.open("origin secret of", originID, ciphertext, originAAD(originID))
}

func (k *Keyring) seal(secret string, ad []byte) []byte {
	nonce := make([]byte, k.aead.NonceSize())
	rand.Read(nonce)
	out := make([]byte, 0, 1+len(nonce)+len(secret)+k.aead.Overhead())
	out = append(out, sealVersion)
	out = append(out, nonce...)
	return k.aead.Seal(out, nonce, []byte(secret), ad)
}

// open's errors name what failed to open (what, id), never its content.
func (k *Keyring) open(what, id string, ciphertext, ad []byte) (string, error) {
	ns := k.aead.NonceSize()
	if len(ciphertext) < 1+ns+k.aead.Overhead() || ciphertext[0] != sealVersion {
		return "", fmt.Errorf("open %s %s: malformed ciphertext", what, id)
	}
	pt, err := k.aead.Open(nil, ciphertext[1:1+ns], ciphertext[1+ns:], ad)
	if err != nil {
		return "", fmt.Errorf("open %s %s (wrong master key?): %w", what, id, err)
	}
	return string(pt), nil
}

// Verify reports whether secret is the key sealed in ciphertext, comparing
// in constant time. Look-up by digest already found the row; this also
// proves the row was sealed under our master key for this key id.
func (k *Keyring) Verify(keyID, secret string, ciphertext []byte) bool {
	stored, err := k.Open(keyID, ciphertext)
	if err != nil {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(stored), []byte(secret)) == 1
}

func aad(keyID string) []byte { return []byte("pictor api key v1\x00" + keyID) }

func originAAD(originID string) []byte { return []byte("pictor origin secret v1\x00" + originID) }

// Digest is the SHA-256 of a key, by which storage finds it. A plain hash
// suffices: the key has 256 bits of entropy, so there is nothing to guess.
func Digest(secret string) []byte {
	d := sha256.Sum256([]byte(secret))
	return d[:]
}

// WellFormedKey reports whether s has the shape of a private key, so
// garbage is refused without a database look-up.
func WellFormedKey(s string) bool {
	if len(s) != keyLen || !strings.HasPrefix(s, KeyPrefix) {
		return false
	}
	_, err := base64.RawURLEncoding.Strict().DecodeString(s[len(KeyPrefix):])
	return err == nil
}

// TokenEqual compares a presented bearer token with the configured one in
// constant time. Both are hashed first so the comparison does not leak the
// configured token's length either.
func TokenEqual(presented, configured string) bool {
	a := sha256.Sum256([]byte(presented))
	b := sha256.Sum256([]byte(configured))
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1 && configured != ""
}
