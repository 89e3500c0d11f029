package tenant

import (
	"errors"
	"fmt"
	"net/mail"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"pictor/services/internal/errkind"
	"pictor/services/internal/hostmatch"
	"pictor/services/internal/imgurl"
	"pictor/services/internal/netguard"
)

// The validators below name fields the way the API does (DESIGN §8), so the
// field in an error is the one the client sent.

var accountIDPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{1,39}$`)

// reservedAccountIDs would shadow the edge's and control plane's own paths
// (DESIGN §3). Names starting with "_" are reserved too; the pattern above
// already excludes them.
var reservedAccountIDs = map[string]bool{
	"admin": true, "api": true, "v1": true, "healthz": true,
	"readyz": true, "metrics": true, "static": true,
}

// CheckAccountID enforces DESIGN §3: the id is the first path segment of
// every image URL of the account.
func CheckAccountID(id string) error {
	switch {
	case id == "":
		return errkind.InvalidField("id", "id is required")
	case !accountIDPattern.MatchString(id):
		return errkind.InvalidField("id", "id must be 2 to 40 characters of a-z, 0-9, '_' and '-', starting with a letter or digit")
	case reservedAccountIDs[id]:
		return errkind.InvalidField("id", "id "+strconv.Quote(id)+" is reserved")
	}
	return nil
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
		if _, err := parseHTTPURL("baseUrlForCanonicalHeader", o.BaseURLForCanonicalHeader); err != nil {
			return err
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
const MaxSASTokenLen = 2048

var (
	containerPattern      = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$`)
	storageAccountPattern = regexp.MustCompile(`^[a-z0-9]{3,24}$`)
)

// CheckContainer enforces Azure's container naming rules: 3 to 63
// lower-case letters, digits and '-', starting and ending with a letter
// or digit, without "--".
func CheckContainer(c string) error {
	const field = "container"
	switch {
	case c == "":
		return errkind.InvalidField(field, "container is required")
	case len(c) < 3 || len(c) > 63:
		return errkind.InvalidField(field, "container must be 3 to 63 characters")
	case !containerPattern.MatchString(c):
		return errkind.InvalidField(field, "container must be lower-case letters, digits and '-', starting and ending with a letter or digit")
	case strings.Contains(c, "--"):
		return errkind.InvalidField(field, "container must not contain \"--\"")
	}
	return nil
}

// CheckStorageAccount enforces Azure's storage account naming rules: 3 to
// 24 lower-case letters and digits.
func CheckStorageAccount(a string) error {
	const field = "accountName"
	switch {
	case a == "":
		return errkind.InvalidField(field, "accountName is required")
	case !storageAccountPattern.MatchString(a):
		return errkind.InvalidField(field, "accountName must be 3 to 24 lower-case letters and digits")
	}
	return nil
}

// CleanSASToken is a SAS token as stored: without its leading '?'.
func CleanSASToken(t string) string { return strings.TrimPrefix(t, "?") }

// CheckSASToken validates an AZURE_BLOB origin's SAS token: a URL query
// string (a leading '?' is accepted) of at most MaxSASTokenLen printable
// ASCII characters without spaces, with at least the sv (service version)
// and sig (signature) parameters. Messages never echo it: it is a secret.
func CheckSASToken(raw string) error {
	const field = "sasToken"
	t := CleanSASToken(raw)
	if len(t) > MaxSASTokenLen {
		return errkind.InvalidField(field, "sasToken must be at most "+strconv.Itoa(MaxSASTokenLen)+" characters")
	}
	for i := 0; i < len(t); i++ {
		if t[i] <= ' ' || t[i] > '~' {
			return errkind.InvalidField(field, "sasToken must be printable ASCII characters without spaces: a URL query string such as sv=...&sig=...")
		}
	}
	q, err := url.ParseQuery(t)
	if err != nil {
		return errkind.InvalidField(field, "sasToken must be a URL query string such as sv=...&sig=... (as Azure gives it, with or without the leading '?')")
	}
	if q.Get("sv") == "" || q.Get("sig") == "" {
		return errkind.InvalidField(field, "sasToken must include the sv and sig parameters: give the whole SAS query string Azure generated")
	}
	return nil
}

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
	MaxPrefixLen    = 1024 // S3's bound on a whole key
	MaxAccessKeyLen = 128
	MaxSecretKeyLen = 256
)

var (
	bucketPattern   = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
	bucketIPPattern = regexp.MustCompile(`^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$`)
)

// CheckBucket enforces S3's bucket naming rules: 3 to 63 lower-case
// letters, digits, '.' and '-', starting and ending with a letter or digit,
// without ".." and not shaped like an IP address.
func CheckBucket(b string) error {
	const field = "bucket"
	switch {
	case b == "":
		return errkind.InvalidField(field, "bucket is required")
	case len(b) < 3 || len(b) > 63:
		return errkind.InvalidField(field, "bucket must be 3 to 63 characters")
	case !bucketPattern.MatchString(b):
		return errkind.InvalidField(field, "bucket must be lower-case letters, digits, '.' and '-', starting and ending with a letter or digit")
	case strings.Contains(b, ".."):
		return errkind.InvalidField(field, "bucket must not contain \"..\"")
	case bucketIPPattern.MatchString(b):
		return errkind.InvalidField(field, "bucket must not be an IP address")
	}
	return nil
}

// CheckPrefix validates an S3 origin's optional key prefix: at most
// MaxPrefixLen bytes of valid UTF-8 without control characters or
// backslashes, not starting with '/', without '.', '..' or empty segments.
// Trailing slashes are accepted (CleanPrefix drops them).
func CheckPrefix(prefix string) error {
	const field = "prefix"
	if prefix == "" {
		return nil
	}
	switch {
	case len(prefix) > MaxPrefixLen:
		return errkind.InvalidField(field, "prefix must be at most "+strconv.Itoa(MaxPrefixLen)+" bytes")
	case !utf8.ValidString(prefix):
		return errkind.InvalidField(field, "prefix must be valid UTF-8")
	case strings.ContainsFunc(prefix, unicode.IsControl):
		return errkind.InvalidField(field, "prefix must not contain control characters")
	case strings.Contains(prefix, "\\"):
		return errkind.InvalidField(field, "prefix must not contain backslashes")
	case strings.HasPrefix(prefix, "/"):
		return errkind.InvalidField(field, "prefix must not start with '/': it is a key prefix inside the bucket, such as images/originals")
	}
	for _, seg := range strings.Split(CleanPrefix(prefix), "/") {
		switch seg {
		case ".", "..":
			return errkind.InvalidField(field, "prefix must not contain '.' or '..' segments")
		case "":
			return errkind.InvalidField(field, "prefix must not contain empty segments (\"//\")")
		}
	}
	return nil
}

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
const MaxURLLen = 2048

// CheckBaseURL accepts an absolute http(s) URL with a host, no credentials,
// no query and no fragment. Numeric hosts other than a plain dotted quad
// ("2130706433", "0x7f.1", "127.1") are always refused: they exist to
// smuggle an address past filters. Literal non-public addresses are refused
// unless the policy allows them; names are not resolved here (the edge's
// dialer checks the address it actually connects to).
func (p OriginPolicy) CheckBaseURL(field, raw string) error {
	u, err := parseHTTPURL(field, raw)
	if err != nil {
		return err
	}
	if u.RawQuery != "" || u.ForceQuery {
		return errkind.InvalidField(field, field+" must not have a query: image paths are appended to it")
	}
	host := u.Hostname()
	addr, literal, obfuscated := netguard.HostLiteral(host)
	switch {
	case obfuscated:
		return errkind.InvalidField(field, field+" has a numeric host that is not a dotted-decimal IPv4 address")
	case literal:
		if addr.Zone() != "" {
			return errkind.InvalidField(field, field+" must not have an IPv6 zone")
		}
		if reason := netguard.Check(addr); reason != "" && !p.AllowPrivate {
			return errkind.InvalidField(field, field+" points at a "+reason+" address; only public addresses are allowed")
		}
		return nil
	}
	if err := checkHostname(field, host); err != nil {
		return err
	}
	name := strings.ToLower(strings.TrimSuffix(host, "."))
	if !p.AllowPrivate && (name == "localhost" || strings.HasSuffix(name, ".localhost")) {
		return errkind.InvalidField(field, field+" points at a loopback address; only public addresses are allowed")
	}
	return nil
}

// parseHTTPURL parses an absolute http(s) URL with a host and without
// credentials or fragment.
func parseHTTPURL(field, raw string) (*url.URL, error) {
	if raw == "" {
		return nil, errkind.InvalidField(field, field+" is required")
	}
	if len(raw) > MaxURLLen {
		return nil, errkind.InvalidField(field, field+" must be at most "+strconv.Itoa(MaxURLLen)+" bytes")
	}
	// Spaces, control characters and backslashes are read differently by
	// different URL parsers (browsers turn '\' into '/'): refuse them.
	if strings.ContainsFunc(raw, func(r rune) bool { return r <= ' ' || r == 0x7f || r == '\\' }) {
		return nil, errkind.InvalidField(field, field+" must not contain spaces, control characters or backslashes")
	}
	if strings.Contains(raw, "#") {
		return nil, errkind.InvalidField(field, field+" must not have a fragment")
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" || u.Opaque != "" {
		return nil, errkind.InvalidField(field, field+" must be an absolute http or https URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, errkind.InvalidField(field, field+" must use http or https")
	}
	if u.User != nil {
		return nil, errkind.InvalidField(field, field+" must not contain credentials")
	}
	if u.Host == "" || u.Hostname() == "" {
		return nil, errkind.InvalidField(field, field+" must name a host")
	}
	// url.Parse decodes %-escapes in the host; an encoded host only exists
	// to hide what it names.
	if strings.Contains(authority(raw), "%") {
		return nil, errkind.InvalidField(field, field+" must not percent-encode its host")
	}
	if strings.HasSuffix(u.Host, ":") {
		return nil, errkind.InvalidField(field, field+" has an empty port")
	}
	if port := u.Port(); port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return nil, errkind.InvalidField(field, field+" has an invalid port")
		}
	}
	return u, nil
}

// authority returns the raw "host[:port]" part of an absolute URL.
func authority(raw string) string {
	_, rest, ok := strings.Cut(raw, "//")
	if !ok {
		return ""
	}
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		rest = rest[:i]
	}
	return rest
}

// checkHostname accepts an ASCII DNS name (IDNs in their xn-- form) whose
// last label is not numeric: resolvers and browsers read a name ending in a
// number as an IPv4 address.
func checkHostname(field, host string) error {
	name := strings.TrimSuffix(host, ".")
	if name == "" || len(name) > 253 {
		return errkind.InvalidField(field, field+" has an invalid host")
	}
	labels := strings.Split(name, ".")
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return errkind.InvalidField(field, field+" has an invalid host")
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return errkind.InvalidField(field, field+" has an invalid host (write international names in their xn-- form)")
			}
		}
	}
	last := labels[len(labels)-1]
	if strings.Trim(last, "0123456789") == "" || strings.HasPrefix(strings.ToLower(last), "0x") && strings.Trim(strings.ToLower(last[2:]), "0123456789abcdef") == "" {
		return errkind.InvalidField(field, field+" has a numeric host that is not a dotted-decimal IPv4 address")
	}
	return nil
}

var urlPrefixPattern = regexp.MustCompile(`^[A-Za-z0-9-]{1,100}$`)

// CheckURLPrefix enforces DESIGN §3's prefix grammar on a non-default
// endpoint's prefix: one path segment the edge matches exactly.
func CheckURLPrefix(p string) error {
	switch {
	case p == "":
		return errkind.InvalidField("urlPrefix", "urlPrefix is required: only the default URL-endpoint has an empty prefix")
	case !urlPrefixPattern.MatchString(p):
		return errkind.InvalidField("urlPrefix", "urlPrefix must be 1 to 100 letters, digits and '-'")
	}
	return nil
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
		if err := checkDomain(d); err != nil {
			return nil, errkind.InvalidField(field, field+": "+strconv.Quote(raw)+" "+err.Error())
		}
		if !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	return out, nil
}

// checkDomain accepts a lower-case DNS host name of letters, digits and
// hyphens with at least two labels whose last label is not numeric.
func checkDomain(d string) error {
	if d == "" || len(d) > 253 {
		return errors.New("is not a valid domain name")
	}
	labels := strings.Split(d, ".")
	if len(labels) < 2 {
		return errors.New("must be a fully qualified domain name such as images.example.com")
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return errors.New("is not a valid domain name")
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
				return errors.New("is not a valid domain name (write international names in their xn-- form)")
			}
		}
	}
	if strings.Trim(labels[len(labels)-1], "0123456789") == "" {
		return errors.New("is an IP address, not a domain")
	}
	return nil
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
