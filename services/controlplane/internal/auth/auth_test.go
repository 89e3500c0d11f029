package auth

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"
)

var testMaster = bytes.Repeat([]byte{7}, MasterKeyLen)

func TestParseMasterKey(t *testing.T) {
	raw := make([]byte, MasterKeyLen)
	for i := range raw {
		raw[i] = byte(i * 7)
	}
	tests := []struct {
		name string
		in   string
		ok   bool
	}{
		{"hex", "00070e151c232a31383f464d545b626970777e858c939aa1a8afb6bdc4cbd2d9", true},
		{"base64 std", base64.StdEncoding.EncodeToString(raw), true},
		{"base64 raw url", base64.RawURLEncoding.EncodeToString(raw), true},
		{"surrounding space", " " + base64.StdEncoding.EncodeToString(raw) + "\n", true},
		{"empty", "", false},
		{"short hex", strings.Repeat("ab", 16), false},
		{"base64 of 16 bytes", base64.StdEncoding.EncodeToString(raw[:16]), false},
		{"garbage", "not a key at all!", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseMasterKey(tt.in)
			if (err == nil) != tt.ok {
				t.Fatalf("ParseMasterKey(%q) error %v, want ok=%v", tt.in, err, tt.ok)
			}
			if tt.ok && !bytes.Equal(got, raw) {
				t.Fatalf("ParseMasterKey(%q) = %x, want %x", tt.in, got, raw)
			}
		})
	}
}

func TestNewKeySealOpen(t *testing.T) {
	kr, err := NewKeyring(testMaster)
	if err != nil {
		t.Fatal(err)
	}
	k := kr.NewKey()
	if !strings.HasPrefix(k.Secret, KeyPrefix) || !WellFormedKey(k.Secret) {
		t.Fatalf("secret %q is not a well-formed key", k.Secret)
	}
	if raw, _ := base64.RawURLEncoding.DecodeString(k.Secret[len(KeyPrefix):]); len(raw) != 32 {
		t.Fatalf("key carries %d random bytes, want 32", len(raw))
	}
	if !strings.HasPrefix(k.Secret, k.Stored.DisplayPrefix) || len(k.Stored.DisplayPrefix) != len(KeyPrefix)+4 {
		t.Fatalf("display prefix %q does not start the secret", k.Stored.DisplayPrefix)
	}
	if !bytes.Equal(k.Stored.Digest, Digest(k.Secret)) {
		t.Fatal("stored digest is not the digest of the secret")
	}
	if bytes.Contains(k.Stored.Ciphertext, []byte(k.Secret)) {
		t.Fatal("ciphertext contains the secret")
	}
	got, err := kr.Open(k.Stored.ID, k.Stored.Ciphertext)
	if err != nil || got != k.Secret {
		t.Fatalf("Open = %q, %v; want the secret", got, err)
	}
	if !kr.Verify(k.Stored.ID, k.Secret, k.Stored.Ciphertext) {
		t.Fatal("Verify refused the right secret")
	}

	other, _ := NewKeyring(bytes.Repeat([]byte{8}, MasterKeyLen))
	tampered := bytes.Clone(k.Stored.Ciphertext)
	tampered[len(tampered)-1] ^= 1
	refusals := []struct {
		name string
		fn   func() bool
	}{
		{"wrong secret", func() bool { return kr.Verify(k.Stored.ID, kr.NewKey().Secret, k.Stored.Ciphertext) }},
		{"other key id", func() bool { return kr.Verify("another", k.Secret, k.Stored.Ciphertext) }},
		{"other master key", func() bool { return other.Verify(k.Stored.ID, k.Secret, k.Stored.Ciphertext) }},
		{"tampered ciphertext", func() bool { return kr.Verify(k.Stored.ID, k.Secret, tampered) }},
		{"truncated ciphertext", func() bool { return kr.Verify(k.Stored.ID, k.Secret, k.Stored.Ciphertext[:5]) }},
	}
	for _, r := range refusals {
		if r.fn() {
			t.Errorf("%s: Verify accepted", r.name)
		}
	}
	if kr.NewKey().Secret == k.Secret {
		t.Fatal("two keys alike")
	}
}

func TestWellFormedKey(t *testing.T) {
	kr, _ := NewKeyring(testMaster)
	good := kr.NewKey().Secret
	for _, bad := range []string{"", "private_", "public_" + good[len(KeyPrefix):], good + "A", good[:len(good)-1], good[:len(good)-1] + "!"} {
		if WellFormedKey(bad) {
			t.Errorf("WellFormedKey(%q) = true", bad)
		}
	}
}

func TestTokenEqual(t *testing.T) {
	tests := []struct {
		presented, configured string
		want                  bool
	}{
		{"secret-token", "secret-token", true},
		{"secret-token ", "secret-token", false},
		{"secret", "secret-token", false},
		{"", "", false}, // an unset token admits nobody
		{"", "secret-token", false},
	}
	for _, tt := range tests {
		if got := TokenEqual(tt.presented, tt.configured); got != tt.want {
			t.Errorf("TokenEqual(%q, %q) = %v", tt.presented, tt.configured, got)
		}
	}
}

func TestPassword(t *testing.T) {
	h := HashPassword("correct horse")
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q is not an argon2id PHC string", h)
	}
	if h == HashPassword("correct horse") {
		t.Fatal("hashes are not salted")
	}
	if ok, err := VerifyPassword("correct horse", h); !ok || err != nil {
		t.Fatalf("VerifyPassword(right) = %v, %v", ok, err)
	}
	if ok, err := VerifyPassword("wrong horse", h); ok || err != nil {
		t.Fatalf("VerifyPassword(wrong) = %v, %v", ok, err)
	}
	for _, bad := range []string{"", "$argon2i$v=19$m=1,t=1,p=1$AA$AA", "$argon2id$v=19$m=99999999,t=1,p=1$AA$AA", "$argon2id$v=19$m=19456,t=2,p=1$!!$AA"} {
		if _, err := VerifyPassword("x", bad); err == nil {
			t.Errorf("VerifyPassword accepted malformed hash %q", bad)
		}
	}
}

func TestOriginSecretSealOpen(t *testing.T) {
	kr, err := NewKeyring(testMaster)
	if err != nil {
		t.Fatal(err)
	}
	const secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	ct := kr.SealOriginSecret("origin1", secret)
	if bytes.Contains(ct, []byte(secret)) {
		t.Fatal("ciphertext holds the secret in the clear")
	}
	if got, err := kr.OpenOriginSecret("origin1", ct); err != nil || got != secret {
		t.Fatalf("OpenOriginSecret = %q, %v", got, err)
	}
	if _, err := kr.OpenOriginSecret("origin2", ct); err == nil {
		t.Fatal("opened under another origin's id")
	}
	// Neither kind of ciphertext passes for the other.
	if _, err := kr.Open("origin1", ct); err == nil {
		t.Fatal("an origin secret opened as an API key")
	}
	if _, err := kr.OpenOriginSecret("k1", kr.Seal("k1", secret)); err == nil {
		t.Fatal("an API key opened as an origin secret")
	}
	other, _ := NewKeyring(bytes.Repeat([]byte{8}, MasterKeyLen))
	if _, err := other.OpenOriginSecret("origin1", ct); err == nil || strings.Contains(err.Error(), secret) {
		t.Fatalf("opened under another master key (err %v)", err)
	}
}
