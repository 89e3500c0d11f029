package configrules

import (
	"net/url"
	"strings"
	"testing"
)

func TestRules(t *testing.T) {
	for _, tc := range []struct {
		name string
		rule func(string) error
		in   string
		want string // "" for valid, else a part of the message
	}{
		{"account id", AccountID, "acme-shop_1", ""},
		{"account id upper case", AccountID, "Acme", "must be 2 to 40"},
		{"account id one character", AccountID, "a", "must be 2 to 40"},
		{"account id leading underscore", AccountID, "_acme", "must be 2 to 40"},
		{"account id reserved", AccountID, "healthz", "is reserved"},
		{"url prefix", URLPrefix, "Product-Images", ""},
		{"url prefix two segments", URLPrefix, "a/b", "must be 1 to 100"},
		{"url prefix too long", URLPrefix, strings.Repeat("a", 101), "must be 1 to 100"},
		{"domain", Domain, "images.example.com", ""},
		{"domain punycode", Domain, "xn--bcher-kva.example", ""},
		{"domain numeric last label", Domain, "a.123", "is an IP address"},
		// The edge once parsed the last label with Atoi, which overflows
		// here and let the name through while the control plane refused it.
		{"domain huge numeric last label", Domain, "a.99999999999999999999", "is an IP address"},
		{"domain single label", Domain, "localhost", "fully qualified"},
		{"domain upper case", Domain, "Images.example.com", "not a valid domain"},
		{"domain with port", Domain, "a.example.com:443", "not a valid domain"},
		{"domain leading dash", Domain, "-a.example.com", "not a valid domain"},
		{"bucket", Bucket, "my.images-1", ""},
		{"bucket IP-shaped", Bucket, "10.0.0.1", "must not be an IP address"},
		{"bucket double dot", Bucket, "a..b", `must not contain ".."`},
		{"bucket upper case", Bucket, "Images", "lower-case"},
		{"container", Container, "images-1", ""},
		{"container double dash", Container, "a--b", `must not contain "--"`},
		{"storage account", StorageAccount, "acmestore1", ""},
		{"storage account dash", StorageAccount, "acme-store", "3 to 24"},
		{"SAS token", SASToken, "?sv=2022-11-02&sig=abc%3D", ""},
		{"SAS token without sig", SASToken, "sv=2022-11-02", "sv and sig"},
		{"SAS token with a space", SASToken, "sv=1&sig=a b", "printable ASCII"},
		{"key prefix", KeyPrefix, "images/originals/", ""},
		{"key prefix leading slash", KeyPrefix, "/images", "must not start with '/'"},
		{"key prefix dot segment", KeyPrefix, "a/../b", "'.' or '..'"},
		{"key prefix empty segment", KeyPrefix, "a//b", "empty segments"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.rule(tc.in)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("%q refused: %v", tc.in, err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("%q: error %v, want one saying %q", tc.in, err, tc.want)
			}
		})
	}
}

var originURLCases = []struct {
	name, in string
	literal  bool
	want     string
}{
	{"https", "https://images.example.com/base/", false, ""},
	{"port", "http://images.example.com:8080", false, ""},
	{"IPv4 literal", "http://203.0.113.7/x", true, ""},
	{"IPv6 literal", "http://[2001:db8::1]:8080/", true, ""},
	{"underscore in a label", "https://my_site.example.com", false, ""},
	{"not http", "ftp://files.example.com", false, "must use http or https"},
	{"relative", "/images", false, "must be an absolute http or https URL"},
	{"credentials", "https://u:p@example.com/", false, "must not contain credentials"},
	{"query", "https://example.com/?a=1", false, "must not have a query"},
	{"fragment", "https://example.com/#a", false, "must not have a fragment"},
	{"backslash", `https://example.com\@evil.com/`, false, "backslashes"},
	{"encoded host", "https://ex%61mple.com/", false, "percent-encode"},
	{"decimal address", "http://2130706433/", false, "numeric host"},
	{"hex address", "http://0x7f.1/", false, "numeric host"},
	{"short dotted address", "http://127.1/", false, "numeric host"},
	{"zone", "http://[fe80::1%25eth0]/", false, "percent-encode"},
	{"empty port", "http://example.com:/", false, "empty port"},
	{"port zero", "http://example.com:0/", false, "invalid port"},
	{"numeric last label", "http://a.123/", false, "numeric host"},
	{"empty", "", false, "is required"},
}

func TestOriginURL(t *testing.T) {
	for _, tc := range originURLCases {
		t.Run(tc.name, func(t *testing.T) {
			u, literal, err := OriginURL(tc.in)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v, want one saying %q", err, tc.want)
			case tc.want == "" && (literal != tc.literal || u == nil):
				t.Fatalf("literal = %v (url %v), want %v", literal, u, tc.literal)
			}
		})
	}
}

// FuzzOriginURL: whatever is accepted is an absolute http(s) URL with a
// host, no credentials, query or fragment, that reads back the same.
func FuzzOriginURL(f *testing.F) {
	for _, tc := range originURLCases {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		u, _, err := OriginURL(raw)
		if err != nil {
			return
		}
		if (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
			t.Fatalf("accepted %q as %#v", raw, u)
		}
		again, err := url.Parse(u.String())
		if err != nil || again.Host != u.Host {
			t.Fatalf("%q does not read back: %v, host %q vs %q", raw, err, again.Host, u.Host)
		}
	})
}

// FuzzDomain: an accepted domain is lower-case DNS labels, at least two,
// the last not numeric.
func FuzzDomain(f *testing.F) {
	for _, d := range []string{"images.example.com", "a.123", "localhost", "xn--bcher-kva.example", "a..b", "-a.b"} {
		f.Add(d)
	}
	f.Fuzz(func(t *testing.T, d string) {
		if Domain(d) != nil {
			return
		}
		labels := strings.Split(d, ".")
		if len(labels) < 2 || strings.Trim(labels[len(labels)-1], "0123456789") == "" || strings.ToLower(d) != d {
			t.Fatalf("accepted %q", d)
		}
		for _, l := range labels {
			if l == "" || strings.Trim(l, "abcdefghijklmnopqrstuvwxyz0123456789-") != "" {
				t.Fatalf("accepted %q (label %q)", d, l)
			}
		}
	})
}
