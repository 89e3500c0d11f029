package routing

import (
	"testing"

	configv1 "pictor/proto/pictor/config/v1"
)

// fixture is a valid snapshot covering every routing feature: a default
// endpoint with two ordered origins, URL-endpoints with prefixes, custom
// domains on two endpoints of one tenant, and a suspended tenant.
func fixture() *configv1.Snapshot {
	return &configv1.Snapshot{
		Version:       7,
		CreatedUnixMs: 1_700_000_000_000,
		Accounts: []*configv1.Account{
			{
				Id:             "demo",
				Status:         "active",
				AvifEnabled:    true,
				DefaultQuality: 75,
				Keys: []*configv1.SigningKey{
					{Id: "k1", Secret: "private_demo_key_1"},
					{Id: "k2", Secret: "private_demo_key_2"},
				},
				Origins: []*configv1.Origin{
					{Id: "o1", Type: "WEB_FOLDER", Name: "www", BaseUrl: "https://www.example.com/base/", IncludeCanonicalHeader: true},
					{Id: "o2", Type: "WEB_FOLDER", Name: "backup", BaseUrl: "http://127.0.0.1:8079", ForwardHostHeaderToOrigin: true,
						BaseUrlForCanonicalHeader: "https://cdn.example.com/"},
				},
				Endpoints: []*configv1.Endpoint{
					{Id: "ep-default", OriginIds: []string{"o1", "o2"}},
					{Id: "ep-pfx", UrlPrefix: "pfx", OriginIds: []string{"o2"}, RestrictUnsignedUrls: true,
						CacheTtlSeconds: 3600, StaleGraceSeconds: 60, UseOriginCacheControl: true},
					{Id: "ep-caps", UrlPrefix: "Caps-1", OriginIds: []string{"o1"}},
				},
				NamedTransformations: []*configv1.NamedTransformation{
					{Name: "thumb", Transformation: "w-100,h-100", Enabled: true},
					{Name: "off", Transformation: "w-1", Enabled: false},
				},
			},
			{
				Id:     "tenant-b",
				Status: "active",
				Keys:   []*configv1.SigningKey{{Id: "kb", Secret: "private_b"}},
				Origins: []*configv1.Origin{
					{Id: "ob", BaseUrl: "https://b.example.org:8443/imgs"},
				},
				Endpoints: []*configv1.Endpoint{
					{Id: "b-default", OriginIds: []string{"ob"}, CustomDomains: []string{"Images.B-Example.com."}},
					{Id: "b-media", UrlPrefix: "media", OriginIds: []string{"ob"}, CustomDomains: []string{"media.b-example.com"}},
				},
			},
			{
				Id:     "frozen_1",
				Status: "suspended",
				Endpoints: []*configv1.Endpoint{
					{Id: "f-default", CustomDomains: []string{"frozen.example.net"}},
				},
			},
		},
		Purges: []*configv1.PurgeRule{
			{Id: "p2", AccountId: "demo", EndpointId: "ep-default", Path: "b.jpg", CreatedUnixMs: 2000},
			{Id: "p1", AccountId: "demo", EndpointId: "ep-default", Path: "dir/", Prefix: true, CreatedUnixMs: 1000},
			{Id: "p3", AccountId: "gone", EndpointId: "x", Path: "a.jpg", CreatedUnixMs: 500},
		},
	}
}

func mustBuild(tb testing.TB, snap *configv1.Snapshot) *Table {
	tb.Helper()
	t, err := Build(snap)
	if err != nil {
		tb.Fatalf("Build: %v", err)
	}
	return t
}
