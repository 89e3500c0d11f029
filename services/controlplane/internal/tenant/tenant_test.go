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
		{"unsupported type", func(o *Origin) { o.Type = "GCS" }, "type", errkind.Unsupported},
		{"unsupported gcs", func(o *Origin) { o.Type = "GCS" }, "type", errkind.Unsupported},
		{"lower-case s3", func(o *Origin) { o.Type = "s3" }, "type", errkind.Invalid},
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

		// Bucket fields belong to S3 types only.
		{"web folder with bucket", func(o *Origin) { o.Bucket = "images" }, "bucket", errkind.Invalid},
		{"web folder with prefix", func(o *Origin) { o.Prefix = "a" }, "prefix", errkind.Invalid},
		{"web folder with access key", func(o *Origin) { o.AccessKey = "AKIA" }, "accessKey", errkind.Invalid},
		{"web folder with secret key", func(o *Origin) { o.SecretKey = "s" }, "secretKey", errkind.Invalid},
		{"web folder with endpoint", func(o *Origin) { o.Endpoint = "https://s3.example.com" }, "endpoint", errkind.Invalid},
		{"web folder with path style", func(o *Origin) { o.S3ForcePathStyle = true }, "s3ForcePathStyle", errkind.Invalid},
		{"web proxy with bucket", webProxy(func(o *Origin) { o.Bucket = "images" }), "bucket", errkind.Invalid},
		{"web proxy with secret key", webProxy(func(o *Origin) { o.SecretKey = "s" }), "secretKey", errkind.Invalid},

		// Azure fields belong to AZURE_BLOB only.
		{"web folder with container", func(o *Origin) { o.Container = "images" }, "container", errkind.Invalid},
		{"web folder with account name", func(o *Origin) { o.AccountName = "acme" }, "accountName", errkind.Invalid},
		{"web folder with sas token", func(o *Origin) { o.SASToken = "sv=1&sig=2" }, "sasToken", errkind.Invalid},
		{"web proxy with container", webProxy(func(o *Origin) { o.Container = "images" }), "container", errkind.Invalid},
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
	if errkind.Reason(err) != "unsupported_origin_type" || !strings.Contains(err.Error(), "WEB_FOLDER, WEB_PROXY, S3, S3_COMPATIBLE or AZURE_BLOB") {
		t.Fatalf("CheckOrigin(GCS) = %v (reason %q), want unsupported_origin_type naming every supported type", err, errkind.Reason(err))
	}
}

func TestCheckObjectStorageOrigin(t *testing.T) {
	s3 := Origin{Type: OriginS3, Name: "Bucket", Bucket: "acme-images", AccessKey: "AKIAIOSFODNN7EXAMPLE",
		SecretKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}
	compat := s3
	compat.Type = OriginS3Compatible
	compat.Endpoint = "https://s3.example.com"
	tests := []struct {
		name      string
		base      Origin
		edit      func(*Origin)
		policy    OriginPolicy
		wantField string // "" when valid
	}{
		{"s3", s3, func(*Origin) {}, OriginPolicy{}, ""},
		{"s3 with prefix", s3, func(o *Origin) { o.Prefix = "originals/2024" }, OriginPolicy{}, ""},
		{"s3 prefix with trailing slash", s3, func(o *Origin) { o.Prefix = "originals/" }, OriginPolicy{}, ""},
		{"s3 unicode prefix", s3, func(o *Origin) { o.Prefix = "phötos/été" }, OriginPolicy{}, ""},
		{"s3 with canonical header", s3, func(o *Origin) {
			o.IncludeCanonicalHeader = true
			o.BaseURLForCanonicalHeader = "https://www.example.com"
		}, OriginPolicy{}, ""},
		{"s3 without secret key (update keeps it)", s3, func(o *Origin) { o.SecretKey = "" }, OriginPolicy{}, ""},
		{"s3 dotted bucket", s3, func(o *Origin) { o.Bucket = "images.example.com" }, OriginPolicy{}, ""},
		{"s3 shortest bucket", s3, func(o *Origin) { o.Bucket = "abc" }, OriginPolicy{}, ""},
		{"s3 longest bucket", s3, func(o *Origin) { o.Bucket = strings.Repeat("a", 63) }, OriginPolicy{}, ""},
		{"s3 longest keys", s3, func(o *Origin) {
			o.AccessKey = strings.Repeat("A", MaxAccessKeyLen)
			o.SecretKey = strings.Repeat("~", MaxSecretKeyLen)
		}, OriginPolicy{}, ""},
		{"s3 longest prefix", s3, func(o *Origin) { o.Prefix = strings.Repeat("p", MaxPrefixLen) }, OriginPolicy{}, ""},

		{"s3 without name", s3, func(o *Origin) { o.Name = "" }, OriginPolicy{}, "name"},
		{"s3 with base url", s3, func(o *Origin) { o.BaseURL = "https://acme-images.s3.amazonaws.com" }, OriginPolicy{}, "baseUrl"},
		{"s3 with allowed hosts", s3, func(o *Origin) { o.AllowedHosts = []string{"a.example.com"} }, OriginPolicy{}, "allowedHosts"},
		{"s3 with empty allowed hosts", s3, func(o *Origin) { o.AllowedHosts = []string{} }, OriginPolicy{}, ""},
		{"s3 forwarding host header", s3, func(o *Origin) { o.ForwardHostHeaderToOrigin = true }, OriginPolicy{}, "forwardHostHeaderToOrigin"},
		{"s3 canonical without base", s3, func(o *Origin) { o.IncludeCanonicalHeader = true }, OriginPolicy{}, "baseUrlForCanonicalHeader"},
		{"s3 bad canonical base", s3, func(o *Origin) { o.BaseURLForCanonicalHeader = "ftp://x.example" }, OriginPolicy{}, "baseUrlForCanonicalHeader"},
		{"s3 with endpoint", s3, func(o *Origin) { o.Endpoint = "https://s3.example.com" }, OriginPolicy{}, "endpoint"},
		{"s3 with path style", s3, func(o *Origin) { o.S3ForcePathStyle = true }, OriginPolicy{}, "s3ForcePathStyle"},

		{"no bucket", s3, func(o *Origin) { o.Bucket = "" }, OriginPolicy{}, "bucket"},
		{"short bucket", s3, func(o *Origin) { o.Bucket = "ab" }, OriginPolicy{}, "bucket"},
		{"long bucket", s3, func(o *Origin) { o.Bucket = strings.Repeat("a", 64) }, OriginPolicy{}, "bucket"},
		{"upper-case bucket", s3, func(o *Origin) { o.Bucket = "Images" }, OriginPolicy{}, "bucket"},
		{"underscore in bucket", s3, func(o *Origin) { o.Bucket = "my_images" }, OriginPolicy{}, "bucket"},
		{"slash in bucket", s3, func(o *Origin) { o.Bucket = "images/a" }, OriginPolicy{}, "bucket"},
		{"bucket starting with a hyphen", s3, func(o *Origin) { o.Bucket = "-images" }, OriginPolicy{}, "bucket"},
		{"bucket ending with a hyphen", s3, func(o *Origin) { o.Bucket = "images-" }, OriginPolicy{}, "bucket"},
		{"bucket starting with a dot", s3, func(o *Origin) { o.Bucket = ".images" }, OriginPolicy{}, "bucket"},
		{"bucket ending with a dot", s3, func(o *Origin) { o.Bucket = "images." }, OriginPolicy{}, "bucket"},
		{"bucket with two dots", s3, func(o *Origin) { o.Bucket = "images..example" }, OriginPolicy{}, "bucket"},
		{"bucket shaped like an IP address", s3, func(o *Origin) { o.Bucket = "192.168.5.4" }, OriginPolicy{}, "bucket"},

		{"prefix starting with a slash", s3, func(o *Origin) { o.Prefix = "/originals" }, OriginPolicy{}, "prefix"},
		{"prefix of slashes", s3, func(o *Origin) { o.Prefix = "//" }, OriginPolicy{}, "prefix"},
		{"prefix with dot-dot", s3, func(o *Origin) { o.Prefix = "a/../b" }, OriginPolicy{}, "prefix"},
		{"prefix of dot-dot", s3, func(o *Origin) { o.Prefix = ".." }, OriginPolicy{}, "prefix"},
		{"prefix with dot", s3, func(o *Origin) { o.Prefix = "a/./b" }, OriginPolicy{}, "prefix"},
		{"prefix ending with dot-dot", s3, func(o *Origin) { o.Prefix = "a/../" }, OriginPolicy{}, "prefix"},
		{"prefix with empty segment", s3, func(o *Origin) { o.Prefix = "a//b" }, OriginPolicy{}, "prefix"},
		{"prefix with backslash", s3, func(o *Origin) { o.Prefix = `a\b` }, OriginPolicy{}, "prefix"},
		{"prefix with invalid UTF-8", s3, func(o *Origin) { o.Prefix = "a\xffb" }, OriginPolicy{}, "prefix"},
		{"prefix with control character", s3, func(o *Origin) { o.Prefix = "a\nb" }, OriginPolicy{}, "prefix"},
		{"long prefix", s3, func(o *Origin) { o.Prefix = strings.Repeat("p", MaxPrefixLen+1) }, OriginPolicy{}, "prefix"},

		{"no access key", s3, func(o *Origin) { o.AccessKey = "" }, OriginPolicy{}, "accessKey"},
		{"long access key", s3, func(o *Origin) { o.AccessKey = strings.Repeat("A", MaxAccessKeyLen+1) }, OriginPolicy{}, "accessKey"},
		{"space in access key", s3, func(o *Origin) { o.AccessKey = "AKIA EXAMPLE" }, OriginPolicy{}, "accessKey"},
		{"non-ASCII access key", s3, func(o *Origin) { o.AccessKey = "AKIAé" }, OriginPolicy{}, "accessKey"},
		{"control in access key", s3, func(o *Origin) { o.AccessKey = "AKIA\x7f" }, OriginPolicy{}, "accessKey"},
		{"long secret key", s3, func(o *Origin) { o.SecretKey = strings.Repeat("s", MaxSecretKeyLen+1) }, OriginPolicy{}, "secretKey"},
		{"space in secret key", s3, func(o *Origin) { o.SecretKey = "a b" }, OriginPolicy{}, "secretKey"},
		{"tab in secret key", s3, func(o *Origin) { o.SecretKey = "a\tb" }, OriginPolicy{}, "secretKey"},
		{"non-ASCII secret key", s3, func(o *Origin) { o.SecretKey = "clé" }, OriginPolicy{}, "secretKey"},

		{"s3 compatible", compat, func(*Origin) {}, OriginPolicy{}, ""},
		{"s3 compatible with path style", compat, func(o *Origin) { o.S3ForcePathStyle = true }, OriginPolicy{}, ""},
		{"s3 compatible endpoint with port and path", compat, func(o *Origin) { o.Endpoint = "http://minio.example.com:9000/s3" }, OriginPolicy{}, ""},
		{"s3 compatible without endpoint", compat, func(o *Origin) { o.Endpoint = "" }, OriginPolicy{}, "endpoint"},
		{"s3 compatible endpoint not http", compat, func(o *Origin) { o.Endpoint = "s3://bucket" }, OriginPolicy{}, "endpoint"},
		{"s3 compatible endpoint with credentials", compat, func(o *Origin) { o.Endpoint = "https://u:p@s3.example.com" }, OriginPolicy{}, "endpoint"},
		{"s3 compatible endpoint with query", compat, func(o *Origin) { o.Endpoint = "https://s3.example.com/?a=b" }, OriginPolicy{}, "endpoint"},
		{"s3 compatible loopback endpoint", compat, func(o *Origin) { o.Endpoint = "http://127.0.0.1:9000" }, OriginPolicy{}, "endpoint"},
		{"s3 compatible metadata endpoint", compat, func(o *Origin) { o.Endpoint = "http://169.254.169.254" }, OriginPolicy{}, "endpoint"},
		{"s3 compatible localhost endpoint", compat, func(o *Origin) { o.Endpoint = "http://localhost:9000" }, OriginPolicy{}, "endpoint"},
		{"s3 compatible obfuscated endpoint", compat, func(o *Origin) { o.Endpoint = "http://2130706433" }, OriginPolicy{}, "endpoint"},
		{"s3 compatible private endpoint allowed", compat, func(o *Origin) { o.Endpoint = "http://127.0.0.1:9000" }, OriginPolicy{AllowPrivate: true}, ""},
		{"s3 compatible with base url", compat, func(o *Origin) { o.BaseURL = "https://s3.example.com" }, OriginPolicy{}, "baseUrl"},
		{"s3 compatible with allowed hosts", compat, func(o *Origin) { o.AllowedHosts = []string{"a.example.com"} }, OriginPolicy{}, "allowedHosts"},
		{"s3 compatible forwarding host header", compat, func(o *Origin) { o.ForwardHostHeaderToOrigin = true }, OriginPolicy{}, "forwardHostHeaderToOrigin"},
		{"s3 compatible bad bucket", compat, func(o *Origin) { o.Bucket = "B" }, OriginPolicy{}, "bucket"},
		{"s3 compatible no access key", compat, func(o *Origin) { o.AccessKey = "" }, OriginPolicy{}, "accessKey"},
		{"s3 compatible bad prefix", compat, func(o *Origin) { o.Prefix = "/a" }, OriginPolicy{}, "prefix"},
		{"s3 compatible canonical without base", compat, func(o *Origin) { o.IncludeCanonicalHeader = true }, OriginPolicy{}, "baseUrlForCanonicalHeader"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := tt.base
			tt.edit(&o)
			err := tt.policy.CheckOrigin(o)
			if tt.wantField == "" {
				if err != nil {
					t.Fatalf("CheckOrigin = %v, want nil", err)
				}
				return
			}
			if err == nil || errkind.FieldOf(err) != tt.wantField || errkind.KindOf(err) != errkind.Invalid {
				t.Fatalf("CheckOrigin = %v (field %q), want invalid naming %q", err, errkind.FieldOf(err), tt.wantField)
			}
			// A refused credential is never echoed.
			if o.SecretKey != "" && strings.Contains(errkind.SafeMessage(err), o.SecretKey) {
				t.Fatalf("message %q echoes the secret key", errkind.SafeMessage(err))
			}
		})
	}
}

func TestCheckNewOrigin(t *testing.T) {
	s3 := Origin{Type: OriginS3, Name: "Bucket", Bucket: "acme-images", AccessKey: "AKIA", SecretKey: "secret"}
	tests := []struct {
		name      string
		origin    Origin
		wantField string
	}{
		{"s3 with secret key", s3, ""},
		{"s3 without secret key", Origin{Type: OriginS3, Name: "Bucket", Bucket: "acme-images", AccessKey: "AKIA"}, "secretKey"},
		{"s3 compatible without secret key", Origin{Type: OriginS3Compatible, Name: "Bucket", Bucket: "acme-images", AccessKey: "AKIA",
			Endpoint: "https://s3.example.com"}, "secretKey"},
		{"other fields checked first", Origin{Type: OriginS3, Name: "Bucket", AccessKey: "AKIA"}, "bucket"},
		{"web folder needs none", Origin{Type: OriginWebFolder, Name: "Web", BaseURL: "https://www.example.com"}, ""},
		{"azure blob with sas token", Origin{Type: OriginAzureBlob, Name: "Azure", Container: "images", AccountName: "acme",
			SASToken: "sv=2022-11-02&sig=x"}, ""},
		{"azure blob without sas token", Origin{Type: OriginAzureBlob, Name: "Azure", Container: "images", AccountName: "acme"}, "sasToken"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := OriginPolicy{}.CheckNewOrigin(tt.origin)
			if tt.wantField == "" {
				if err != nil {
					t.Fatalf("CheckNewOrigin = %v, want nil", err)
				}
				return
			}
			if errkind.FieldOf(err) != tt.wantField || errkind.KindOf(err) != errkind.Invalid {
				t.Fatalf("CheckNewOrigin = %v (field %q), want invalid naming %q", err, errkind.FieldOf(err), tt.wantField)
			}
		})
	}
}

func TestCleanPrefix(t *testing.T) {
	for in, want := range map[string]string{"": "", "a": "a", "a/": "a", "a/b//": "a/b", "a/b": "a/b"} {
		if got := CleanPrefix(in); got != want {
			t.Errorf("CleanPrefix(%q) = %q, want %q", in, got, want)
		}
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

func TestCheckAzureBlobOrigin(t *testing.T) {
	const token = "sv=2022-11-02&ss=b&srt=o&sp=r&se=2030-01-01T00:00:00Z&spr=https&sig=abc%2Bdef%3D"
	az := Origin{Type: OriginAzureBlob, Name: "Azure", Container: "images", AccountName: "acmestore", SASToken: token}
	tests := []struct {
		name      string
		edit      func(*Origin)
		wantField string // "" when valid
	}{
		{"azure blob", func(*Origin) {}, ""},
		{"with prefix", func(o *Origin) { o.Prefix = "originals/2024/" }, ""},
		{"leading question mark", func(o *Origin) { o.SASToken = "?" + token }, ""},
		{"without sas token (update keeps it)", func(o *Origin) { o.SASToken = "" }, ""},
		{"with canonical header", func(o *Origin) {
			o.IncludeCanonicalHeader = true
			o.BaseURLForCanonicalHeader = "https://www.example.com"
		}, ""},
		{"shortest container", func(o *Origin) { o.Container = "a1b" }, ""},
		{"longest container", func(o *Origin) { o.Container = strings.Repeat("a", 63) }, ""},
		{"container with hyphen", func(o *Origin) { o.Container = "my-images" }, ""},
		{"container starting with a digit", func(o *Origin) { o.Container = "1images" }, ""},
		{"shortest account", func(o *Origin) { o.AccountName = "abc" }, ""},
		{"longest account", func(o *Origin) { o.AccountName = strings.Repeat("a", 24) }, ""},
		{"longest sas token", func(o *Origin) { o.SASToken = "sv=1&sig=" + strings.Repeat("s", MaxSASTokenLen-9) }, ""},

		{"no container", func(o *Origin) { o.Container = "" }, "container"},
		{"short container", func(o *Origin) { o.Container = "ab" }, "container"},
		{"long container", func(o *Origin) { o.Container = strings.Repeat("a", 64) }, "container"},
		{"upper-case container", func(o *Origin) { o.Container = "Images" }, "container"},
		{"container with a dot", func(o *Origin) { o.Container = "my.images" }, "container"},
		{"container starting with a hyphen", func(o *Origin) { o.Container = "-images" }, "container"},
		{"container ending with a hyphen", func(o *Origin) { o.Container = "images-" }, "container"},
		{"container with two hyphens", func(o *Origin) { o.Container = "my--images" }, "container"},
		{"no account", func(o *Origin) { o.AccountName = "" }, "accountName"},
		{"short account", func(o *Origin) { o.AccountName = "ab" }, "accountName"},
		{"long account", func(o *Origin) { o.AccountName = strings.Repeat("a", 25) }, "accountName"},
		{"upper-case account", func(o *Origin) { o.AccountName = "AcmeStore" }, "accountName"},
		{"account with hyphen", func(o *Origin) { o.AccountName = "acme-store" }, "accountName"},
		{"bad prefix", func(o *Origin) { o.Prefix = "/a" }, "prefix"},
		{"climbing prefix", func(o *Origin) { o.Prefix = "a/../b" }, "prefix"},
		{"long sas token", func(o *Origin) { o.SASToken = "sv=1&sig=" + strings.Repeat("s", MaxSASTokenLen-8) }, "sasToken"},
		{"sas token without sig", func(o *Origin) { o.SASToken = "sv=2022-11-02&sp=r" }, "sasToken"},
		{"sas token without sv", func(o *Origin) { o.SASToken = "sp=r&sig=abc" }, "sasToken"},
		{"sas token with empty sig", func(o *Origin) { o.SASToken = "sv=1&sig=" }, "sasToken"},
		{"sas token not a query", func(o *Origin) { o.SASToken = "sv=1&sig=%zz" }, "sasToken"},
		{"sas token with space", func(o *Origin) { o.SASToken = "sv=1&sig=a b" }, "sasToken"},
		{"sas token of a question mark", func(o *Origin) { o.SASToken = "?" }, "sasToken"},
		{"sas token as a URL", func(o *Origin) { o.SASToken = "https://acme.blob.core.windows.net/images" }, "sasToken"},
		{"with base url", func(o *Origin) { o.BaseURL = "https://acmestore.blob.core.windows.net/images" }, "baseUrl"},
		{"with allowed hosts", func(o *Origin) { o.AllowedHosts = []string{"a.example.com"} }, "allowedHosts"},
		{"forwarding host header", func(o *Origin) { o.ForwardHostHeaderToOrigin = true }, "forwardHostHeaderToOrigin"},
		{"with bucket", func(o *Origin) { o.Bucket = "images" }, "bucket"},
		{"with access key", func(o *Origin) { o.AccessKey = "AKIA" }, "accessKey"},
		{"with secret key", func(o *Origin) { o.SecretKey = "s" }, "secretKey"},
		{"with endpoint", func(o *Origin) { o.Endpoint = "https://s3.example.com" }, "endpoint"},
		{"with path style", func(o *Origin) { o.S3ForcePathStyle = true }, "s3ForcePathStyle"},
		{"canonical without base", func(o *Origin) { o.IncludeCanonicalHeader = true }, "baseUrlForCanonicalHeader"},
		{"s3 with container", func(o *Origin) {
			*o = Origin{Type: OriginS3, Name: "b", Bucket: "images", AccessKey: "AKIA", SecretKey: "s", Container: "images"}
		}, "container"},
		{"s3 with sas token", func(o *Origin) {
			*o = Origin{Type: OriginS3, Name: "b", Bucket: "images", AccessKey: "AKIA", SecretKey: "s", SASToken: token}
		}, "sasToken"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := az
			tt.edit(&o)
			err := OriginPolicy{}.CheckOrigin(o)
			if tt.wantField == "" {
				if err != nil {
					t.Fatalf("CheckOrigin = %v, want nil", err)
				}
				return
			}
			if err == nil || errkind.FieldOf(err) != tt.wantField || errkind.KindOf(err) != errkind.Invalid {
				t.Fatalf("CheckOrigin = %v (field %q), want invalid naming %q", err, errkind.FieldOf(err), tt.wantField)
			}
			if o.SASToken != "" && strings.Contains(errkind.SafeMessage(err), o.SASToken) {
				t.Fatalf("message %q echoes the SAS token", errkind.SafeMessage(err))
			}
		})
	}
}

func TestSecretKinds(t *testing.T) {
	for _, tt := range []struct {
		from, to string
		want     bool
	}{
		{OriginS3, OriginS3, true}, {OriginS3, OriginS3Compatible, true}, {OriginS3Compatible, OriginS3, true},
		{OriginAzureBlob, OriginAzureBlob, true}, {OriginS3, OriginAzureBlob, false}, {OriginAzureBlob, OriginS3Compatible, false},
		{OriginWebFolder, OriginAzureBlob, false}, {OriginWebFolder, OriginWebFolder, false},
	} {
		if got := SameSecretKind(tt.from, tt.to); got != tt.want {
			t.Errorf("SameSecretKind(%s, %s) = %v, want %v", tt.from, tt.to, got, tt.want)
		}
	}
	if CleanSASToken("?sv=1&sig=2") != "sv=1&sig=2" || CleanSASToken("sv=1") != "sv=1" {
		t.Error("CleanSASToken keeps the leading '?' or loses more")
	}
}
