// Package routing holds the edge's routing table: the immutable, validated
// form of a config snapshot that maps each request (Host header and escaped
// path) to a tenant account and one of its URL-endpoints (DESIGN §3).
//
// A Table is built once per snapshot by Build and never changes afterwards,
// so the request path reads it without locks; a Holder publishes the
// current one through an atomic pointer.
package routing

import (
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"pictor/services/internal/errkind"
)

// Edge defaults applied where a snapshot leaves a value at zero.
const (
	DefaultQuality    = 80
	DefaultCacheTTL   = 30 * 24 * time.Hour
	DefaultStaleGrace = 7 * 24 * time.Hour
)

// Account is one tenant as the edge sees it. Like everything reachable from
// a Table it is shared by concurrent requests and must not be modified.
type Account struct {
	ID             string
	Suspended      bool
	AVIFEnabled    bool
	DefaultQuality int
	// CacheMaxAge is the Cache-Control max-age of shareable images (0:
	// the default, a year).
	CacheMaxAge time.Duration
	// Keys are the active signing secrets; any of them may sign a URL so
	// keys can rotate without downtime.
	Keys [][]byte
	// NamedTransformations maps n-{name} to its transformation string. Only
	// enabled ones are present, so a disabled name reads as unknown.
	NamedTransformations map[string]string

	defaultEndpoint *Endpoint
	// byPrefix holds the URL-endpoints with a non-empty prefix.
	byPrefix map[string]*Endpoint
	// domains are the custom domains the account's endpoints hold in the
	// table it was built for, so a later table can unbind them.
	domains []boundDomain
}

// Endpoint is a URL-endpoint: a set of preferred origins and delivery
// settings, reached by a path prefix or a custom domain.
type Endpoint struct {
	ID        string
	URLPrefix string // "" for the account's default endpoint
	Account   *Account
	// Origins are tried in this order; an endpoint may have none yet (a new
	// account's default endpoint), in which case every image is missing.
	Origins              []*Origin
	RestrictUnsignedURLs bool
	// OriginSet fingerprints Origins. A cached "not found" is only believed
	// while it is unchanged: adding or reordering origins must not leave
	// images missing for the negative-cache lifetime.
	OriginSet             string
	CacheTTL              time.Duration
	StaleGrace            time.Duration
	UseOriginCacheControl bool
}

// Origin is a web-server origin.
type Origin struct {
	ID string
	// BaseURL is absolute http(s) with a host and no userinfo or fragment
	// (nil for a web proxy). It is shared: clone it before changing
	// anything.
	BaseURL *url.URL
	// Proxy is a WEB_PROXY origin: the image path is itself an absolute
	// URL, fetched if its host is in AllowedHosts (any public host when
	// the list is empty).
	Proxy        bool
	AllowedHosts []string
	// Blob, when set, is the container of an AZURE_BLOB origin.
	Blob *BlobContainer
	// Store, when set, is the bucket of an S3 or S3_COMPATIBLE origin.
	Store                  *ObjectStore
	ForwardHostHeader      bool
	IncludeCanonicalHeader bool
	// CanonicalBase is the base of the Link rel="canonical" URL, without a
	// trailing slash; it defaults to the base URL (for a proxy, "": the
	// image's own URL is canonical).
	CanonicalBase string
}

// ObjectStore is an S3 bucket an origin reads: objects under Prefix, the
// image path their key's rest. Endpoint is "" for Amazon S3.
type ObjectStore struct {
	Endpoint             string
	Bucket, Prefix       string
	AccessKey, SecretKey string
	PathStyle            bool
}

// BlobContainer is an Azure Blob container an origin reads with its SAS
// token: blobs under Prefix, the image path their name's rest.
type BlobContainer struct {
	Account, Container, Prefix string
	SAS                        string // without '?'
}

// PurgeRule invalidates cached entries of one endpoint stored before
// Created: a single image path, or every path under it when Prefix is set.
type PurgeRule struct {
	ID         string
	AccountID  string
	EndpointID string
	Path       string
	Prefix     bool
	Created    time.Time
	// Version is the config version that first carried the rule; entries
	// stored under an older version are covered.
	Version uint64
}

// Covers reports whether the rule purges an entry of endpointID at path
// (escaped, without query) stored under config version stored.
func (r *PurgeRule) Covers(endpointID, path string, stored uint64) bool {
	if r.EndpointID != endpointID || stored >= r.Version {
		return false
	}
	if r.Prefix {
		return strings.HasPrefix(path, r.Path)
	}
	return path == r.Path
}

type boundDomain struct {
	name     string
	endpoint *Endpoint
}

// Table is an immutable routing table for one config version.
type Table struct {
	version  uint64
	created  time.Time
	accounts shardedMap[*Account]
	// domains maps a normalised custom domain to its endpoint.
	domains shardedMap[*Endpoint]
	purges  shardedMap[*PurgeIndex]
}

// Version is the config version the table was built from.
func (t *Table) Version() uint64 { return t.version }

// CreatedAt is when the control plane produced the snapshot (zero if it
// did not say).
func (t *Table) CreatedAt() time.Time { return t.created }

// Account returns the account with the given id, or nil.
func (t *Table) Account(id string) *Account {
	a, _ := t.accounts.get(id)
	return a
}

// PurgeRules returns the purge rules of an account, oldest first. The slice
// is shared and must not be modified.
func (t *Table) PurgeRules(accountID string) []PurgeRule { return t.Purges(accountID).Rules() }

// Purges returns the index of an account's purge rules; nil (covering
// nothing) when it has none.
func (t *Table) Purges(accountID string) *PurgeIndex {
	x, _ := t.purges.get(accountID)
	return x
}

// Route is where a request goes.
type Route struct {
	Account  *Account
	Endpoint *Endpoint
	// Rest is the escaped path after BasePath, never empty. It may still
	// start with a tr: segment, and starts with "/" only when the client
	// sent an empty segment ("/demo//a.jpg"), kept because the signature
	// covers the path as sent.
	Rest string
	// BasePath is the escaped prefix of the request path that names the
	// URL-endpoint ("/demo/", "/demo/pfx/", or "/" on a custom domain).
	// BasePath+Rest is exactly the path given to Resolve, which is what
	// lets the signature check work on the URL as the client sent it.
	BasePath string
}

// Errors are allocated once: unknown-account 404s are what scanners
// generate in bulk, and they should cost nothing.
var (
	errAccountNotFound = errkind.New(errkind.NotFound, "account_not_found", "account not found")
	errNoImagePath     = errkind.New(errkind.NotFound, "image_path_missing", "not found")
	errSuspended       = errkind.New(errkind.Forbidden, "account_suspended", "account suspended")
)

// Resolve maps a request to its account and endpoint (DESIGN §3). host is
// the Host header as received; escapedPath is the request path as received
// (not decoded), without the query. A Host bound to a custom domain takes
// the account from the domain, so a path naming another tenant stays on the
// domain's tenant; any other Host routes by path.
func (t *Table) Resolve(host, escapedPath string) (Route, error) {
	if t.domains.len() > 0 {
		if ep, _ := t.domains.get(normalizeHost(host)); ep != nil {
			return resolveDomain(ep, escapedPath)
		}
	}
	return t.resolvePath(escapedPath)
}

func resolveDomain(ep *Endpoint, p string) (Route, error) {
	if ep.Account.Suspended {
		return Route{}, errSuspended
	}
	if len(p) < 2 || p[0] != '/' {
		return Route{}, errNoImagePath
	}
	return Route{Account: ep.Account, Endpoint: ep, Rest: p[1:], BasePath: p[:1]}, nil
}

func (t *Table) resolvePath(p string) (Route, error) {
	if len(p) < 2 || p[0] != '/' {
		return Route{}, errAccountNotFound
	}
	// Account ids and prefixes only use unreserved characters, so matching
	// the escaped form exactly is right: "/%64emo/" names no account.
	id, after, _ := strings.Cut(p[1:], "/")
	acc, _ := t.accounts.get(id)
	if acc == nil {
		return Route{}, errAccountNotFound
	}
	if acc.Suspended {
		return Route{}, errSuspended
	}
	if after == "" {
		return Route{}, errNoImagePath
	}
	base := len(id) + 2 // "/" + id + "/"
	seg, tail, _ := strings.Cut(after, "/")
	if ep := acc.byPrefix[seg]; ep != nil {
		if tail == "" {
			return Route{}, errNoImagePath
		}
		return Route{Account: acc, Endpoint: ep, Rest: tail, BasePath: p[:base+len(seg)+1]}, nil
	}
	return Route{Account: acc, Endpoint: acc.defaultEndpoint, Rest: after, BasePath: p[:base]}, nil
}

// normalizeHost lower-cases a Host header and drops its port and a
// trailing dot, so "Images.Example.COM.:443" finds "images.example.com".
func normalizeHost(h string) string {
	if strings.HasPrefix(h, "[") {
		// An IPv6 literal is never a custom domain; Build rejects IP literals.
		return ""
	}
	if i := strings.LastIndexByte(h, ':'); i >= 0 {
		h = h[:i]
	}
	h = strings.TrimSuffix(h, ".")
	return strings.ToLower(h)
}

// Holder publishes the current Table to concurrent readers.
type Holder struct {
	p atomic.Pointer[Table]
}

// Load returns the current table, or nil until one has been stored.
func (h *Holder) Load() *Table { return h.p.Load() }

// Store publishes t unless the current table has a higher version, which
// happens when snapshots are applied out of order; an equal version is
// replaced so a reload of the same config takes effect. It reports whether
// t became current.
func (h *Holder) Store(t *Table) bool {
	if t == nil {
		return false
	}
	for {
		cur := h.p.Load()
		if cur != nil && t.version < cur.version {
			return false
		}
		if h.p.CompareAndSwap(cur, t) {
			return true
		}
	}
}

// NormalizeHost is the form of a Host header that is sent to an origin
// that forwards Host, and that keys what it answers: lower case, no
// trailing dot, no default port (:80, :443); another port stays, since a
// virtual host may answer per port.
func NormalizeHost(h string) string {
	h = strings.ToLower(h)
	host, port := h, ""
	if i := strings.LastIndexByte(h, ':'); i >= 0 && !strings.HasSuffix(h, "]") {
		host, port = h[:i], h[i+1:]
	}
	host = strings.TrimSuffix(host, ".")
	if port == "" || port == "80" || port == "443" {
		return host
	}
	return host + ":" + port
}
