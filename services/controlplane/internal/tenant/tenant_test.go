package tenant

import (
	"strings"
	"testing"

	"pictor/services/internal/errkind"
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
