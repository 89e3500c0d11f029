package snapshot

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	configv1 "pictor/proto/pictor/config/v1"
	"pictor/services/controlplane/internal/auth"
	"pictor/services/controlplane/internal/postgres"
	"pictor/services/controlplane/internal/tenant"
	"pictor/services/internal/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

type staticSource tenant.ConfigState

func (s staticSource) LoadConfig(context.Context) (tenant.ConfigState, error) {
	return tenant.ConfigState(s), nil
}

// LoadConfigSince is not what these tests use (TestBuildFrom reads a real
// database).
func (s staticSource) LoadConfigSince(context.Context, uint64) (tenant.ConfigState, error) {
	return tenant.ConfigState{}, errors.New("a static source has no history")
}

func keyring(t *testing.T) *auth.Keyring {
	kr, err := auth.NewKeyring(bytes.Repeat([]byte{1}, auth.MasterKeyLen))
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

// TestBuildMapsEveryField checks the conversion field by field.
func TestBuildMapsEveryField(t *testing.T) {
	kr := keyring(t)
	created := time.UnixMilli(1_700_000_000_123)
	st := tenant.ConfigState{
		Version: 42,
		Accounts: []tenant.AccountConfig{{
			Account: tenant.Account{ID: "acme", Status: "suspended", AVIFEnabled: true, DefaultQuality: 75},
			Keys: []tenant.SealedKey{
				{ID: "k1", Ciphertext: kr.Seal("k1", "private_one")},
				{ID: "k2", Ciphertext: []byte("not sealed by us")},
				{ID: "k3", Ciphertext: kr.Seal("k3", "private_three")},
			},
			Origins: []tenant.Origin{{
				ID: "o1", Type: tenant.OriginWebFolder, Name: "Web", BaseURL: "https://www.example.com/img",
				ForwardHostHeaderToOrigin: true, IncludeCanonicalHeader: true, BaseURLForCanonicalHeader: "https://c.example.com",
			}, {
				ID: "o2", Type: tenant.OriginWebProxy, Name: "Proxy", IncludeCanonicalHeader: true,
				BaseURLForCanonicalHeader: "https://p.example.com", AllowedHosts: []string{"images.example.com", "*.cdn.example.com"},
			}, {
				ID: "o3", Type: tenant.OriginWebProxy, Name: "Open proxy", AllowedHosts: []string{},
			}, {
				// A list left on a row turned into a WEB_FOLDER stays home.
				ID: "o4", Type: tenant.OriginWebFolder, Name: "Stale", BaseURL: "https://s.example.com", AllowedHosts: []string{"old.example.com"},
			}, {
				// Endpoint fields left on an S3 origin stay home.
				ID: "o5", Type: tenant.OriginS3, Name: "Bucket", Bucket: "acme-images", Prefix: "originals/2024",
				AccessKey: "AKIAEXAMPLE", SecretKeyCiphertext: kr.SealOriginSecret("o5", "s3-secret"),
				Endpoint: "https://stale.example.com", S3ForcePathStyle: true,
			}, {
				ID: "o6", Type: tenant.OriginS3Compatible, Name: "MinIO", Bucket: "media", AccessKey: "minio",
				SecretKeyCiphertext: kr.SealOriginSecret("o6", "minio-secret"), Endpoint: "https://s3.example.com", S3ForcePathStyle: true,
				IncludeCanonicalHeader: true, BaseURLForCanonicalHeader: "https://www.example.com",
			}, {
				// Its secret was sealed for another origin: it does not open.
				ID: "o7", Type: tenant.OriginS3, Name: "Broken", Bucket: "broken", AccessKey: "a",
				SecretKeyCiphertext: kr.SealOriginSecret("o5", "s3-secret"),
			}, {
				// S3 fields left on an AZURE_BLOB origin stay home.
				ID: "o8", Type: tenant.OriginAzureBlob, Name: "Azure", Container: "images", AccountName: "acmestore",
				Prefix: "originals", SecretKeyCiphertext: kr.SealOriginSecret("o8", "sv=2022-11-02&sig=abc%3D"),
				Bucket: "stale", AccessKey: "stale", Endpoint: "https://stale.example.com",
			}},
			Endpoints: []tenant.URLEndpoint{{
				ID: "e1", URLPrefix: "", OriginIDs: []string{"o1", "o2"}, CustomDomains: []string{"img.example.com"},
				RestrictUnsignedURLs: true, CacheTTLSeconds: 60, StaleGraceSeconds: 120, UseOriginCacheControl: true,
			}, {
				ID: "e2", URLPrefix: "s3", OriginIDs: []string{"o7", "o5", "o6", "o1"}, CustomDomains: []string{},
			}},
			NamedTransformations: []tenant.NamedTransformation{{ID: "n1", Name: "thumb", Transformation: "w-100", Enabled: true}},
		}},
		Purges: []tenant.PurgeRule{{ID: "p1", AccountID: "acme", EndpointID: "e1", Path: "a/", Prefix: true, Version: 41, CreatedAt: created}},
	}
	before := time.Now().UnixMilli()
	got, err := NewBuilder(staticSource(st), kr, slog.New(slog.DiscardHandler)).Build(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got.CreatedUnixMs < before {
		t.Fatalf("created_unix_ms %d is before the build", got.CreatedUnixMs)
	}
	got.CreatedUnixMs = 0
	want := &configv1.Snapshot{
		Version: 42,
		Accounts: []*configv1.Account{{
			Id: "acme", Status: "suspended", AvifEnabled: true, DefaultQuality: 75,
			// k2 does not open: left out, the others kept.
			Keys: []*configv1.SigningKey{{Id: "k1", Secret: "private_one"}, {Id: "k3", Secret: "private_three"}},
			Origins: []*configv1.Origin{{
				Id: "o1", Type: "WEB_FOLDER", Name: "Web", BaseUrl: "https://www.example.com/img",
				ForwardHostHeaderToOrigin: true, IncludeCanonicalHeader: true, BaseUrlForCanonicalHeader: "https://c.example.com",
			}, {
				Id: "o2", Type: "WEB_PROXY", Name: "Proxy", IncludeCanonicalHeader: true,
				BaseUrlForCanonicalHeader: "https://p.example.com", AllowedHosts: []string{"images.example.com", "*.cdn.example.com"},
			}, {
				Id: "o3", Type: "WEB_PROXY", Name: "Open proxy",
			}, {
				Id: "o4", Type: "WEB_FOLDER", Name: "Stale", BaseUrl: "https://s.example.com",
			}, {
				Id: "o5", Type: "S3", Name: "Bucket", Bucket: "acme-images", Prefix: "originals/2024",
				AccessKey: "AKIAEXAMPLE", SecretKey: "s3-secret",
			}, {
				Id: "o6", Type: "S3_COMPATIBLE", Name: "MinIO", Bucket: "media", AccessKey: "minio", SecretKey: "minio-secret",
				Endpoint: "https://s3.example.com", S3ForcePathStyle: true,
				IncludeCanonicalHeader: true, BaseUrlForCanonicalHeader: "https://www.example.com",
			}, {
				Id: "o8", Type: "AZURE_BLOB", Name: "Azure", Container: "images", AccountName: "acmestore",
				Prefix: "originals", SasToken: "sv=2022-11-02&sig=abc%3D",
			}},
			// o7's secret does not open: it is left out, and out of e2.
			Endpoints: []*configv1.Endpoint{{
				Id: "e1", OriginIds: []string{"o1", "o2"}, CustomDomains: []string{"img.example.com"},
				RestrictUnsignedUrls: true, CacheTtlSeconds: 60, StaleGraceSeconds: 120, UseOriginCacheControl: true,
			}, {
				Id: "e2", UrlPrefix: "s3", OriginIds: []string{"o5", "o6", "o1"}, CustomDomains: []string{},
			}},
			NamedTransformations: []*configv1.NamedTransformation{{Name: "thumb", Transformation: "w-100", Enabled: true}},
		}},
		Purges: []*configv1.PurgeRule{{Id: "p1", AccountId: "acme", EndpointId: "e1", Path: "a/", Prefix: true, CreatedUnixMs: created.UnixMilli(), Version: 41}},
	}
	if !proto.Equal(got, want) {
		t.Fatalf("snapshot\n got %v\nwant %v", got, want)
	}
	// The source's lists are not edited in place.
	if ids := st.Accounts[0].Endpoints[1].OriginIDs; len(ids) != 4 || ids[0] != "o7" {
		t.Fatalf("source endpoint origins changed to %v", ids)
	}
}

// TestBuildFromPostgres builds from a real database: the key created with
// the account comes out decrypted, the first origin sits on the default
// endpoint, and a WEB_PROXY origin arrives with its type and hosts.
func TestBuildFromPostgres(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	log := slog.New(slog.DiscardHandler)
	db, err := postgres.Open(ctx, pgtest.NewDatabase(t), log)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	kr := keyring(t)
	key := kr.NewKey()
	_, ep, err := db.CreateAccount(ctx, tenant.Caller{Actor: "admin"}, tenant.NewAccount{
		ID: "acme", Name: "Acme", OwnerEmail: "o@acme.example", Key: key.Stored,
	})
	if err != nil {
		t.Fatal(err)
	}
	o, err := db.CreateOrigin(ctx, tenant.Caller{AccountID: "acme", Actor: "test"},
		tenant.Origin{Type: tenant.OriginWebFolder, Name: "Web", BaseURL: "http://127.0.0.1:8079"})
	if err != nil {
		t.Fatal(err)
	}
	proxy, err := db.CreateOrigin(ctx, tenant.Caller{AccountID: "acme", Actor: "test"},
		tenant.Origin{Type: tenant.OriginWebProxy, Name: "Proxy", AllowedHosts: []string{"*.example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	bucket := tenant.Origin{ID: tenant.NewID(), Type: tenant.OriginS3Compatible, Name: "Bucket", Bucket: "media",
		Prefix: "img", AccessKey: "minio", Endpoint: "https://s3.example.com", S3ForcePathStyle: true}
	bucket.SecretKeyCiphertext = kr.SealOriginSecret(bucket.ID, "minio-secret")
	bucket, err = db.CreateOrigin(ctx, tenant.Caller{AccountID: "acme", Actor: "test"}, bucket)
	if err != nil {
		t.Fatal(err)
	}
	snap, err := NewBuilder(db, kr, log).Build(ctx)
	if err != nil {
		t.Fatal(err)
	}
	v, _ := db.CurrentVersion(ctx)
	if snap.Version != v || len(snap.Accounts) != 1 {
		t.Fatalf("snapshot version %d with %d accounts, want version %d with 1", snap.Version, len(snap.Accounts), v)
	}
	a := snap.Accounts[0]
	if len(a.Keys) != 1 || a.Keys[0].Secret != key.Secret || a.Keys[0].Id != key.Stored.ID {
		t.Fatalf("keys %v, want the account's key in the clear", a.Keys)
	}
	wantOrigins := []*configv1.Origin{
		{Id: o.ID, Type: "WEB_FOLDER", Name: "Web", BaseUrl: o.BaseURL},
		{Id: proxy.ID, Type: "WEB_PROXY", Name: "Proxy", AllowedHosts: []string{"*.example.com"}},
		{Id: bucket.ID, Type: "S3_COMPATIBLE", Name: "Bucket", Bucket: "media", Prefix: "img", AccessKey: "minio",
			SecretKey: "minio-secret", Endpoint: "https://s3.example.com", S3ForcePathStyle: true},
	}
	if len(a.Origins) != len(wantOrigins) {
		t.Fatalf("origins %v, want %v", a.Origins, wantOrigins)
	}
	for i := range wantOrigins {
		if !proto.Equal(a.Origins[i], wantOrigins[i]) {
			t.Fatalf("origin %d: %v, want %v", i, a.Origins[i], wantOrigins[i])
		}
	}
	if len(a.Endpoints) != 1 || a.Endpoints[0].Id != ep.ID || a.Endpoints[0].UrlPrefix != "" ||
		len(a.Endpoints[0].OriginIds) != 1 || a.Endpoints[0].OriginIds[0] != o.ID {
		t.Fatalf("endpoints %v, want the default endpoint with the first origin", a.Endpoints)
	}
}
