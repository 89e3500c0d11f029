package configwatch

import (
	"bufio"
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	configv1 "pictor/proto/pictor/config/v1"
)

// On-disk layout of DataDir/snapshot.bin (integers big-endian):
//
//	magic   8 bytes  "PICTORSN"
//	format  4 bytes  fileFormat
//	salt   32 bytes  HKDF salt for this file
//	length  8 bytes  length of payload
//	payload          protobuf Snapshot, every SigningKey.secret replaced by
//	                 base64(nonce || AES-256-GCM ciphertext)
//	sum    32 bytes  SHA-256 of everything above
//
// The checksum catches torn writes and bit rot; GCM authenticates each
// secret, so a file copied off the machine or edited leaks and forges no
// signing key without the edge token.
const (
	snapshotFile = "snapshot.bin"
	fileMagic    = "PICTORSN"
	fileFormat   = uint32(1)
	saltLen      = 32
	headerLen    = len(fileMagic) + 4 + saltLen + 8
	sumLen       = sha256.Size
	hkdfInfo     = "pictor edge snapshot signing-key encryption v1"
	aadLabel     = "pictor/snapshot-key\x00"
)

var (
	// ErrCorruptSnapshot marks a persisted snapshot that is truncated,
	// fails its checksum or does not parse.
	ErrCorruptSnapshot = errors.New("persisted snapshot is corrupt")
	// ErrSnapshotKey marks a persisted snapshot whose signing keys cannot be
	// decrypted, typically because the edge token changed since it was
	// written.
	ErrSnapshotKey = errors.New("cannot decrypt signing keys in persisted snapshot (edge token changed?)")
)

// LoadPersisted reads the last snapshot this edge applied from
// DataDir/snapshot.bin. A missing file (or no DataDir) yields an error
// matching os.ErrNotExist; a damaged file or one written under another
// token yields ErrCorruptSnapshot or ErrSnapshotKey, and the edge should
// stay not ready rather than serve from it.
func (c *Client) LoadPersisted() (*configv1.Snapshot, error) {
	if c.cfg.DataDir == "" {
		return nil, fmt.Errorf("load persisted snapshot: no data directory configured: %w", os.ErrNotExist)
	}
	path := filepath.Join(c.cfg.DataDir, snapshotFile)
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load persisted snapshot: %w", err)
	}
	snap, err := decodeSnapshot(data, c.cfg.Token)
	if err != nil {
		return nil, fmt.Errorf("load persisted snapshot %s: %w", path, err)
	}
	return snap, nil
}

// effective is the config the edge serves after applying snap with some
// accounts rejected: snap, with each rejected account as the config served
// before (c.state) has it, or left out. What is persisted, and what the
// next delta applies to, is thus what the edge serves, not what it refused.
func (c *Client) effective(snap *configv1.Snapshot, rejected []*configv1.Rejection) *configv1.Snapshot {
	if len(rejected) == 0 {
		return snap
	}
	kept := map[string]*configv1.Account{}
	if c.state != nil {
		for _, a := range snap.GetAccounts() {
			if prev := c.state.Account(a.GetId()); prev != nil {
				kept[a.GetId()] = prev
			}
		}
	}
	refused := make(map[string]bool, len(rejected))
	for _, r := range rejected {
		refused[r.GetResource()] = true
	}
	out := &configv1.Snapshot{Version: snap.GetVersion(), CreatedUnixMs: snap.GetCreatedUnixMs(), Purges: snap.GetPurges()}
	for i, a := range snap.GetAccounts() {
		switch {
		case refused[fmt.Sprintf("accounts[%d]", i)]:
		case !refused["account/"+a.GetId()]:
			out.Accounts = append(out.Accounts, a)
		case kept[a.GetId()] != nil:
			out.Accounts = append(out.Accounts, kept[a.GetId()])
		}
	}
	return out
}

// refusedIn tells, for a delta's changed accounts (by index and id),
// whether rejected refused them.
func refusedIn(rejected []*configv1.Rejection) func(i int, id string) bool {
	if len(rejected) == 0 {
		return nil
	}
	refused := make(map[string]bool, len(rejected))
	for _, r := range rejected {
		refused[r.GetResource()] = true
	}
	return func(i int, id string) bool {
		return refused["account/"+id] || refused[fmt.Sprintf("accounts[%d]", i)]
	}
}

// persist writes snap as the edge's last good config. It is a no-op when
// no DataDir is configured.
func (c *Client) persist(snap *configv1.Snapshot) error {
	if c.cfg.DataDir == "" {
		return nil
	}
	if c.encoder == nil {
		enc, err := newSnapshotEncoder(c.cfg.Token)
		if err != nil {
			return fmt.Errorf("persist snapshot v%d: %w", snap.GetVersion(), err)
		}
		c.encoder = enc
	}
	if err := writeFileAtomic(c.cfg.DataDir, snapshotFile, func(w io.Writer) error { return c.encoder.encodeTo(w, snap) }); err != nil {
		return fmt.Errorf("persist snapshot v%d: %w", snap.GetVersion(), err)
	}
	return nil
}

func encodeSnapshot(snap *configv1.Snapshot, token string) ([]byte, error) {
	enc, err := newSnapshotEncoder(token)
	if err != nil {
		return nil, err
	}
	return enc.encode(snap)
}

// snapshotEncoder writes snapshots for one edge. Accounts are immutable
// once received and shared from one config to the next, so each one's
// sealed encoding is kept, keyed by the message itself, and only the
// accounts a config brought are sealed and marshalled again: a write
// after a purge or a one-account change costs a copy of the file's bytes,
// not the proto.Clone, sealing and Marshal of ten thousand tenants that
// took a whole core for most of a second. The salt, and so the file key,
// is the encoder's for its lifetime; every secret still has its own
// random nonce.
type snapshotEncoder struct {
	salt   []byte
	aead   cipher.AEAD
	sealed map[*configv1.Account][]byte
}

func newSnapshotEncoder(token string) (*snapshotEncoder, error) {
	if token == "" {
		return nil, errors.New("no edge token to encrypt signing keys with")
	}
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return nil, fmt.Errorf("salt: %w", err)
	}
	aead, err := fileCipher(token, salt)
	if err != nil {
		return nil, err
	}
	return &snapshotEncoder{salt: salt, aead: aead, sealed: map[*configv1.Account][]byte{}}, nil
}

// encode is the file's bytes for snap.
func (e *snapshotEncoder) encode(snap *configv1.Snapshot) ([]byte, error) {
	var buf bytes.Buffer
	if err := e.encodeTo(&buf, snap); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// encodeTo writes the file for snap to w, streamed: a write allocates
// only what the accounts it seals take, not a buffer of the whole file.
// The payload is snap's fields but the accounts, followed by each account
// as a field 3 record: protobuf reads a message's fields in any order, so
// it parses as the Snapshot.
func (e *snapshotEncoder) encodeTo(w io.Writer, snap *configv1.Snapshot) error {
	head, err := proto.Marshal(&configv1.Snapshot{Version: snap.GetVersion(), CreatedUnixMs: snap.GetCreatedUnixMs(), Purges: snap.GetPurges()})
	if err != nil {
		return fmt.Errorf("marshal: %w", err)
	}
	kept := make(map[*configv1.Account][]byte, len(snap.GetAccounts()))
	size := len(head)
	for _, acc := range snap.GetAccounts() {
		b, ok := e.sealed[acc]
		if !ok {
			if b, err = e.sealAccount(acc); err != nil {
				return err
			}
		}
		kept[acc] = b
		size += protowire.SizeTag(accountsField) + protowire.SizeBytes(len(b))
	}
	// Only this config's accounts stay cached: the replaced ones go.
	e.sealed = kept

	sum := sha256.New()
	out := io.MultiWriter(w, sum)
	var rec []byte
	rec = append(rec, fileMagic...)
	rec = binary.BigEndian.AppendUint32(rec, fileFormat)
	rec = append(rec, e.salt...)
	rec = binary.BigEndian.AppendUint64(rec, uint64(size))
	rec = append(rec, head...)
	if _, err := out.Write(rec); err != nil {
		return err
	}
	for _, acc := range snap.GetAccounts() {
		b := kept[acc]
		rec = protowire.AppendTag(rec[:0], accountsField, protowire.BytesType)
		rec = protowire.AppendVarint(rec, uint64(len(b)))
		if _, err := out.Write(rec); err != nil {
			return err
		}
		if _, err := out.Write(b); err != nil {
			return err
		}
	}
	_, err = w.Write(sum.Sum(nil))
	return err
}

// accountsField is Snapshot.accounts' field number.
const accountsField = 3

// sealAccount marshals a copy of acc with every secret sealed.
func (e *snapshotEncoder) sealAccount(acc *configv1.Account) ([]byte, error) {
	// Seal a copy: the caller's account is in use.
	enc := proto.CloneOf(acc)
	for _, k := range enc.GetKeys() {
		if err := e.seal(&k.Secret, keyAAD(enc.GetId(), k.GetId())); err != nil {
			return nil, err
		}
	}
	// An object-storage origin's secret key is as secret as a signing
	// key, so it is sealed the same way (its own AAD: never swappable
	// with a signing key).
	for _, o := range enc.GetOrigins() {
		if o.SecretKey != "" {
			if err := e.seal(&o.SecretKey, originAAD(enc.GetId(), o.GetId())); err != nil {
				return nil, err
			}
		}
		if o.SasToken != "" {
			if err := e.seal(&o.SasToken, originAAD(enc.GetId(), o.GetId()+"\x00sas")); err != nil {
				return nil, err
			}
		}
	}
	b, err := proto.Marshal(enc)
	if err != nil {
		return nil, fmt.Errorf("marshal account %s: %w", acc.GetId(), err)
	}
	return b, nil
}

func (e *snapshotEncoder) seal(secret *string, aad []byte) error {
	nonce := make([]byte, e.aead.NonceSize(), e.aead.NonceSize()+len(*secret)+e.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return fmt.Errorf("nonce: %w", err)
	}
	*secret = base64.RawStdEncoding.EncodeToString(e.aead.Seal(nonce, nonce, []byte(*secret), aad))
	return nil
}

func decodeSnapshot(data []byte, token string) (*configv1.Snapshot, error) {
	if len(data) < headerLen+sumLen {
		return nil, fmt.Errorf("%w: %d bytes is shorter than the header", ErrCorruptSnapshot, len(data))
	}
	if string(data[:len(fileMagic)]) != fileMagic {
		return nil, fmt.Errorf("%w: not a snapshot file (bad magic)", ErrCorruptSnapshot)
	}
	off := len(fileMagic)
	if f := binary.BigEndian.Uint32(data[off:]); f != fileFormat {
		return nil, fmt.Errorf("%w: unknown format %d", ErrCorruptSnapshot, f)
	}
	off += 4
	salt := data[off : off+saltLen]
	off += saltLen
	n := binary.BigEndian.Uint64(data[off:])
	off += 8
	if rest := uint64(len(data) - off - sumLen); n != rest {
		return nil, fmt.Errorf("%w: header says %d payload bytes, file holds %d (truncated?)", ErrCorruptSnapshot, n, rest)
	}
	body, sum := data[:len(data)-sumLen], data[len(data)-sumLen:]
	if want := sha256.Sum256(body); !bytes.Equal(sum, want[:]) {
		return nil, fmt.Errorf("%w: checksum mismatch", ErrCorruptSnapshot)
	}

	snap := new(configv1.Snapshot)
	if err := proto.Unmarshal(data[off:len(data)-sumLen], snap); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorruptSnapshot, err)
	}
	aead, err := fileCipher(token, salt)
	if err != nil {
		return nil, err
	}
	// what names the secret in an error only: ten thousand tenants'
	// secrets are opened on every cold start.
	open := func(secret *string, aad []byte, what func() string) error {
		sealed, err := base64.RawStdEncoding.DecodeString(*secret)
		if err != nil || len(sealed) < aead.NonceSize() {
			return fmt.Errorf("%w: %s: malformed ciphertext", ErrCorruptSnapshot, what())
		}
		plain, err := aead.Open(sealed[aead.NonceSize():aead.NonceSize()], sealed[:aead.NonceSize()], sealed[aead.NonceSize():], aad)
		if err != nil {
			return fmt.Errorf("%w: %s", ErrSnapshotKey, what())
		}
		*secret = string(plain)
		return nil
	}
	for _, acc := range snap.GetAccounts() {
		for _, k := range acc.GetKeys() {
			what := func() string { return fmt.Sprintf("account %q key %q", acc.GetId(), k.GetId()) }
			if err := open(&k.Secret, keyAAD(acc.GetId(), k.GetId()), what); err != nil {
				return nil, err
			}
		}
		for _, o := range acc.GetOrigins() {
			what := func() string { return fmt.Sprintf("account %q origin %q", acc.GetId(), o.GetId()) }
			if o.SecretKey != "" {
				if err := open(&o.SecretKey, originAAD(acc.GetId(), o.GetId()), what); err != nil {
					return nil, err
				}
			}
			if o.SasToken != "" {
				if err := open(&o.SasToken, originAAD(acc.GetId(), o.GetId()+"\x00sas"), what); err != nil {
					return nil, err
				}
			}
		}
	}
	return snap, nil
}

// fileCipher derives the per-file AES-256-GCM key from the edge token; the
// random salt makes every file's key different.
func fileCipher(token string, salt []byte) (cipher.AEAD, error) {
	key, err := hkdf.Key(sha256.New, []byte(token), salt, hkdfInfo, 32)
	if err != nil {
		return nil, fmt.Errorf("derive snapshot key: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("snapshot cipher: %w", err)
	}
	return cipher.NewGCM(block)
}

// keyAAD binds a ciphertext to its account and key id, so a secret cannot
// be moved to another tenant's slot by editing the file.
func keyAAD(accountID, keyID string) []byte {
	return []byte(aadLabel + accountID + "\x00" + keyID)
}

func originAAD(accountID, originID string) []byte {
	return []byte(aadLabel + "origin\x00" + accountID + "\x00" + originID)
}

// writeFileAtomic replaces dir/name so that a crash at any point leaves
// either the old file or the new one, never a mix: write a temp file in
// the same directory, fsync it, rename it over the target, fsync the
// directory so the rename itself is durable.
func writeFileAtomic(dir, name string, write func(io.Writer) error) (err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}
	// A fixed temp name means a crash leaves at most one stray file, which
	// the next write truncates.
	tmp := filepath.Join(dir, name+".tmp")
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("create temp file: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	// OpenFile applies the umask and keeps the mode of an existing file;
	// set it explicitly, since the file carries (encrypted) signing keys.
	if err := f.Chmod(0o600); err != nil {
		return fmt.Errorf("chmod temp file: %w", err)
	}
	bw := bufio.NewWriterSize(f, 256<<10)
	if err := write(bw); err != nil {
		return fmt.Errorf("write temp file: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write temp file: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("fsync temp file: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close temp file: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		return fmt.Errorf("rename into place: %w", err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open data directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync data directory: %w", err)
	}
	return nil
}
