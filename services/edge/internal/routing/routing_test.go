package routing

import (
	"math/rand/v2"
	"sync"
	"testing"

	"pictor/services/internal/errkind"
)

type resolveCase struct {
	name, host, path string
	// On success:
	account, endpoint, rest, base string
	// On failure:
	kind   errkind.Kind
	reason string
}

var resolveCases = []resolveCase{
	{name: "default endpoint", host: "127.0.0.1:8081", path: "/demo/products/shoe.jpg",
		account: "demo", endpoint: "ep-default", rest: "products/shoe.jpg", base: "/demo/"},
	{name: "transformation segment stays in rest", host: "edge", path: "/demo/tr:w-300,h-200/a/b.jpg",
		account: "demo", endpoint: "ep-default", rest: "tr:w-300,h-200/a/b.jpg", base: "/demo/"},
	{name: "url prefix", host: "edge", path: "/demo/pfx/a.jpg",
		account: "demo", endpoint: "ep-pfx", rest: "a.jpg", base: "/demo/pfx/"},
	{name: "prefix beats folder of the same name", host: "edge", path: "/demo/pfx/pfx/tr:w-1/a.jpg",
		account: "demo", endpoint: "ep-pfx", rest: "pfx/tr:w-1/a.jpg", base: "/demo/pfx/"},
	{name: "mixed-case prefix", host: "edge", path: "/demo/Caps-1/a.jpg",
		account: "demo", endpoint: "ep-caps", rest: "a.jpg", base: "/demo/Caps-1/"},
	{name: "prefix match is exact", host: "edge", path: "/demo/PFX/a.jpg",
		account: "demo", endpoint: "ep-default", rest: "PFX/a.jpg", base: "/demo/"},
	{name: "escaped prefix is a folder", host: "edge", path: "/demo/%70fx/a.jpg",
		account: "demo", endpoint: "ep-default", rest: "%70fx/a.jpg", base: "/demo/"},
	{name: "folder that is no prefix", host: "edge", path: "/demo/folder/a.jpg",
		account: "demo", endpoint: "ep-default", rest: "folder/a.jpg", base: "/demo/"},
	{name: "image named like a prefix inside a folder", host: "edge", path: "/demo/x/pfx",
		account: "demo", endpoint: "ep-default", rest: "x/pfx", base: "/demo/"},
	{name: "escaped rest kept as received", host: "edge", path: "/demo/%E0%A4%B9%20x.png",
		account: "demo", endpoint: "ep-default", rest: "%E0%A4%B9%20x.png", base: "/demo/"},
	{name: "empty segment kept verbatim", host: "edge", path: "/demo//a.jpg",
		account: "demo", endpoint: "ep-default", rest: "/a.jpg", base: "/demo/"},
	{name: "other tenant by path", host: "edge", path: "/tenant-b/media/a.jpg",
		account: "tenant-b", endpoint: "b-media", rest: "a.jpg", base: "/tenant-b/media/"},
	{name: "empty host routes by path", host: "", path: "/demo/a.jpg",
		account: "demo", endpoint: "ep-default", rest: "a.jpg", base: "/demo/"},
	{name: "ipv6 host routes by path", host: "[::1]:8081", path: "/demo/a.jpg",
		account: "demo", endpoint: "ep-default", rest: "a.jpg", base: "/demo/"},

	{name: "custom domain", host: "images.b-example.com", path: "/a.jpg",
		account: "tenant-b", endpoint: "b-default", rest: "a.jpg", base: "/"},
	{name: "custom domain case port and trailing dot", host: "IMAGES.B-Example.COM.:443", path: "/tr:w-300/a.jpg",
		account: "tenant-b", endpoint: "b-default", rest: "tr:w-300/a.jpg", base: "/"},
	{name: "custom domain with port", host: "images.b-example.com:8081", path: "/a.jpg",
		account: "tenant-b", endpoint: "b-default", rest: "a.jpg", base: "/"},
	{name: "custom domain with empty port", host: "images.b-example.com:", path: "/a.jpg",
		account: "tenant-b", endpoint: "b-default", rest: "a.jpg", base: "/"},
	{name: "custom domain of a prefixed endpoint", host: "media.b-example.com", path: "/a.jpg",
		account: "tenant-b", endpoint: "b-media", rest: "a.jpg", base: "/"},
	{name: "path naming tenant A on tenant B's domain stays on B", host: "images.b-example.com", path: "/demo/pfx/a.jpg",
		account: "tenant-b", endpoint: "b-default", rest: "demo/pfx/a.jpg", base: "/"},
	{name: "own prefix on a domain is a folder", host: "images.b-example.com", path: "/media/a.jpg",
		account: "tenant-b", endpoint: "b-default", rest: "media/a.jpg", base: "/"},
	{name: "subdomain of a custom domain routes by path", host: "x.images.b-example.com", path: "/demo/a.jpg",
		account: "demo", endpoint: "ep-default", rest: "a.jpg", base: "/demo/"},

	{name: "custom domain root", host: "images.b-example.com", path: "/",
		kind: errkind.NotFound, reason: "image_path_missing"},
	{name: "custom domain empty path", host: "images.b-example.com", path: "",
		kind: errkind.NotFound, reason: "image_path_missing"},
	{name: "suspended custom domain", host: "frozen.example.net", path: "/a.jpg",
		kind: errkind.Forbidden, reason: "account_suspended"},
	{name: "suspended by path", host: "edge", path: "/frozen_1/a.jpg",
		kind: errkind.Forbidden, reason: "account_suspended"},
	{name: "unknown account", host: "edge", path: "/nobody/a.jpg",
		kind: errkind.NotFound, reason: "account_not_found"},
	{name: "account id in another case", host: "edge", path: "/DEMO/a.jpg",
		kind: errkind.NotFound, reason: "account_not_found"},
	{name: "escaped account id", host: "edge", path: "/%64emo/a.jpg",
		kind: errkind.NotFound, reason: "account_not_found"},
	{name: "reserved name", host: "edge", path: "/admin/a.jpg",
		kind: errkind.NotFound, reason: "account_not_found"},
	{name: "health path", host: "edge", path: "/healthz",
		kind: errkind.NotFound, reason: "account_not_found"},
	{name: "root", host: "edge", path: "/",
		kind: errkind.NotFound, reason: "account_not_found"},
	{name: "empty path", host: "edge", path: "",
		kind: errkind.NotFound, reason: "account_not_found"},
	{name: "no leading slash", host: "edge", path: "demo/a.jpg",
		kind: errkind.NotFound, reason: "account_not_found"},
	{name: "empty account segment", host: "edge", path: "//demo/a.jpg",
		kind: errkind.NotFound, reason: "account_not_found"},
	{name: "account alone", host: "edge", path: "/demo",
		kind: errkind.NotFound, reason: "image_path_missing"},
	{name: "account with slash", host: "edge", path: "/demo/",
		kind: errkind.NotFound, reason: "image_path_missing"},
	{name: "prefix alone", host: "edge", path: "/demo/pfx",
		kind: errkind.NotFound, reason: "image_path_missing"},
	{name: "prefix with slash", host: "edge", path: "/demo/pfx/",
		kind: errkind.NotFound, reason: "image_path_missing"},
}

func TestResolve(t *testing.T) {
	tab := mustBuild(t, fixture())
	for _, tc := range resolveCases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := tab.Resolve(tc.host, tc.path)
			if tc.account == "" {
				if err == nil {
					t.Fatalf("Resolve(%q, %q) = %+v, want %v error", tc.host, tc.path, r, tc.kind)
				}
				if k := errkind.KindOf(err); k != tc.kind {
					t.Errorf("kind = %v, want %v (err %v)", k, tc.kind, err)
				}
				if got := errkind.Reason(err); got != tc.reason {
					t.Errorf("reason = %q, want %q", got, tc.reason)
				}
				return
			}
			if err != nil {
				t.Fatalf("Resolve(%q, %q): %v", tc.host, tc.path, err)
			}
			if r.Account.ID != tc.account || r.Endpoint.ID != tc.endpoint || r.Rest != tc.rest || r.BasePath != tc.base {
				t.Errorf("got account %q endpoint %q rest %q base %q\nwant account %q endpoint %q rest %q base %q",
					r.Account.ID, r.Endpoint.ID, r.Rest, r.BasePath, tc.account, tc.endpoint, tc.rest, tc.base)
			}
			if r.Endpoint.Account != r.Account {
				t.Errorf("endpoint belongs to %q, route to %q", r.Endpoint.Account.ID, r.Account.ID)
			}
		})
	}
}

func TestResolveWithoutCustomDomains(t *testing.T) {
	snap := fixture()
	for _, a := range snap.Accounts {
		for _, e := range a.Endpoints {
			e.CustomDomains = nil
		}
	}
	tab := mustBuild(t, snap)
	r, err := tab.Resolve("images.b-example.com", "/demo/a.jpg")
	if err != nil || r.Account.ID != "demo" {
		t.Fatalf("Resolve = %+v, %v; want path routing to demo", r, err)
	}
}

func TestHolder(t *testing.T) {
	var h Holder
	if h.Load() != nil {
		t.Fatal("new Holder is not empty")
	}
	table := func(v uint64) *Table {
		s := fixture()
		s.Version = v
		return mustBuild(t, s)
	}
	v2, v1, v2again, v3 := table(2), table(1), table(2), table(3)
	steps := []struct {
		name    string
		store   *Table
		swapped bool
		current *Table
	}{
		{"first table", v2, true, v2},
		{"older version ignored", v1, false, v2},
		{"same version replaces", v2again, true, v2again},
		{"newer version", v3, true, v3},
		{"nil ignored", nil, false, v3},
	}
	for _, s := range steps {
		if got := h.Store(s.store); got != s.swapped {
			t.Errorf("%s: Store = %v, want %v", s.name, got, s.swapped)
		}
		if h.Load() != s.current {
			t.Errorf("%s: current is v%d", s.name, h.Load().Version())
		}
	}
}

// TestHolderConcurrent races stores of shuffled versions against readers;
// the newest version must win whatever the interleaving.
func TestHolderConcurrent(t *testing.T) {
	const n = 64
	tables := make([]*Table, n)
	base := mustBuild(t, fixture())
	for i := range tables {
		c := *base
		c.version = uint64(i + 1)
		tables[i] = &c
	}
	rand.Shuffle(n, func(i, j int) { tables[i], tables[j] = tables[j], tables[i] })

	var h Holder
	var wg sync.WaitGroup
	for _, tab := range tables {
		wg.Go(func() { h.Store(tab) })
		wg.Go(func() {
			if cur := h.Load(); cur != nil {
				if _, err := cur.Resolve("edge", "/demo/a.jpg"); err != nil {
					t.Errorf("Resolve on v%d: %v", cur.Version(), err)
				}
			}
		})
	}
	wg.Wait()
	if v := h.Load().Version(); v != n {
		t.Errorf("final version = %d, want %d", v, n)
	}
}

func FuzzResolve(f *testing.F) {
	for _, tc := range resolveCases {
		f.Add(tc.host, tc.path)
	}
	tab := mustBuild(f, fixture())
	f.Fuzz(func(t *testing.T, host, path string) {
		r, err := tab.Resolve(host, path)
		if err != nil {
			if errkind.Of(err) == nil {
				t.Fatalf("Resolve(%q, %q) error %v has no kind", host, path, err)
			}
			return
		}
		if r.BasePath+r.Rest != path {
			t.Fatalf("Resolve(%q, %q): base %q + rest %q is not the path", host, path, r.BasePath, r.Rest)
		}
		if r.Rest == "" || r.BasePath == "" || r.BasePath[len(r.BasePath)-1] != '/' {
			t.Fatalf("Resolve(%q, %q): base %q rest %q", host, path, r.BasePath, r.Rest)
		}
		if r.Account == nil || r.Endpoint == nil || r.Endpoint.Account != r.Account || r.Account.Suspended {
			t.Fatalf("Resolve(%q, %q): inconsistent route %+v", host, path, r)
		}
	})
}

func BenchmarkResolve(b *testing.B) {
	tab := mustBuild(b, fixture())
	for _, bc := range []struct{ name, host, path string }{
		{"default", "127.0.0.1:8081", "/demo/tr:w-300,h-200/products/shoe.jpg"},
		{"prefix", "127.0.0.1:8081", "/demo/pfx/products/shoe.jpg"},
		{"custom_domain", "Images.B-Example.com:443", "/tr:w-300/products/shoe.jpg"},
		{"unknown_account", "127.0.0.1:8081", "/wp-admin/setup.php"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, _ = tab.Resolve(bc.host, bc.path)
			}
		})
	}
}
