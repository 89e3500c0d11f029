package tenant

import (
	"strconv"
	"strings"
	"testing"

	"pictor/services/internal/errkind"
	"pictor/services/internal/hostmatch"
)

func TestCheckAccountID(t *testing.T) {
	tests := []struct {
		name string
		id   string
		ok   bool
	}{
		{"simple", "demo", true},
		{"digits and separators", "acme_2-prod", true},
		{"two characters", "ab", true},
		{"forty characters", strings.Repeat("a", 40), true},
		{"empty", "", false},
		{"one character", "a", false},
		{"forty-one characters", strings.Repeat("a", 41), false},
		{"upper case", "Demo", false},
		{"leading underscore", "_demo", false},
		{"leading hyphen", "-demo", false},
		{"slash", "de/mo", false},
		{"dot", "de.mo", false},
		{"unicode", "démo", false},
		{"reserved admin", "admin", false},
		{"reserved api", "api", false},
		{"reserved v1", "v1", false},
		{"reserved healthz", "healthz", false},
		{"reserved readyz", "readyz", false},
		{"reserved metrics", "metrics", false},
		{"reserved static", "static", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckAccountID(tt.id)
			if (err == nil) != tt.ok {
				t.Fatalf("CheckAccountID(%q) = %v, want ok=%v", tt.id, err, tt.ok)
			}
			if err != nil && (errkind.FieldOf(err) != "id" || errkind.KindOf(err) != errkind.Invalid) {
				t.Fatalf("error %v: field %q kind %v, want field id, invalid", err, errkind.FieldOf(err), errkind.KindOf(err))
			}
		})
	}
}

func TestCheckBaseURL(t *testing.T) {
	tests := []struct {
		name         string
		url          string
		public       bool // accepted without AllowPrivate
		allowPrivate bool // accepted with AllowPrivate
	}{
		{"https host", "https://www.example.com", true, true},
		{"http host with path", "http://images.example.com/static/img", true, true},
		{"trailing slash", "https://www.example.com/", true, true},
		{"any port", "https://www.example.com:8443/a", true, true},
		{"upper-case scheme", "HTTPS://www.example.com", true, true},
		{"public IPv4", "http://93.184.216.34/", true, true},
		{"public IPv6", "http://[2606:2800:220:1:248:1893:25c8:1946]/", true, true},
		{"underscore in host", "https://my_host.example.com", true, true},

		{"loopback IPv4", "http://127.0.0.1:8079", false, true},
		{"loopback IPv6", "http://[::1]:8079/", false, true},
		{"private 10/8", "http://10.1.2.3/", false, true},
		{"private 192.168", "http://192.168.1.1/", false, true},
		{"link-local metadata", "http://169.254.169.254/latest", false, true},
		{"CGNAT", "http://100.64.0.1/", false, true},
		{"unspecified", "http://0.0.0.0/", false, true},
		{"IPv4-mapped loopback", "http://[::ffff:127.0.0.1]/", false, true},
		{"NAT64 of metadata", "http://[64:ff9b::a9fe:a9fe]/", false, true},
		{"unique-local IPv6", "http://[fd00::1]/", false, true},
		{"localhost", "http://localhost:8079", false, true},
		{"sub.localhost", "http://img.localhost/", false, true},

		{"decimal IPv4", "http://2130706433", false, false},
		{"hex IPv4", "http://0x7f.1", false, false},
		{"short IPv4", "http://127.1", false, false},
		{"octal IPv4", "http://0177.0.0.1/", false, false},
		{"hex dword", "http://0x7f000001/", false, false},
		{"leading-zero quad", "http://127.000.000.001/", false, false},
		{"numeric last label", "http://example.123/", false, false},
		{"percent-encoded host", "http://%31%32%37.0.0.1/", false, false},
		{"IPv6 zone", "http://[fe80::1%25eth0]/", false, false},
		{"credentials", "http://user@example.com/", false, false},
		{"user and password", "http://user:pw@example.com/", false, false},
		{"file scheme", "file:///etc/passwd", false, false},
		{"gopher scheme", "gopher://example.com/", false, false},
		{"ftp scheme", "ftp://example.com/", false, false},
		{"fragment", "https://www.example.com/#x", false, false},
		{"empty fragment", "https://www.example.com/#", false, false},
		{"query", "https://www.example.com/?a=b", false, false},
		{"empty query", "https://www.example.com/?", false, false},
		{"relative path", "/images", false, false},
		{"scheme-relative", "//www.example.com/", false, false},
		{"no host", "http:///path", false, false},
		{"opaque", "http:www.example.com", false, false},
		{"empty", "", false, false},
		{"space", "http://www.example.com/a b", false, false},
		{"backslash", `http://www.example.com\@127.0.0.1/`, false, false},
		{"newline", "http://www.example.com/\n", false, false},
		{"port zero", "http://www.example.com:0/", false, false},
		{"port too big", "http://www.example.com:65536/", false, false},
		{"empty port", "http://www.example.com:/", false, false},
		{"unicode host", "http://bücher.example/", false, false},
		{"label with leading hyphen", "http://-a.example.com/", false, false},
		{"too long", "https://www.example.com/" + strings.Repeat("a", MaxURLLen), false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, allow := range []bool{false, true} {
				want := tt.public
				if allow {
					want = tt.allowPrivate
				}
				err := OriginPolicy{AllowPrivate: allow}.CheckBaseURL("baseUrl", tt.url)
				if (err == nil) != want {
					t.Fatalf("AllowPrivate=%v: CheckBaseURL(%q) = %v, want ok=%v", allow, tt.url, err, want)
				}
				if err != nil && errkind.FieldOf(err) != "baseUrl" {
					t.Fatalf("error %v names field %q, want baseUrl", err, errkind.FieldOf(err))
				}
			}
		})
	}
}

func TestCheckOrigin(t *testing.T) {
	valid := Origin{Type: OriginWebFolder, Name: "Web", BaseURL: "https://www.example.com"}
	tests := []struct {
		name      string
		edit      func(*Origin)
		wantField string // "" when valid
		wantKind  errkind.Kind
	}{
		{"valid", func(*Origin) {}, "", 0},
		{"canonical header", func(o *Origin) {
			o.IncludeCanonicalHeader = true
			o.BaseURLForCanonicalHeader = "https://cdn.example.com"
		}, "", 0},
		{"missing type", func(o *Origin) { o.Type = "" }, "type", errkind.Invalid},
		{"unknown type", func(o *Origin) { o.Type = "FTP" }, "type", errkind.Invalid},
		{"unsupported type", func(o *Origin) { o.Type = "S3" }, "type", errkind.Unsupported},
		{"lower-case type", func(o *Origin) { o.Type = "web_folder" }, "type", errkind.Invalid},
		{"blank name", func(o *Origin) { o.Name = "  " }, "name", errkind.Invalid},
		{"long name", func(o *Origin) { o.Name = strings.Repeat("é", MaxNameLen+1) }, "name", errkind.Invalid},
		{"control in name", func(o *Origin) { o.Name = "a\x00b" }, "name", errkind.Invalid},
		{"bad base url", func(o *Origin) { o.BaseURL = "ftp://x" }, "baseUrl", errkind.Invalid},
		{"canonical without base", func(o *Origin) { o.IncludeCanonicalHeader = true }, "baseUrlForCanonicalHeader", errkind.Invalid},
		{"bad canonical base", func(o *Origin) { o.BaseURLForCanonicalHeader = "javascript:alert(1)" }, "baseUrlForCanonicalHeader", errkind.Invalid},
		{"web folder with allowed hosts", func(o *Origin) { o.AllowedHosts = []string{"images.example.com"} }, "allowedHosts", errkind.Invalid},
		{"web folder with empty allowed hosts", func(o *Origin) { o.AllowedHosts = []string{} }, "", 0},

		{"web proxy", webProxy(func(*Origin) {}), "", 0},
		{"web proxy with allowed hosts", webProxy(func(o *Origin) { o.AllowedHosts = []string{"images.example.com", "*.cdn.example.com"} }), "", 0},
		{"web proxy with canonical header", webProxy(func(o *Origin) {
			o.IncludeCanonicalHeader = true
			o.BaseURLForCanonicalHeader = "https://www.example.com"
		}), "", 0},
		{"web proxy with base url", webProxy(func(o *Origin) { o.BaseURL = "https://www.example.com" }), "baseUrl", errkind.Invalid},
		{"web proxy without name", webProxy(func(o *Origin) { o.Name = "" }), "name", errkind.Invalid},
		{"web proxy with control in name", webProxy(func(o *Origin) { o.Name = "a\nb" }), "name", errkind.Invalid},
		{"web proxy canonical without base", webProxy(func(o *Origin) { o.IncludeCanonicalHeader = true }), "baseUrlForCanonicalHeader", errkind.Invalid},
		{"web proxy bad canonical base", webProxy(func(o *Origin) { o.BaseURLForCanonicalHeader = "ftp://x.example" }), "baseUrlForCanonicalHeader", errkind.Invalid},
		{"web proxy forwarding host header", webProxy(func(o *Origin) { o.ForwardHostHeaderToOrigin = true }), "forwardHostHeaderToOrigin", errkind.Invalid},
		{"web proxy bad allowed host", webProxy(func(o *Origin) { o.AllowedHosts = []string{"127.0.0.1"} }), "allowedHosts", errkind.Invalid},
		{"lower-case web proxy", webProxy(func(o *Origin) { o.Type = "web_proxy" }), "type", errkind.Invalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := valid
			tt.edit(&o)
			err := OriginPolicy{}.CheckOrigin(o)
			if tt.wantField == "" {
				if err != nil {
					t.Fatalf("CheckOrigin = %v, want nil", err)
				}
				return
			}
			if err == nil || errkind.FieldOf(err) != tt.wantField || errkind.KindOf(err) != tt.wantKind {
				t.Fatalf("CheckOrigin = %v (field %q), want %v naming %q", err, errkind.FieldOf(err), tt.wantKind, tt.wantField)
			}
		})
	}
}

// webProxy turns TestCheckOrigin's valid WEB_FOLDER origin into a valid
// WEB_PROXY one before applying edit.
func webProxy(edit func(*Origin)) func(*Origin) {
	return func(o *Origin) {
		o.Type = OriginWebProxy
		o.BaseURL = ""
		edit(o)
	}
}

func TestUnsupportedOriginTypeNamesBothTypes(t *testing.T) {
	err := OriginPolicy{}.CheckOrigin(Origin{Type: "GCS", Name: "g"})
	if errkind.Reason(err) != "unsupported_origin_type" || !strings.Contains(err.Error(), "WEB_FOLDER or WEB_PROXY") {
		t.Fatalf("CheckOrigin(GCS) = %v (reason %q), want unsupported_origin_type naming WEB_FOLDER or WEB_PROXY", err, errkind.Reason(err))
	}
}

// TestOriginTypeMismatchMessages pins the messages clients see when a
// field belongs to the other origin type.
func TestOriginTypeMismatchMessages(t *testing.T) {
	tests := []struct {
		name   string
		origin Origin
		want   string
	}{
		{"web proxy with base url", Origin{Type: OriginWebProxy, Name: "p", BaseURL: "https://www.example.com"},
			"a WEB_PROXY origin has no baseUrl: the image path is the URL"},
		{"web folder with allowed hosts", Origin{Type: OriginWebFolder, Name: "f", BaseURL: "https://www.example.com", AllowedHosts: []string{"a.example.com"}},
			"allowedHosts is for WEB_PROXY origins"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if msg := errkind.SafeMessage(OriginPolicy{}.CheckOrigin(tt.origin)); msg != tt.want {
				t.Fatalf("message %q, want %q", msg, tt.want)
			}
		})
	}
}

func TestCheckAllowedHosts(t *testing.T) {
	many := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = "h" + strconv.Itoa(i) + ".example.com"
		}
		return out
	}
	label63 := strings.Repeat("a", 63)
	// 63+1+63+1+63+1+61 = 253 characters.
	name253 := label63 + "." + label63 + "." + label63 + "." + strings.Repeat("b", 61)
	tests := []struct {
		name    string
		hosts   []string
		ok      bool
		message string // a part of the error message, when not ok
	}{
		{"nil", nil, true, ""},
		{"empty", []string{}, true, ""},
		{"host", []string{"images.example.com"}, true, ""},
		{"single label", []string{"intranet"}, true, ""},
		{"digits and hyphens", []string{"img-2.example-cdn.com"}, true, ""},
		{"numeric label not last", []string{"123.example.com"}, true, ""},
		{"international name in xn-- form", []string{"xn--bcher-kva.example"}, true, ""},
		{"wildcard", []string{"*.example.com"}, true, ""},
		{"wildcard on a single label", []string{"*.com"}, true, ""},
		{"host and its wildcard", []string{"example.com", "*.example.com"}, true, ""},
		{"63-character label", []string{label63 + ".example.com"}, true, ""},
		{"253 characters", []string{name253}, true, ""},
		{"wildcard of 253 characters", []string{"*." + name253}, true, ""},
		{"100 hosts", many(MaxAllowedHosts), true, ""},

		{"101 hosts", many(MaxAllowedHosts + 1), false, "at most 100"},
		{"duplicate", []string{"a.example.com", "b.example.com", "a.example.com"}, false, "twice"},
		{"duplicate wildcard", []string{"*.example.com", "*.example.com"}, false, "twice"},
		{"empty entry", []string{""}, false, "empty"},
		{"upper case", []string{"Images.Example.com"}, false, "lower case"},
		{"upper-case wildcard", []string{"*.EXAMPLE.COM"}, false, "lower case"},
		{"https scheme", []string{"https://images.example.com"}, false, "not a URL"},
		{"scheme without slashes", []string{"http:images.example.com"}, false, "not a URL"},
		{"path", []string{"images.example.com/img"}, false, "not a URL"},
		{"query", []string{"images.example.com?x"}, false, "not a URL"},
		{"credentials", []string{"user@images.example.com"}, false, "not a URL"},
		{"backslash", []string{`images.example.com\evil.example`}, false, "not a URL"},
		{"port", []string{"images.example.com:8080"}, false, "port"},
		{"empty port", []string{"images.example.com:"}, false, "port"},
		{"IPv4", []string{"93.184.216.34"}, false, "IP address"},
		{"loopback IPv4", []string{"127.0.0.1"}, false, "IP address"},
		{"IPv6", []string{"2606:2800:220:1:248:1893:25c8:1946"}, false, "IP address"},
		{"bracketed IPv6", []string{"[::1]"}, false, "IP address"},
		{"bracketed IPv6 with port", []string{"[::1]:80"}, false, "IP address"},
		{"decimal IPv4", []string{"2130706433"}, false, "IP address"},
		{"hex IPv4", []string{"0x7f.1"}, false, "IP address"},
		{"short IPv4", []string{"127.1"}, false, "IP address"},
		{"wildcard over an IPv4", []string{"*.10.0.0.1"}, false, "IP address"},
		{"numeric last label", []string{"example.123"}, false, "numeric"},
		{"hex last label", []string{"example.0x1f"}, false, "numeric"},
		{"trailing dot", []string{"images.example.com."}, false, "dot"},
		{"leading dot", []string{".example.com"}, false, "valid host name"},
		{"empty label", []string{"images..example.com"}, false, "valid host name"},
		{"leading hyphen", []string{"-images.example.com"}, false, "valid host name"},
		{"trailing hyphen", []string{"images-.example.com"}, false, "valid host name"},
		{"underscore", []string{"my_host.example.com"}, false, "valid host name"},
		{"space", []string{"images example.com"}, false, "valid host name"},
		{"unicode", []string{"bücher.example"}, false, "xn--"},
		{"64-character label", []string{label63 + "a.example.com"}, false, "valid host name"},
		{"254 characters", []string{name253 + "b"}, false, "longer than 253"},
		{"very long entry", []string{strings.Repeat("a.", 1000) + "com"}, false, "entry 1 is longer than 253"},
		{"bare star", []string{"*"}, false, `"*."`},
		{"star without dot", []string{"*example.com"}, false, `"*."`},
		{"double wildcard", []string{"*.*.example.com"}, false, `"*."`},
		{"inner star", []string{"img.*.example.com"}, false, `"*."`},
		{"star in a label", []string{"img*.example.com"}, false, `"*."`},
		{"wildcard of nothing", []string{"*."}, false, "dot"},
		{"bad entry after good ones", []string{"a.example.com", "b.example.com:443"}, false, `"b.example.com:443"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckAllowedHosts(tt.hosts)
			if (err == nil) != tt.ok {
				t.Fatalf("CheckAllowedHosts(%q) = %v, want ok=%v", tt.hosts, err, tt.ok)
			}
			if err == nil {
				// What is accepted is what the edge takes and matches.
				for _, h := range tt.hosts {
					host := h
					if name, wild := strings.CutPrefix(h, "*."); wild {
						host = "img." + name
					}
					if err := hostmatch.Check(h); err != nil || !hostmatch.Match(strings.ToUpper(host)+":443", []string{h}) {
						t.Fatalf("accepted %q, but the edge's matcher says %v / does not admit %q", h, err, host)
					}
				}
				return
			}
			if errkind.FieldOf(err) != "allowedHosts" || errkind.KindOf(err) != errkind.Invalid || errkind.Reason(err) != "invalid_field" {
				t.Fatalf("error %v: field %q kind %v reason %q, want allowedHosts, invalid, invalid_field", err, errkind.FieldOf(err), errkind.KindOf(err), errkind.Reason(err))
			}
			if msg := errkind.SafeMessage(err); !strings.HasPrefix(msg, "allowedHosts") || !strings.Contains(msg, tt.message) {
				t.Fatalf("message %q, want one starting with allowedHosts and containing %q", msg, tt.message)
			}
		})
	}
}

func TestCheckEmailAndPassword(t *testing.T) {
	emails := []struct {
		email string
		ok    bool
	}{
		{"owner@example.com", true},
		{"a.b+c@sub.example.org", true},
		{"", false},
		{"no-at-sign", false},
		{"Owner <owner@example.com>", false},
		{"owner@example.com ", false},
		{strings.Repeat("a", 320) + "@example.com", false},
	}
	for _, tt := range emails {
		if err := CheckEmail("ownerEmail", tt.email); (err == nil) != tt.ok {
			t.Errorf("CheckEmail(%q) = %v, want ok=%v", tt.email, err, tt.ok)
		}
	}
	if err := CheckPassword("ownerPassword", "short"); err == nil {
		t.Error("short password accepted")
	}
	if err := CheckPassword("ownerPassword", "long enough"); err != nil {
		t.Errorf("good password refused: %v", err)
	}
}

func TestNewID(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := NewID()
		if !ValidID(id) {
			t.Fatalf("NewID() = %q, not a valid id", id)
		}
		if seen[id] {
			t.Fatalf("NewID() repeated %q", id)
		}
		seen[id] = true
	}
	for _, bad := range []string{"", "abc", strings.Repeat("g", 24), strings.Repeat("A", 24), strings.Repeat("a", 25)} {
		if ValidID(bad) {
			t.Errorf("ValidID(%q) = true", bad)
		}
	}
}
