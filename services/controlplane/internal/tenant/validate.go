package tenant

import (
	"fmt"
	"net/mail"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"pictor/services/internal/configrules"
	"pictor/services/internal/errkind"
	"pictor/services/internal/hostmatch"
	"pictor/services/internal/imgurl"
	"pictor/services/internal/netguard"
)

// The validators below name fields the way the API does (DESIGN §8), so the
// field in an error is the one the client sent.

// CheckAccountID enforces DESIGN §3 (configrules.AccountID): the id is the
// first path segment of every image URL of the account.
func CheckAccountID(id string) error {
	if id == "" {
		return errkind.InvalidField("id", "id is required")
	}
	return rule("id", configrules.AccountID(id))
}

// rule turns a configrules violation of field into the API's error.
func rule(field string, err error) error {
	if err == nil {
		return nil
	}
	return errkind.InvalidField(field, field+" "+err.Error())
}

// MaxNameLen bounds display names (characters).
const MaxNameLen = 200

// CheckName requires a display name that is not blank, is valid UTF-8
// without control characters and has at most MaxNameLen characters.
func CheckName(field, name string) error {
	switch {
	case strings.TrimSpace(name) == "":
		return errkind.InvalidField(field, field+" is required")
	case !utf8.ValidString(name):
		return errkind.InvalidField(field, field+" must be valid UTF-8")
	case utf8.RuneCountInString(name) > MaxNameLen:
		return errkind.InvalidField(field, field+" must be at most "+strconv.Itoa(MaxNameLen)+" characters")
	case strings.ContainsFunc(name, unicode.IsControl):
		return errkind.InvalidField(field, field+" must not contain control characters")
	}
	return nil
}

// CheckEmail requires a bare address ("a@example.com", no display name).
func CheckEmail(field, email string) error {
	if email == "" {
		return errkind.InvalidField(field, field+" is required")
	}
	if len(email) > 320 {
		return errkind.InvalidField(field, field+" is too long")
	}
	a, err := mail.ParseAddress(email)
	if err != nil || a.Name != "" || a.Address != email {
		return errkind.InvalidField(field, field+" must be an email address such as name@example.com")
	}
	return nil
}

// Password length bounds (bytes). The upper bound keeps hashing cheap to
// refuse rather than a way to burn CPU.
const (
	MinPasswordLen = 8
	MaxPasswordLen = 1024
)

// CheckPassword bounds a new password's length.
func CheckPassword(field, pw string) error {
	if len(pw) < MinPasswordLen || len(pw) > MaxPasswordLen {
		return errkind.InvalidField(field, field+" must be "+strconv.Itoa(MinPasswordLen)+" to "+strconv.Itoa(MaxPasswordLen)+" bytes")
	}
	return nil
}

// unsupportedOriginTypes are the types Pictor knows from ImageKit but does
// not implement.
var unsupportedOriginTypes = map[string]bool{
	"CLOUDINARY_BACKUP": true, "GCS": true, "AKENEO_PIM": true,
}

// supportedOriginTypes names the implemented types in messages.
const supportedOriginTypes = OriginWebFolder + ", " + OriginWebProxy + ", " + OriginS3 + ", " + OriginS3Compatible + " or " + OriginAzureBlob

// OriginPolicy holds the deployment settings origin validation depends on.
type OriginPolicy struct {
	// AllowPrivate accepts base URLs with loopback, private and other
	// non-public literal addresses (PICTOR_ALLOW_PRIVATE_ORIGINS).
	AllowPrivate bool
}

// CheckOrigin validates an origin as a client sent it. Values are checked,
// never rewritten: the API returns baseUrl and allowedHosts exactly as
// accepted (an S3 prefix loses its trailing '/', see CleanPrefix). An
// S3 or S3_COMPATIBLE origin may leave SecretKey empty, and an AZURE_BLOB
// origin SASToken, which an update reads as "keep the stored one";
// CheckNewOrigin requires it.
func (p OriginPolicy) CheckOrigin(o Origin) error {
	switch {
	case o.Type == "":
		return errkind.InvalidField("type", "type is required")
	case unsupportedOriginTypes[o.Type]:
		return &errkind.Error{Kind: errkind.Unsupported, Reason: "unsupported_origin_type", Field: "type",
			Msg: "origin type " + o.Type + " is not supported; use " + supportedOriginTypes}
	case o.Type != OriginWebFolder && o.Type != OriginWebProxy && !ObjectStorage(o.Type) && o.Type != OriginAzureBlob:
		return errkind.InvalidField("type", "unknown origin type "+strconv.Quote(o.Type))
	}
	if err := CheckName("name", o.Name); err != nil {
		return err
	}
	if !ObjectStorage(o.Type) {
		// Refused rather than ignored, like allowedHosts on a WEB_FOLDER:
		// a client that sends a bucket expects it to be read.
		if err := checkNoObjectStorageFields(o); err != nil {
			return err
		}
	}
	if o.Type != OriginAzureBlob {
		if err := checkNoAzureFields(o); err != nil {
			return err
		}
	}
	switch o.Type {
	case OriginWebFolder:
		if err := p.CheckBaseURL("baseUrl", o.BaseURL); err != nil {
			return err
		}
		if len(o.AllowedHosts) > 0 {
			return errkind.InvalidField("allowedHosts", "allowedHosts is for WEB_PROXY origins")
		}
	case OriginWebProxy:
		// Refused rather than ignored: a client that sends a base URL
		// expects paths to be joined to it, and they would not be.
		if o.BaseURL != "" {
			return errkind.InvalidField("baseUrl", "a WEB_PROXY origin has no baseUrl: the image path is the URL")
		}
		// The client's Host names this CDN, not the host of the URL being
		// proxied; sending it to an arbitrary third-party server is never
		// what is meant (ImageKit's WEB_PROXY has no such field).
		if o.ForwardHostHeaderToOrigin {
			return errkind.InvalidField("forwardHostHeaderToOrigin", "forwardHostHeaderToOrigin is for WEB_FOLDER origins: a WEB_PROXY origin fetches each URL from its own host")
		}
		if err := CheckAllowedHosts(o.AllowedHosts); err != nil {
			return err
		}
	case OriginS3, OriginS3Compatible:
		if err := p.checkObjectStorage(o); err != nil {
			return err
		}
	case OriginAzureBlob:
		if err := checkAzureBlob(o); err != nil {
			return err
		}
	}
	if o.IncludeCanonicalHeader && o.BaseURLForCanonicalHeader == "" {
		return errkind.InvalidField("baseUrlForCanonicalHeader", "baseUrlForCanonicalHeader is required when includeCanonicalHeader is true")
	}
	if o.BaseURLForCanonicalHeader != "" {
		// Only ever written into a Link header, never fetched: any public
		// or private host will do, but it must be a well-formed URL.
		if _, _, err := configrules.OriginURL(o.BaseURLForCanonicalHeader); err != nil {
			return rule("baseUrlForCanonicalHeader", err)
		}
	}
	return nil
}

// CheckNewOrigin is CheckOrigin for an origin being created: an S3 or
// S3_COMPATIBLE origin must come with its secret key, an AZURE_BLOB
// origin with its SAS token.
func (p OriginPolicy) CheckNewOrigin(o Origin) error {
	if err := p.CheckOrigin(o); err != nil {
		return err
	}
	if ObjectStorage(o.Type) && o.SecretKey == "" {
		return errkind.InvalidField("secretKey", "secretKey is required")
	}
	if o.Type == OriginAzureBlob && o.SASToken == "" {
		return errkind.InvalidField("sasToken", "sasToken is required")
	}
	return nil
}

// checkNoObjectStorageFields refuses the bucket fields on a WEB_FOLDER,
// WEB_PROXY or AZURE_BLOB origin (which has a prefix of its own).
func checkNoObjectStorageFields(o Origin) error {
	if o.Prefix != "" && o.Type != OriginAzureBlob {
		return errkind.InvalidField("prefix", "prefix is for S3, S3_COMPATIBLE and AZURE_BLOB origins")
	}
	for _, f := range []struct {
		name string
		set  bool
	}{
		{"bucket", o.Bucket != ""}, {"accessKey", o.AccessKey != ""},
		{"secretKey", o.SecretKey != ""}, {"endpoint", o.Endpoint != ""}, {"s3ForcePathStyle", o.S3ForcePathStyle},
	} {
		if f.set {
			return errkind.InvalidField(f.name, f.name+" is for S3 and S3_COMPATIBLE origins")
		}
	}
	return nil
}

// checkNoAzureFields refuses the Azure fields on any origin but an
// AZURE_BLOB one.
func checkNoAzureFields(o Origin) error {
	for _, f := range []struct {
		name string
		set  bool
	}{
		{"container", o.Container != ""}, {"accountName", o.AccountName != ""}, {"sasToken", o.SASToken != ""},
	} {
		if f.set {
			return errkind.InvalidField(f.name, f.name+" is for AZURE_BLOB origins")
		}
	}
	return nil
}

// checkAzureBlob validates the fields of an AZURE_BLOB origin.
func checkAzureBlob(o Origin) error {
	// A container has no base URL: blobs are read from the account's
	// blob service.
	if o.BaseURL != "" {
		return errkind.InvalidField("baseUrl", "an AZURE_BLOB origin has no baseUrl: images are read from its container")
	}
	if len(o.AllowedHosts) > 0 {
		return errkind.InvalidField("allowedHosts", "allowedHosts is for WEB_PROXY origins")
	}
	if o.ForwardHostHeaderToOrigin {
		return errkind.InvalidField("forwardHostHeaderToOrigin", "forwardHostHeaderToOrigin is for WEB_FOLDER origins: an AZURE_BLOB origin is read from Azure Blob Storage")
	}
	if err := CheckContainer(o.Container); err != nil {
		return err
	}
	if err := CheckStorageAccount(o.AccountName); err != nil {
		return err
	}
	if err := CheckPrefix(o.Prefix); err != nil {
		return err
	}
	if o.SASToken != "" {
		return CheckSASToken(o.SASToken)
	}
	return nil
}

// MaxSASTokenLen bounds an AZURE_BLOB origin's SAS token (bytes, without
// the leading '?').
const MaxSASTokenLen = configrules.MaxSASTokenLen

var (
	containerPattern      = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$`)
	storageAccountPattern = regexp.MustCompile(`^[a-z0-9]{3,24}$`)
)

// CheckContainer enforces Azure's container naming rules.
func CheckContainer(c string) error { return rule("container", configrules.Container(c)) }

// CheckStorageAccount enforces Azure's storage account naming rules.
func CheckStorageAccount(a string) error { return rule("accountName", configrules.StorageAccount(a)) }

// CleanSASToken is a SAS token as stored: without its leading '?'.
func CleanSASToken(t string) string { return strings.TrimPrefix(t, "?") }

// CheckSASToken validates an AZURE_BLOB origin's SAS token; messages
// never echo it: it is a secret.
func CheckSASToken(raw string) error { return rule("sasToken", configrules.SASToken(raw)) }

// checkObjectStorage validates the fields of an S3 or S3_COMPATIBLE origin.
func (p OriginPolicy) checkObjectStorage(o Origin) error {
	// A bucket has no base URL: keys are read through the S3 API.
	if o.BaseURL != "" {
		return errkind.InvalidField("baseUrl", "an "+o.Type+" origin has no baseUrl: images are read from its bucket")
	}
	if len(o.AllowedHosts) > 0 {
		return errkind.InvalidField("allowedHosts", "allowedHosts is for WEB_PROXY origins")
	}
	// The Host header would name this CDN to the storage service, whose
	// requests are signed for its own host.
	if o.ForwardHostHeaderToOrigin {
		return errkind.InvalidField("forwardHostHeaderToOrigin", "forwardHostHeaderToOrigin is for WEB_FOLDER origins: an "+o.Type+" origin is read through the S3 API")
	}
	if err := CheckBucket(o.Bucket); err != nil {
		return err
	}
	if err := CheckPrefix(o.Prefix); err != nil {
		return err
	}
	if err := checkCredential("accessKey", o.AccessKey, MaxAccessKeyLen, true); err != nil {
		return err
	}
	if err := checkCredential("secretKey", o.SecretKey, MaxSecretKeyLen, false); err != nil {
		return err
	}
	if o.Type == OriginS3 {
		if o.Endpoint != "" {
			return errkind.InvalidField("endpoint", "endpoint is for S3_COMPATIBLE origins: an S3 origin is read from Amazon S3")
		}
		if o.S3ForcePathStyle {
			return errkind.InvalidField("s3ForcePathStyle", "s3ForcePathStyle is for S3_COMPATIBLE origins")
		}
		return nil
	}
	// The edge fetches from the endpoint: the same SSRF rules as a
	// WEB_FOLDER's base URL.
	return p.CheckBaseURL("endpoint", o.Endpoint)
}

// Bounds of an S3 origin's fields (bytes).
const (
	MaxPrefixLen    = configrules.MaxPrefixLen
	MaxAccessKeyLen = 128
	MaxSecretKeyLen = 256
)

var (
	bucketPattern   = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
	bucketIPPattern = regexp.MustCompile(`^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$`)
)

// CheckBucket enforces S3's bucket naming rules.
func CheckBucket(b string) error { return rule("bucket", configrules.Bucket(b)) }

// CheckPrefix validates a bucket's or container's optional key prefix.
// Trailing slashes are accepted (CleanPrefix drops them).
func CheckPrefix(prefix string) error { return rule("prefix", configrules.KeyPrefix(prefix)) }

// CleanPrefix is a prefix as stored: without trailing slashes. The edge
// reads the key prefix + "/" + image path.
func CleanPrefix(prefix string) string { return strings.TrimRight(prefix, "/") }

// checkCredential accepts 1 to max printable ASCII characters without
// spaces; an empty value is accepted unless required.
func checkCredential(field, v string, max int, required bool) error {
	if v == "" {
		if required {
			return errkind.InvalidField(field, field+" is required")
		}
		return nil
	}
	if len(v) > max {
		return errkind.InvalidField(field, field+" must be at most "+strconv.Itoa(max)+" characters")
	}
	for i := 0; i < len(v); i++ {
		if v[i] <= ' ' || v[i] > '~' {
			// Never echoed: it may be a secret.
			return errkind.InvalidField(field, field+" must be printable ASCII characters without spaces")
		}
	}
	return nil
}

// MaxAllowedHosts bounds a WEB_PROXY origin's allowedHosts.
const MaxAllowedHosts = hostmatch.MaxPatterns

// CheckAllowedHosts validates a WEB_PROXY origin's allowedHosts: at most
// MaxAllowedHosts distinct lower-case DNS host names, each optionally
// prefixed by "*." for any subdomain. The edge compares them byte for byte
// with the lower-cased host, without port or trailing dot, of each URL it
// is asked to fetch, so a form that could never match (upper case, a port,
// a trailing dot) is refused here rather than silently admitting nothing. IP
// addresses are refused outright: the list narrows which public hosts may
// be fetched, and addresses are the edge dialer's business.
func CheckAllowedHosts(hosts []string) error {
	const field = "allowedHosts"
	if len(hosts) > MaxAllowedHosts {
		return errkind.InvalidField(field, field+" may list at most "+strconv.Itoa(MaxAllowedHosts)+" hosts")
	}
	seen := make(map[string]bool, len(hosts))
	for i, h := range hosts {
		if len(h) > len("*.")+253 {
			// Not echoed: the message would be as long as the entry.
			return errkind.InvalidField(field, fmt.Sprintf("%s: entry %d is longer than 253 characters", field, i+1))
		}
		// The edge checks the snapshot with the same rule.
		if err := hostmatch.Check(h); err != nil {
			return errkind.InvalidField(field, field+": "+strconv.Quote(h)+" "+err.Error())
		}
		if seen[h] {
			return errkind.InvalidField(field, field+" lists "+strconv.Quote(h)+" twice")
		}
		seen[h] = true
	}
	return nil
}

// MaxURLLen bounds every URL the API stores.
const MaxURLLen = configrules.MaxURLLen

// CheckBaseURL accepts an origin URL as configrules.OriginURL does, then
// applies this deployment's address policy: literal non-public addresses
// (and localhost) are refused unless the policy allows them; names are not
// resolved here (the edge's dialer checks the address it connects to).
func (p OriginPolicy) CheckBaseURL(field, raw string) error {
	u, literal, err := configrules.OriginURL(raw)
	if err != nil {
		return rule(field, err)
	}
	if p.AllowPrivate {
		return nil
	}
	host := u.Hostname()
	if literal {
		addr, _, _ := netguard.HostLiteral(host)
		if reason := netguard.Check(addr); reason != "" {
			return errkind.InvalidField(field, field+" points at a "+reason+" address; only public addresses are allowed")
		}
		return nil
	}
	name := strings.ToLower(strings.TrimSuffix(host, "."))
	if name == "localhost" || strings.HasSuffix(name, ".localhost") {
		return errkind.InvalidField(field, field+" points at a loopback address; only public addresses are allowed")
	}
	return nil
}

// CheckURLPrefix enforces DESIGN §3's prefix grammar on a non-default
// endpoint's prefix: one path segment the edge matches exactly.
func CheckURLPrefix(p string) error {
	if p == "" {
		return errkind.InvalidField("urlPrefix", "urlPrefix is required: only the default URL-endpoint has an empty prefix")
	}
	return rule("urlPrefix", configrules.URLPrefix(p))
}

// Limits on a URL-endpoint's lists.
const (
	MaxEndpointOrigins = 20
	MaxCustomDomains   = 20
)

// CheckEndpoint validates a URL-endpoint as a client sent it, except its
// prefix (which depends on whether it is the default endpoint) and
// whether its origins exist (storage checks that). CustomDomains must
// already be normalised.
func CheckEndpoint(e URLEndpoint) error {
	if err := CheckName("description", e.Description); err != nil {
		return err
	}
	if len(e.OriginIDs) > MaxEndpointOrigins {
		return errkind.InvalidField("origins", "origins may list at most "+strconv.Itoa(MaxEndpointOrigins)+" origins")
	}
	seen := make(map[string]bool, len(e.OriginIDs))
	for _, id := range e.OriginIDs {
		if !ValidID(id) {
			return errkind.InvalidField("origins", "origins: no origin with id "+strconv.Quote(id))
		}
		if seen[id] {
			return errkind.InvalidField("origins", "origins lists "+id+" twice")
		}
		seen[id] = true
	}
	return nil
}

// NormalizeCustomDomains returns the domains as the edge matches Host
// headers (DESIGN §3): lower case, without a port or a trailing dot,
// duplicates dropped, order kept. A domain must be a DNS name with at
// least two labels; IP literals are never custom domains.
func NormalizeCustomDomains(domains []string) ([]string, error) {
	const field = "customDomains"
	if len(domains) > MaxCustomDomains {
		return nil, errkind.InvalidField(field, field+" may list at most "+strconv.Itoa(MaxCustomDomains)+" domains")
	}
	out := make([]string, 0, len(domains))
	seen := make(map[string]bool, len(domains))
	for _, raw := range domains {
		d := strings.ToLower(raw)
		if strings.ContainsAny(d, "/@?#") {
			return nil, errkind.InvalidField(field, field+": "+strconv.Quote(raw)+" must be a bare domain name such as images.example.com, not a URL")
		}
		if strings.HasPrefix(d, "[") {
			return nil, errkind.InvalidField(field, field+": "+strconv.Quote(raw)+" is an IP address, not a domain")
		}
		if host, port, ok := strings.Cut(d, ":"); ok {
			if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
				return nil, errkind.InvalidField(field, field+": "+strconv.Quote(raw)+" has an invalid port")
			}
			d = host
		}
		d = strings.TrimSuffix(d, ".")
		if err := configrules.Domain(d); err != nil {
			return nil, errkind.InvalidField(field, field+": "+strconv.Quote(raw)+" "+err.Error())
		}
		if !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	return out, nil
}

// namedTransformationPattern is the edge's grammar for the value of n-
// (imgurl), so every stored name can be used in a URL.
var namedTransformationPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,100}$`)

// MaxNamedTransformations bounds an account's named transformations, as
// ImageKit does (250).
const MaxNamedTransformations = 250

// CheckNamedTransformationName validates the name used as n-{name}.
func CheckNamedTransformationName(name string) error {
	if !namedTransformationPattern.MatchString(name) {
		return errkind.InvalidField("name", "name must be 1 to 100 letters, digits, '_' and '-' (it is used in URLs as n-{name})")
	}
	return nil
}

// CheckNamedTransformationDefinition parses def exactly as the edge will
// when it expands n-{name}; the parser's own message names the parameter
// at fault.
func CheckNamedTransformationDefinition(def string) error {
	if strings.TrimSpace(def) == "" {
		return errkind.InvalidField("transformation", "transformation is required")
	}
	t, err := imgurl.ParseNamed(def)
	if err != nil {
		return &errkind.Error{Kind: errkind.Invalid, Reason: "invalid_transformation", Field: "transformation",
			Msg: "transformation: " + errkind.SafeMessage(err), Err: err}
	}
	if t.Empty() {
		return errkind.InvalidField("transformation", "transformation changes nothing")
	}
	return nil
}

// CheckDefaultQuality bounds the q used when a URL sets none.
func CheckDefaultQuality(q int) error {
	if q < 1 || q > 100 {
		return errkind.InvalidField("defaultQuality", "defaultQuality must be between 1 and 100")
	}
	return nil
}

// Bounds of the Cache-Control max-age of shareable images (seconds): a
// minute to ten years; the default is a year.
const (
	MinCacheMaxAge     = 60
	MaxCacheMaxAge     = 10 * 365 * 24 * 3600
	DefaultCacheMaxAge = 365 * 24 * 3600
)

// CheckCacheMaxAge bounds the max-age of shareable images.
func CheckCacheMaxAge(secs int64) error {
	if secs < MinCacheMaxAge || secs > MaxCacheMaxAge {
		return errkind.InvalidField("cacheMaxAge", fmt.Sprintf("cacheMaxAge must be between %d and %d seconds", MinCacheMaxAge, MaxCacheMaxAge))
	}
	return nil
}

// CheckKeyName validates an API key's optional label.
func CheckKeyName(name string) error {
	if name == "" {
		return nil
	}
	return CheckName("name", name)
}

// CheckStatus accepts the two account statuses.
func CheckStatus(s string) error {
	if s != StatusActive && s != StatusSuspended {
		return errkind.InvalidField("status", `status must be "active" or "suspended"`)
	}
	return nil
}
