package routing

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	configv1 "pictor/proto/pictor/config/v1"
)

func TestBuildFixture(t *testing.T) {
	tab := mustBuild(t, fixture())
	if tab.Version() != 7 {
		t.Errorf("Version = %d, want 7", tab.Version())
	}
	if !tab.CreatedAt().Equal(time.UnixMilli(1_700_000_000_000)) {
		t.Errorf("CreatedAt = %v", tab.CreatedAt())
	}

	demo := tab.Account("demo")
	if demo == nil {
		t.Fatal("account demo missing")
	}
	if demo.Suspended || !demo.AVIFEnabled || demo.DefaultQuality != 75 {
		t.Errorf("demo settings = suspended %v avif %v quality %d", demo.Suspended, demo.AVIFEnabled, demo.DefaultQuality)
	}
	if len(demo.Keys) != 2 || string(demo.Keys[0]) != "private_demo_key_1" || string(demo.Keys[1]) != "private_demo_key_2" {
		t.Errorf("demo keys = %q", demo.Keys)
	}
	if got := demo.NamedTransformations; len(got) != 1 || got["thumb"] != "w-100,h-100" {
		t.Errorf("named transformations = %v, want only the enabled one", got)
	}

	def := demo.defaultEndpoint
	if def == nil || def.ID != "ep-default" || def.Account != demo {
		t.Fatalf("default endpoint = %+v", def)
	}
	if len(def.Origins) != 2 || def.Origins[0].ID != "o1" || def.Origins[1].ID != "o2" {
		t.Errorf("default endpoint origins out of order: %v", def.Origins)
	}
	if def.CacheTTL != DefaultCacheTTL || def.StaleGrace != DefaultStaleGrace || def.RestrictUnsignedURLs {
		t.Errorf("default endpoint settings = ttl %v grace %v restricted %v", def.CacheTTL, def.StaleGrace, def.RestrictUnsignedURLs)
	}
	pfx := demo.byPrefix["pfx"]
	if pfx == nil || pfx.CacheTTL != time.Hour || pfx.StaleGrace != time.Minute || !pfx.RestrictUnsignedURLs || !pfx.UseOriginCacheControl {
		t.Errorf("pfx endpoint = %+v", pfx)
	}

	o1, o2 := def.Origins[0], def.Origins[1]
	if o1.BaseURL.String() != "https://www.example.com/base/" || o1.CanonicalBase != "https://www.example.com/base" || !o1.IncludeCanonicalHeader {
		t.Errorf("o1 = %+v (base %v)", o1, o1.BaseURL)
	}
	if o2.BaseURL.Host != "127.0.0.1:8079" || !o2.ForwardHostHeader || o2.CanonicalBase != "https://cdn.example.com" {
		t.Errorf("o2 = %+v (base %v)", o2, o2.BaseURL)
	}

	if tab.Account("tenant-b").DefaultQuality != DefaultQuality {
		t.Errorf("quality 0 should mean the edge default")
	}
	if !tab.Account("frozen_1").Suspended {
		t.Errorf("frozen_1 should be suspended")
	}
	if ep := tab.domain("images.b-example.com"); ep == nil || ep.ID != "b-default" {
		t.Errorf("custom domain not normalised: %v", ep)
	}

	rules := tab.PurgeRules("demo")
	if len(rules) != 2 || rules[0].ID != "p1" || rules[1].ID != "p2" || !rules[0].Prefix || rules[0].Path != "dir/" {
		t.Errorf("demo purge rules = %+v, want p1 then p2", rules)
	}
	if len(tab.PurgeRules("gone")) != 1 {
		t.Errorf("rules of a deleted account should be kept")
	}
}

// TestBuildCopiesSnapshot guards the immutability promise: a Table must not
// see later changes to the message it was built from.
func TestBuildCopiesSnapshot(t *testing.T) {
	snap := fixture()
	tab := mustBuild(t, snap)
	snap.Accounts[0].Keys[0].Secret = "changed"
	snap.Accounts[0].Origins[0].BaseUrl = "https://evil.example/"
	demo := tab.Account("demo")
	if string(demo.Keys[0]) != "private_demo_key_1" || demo.defaultEndpoint.Origins[0].BaseURL.Host != "www.example.com" {
		t.Error("table changed with its source snapshot")
	}
}

func TestBuildValidation(t *testing.T) {
	acct := func(s *configv1.Snapshot, id string) *configv1.Account {
		for _, a := range s.Accounts {
			if a.Id == id {
				return a
			}
		}
		panic("no account " + id)
	}
	demo := func(s *configv1.Snapshot) *configv1.Account { return acct(s, "demo") }
	origin := func(s *configv1.Snapshot, i int) *configv1.Origin { return demo(s).Origins[i] }
	endpoint := func(s *configv1.Snapshot, i int) *configv1.Endpoint { return demo(s).Endpoints[i] }

	tests := []struct {
		name   string
		mutate func(s *configv1.Snapshot)
		want   string // substring of the error; "" means valid
	}{
		{"fixture is valid", func(*configv1.Snapshot) {}, ""},
		{"empty snapshot is valid", func(s *configv1.Snapshot) { s.Accounts, s.Purges = nil, nil }, ""},
		{"upper-case account id", func(s *configv1.Snapshot) { demo(s).Id = "Demo" }, `id "Demo": must be 2 to 40`},
		{"one-character account id", func(s *configv1.Snapshot) { demo(s).Id = "d" }, "must be 2 to 40 characters"},
		{"41-character account id", func(s *configv1.Snapshot) { demo(s).Id = strings.Repeat("a", 41) }, "must be 2 to 40 characters"},
		{"40-character account id", func(s *configv1.Snapshot) { demo(s).Id = strings.Repeat("a", 40) }, ""},
		{"account id starting with dash", func(s *configv1.Snapshot) { demo(s).Id = "-demo" }, "\"-demo\": must be 2 to 40"},
		{"account id starting with underscore", func(s *configv1.Snapshot) { demo(s).Id = "_demo" }, "\"_demo\": must be 2 to 40"},
		{"account id with slash", func(s *configv1.Snapshot) { demo(s).Id = "de/mo" }, "\"de/mo\": must be 2 to 40"},
		{"reserved admin", func(s *configv1.Snapshot) { demo(s).Id = "admin" }, `"admin": is reserved`},
		{"reserved healthz", func(s *configv1.Snapshot) { demo(s).Id = "healthz" }, "is reserved"},
		{"reserved v1", func(s *configv1.Snapshot) { demo(s).Id = "v1" }, "is reserved"},
		{"duplicate account", func(s *configv1.Snapshot) { acct(s, "tenant-b").Id = "demo" }, `account "demo": duplicate account id`},
		{"unknown status", func(s *configv1.Snapshot) { demo(s).Status = "deleted" }, `unknown status "deleted"`},
		{"missing status", func(s *configv1.Snapshot) { demo(s).Status = "" }, `unknown status ""`},
		{"quality over 100", func(s *configv1.Snapshot) { demo(s).DefaultQuality = 101 }, "default_quality 101"},
		{"empty key secret", func(s *configv1.Snapshot) { demo(s).Keys[1].Secret = "" }, `key "k2": empty secret`},
		{"duplicate key id", func(s *configv1.Snapshot) { demo(s).Keys[1].Id = "k1" }, `key "k1": duplicate id`},
		{"empty key id", func(s *configv1.Snapshot) { demo(s).Keys[0].Id = "" }, "keys[0]: empty id"},
		{"duplicate enabled named transformation", func(s *configv1.Snapshot) {
			demo(s).NamedTransformations[1].Name, demo(s).NamedTransformations[1].Enabled = "thumb", true
		}, `named transformation "thumb": duplicate`},
		{"disabled duplicate named transformation", func(s *configv1.Snapshot) { demo(s).NamedTransformations[1].Name = "thumb" }, ""},
		{"empty origin id", func(s *configv1.Snapshot) { origin(s, 0).Id = "" }, "origins[0]: empty id"},
		{"duplicate origin id", func(s *configv1.Snapshot) { origin(s, 1).Id = "o1" }, `origin "o1": duplicate id`},
		{"unknown origin type", func(s *configv1.Snapshot) { origin(s, 0).Type = "GCS" }, `unsupported type "GCS"`},
		{"Azure container", func(s *configv1.Snapshot) {
			o := origin(s, 0)
			o.Type, o.BaseUrl, o.AccountName, o.Container, o.Prefix, o.SasToken = "AZURE_BLOB", "", "acct1", "images", "site/", "?sv=2024-08-04&sig=abc"
		}, ""},
		{"Azure without a signature", func(s *configv1.Snapshot) {
			o := origin(s, 0)
			o.Type, o.BaseUrl, o.AccountName, o.Container, o.SasToken = "AZURE_BLOB", "", "acct1", "images", "sv=2024-08-04"
		}, "sas_token: must include the sv and sig"},
		{"Azure container with capitals", func(s *configv1.Snapshot) {
			o := origin(s, 0)
			o.Type, o.BaseUrl, o.AccountName, o.Container, o.SasToken = "AZURE_BLOB", "", "acct1", "Images", "sig=x"
		}, `container "Images"`},
		{"a container on a web server", func(s *configv1.Snapshot) { origin(s, 0).Container = "images" }, "are for AZURE_BLOB origins"},
		{"S3 bucket", func(s *configv1.Snapshot) {
			o := origin(s, 0)
			o.Type, o.BaseUrl, o.Bucket, o.Prefix, o.AccessKey, o.SecretKey = "S3", "", "photos", "shop/", "AKID", "secret"
		}, ""},
		{"S3-compatible bucket", func(s *configv1.Snapshot) {
			o := origin(s, 0)
			o.Type, o.BaseUrl, o.Bucket, o.AccessKey, o.SecretKey = "S3_COMPATIBLE", "", "photos", "AKID", "secret"
			o.Endpoint, o.S3ForcePathStyle = "http://127.0.0.1:9000", true
		}, ""},
		{"S3 without a secret", func(s *configv1.Snapshot) {
			o := origin(s, 0)
			o.Type, o.BaseUrl, o.Bucket, o.AccessKey = "S3", "", "photos", "AKID"
		}, "needs access_key and secret_key"},
		{"S3 with an endpoint", func(s *configv1.Snapshot) {
			o := origin(s, 0)
			o.Type, o.BaseUrl, o.Bucket, o.AccessKey, o.SecretKey, o.Endpoint = "S3", "", "photos", "AKID", "s", "http://x.example"
		}, "endpoint and s3_force_path_style are for S3_COMPATIBLE"},
		{"S3-compatible with a bad endpoint", func(s *configv1.Snapshot) {
			o := origin(s, 0)
			o.Type, o.BaseUrl, o.Bucket, o.AccessKey, o.SecretKey, o.Endpoint = "S3_COMPATIBLE", "", "photos", "AKID", "s", "ftp://x.example"
		}, "must use http or https"},
		{"S3 climbing prefix", func(s *configv1.Snapshot) {
			o := origin(s, 0)
			o.Type, o.BaseUrl, o.Bucket, o.Prefix, o.AccessKey, o.SecretKey = "S3", "", "photos", "a/../b", "AKID", "s"
		}, "'..' segments"},
		{"a bucket on a web server", func(s *configv1.Snapshot) { origin(s, 0).Bucket = "photos" }, "are for S3 origins"},
		{"web proxy", func(s *configv1.Snapshot) {
			o := origin(s, 0)
			o.Type, o.BaseUrl, o.AllowedHosts = "WEB_PROXY", "", []string{"images.example.com", "*.cdn.example.net"}
		}, ""},
		{"web proxy with a base url", func(s *configv1.Snapshot) { origin(s, 0).Type = "WEB_PROXY" }, "a WEB_PROXY origin has no base_url"},
		{"web proxy with an address for a host", func(s *configv1.Snapshot) {
			o := origin(s, 0)
			o.Type, o.BaseUrl, o.AllowedHosts = "WEB_PROXY", "", []string{"10.0.0.1"}
		}, "allowed_hosts: \"10.0.0.1\" is an IP address"},
		{"allowed hosts on a web server", func(s *configv1.Snapshot) { origin(s, 0).AllowedHosts = []string{"a.example"} }, "allowed_hosts is for WEB_PROXY origins"},
		{"relative base url", func(s *configv1.Snapshot) { origin(s, 0).BaseUrl = "/images" }, "must be an absolute http or https URL"},
		{"ftp base url", func(s *configv1.Snapshot) { origin(s, 0).BaseUrl = "ftp://example.com" }, "must use http or https"},
		{"file base url", func(s *configv1.Snapshot) { origin(s, 0).BaseUrl = "file:///etc/passwd" }, "must use http or https"},
		{"base url without host", func(s *configv1.Snapshot) { origin(s, 0).BaseUrl = "http:///path" }, "must name a host"},
		{"opaque base url", func(s *configv1.Snapshot) { origin(s, 0).BaseUrl = "http:example.com" }, "must be an absolute http or https URL"},
		{"base url with port only", func(s *configv1.Snapshot) { origin(s, 0).BaseUrl = "http://:80/" }, "must name a host"},
		{"base url with userinfo", func(s *configv1.Snapshot) { origin(s, 0).BaseUrl = "https://u:p@example.com/" }, "must not contain credentials"},
		{"base url with user only", func(s *configv1.Snapshot) { origin(s, 0).BaseUrl = "https://u@example.com/" }, "must not contain credentials"},
		{"base url with fragment", func(s *configv1.Snapshot) { origin(s, 0).BaseUrl = "https://example.com/a#x" }, "must not have a fragment"},
		{"base url with empty fragment", func(s *configv1.Snapshot) { origin(s, 0).BaseUrl = "https://example.com/a#" }, "must not have a fragment"},
		{"base url port zero", func(s *configv1.Snapshot) { origin(s, 0).BaseUrl = "https://example.com:0/" }, "has an invalid port"},
		{"base url port too big", func(s *configv1.Snapshot) { origin(s, 0).BaseUrl = "https://example.com:70000/" }, "has an invalid port"},
		{"base url any valid port", func(s *configv1.Snapshot) { origin(s, 0).BaseUrl = "HTTPS://example.com:65535" }, ""},
		{"base url with control character", func(s *configv1.Snapshot) { origin(s, 0).BaseUrl = "https://example.com/\r\nX: y" }, "must not contain spaces, control characters"},
		{"empty base url", func(s *configv1.Snapshot) { origin(s, 0).BaseUrl = "" }, `base_url "": is required`},
		{"bad canonical base", func(s *configv1.Snapshot) { origin(s, 0).BaseUrlForCanonicalHeader = "javascript:alert(1)" }, "base_url_for_canonical_header"},
		{"empty endpoint id", func(s *configv1.Snapshot) { endpoint(s, 1).Id = "" }, "endpoints[1]: empty id"},
		{"duplicate endpoint id", func(s *configv1.Snapshot) { endpoint(s, 1).Id = "ep-default" }, `endpoint "ep-default": duplicate id`},
		{"endpoint origin missing", func(s *configv1.Snapshot) { endpoint(s, 0).OriginIds = []string{"o1", "nope"} }, `origin "nope" not found in the account`},
		{"endpoint origin of another account", func(s *configv1.Snapshot) { endpoint(s, 0).OriginIds = []string{"ob"} }, `origin "ob" not found in the account`},
		{"endpoint origin listed twice", func(s *configv1.Snapshot) { endpoint(s, 0).OriginIds = []string{"o1", "o1"} }, `origin "o1" listed twice`},
		{"endpoint with no origins", func(s *configv1.Snapshot) { endpoint(s, 0).OriginIds = nil }, ""},
		{"prefix with slash", func(s *configv1.Snapshot) { endpoint(s, 1).UrlPrefix = "a/b" }, `url_prefix "a/b": must be 1 to 100`},
		{"prefix with underscore", func(s *configv1.Snapshot) { endpoint(s, 1).UrlPrefix = "a_b" }, `url_prefix "a_b"`},
		{"prefix looking like a transformation", func(s *configv1.Snapshot) { endpoint(s, 1).UrlPrefix = "tr:w-1" }, `url_prefix "tr:w-1"`},
		{"duplicate prefix", func(s *configv1.Snapshot) { endpoint(s, 2).UrlPrefix = "pfx" }, `url_prefix "pfx" already used by endpoint "ep-pfx"`},
		{"prefixes differing in case", func(s *configv1.Snapshot) { endpoint(s, 2).UrlPrefix = "PFX" }, ""},
		{"no default endpoint", func(s *configv1.Snapshot) { endpoint(s, 0).UrlPrefix = "main" }, `account "demo": no default endpoint`},
		{"two default endpoints", func(s *configv1.Snapshot) { endpoint(s, 1).UrlPrefix = "" }, `second default endpoint (url_prefix ""), first is "ep-default"`},
		{"account without endpoints", func(s *configv1.Snapshot) { demo(s).Endpoints = nil }, "no default endpoint"},
		{"negative ttl", func(s *configv1.Snapshot) { endpoint(s, 0).CacheTtlSeconds = -1 }, "cache_ttl_seconds -1 out of range"},
		{"huge grace", func(s *configv1.Snapshot) { endpoint(s, 0).StaleGraceSeconds = 1 << 40 }, "stale_grace_seconds"},
		{"domain across accounts", func(s *configv1.Snapshot) { endpoint(s, 1).CustomDomains = []string{"images.b-example.com"} },
			`account "tenant-b": endpoint "b-default": custom domain "images.b-example.com" already bound to account "demo" endpoint "ep-pfx"`},
		{"domain differing only in case and dot", func(s *configv1.Snapshot) { endpoint(s, 1).CustomDomains = []string{"MEDIA.b-example.COM."} },
			`endpoint "b-media": custom domain "media.b-example.com" already bound to account "demo" endpoint "ep-pfx"`},
		{"domain twice in one account", func(s *configv1.Snapshot) {
			acct(s, "tenant-b").Endpoints[1].CustomDomains = []string{"images.b-example.com"}
		}, "already bound"},
		{"domain ipv4 literal", func(s *configv1.Snapshot) { endpoint(s, 1).CustomDomains = []string{"127.0.0.1"} }, "is an IP address, not a domain"},
		{"domain ipv6 literal", func(s *configv1.Snapshot) { endpoint(s, 1).CustomDomains = []string{"[::1]"} }, "must be a fully qualified domain name"},
		{"domain single label", func(s *configv1.Snapshot) { endpoint(s, 1).CustomDomains = []string{"localhost"} }, "must be a fully qualified domain name"},
		{"domain with port", func(s *configv1.Snapshot) { endpoint(s, 1).CustomDomains = []string{"a.example.com:443"} }, "is not a valid domain name"},
		{"domain wildcard", func(s *configv1.Snapshot) { endpoint(s, 1).CustomDomains = []string{"*.example.com"} }, "is not a valid domain name"},
		{"domain empty label", func(s *configv1.Snapshot) { endpoint(s, 1).CustomDomains = []string{"a..example.com"} }, "is not a valid domain name"},
		{"domain label with leading dash", func(s *configv1.Snapshot) { endpoint(s, 1).CustomDomains = []string{"-a.example.com"} }, "is not a valid domain name"},
		{"domain empty", func(s *configv1.Snapshot) { endpoint(s, 1).CustomDomains = []string{""} }, "is not a valid domain name"},
		{"domain punycode", func(s *configv1.Snapshot) { endpoint(s, 1).CustomDomains = []string{"xn--bcher-kva.example"} }, ""},
		{"purge without account", func(s *configv1.Snapshot) { s.Purges[0].AccountId = "" }, `purges[0] (id "p2"): empty account_id`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			snap := fixture()
			tc.mutate(snap)
			tab, err := Build(snap)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Build: %v", err)
				}
				if tab == nil || tab.Version() != snap.Version {
					t.Fatalf("Build returned table %v", tab)
				}
				return
			}
			if err == nil {
				t.Fatalf("Build succeeded, want error containing %q", tc.want)
			}
			if tab != nil {
				t.Errorf("Build returned a table together with an error")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %q\nwant it to contain %q", err, tc.want)
			}
			var verr *ValidationError
			if !errors.As(err, &verr) || verr.Version != snap.Version {
				t.Errorf("error is not a *ValidationError for v%d: %#v", snap.Version, err)
			}
			if !strings.HasPrefix(err.Error(), "invalid snapshot v7: ") {
				t.Errorf("error %q does not name the version", err)
			}
		})
	}
}

func TestBuildNil(t *testing.T) {
	if _, err := Build(nil); err == nil {
		t.Fatal("Build(nil) succeeded")
	}
}

// TestBuildReportsManyProblems checks that one NACK names every fault (so
// an operator fixes them in one go) but stays bounded in size.
func TestBuildReportsManyProblems(t *testing.T) {
	snap := fixture()
	for i := range maxProblems + 5 {
		snap.Accounts = append(snap.Accounts, &configv1.Account{Id: fmt.Sprintf("BAD%d", i)})
	}
	demo := snap.Accounts[0]
	demo.Status = "weird"
	_, err := Build(snap)
	var verr *ValidationError
	if !errors.As(err, &verr) {
		t.Fatalf("err = %v, want *ValidationError", err)
	}
	if len(verr.Problems) != maxProblems || verr.Omitted != 6 {
		t.Errorf("problems = %d listed + %d omitted, want %d + 6", len(verr.Problems), verr.Omitted, maxProblems)
	}
	if !strings.Contains(err.Error(), `unknown status "weird"`) || !strings.HasSuffix(err.Error(), "and 6 more") {
		t.Errorf("error = %q", err)
	}
}

// TestBuildNoCascade: an invalid origin is reported once, not again as
// "not found" by every endpoint that uses it.
func TestBuildNoCascade(t *testing.T) {
	snap := fixture()
	snap.Accounts[0].Origins[0].BaseUrl = "ftp://example.com"
	_, err := Build(snap)
	var verr *ValidationError
	if !errors.As(err, &verr) || len(verr.Problems) != 1 {
		t.Fatalf("err = %v, want exactly one problem", err)
	}
}
