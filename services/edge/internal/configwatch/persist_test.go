package configwatch

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	configv1 "pictor/proto/pictor/config/v1"
	"pictor/services/internal/configfixture"
)

const (
	testSecret       = "private_super-secret-signing-key-0123456789"
	testOriginSecret = "origin-secret-key/with+chars=0123456789"
	testSAS          = "sv=2024-08-04&sp=rl&sig=c2FzLXNpZ25hdHVyZS1zZWNyZXQ%3D"
)

// testSnapshot is a small valid snapshot whose signing key is easy to look
// for in a file.
func testSnapshot(version uint64) *configv1.Snapshot {
	return &configv1.Snapshot{
		Version:       version,
		CreatedUnixMs: 1_700_000_000_000,
		Accounts: []*configv1.Account{{
			Id:     "demo",
			Status: "active",
			Keys: []*configv1.SigningKey{
				{Id: "k1", Secret: testSecret},
				{Id: "k2", Secret: "private_second-key"},
			},
			Origins: []*configv1.Origin{
				{Id: "o1", Type: "WEB_FOLDER", BaseUrl: "http://127.0.0.1:8079"},
				{Id: "o2", Type: "S3_COMPATIBLE", Bucket: "photos", AccessKey: "AKIDEXAMPLE", SecretKey: testOriginSecret,
					Endpoint: "http://127.0.0.1:9000", S3ForcePathStyle: true},
				{Id: "o3", Type: "AZURE_BLOB", AccountName: "acct1", Container: "images", SasToken: testSAS},
			},
			Endpoints: []*configv1.Endpoint{{Id: "e1", OriginIds: []string{"o1", "o2", "o3"}}},
		}},
		Purges: []*configv1.PurgeRule{{Id: "p1", AccountId: "demo", EndpointId: "e1", Path: "a.jpg", CreatedUnixMs: 1}},
	}
}

func newPersistClient(t *testing.T, dir, token string) *Client {
	t.Helper()
	return New(Config{Token: token, DataDir: dir}, nil, nil)
}

func TestPersistRoundTrip(t *testing.T) {
	dir := t.TempDir()
	c := newPersistClient(t, dir, "edge-token")
	snap := testSnapshot(5)
	if err := c.persist(snap); err != nil {
		t.Fatalf("persist: %v", err)
	}
	if snap.Accounts[0].Keys[0].Secret != testSecret {
		t.Fatal("persist modified the caller's snapshot")
	}
	got, err := c.LoadPersisted()
	if err != nil {
		t.Fatalf("LoadPersisted: %v", err)
	}
	if !proto.Equal(got, snap) {
		t.Errorf("round trip changed the snapshot:\n got %v\nwant %v", got, snap)
	}

	path := filepath.Join(dir, snapshotFile)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if mode := fi.Mode().Perm(); mode != 0o600 {
		t.Errorf("file mode = %o, want 600", mode)
	}
	if _, err := os.Stat(path + ".tmp"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temp file left behind: %v", err)
	}

	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{testSecret, "private_second-key", "super-secret", testOriginSecret, "origin-secret", testSAS, "c2FzLXNpZ25hdHVyZS1zZWNyZXQ"} {
		for _, form := range [][]byte{[]byte(secret), []byte(base64.StdEncoding.EncodeToString([]byte(secret)))} {
			if bytes.Contains(data, form) {
				t.Errorf("file contains signing key material %q", form)
			}
		}
	}
	if !bytes.Contains(data, []byte("http://127.0.0.1:8079")) {
		t.Error("non-secret config should stay readable for operators")
	}
}

// TestPersistReplaces covers a second write over an existing file and over
// a temp file left by a crash with loose permissions.
func TestPersistReplaces(t *testing.T) {
	dir := t.TempDir()
	c := newPersistClient(t, dir, "edge-token")
	if err := c.persist(testSnapshot(1)); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, snapshotFile)
	if err := os.WriteFile(path+".tmp", []byte("half-written garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := c.persist(testSnapshot(2)); err != nil {
		t.Fatalf("persist over leftovers: %v", err)
	}
	got, err := c.LoadPersisted()
	if err != nil || got.GetVersion() != 2 {
		t.Fatalf("LoadPersisted = v%d, %v; want v2", got.GetVersion(), err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("mode after replacing = %v, %v; want 600", fi.Mode().Perm(), err)
	}
}

func TestPersistCreatesDataDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nested", "edge")
	c := newPersistClient(t, dir, "edge-token")
	if err := c.persist(testSnapshot(1)); err != nil {
		t.Fatalf("persist: %v", err)
	}
	fi, err := os.Stat(dir)
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("data dir mode = %v, %v; want 700", fi.Mode().Perm(), err)
	}
}

func TestPersistNeedsToken(t *testing.T) {
	c := newPersistClient(t, t.TempDir(), "")
	if err := c.persist(testSnapshot(1)); err == nil {
		t.Fatal("persist without a token succeeded; keys would be unprotected")
	}
}

func TestLoadPersistedMissing(t *testing.T) {
	for name, dir := range map[string]string{"no file": t.TempDir(), "no data dir": ""} {
		t.Run(name, func(t *testing.T) {
			_, err := newPersistClient(t, dir, "edge-token").LoadPersisted()
			if !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("err = %v, want os.ErrNotExist", err)
			}
		})
	}
}

func TestLoadPersistedRejectsDamage(t *testing.T) {
	dir := t.TempDir()
	c := newPersistClient(t, dir, "edge-token")
	if err := c.persist(testSnapshot(9)); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, snapshotFile)
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	flip := func(i int) func([]byte) []byte {
		return func(b []byte) []byte { b[i] ^= 0x01; return b }
	}
	n := len(good)
	tests := []struct {
		name   string
		damage func([]byte) []byte
	}{
		{"flip magic", flip(0)},
		{"flip format", flip(len(fileMagic) + 3)},
		{"flip salt", flip(len(fileMagic) + 4 + 5)},
		{"flip length", flip(headerLen - 1)},
		{"flip payload start", flip(headerLen)},
		{"flip payload middle", flip((headerLen + n - sumLen) / 2)},
		{"flip last payload byte", flip(n - sumLen - 1)},
		{"flip checksum", flip(n - 1)},
		{"empty", func([]byte) []byte { return nil }},
		{"header only", func(b []byte) []byte { return b[:headerLen] }},
		{"truncated by one", func(b []byte) []byte { return b[:n-1] }},
		{"truncated in half", func(b []byte) []byte { return b[:n/2] }},
		{"trailing garbage", func(b []byte) []byte { return append(b, 0) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := os.WriteFile(path, tc.damage(bytes.Clone(good)), 0o600); err != nil {
				t.Fatal(err)
			}
			snap, err := c.LoadPersisted()
			if !errors.Is(err, ErrCorruptSnapshot) {
				t.Fatalf("LoadPersisted = %v, %v; want ErrCorruptSnapshot", snap, err)
			}
		})
	}
}

// TestLoadPersistedOtherToken: the file alone, or with the wrong token,
// yields no signing keys.
func TestLoadPersistedOtherToken(t *testing.T) {
	dir := t.TempDir()
	if err := newPersistClient(t, dir, "edge-token").persist(testSnapshot(3)); err != nil {
		t.Fatal(err)
	}
	snap, err := newPersistClient(t, dir, "rotated-token").LoadPersisted()
	if !errors.Is(err, ErrSnapshotKey) {
		t.Fatalf("LoadPersisted = %v, %v; want ErrSnapshotKey", snap, err)
	}
}

// TestSecretBoundToSlot: moving one account's encrypted key into another
// slot (with a recomputed checksum) must not decrypt.
func TestSecretBoundToSlot(t *testing.T) {
	snap := testSnapshot(3)
	data, err := encodeSnapshot(snap, "edge-token")
	if err != nil {
		t.Fatal(err)
	}
	payload := data[headerLen : len(data)-sumLen]
	enc := new(configv1.Snapshot)
	if err := proto.Unmarshal(payload, enc); err != nil {
		t.Fatal(err)
	}
	keys := enc.Accounts[0].Keys
	keys[0].Secret, keys[1].Secret = keys[1].Secret, keys[0].Secret
	if _, err := decodeSnapshot(reframe(t, data, enc), "edge-token"); !errors.Is(err, ErrSnapshotKey) {
		t.Fatalf("swapped ciphertexts decoded: %v", err)
	}
}

// reframe rebuilds a file around a new payload, as an attacker with write
// access could, keeping the original salt.
func reframe(t *testing.T, orig []byte, snap *configv1.Snapshot) []byte {
	t.Helper()
	payload, err := proto.Marshal(snap)
	if err != nil {
		t.Fatal(err)
	}
	buf := bytes.Clone(orig[:headerLen-8])
	buf = binary.BigEndian.AppendUint64(buf, uint64(len(payload)))
	buf = append(buf, payload...)
	sum := sha256.Sum256(buf)
	return append(buf, sum[:]...)
}

// TestPersistPutOff: the first config after a quiet spell is written at
// once; those that follow within PersistEvery are written once, the last
// one, when it has passed; Flush writes what is pending.
func TestPersistPutOff(t *testing.T) {
	dir := t.TempDir()
	c := New(Config{Token: "edge-token", DataDir: dir, PersistEvery: 2 * time.Second},
		func(*configv1.Snapshot, *configv1.Delta) ([]*configv1.Rejection, error) { return nil, nil }, nil)
	onDisk := func() uint64 {
		t.Helper()
		snap, err := c.LoadPersisted()
		if err != nil {
			t.Fatal(err)
		}
		return snap.GetVersion()
	}
	c.handleSnapshot("a", testSnapshot(1))
	if v := onDisk(); v != 1 {
		t.Fatalf("on disk v%d after the first config, want v1 at once", v)
	}
	c.handleSnapshot("b", testSnapshot(2))
	c.handleSnapshot("c", testSnapshot(3))
	if v := onDisk(); v != 1 {
		t.Fatalf("on disk v%d right after a burst, want v1 until the period ends", v)
	}
	deadline := time.Now().Add(10 * time.Second)
	for onDisk() != 3 {
		if time.Now().After(deadline) {
			t.Fatalf("on disk v%d, want v3 once the period passed", onDisk())
		}
		time.Sleep(20 * time.Millisecond)
	}
	c.handleSnapshot("d", testSnapshot(4))
	c.handleSnapshot("e", testSnapshot(5))
	c.Flush()
	if v := onDisk(); v != 5 {
		t.Fatalf("on disk v%d after Flush, want v5", v)
	}
}

// TestSnapshotEncoderReusesAccounts: a write after a change seals and
// marshals only the accounts that change brought; the file still reads
// back as the config written (the reused bytes are the unchanged
// accounts', the changed ones are new), and a replaced or removed
// account's bytes are let go.
func TestSnapshotEncoderReusesAccounts(t *testing.T) {
	enc, err := newSnapshotEncoder("edge-token")
	if err != nil {
		t.Fatal(err)
	}
	first := testSnapshot(5)
	demo := first.Accounts[0]
	other := &configv1.Account{Id: "other", Status: "active", Keys: []*configv1.SigningKey{{Id: "k", Secret: "private_other-old"}}}
	first.Accounts = append(first.Accounts, other)
	roundTrip := func(snap *configv1.Snapshot) []byte {
		t.Helper()
		data, err := enc.encode(snap)
		if err != nil {
			t.Fatal(err)
		}
		got, err := decodeSnapshot(data, "edge-token")
		if err != nil {
			t.Fatal(err)
		}
		if !proto.Equal(got, snap) {
			t.Fatalf("v%d read back as\n%v\nwant\n%v", snap.Version, got, snap)
		}
		return data
	}
	roundTrip(first)
	demoBytes := enc.sealed[demo]

	changed := &configv1.Account{Id: "other", Status: "suspended", Keys: []*configv1.SigningKey{{Id: "k", Secret: "private_other-new"}}}
	added := &configv1.Account{Id: "zeta", Status: "active"}
	second := &configv1.Snapshot{Version: 6, CreatedUnixMs: first.CreatedUnixMs + 1,
		Accounts: []*configv1.Account{demo, changed, added},
		Purges:   append(first.Purges, &configv1.PurgeRule{Id: "p2", AccountId: "demo", EndpointId: "e1", Path: "b", Prefix: true})}
	data := roundTrip(second)
	if b := enc.sealed[demo]; len(b) == 0 || &b[0] != &demoBytes[0] {
		t.Error("the unchanged account was sealed and marshalled again")
	}
	if _, ok := enc.sealed[other]; ok || len(enc.sealed) != 3 {
		t.Errorf("cache holds %d accounts, the replaced one %v; want the 3 written", len(enc.sealed), ok)
	}
	for _, secret := range []string{testSecret, "private_other-new", testOriginSecret} {
		if bytes.Contains(data, []byte(secret)) {
			t.Errorf("secret %q is in the file in the clear", secret)
		}
	}

	third := &configv1.Snapshot{Version: 7, Accounts: []*configv1.Account{demo}}
	roundTrip(third)
	if len(enc.sealed) != 1 {
		t.Errorf("cache holds %d accounts after two were removed, want 1", len(enc.sealed))
	}
}

// BenchmarkConfigWrite: the file of a 10,000-tenant edge, written first
// (every account sealed and marshalled) and after a one-account change
// (that account only), as a write streams it.
func BenchmarkConfigWrite(b *testing.B) {
	snap := configfixture.Fleet(10_000)
	b.Run("first", func(b *testing.B) {
		for range b.N {
			if _, err := encodeSnapshot(snap, "edge-token"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("after one change", func(b *testing.B) {
		enc, err := newSnapshotEncoder("edge-token")
		if err != nil {
			b.Fatal(err)
		}
		if _, err := enc.encode(snap); err != nil {
			b.Fatal(err)
		}
		next := &configv1.Snapshot{Version: 2, Accounts: slices.Clone(snap.Accounts)}
		b.ResetTimer()
		for i := range b.N {
			next.Accounts[42] = configfixture.Account(fmt.Sprintf("tenant-%05d", 42+i%2))
			if err := enc.encodeTo(io.Discard, next); err != nil {
				b.Fatal(err)
			}
		}
	})
}
