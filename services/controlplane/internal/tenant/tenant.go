// Package tenant is the control plane's domain: accounts and the objects
// they own (API keys, origins, URL-endpoints, ...), the rules those objects
// obey, and the service interfaces the transports call. It depends on no
// database, wire format or framework, so the rules read in one place and
// every transport enforces the same ones.
package tenant

import (
	"context"
	"crypto/sha256"
	"strings"
	"time"

	"pictor/services/internal/purge"
)

// Account statuses.
const (
	StatusActive    = "active"
	StatusSuspended = "suspended"
)

// Account is one customer. Everything else hangs off an account and is
// reachable only through it.
type Account struct {
	ID             string
	Name           string
	OwnerEmail     string
	Status         string
	AVIFEnabled    bool
	DefaultQuality int
	// CacheMaxAge is the Cache-Control max-age of shareable images, in
	// seconds.
	CacheMaxAge int64
	CreatedAt   time.Time
}

// NewAccount is what creating an account stores: the account, its owner and
// its first API key. The caller generates and seals the key, so storage
// never sees a key in the clear.
type NewAccount struct {
	ID                string
	Name              string
	OwnerID           string // the owner's user id; "" to have one made
	OwnerEmail        string
	OwnerPasswordHash string // "" when the owner has no password yet
	Key               NewKey
}

// NewKey is a freshly generated API key as stored: a digest to find it by
// and the secret sealed under the master key.
type NewKey struct {
	ID            string
	DisplayPrefix string // first characters of the secret, to tell keys apart
	Digest        []byte
	Ciphertext    []byte
}

// APIKey is a stored key as authentication sees it.
type APIKey struct {
	ID            string
	AccountID     string
	AccountStatus string
	Ciphertext    []byte
}

// SealedKey is an active key of an account, still encrypted.
type SealedKey struct {
	ID         string
	Ciphertext []byte
}

// The origin types Pictor implements, named as ImageKit names them.
const (
	// OriginWebFolder is a web server that already serves the images under
	// a base URL.
	OriginWebFolder = "WEB_FOLDER"
	// OriginWebProxy has no base URL: the image path is itself an absolute
	// http(s) URL, which the edge fetches.
	OriginWebProxy = "WEB_PROXY"
	// OriginS3 is an Amazon S3 bucket, read with the origin's access key.
	OriginS3 = "S3"
	// OriginS3Compatible is a bucket of another S3-compatible service
	// (MinIO, R2, Spaces, ...) at Endpoint.
	OriginS3Compatible = "S3_COMPATIBLE"
	// OriginAzureBlob is an Azure Blob Storage container, read with the
	// origin's SAS token.
	OriginAzureBlob = "AZURE_BLOB"
)

// ObjectStorage reports whether an origin of type t is a bucket (S3 or
// S3_COMPATIBLE): it has a bucket and credentials instead of a base URL.
func ObjectStorage(t string) bool { return t == OriginS3 || t == OriginS3Compatible }

// HasSecret reports whether an origin of type t has a secret, sealed in
// SecretKeyCiphertext: an S3 or S3_COMPATIBLE origin's secret key, an
// AZURE_BLOB origin's SAS token.
func HasSecret(t string) bool { return ObjectStorage(t) || t == OriginAzureBlob }

// SameSecretKind reports whether the secret of an origin of type from
// means the same thing for one of type to, so that an update changing the
// type may keep it: S3 <-> S3_COMPATIBLE may, nothing else may.
func SameSecretKind(from, to string) bool {
	return from == to && HasSecret(to) || ObjectStorage(from) && ObjectStorage(to)
}

// Origin is where an account's original images come from.
type Origin struct {
	ID                        string
	AccountID                 string
	Type                      string
	Name                      string
	BaseURL                   string // "" for WEB_PROXY
	ForwardHostHeaderToOrigin bool
	IncludeCanonicalHeader    bool
	BaseURLForCanonicalHeader string
	// AllowedHosts (WEB_PROXY only, a Pictor extension) are the hosts the
	// proxy may fetch from: "images.example.com", or "*.example.com" for
	// any subdomain (not example.com itself). Empty allows any public host.
	AllowedHosts []string

	// S3 and S3_COMPATIBLE only: the bucket, the key prefix the images
	// live under (stored without leading or trailing '/': the edge reads
	// key prefix + "/" + path, or path alone when it is ""), and the
	// access key id requests are signed with.
	Bucket    string
	Prefix    string
	AccessKey string
	// SecretKey is the secret access key in the clear. It is set only on
	// an origin as a client sent it, for validation, and by whoever opens
	// SecretKeyCiphertext (the snapshot builder); storage never sees it.
	SecretKey string
	// SecretKeyCiphertext is the origin's secret (SecretKey, or SASToken
	// for AZURE_BLOB) sealed under the master key (the auth package's
	// Keyring), which is what storage keeps. On an update, nil keeps the
	// stored secret of an origin that has one (HasSecret) when its kind
	// does not change (SameSecretKind); any other type stores none.
	SecretKeyCiphertext []byte
	// S3_COMPATIBLE only: the service's base URL, and whether the bucket
	// is addressed in the path (https://host/bucket/key) rather than as a
	// subdomain.
	Endpoint         string
	S3ForcePathStyle bool

	// AZURE_BLOB only: the storage account and container the images live
	// in (Prefix is the blob name prefix, as for S3), and the SAS token
	// requests carry, in the clear and without a leading '?'. Like
	// SecretKey, SASToken is set only on an origin as a client sent it,
	// and by whoever opens SecretKeyCiphertext; storage never sees it.
	AccountName string
	Container   string
	SASToken    string

	CreatedAt time.Time
	UpdatedAt time.Time
}

// URLEndpoint maps a URL prefix of an account (or a custom domain) to an
// ordered list of origins. Every account has a default endpoint with
// prefix "".
type URLEndpoint struct {
	ID                    string
	AccountID             string
	Description           string
	URLPrefix             string
	OriginIDs             []string // preference order
	CustomDomains         []string
	RestrictUnsignedURLs  bool
	CacheTTLSeconds       int64 // 0: the edge default
	StaleGraceSeconds     int64 // 0: the edge default
	UseOriginCacheControl bool
}

// DefaultEndpointDescription describes the endpoint every account starts with.
const DefaultEndpointDescription = "Default URL-endpoint"

// EndpointUpdate is the new state of a URL-endpoint.
type EndpointUpdate struct {
	Description string
	// URLPrefix nil keeps the prefix: a client that only renames an
	// endpoint must not move it by omission.
	URLPrefix            *string
	OriginIDs            []string
	CustomDomains        []string // normalised
	RestrictUnsignedURLs bool
}

// DefaultEndpointID is how the API names every account's default
// URL-endpoint, as ImageKit does ("For the default URL-endpoint, this is
// always `default`"). Storage keeps a real id; both are accepted.
const DefaultEndpointID = "default"

// Default reports whether e is its account's default endpoint.
func (e URLEndpoint) Default() bool { return e.URLPrefix == "" }

// NamedTransformation is a transformation an account refers to by name
// (`n-name`).
type NamedTransformation struct {
	ID             string
	AccountID      string
	Name           string
	Transformation string
	Enabled        bool
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// NamedTransformationPatch changes the fields that are set.
type NamedTransformationPatch struct {
	Name           *string
	Transformation *string
	Enabled        *bool
}

// PurgeRule makes edges treat cached copies of a path (or of every path
// under a prefix) stored under a config version before Version as misses.
type PurgeRule struct {
	ID         string
	AccountID  string
	EndpointID string
	Path       string
	Prefix     bool
	Version    uint64 // the config version that introduced the rule
	CreatedAt  time.Time
}

// ConfigState is everything edges need, read at one config version.
type ConfigState struct {
	Version  uint64
	Accounts []AccountConfig
	Purges   []PurgeRule
	// Since, when not 0, makes the state partial (LoadConfigSince): only
	// the accounts changed after version Since are in Accounts, only the
	// purge rules issued after it in Purges, and Changed lists those
	// accounts' ids: each is in Accounts, or was deleted. Every other
	// account is as it was at Since.
	Since   uint64
	Changed []string
}

// AccountConfig is one account's part of a ConfigState.
type AccountConfig struct {
	Account              Account
	Keys                 []SealedKey
	Origins              []Origin
	Endpoints            []URLEndpoint
	NamedTransformations []NamedTransformation
}

// EdgeNode is what the control plane knows about an edge's config stream.
type EdgeNode struct {
	NodeID          string
	EdgeGroup       string
	AppliedVersion  uint64
	LastAckVersion  uint64
	LastNackVersion uint64
	LastNackDetail  string
	// Rejected are the resources the edge refused alone in the version it
	// applied last (each kept at its previous version there).
	Rejected  []Rejection
	Connected bool
	// Session names the stream that last spoke for the node, so a stream
	// that ends after the node reconnected elsewhere does not mark the node
	// disconnected.
	Session  string
	LastSeen time.Time
}

// EdgeAck is an edge's answer to a snapshot: an ACK when ErrorDetail is
// empty, else a NACK.
type EdgeAck struct {
	NodeID         string
	Session        string
	Version        uint64 // the snapshot answered
	AppliedVersion uint64 // what the edge serves now
	ErrorDetail    string
	// Rejected are resources an ACKed version applied without (kept at
	// their previous version on the edge).
	Rejected []Rejection
}

// Rejection is a resource of a config version an edge refused alone.
type Rejection struct {
	Resource    string `json:"resource"` // "account/{id}"
	ErrorDetail string `json:"errorDetail"`
}

// Purge request statuses, named as ImageKit names them.
const (
	PurgePending   = "Pending"
	PurgeCompleted = "Completed"
)

// PurgeTTL is how long a purge rule stays in the config stream: as long as
// an edge may keep any cached entry (purge.Retention), so every entry a
// rule covers is gone before the rule is.
const PurgeTTL = purge.Retention

// PurgeURL is a purge request's URL taken apart the way an edge routes a
// request: by its host (a custom domain) or else by its path.
type PurgeURL struct {
	Raw  string // as the client sent it
	Host string // lower case, without port or trailing dot
	Path string // escaped, starting with "/", without query or fragment
}

// PurgeRequest is a stored purge: a PurgeRule plus what the API reports.
type PurgeRequest struct {
	PurgeRule
	URL       string
	ExpiresAt time.Time
}

// UsageDay is one account's traffic on one UTC day, as edges reported it.
type UsageDay struct {
	Day           time.Time // midnight UTC
	Requests      int64
	BytesOut      int64
	HitsL1        int64
	HitsL2        int64
	Misses        int64
	OriginFetches int64
	Transforms    int64
	Status4xx     int64
	Status5xx     int64
}

// KeyInfo is what the API shows of a stored key: never the secret.
type KeyInfo struct {
	ID            string
	Name          string
	DisplayPrefix string
	CreatedAt     time.Time
}

// Settings are an account's delivery settings.
type Settings struct {
	AVIFEnabled    bool
	DefaultQuality int
	CacheMaxAge    int64 // seconds
}

// SettingsPatch changes the settings that are set.
type SettingsPatch struct {
	AVIFEnabled    *bool
	DefaultQuality *int
	CacheMaxAge    *int64
}

// AccountPatch changes the account fields that are set (admin API).
type AccountPatch struct {
	Name   *string
	Status *string
}

// AccountPage is one page of the account list, ordered by id.
type AccountPage struct {
	Accounts []Account
	// Next is the id to continue after, "" on the last page.
	Next string
}

// User is a dashboard user as login sees it.
type User struct {
	ID            string
	AccountID     string
	Email         string
	PasswordHash  string // "" when the user has no password
	AccountStatus string
}

// Session is a live dashboard session.
type Session struct {
	AccountID     string
	UserID        string
	Email         string
	AccountStatus string
	ExpiresAt     time.Time
}

// NewSession is a session as stored: the digest of the cookie's secret.
type NewSession struct {
	Digest    []byte
	AccountID string
	UserID    string
	ExpiresAt time.Time
}

// Caller says who makes a call: recorded in the audit log and, when
// AccountID is set, the only account the call may see or change.
type Caller struct {
	AccountID string
	Actor     string // "admin", "key:<key id>", "user:<user id>", ...
	RequestID string
}

// AccountService manages accounts (admin API and sign-up).
type AccountService interface {
	// CreateAccount stores the account, its owner, its first key and its
	// default URL-endpoint, and returns the account and that endpoint.
	CreateAccount(ctx context.Context, c Caller, a NewAccount) (Account, URLEndpoint, error)
	// ListAccounts returns up to limit accounts with ids after after.
	ListAccounts(ctx context.Context, after string, limit int) (AccountPage, error)
	FindAccount(ctx context.Context, id string) (Account, error)
	// UpdateAccount changes name and status; a status change reaches the
	// edges (a suspended account's images answer 403).
	UpdateAccount(ctx context.Context, c Caller, id string, p AccountPatch) (Account, error)
	// DeleteAccount removes the account and everything it owns. Its audit
	// rows stay: they are the record of what happened.
	DeleteAccount(ctx context.Context, c Caller, id string) error
}

// KeyService manages API keys.
type KeyService interface {
	// FindKeyByDigest returns the active key with this SHA-256 digest.
	FindKeyByDigest(ctx context.Context, digest []byte) (APIKey, error)
	ListKeys(ctx context.Context, c Caller) ([]KeyInfo, error)
	CreateKey(ctx context.Context, c Caller, name string, k NewKey) (KeyInfo, error)
	// RevokeKey fails with a conflict for the account's last active key.
	RevokeKey(ctx context.Context, c Caller, id string) error
}

// OriginService manages the origins of the caller's account.
type OriginService interface {
	ListOrigins(ctx context.Context, c Caller) ([]Origin, error)
	FindOrigin(ctx context.Context, c Caller, id string) (Origin, error)
	// FindOriginSecret is FindOrigin with the sealed secret
	// (SecretKeyCiphertext), for "Test origin" on a saved bucket or
	// container; its caller opens it and never shows it.
	FindOriginSecret(ctx context.Context, c Caller, id string) (Origin, error)
	// CreateOrigin stores o under o.ID, or a new id when it is ""; the
	// account's first origin is also appended to its default
	// URL-endpoint. An S3 or S3_COMPATIBLE origin comes with its secret
	// sealed for that id (SecretKeyCiphertext), never in the clear.
	CreateOrigin(ctx context.Context, c Caller, o Origin) (Origin, error)
	// UpdateOrigin replaces the origin's fields; a nil SecretKeyCiphertext
	// keeps the stored secret of an origin that stays S3 or S3_COMPATIBLE.
	// Origins returned by the service never carry a secret, sealed or not,
	// but from FindOriginSecret: only it and the config source (LoadConfig)
	// read the ciphertext.
	UpdateOrigin(ctx context.Context, c Caller, o Origin) (Origin, error)
	// DeleteOrigin fails with a conflict while an endpoint uses the origin.
	DeleteOrigin(ctx context.Context, c Caller, id string) error
}

// EndpointService manages the URL-endpoints of the caller's account. Ids
// may be DefaultEndpointID.
type EndpointService interface {
	ListEndpoints(ctx context.Context, c Caller) ([]URLEndpoint, error)
	FindEndpoint(ctx context.Context, c Caller, id string) (URLEndpoint, error)
	CreateEndpoint(ctx context.Context, c Caller, e URLEndpoint) (URLEndpoint, error)
	// UpdateEndpoint replaces the endpoint's fields; the default
	// endpoint's prefix stays "".
	UpdateEndpoint(ctx context.Context, c Caller, id string, u EndpointUpdate) (URLEndpoint, error)
	// DeleteEndpoint refuses the default endpoint.
	DeleteEndpoint(ctx context.Context, c Caller, id string) error
}

// NamedTransformationService manages the caller's named transformations.
type NamedTransformationService interface {
	ListNamedTransformations(ctx context.Context, c Caller) ([]NamedTransformation, error)
	FindNamedTransformation(ctx context.Context, c Caller, id string) (NamedTransformation, error)
	CreateNamedTransformation(ctx context.Context, c Caller, n NamedTransformation) (NamedTransformation, error)
	UpdateNamedTransformation(ctx context.Context, c Caller, id string, p NamedTransformationPatch) (NamedTransformation, error)
	DeleteNamedTransformation(ctx context.Context, c Caller, id string) error
}

// PurgeService records purges and reports their progress.
type PurgeService interface {
	// CreatePurge resolves u to one of the caller's endpoints and stores a
	// purge rule carried by a new config version.
	CreatePurge(ctx context.Context, c Caller, u PurgeURL) (PurgeRequest, error)
	// PurgeStatus is PurgeCompleted once every connected edge applied the
	// rule's config version (at once when none is connected).
	PurgeStatus(ctx context.Context, c Caller, id string) (string, error)
}

// UsageService reads the daily usage edges reported.
type UsageService interface {
	// Usage returns the days in [from, to) that have traffic, oldest first.
	Usage(ctx context.Context, c Caller, from, to time.Time) ([]UsageDay, error)
}

// DeliveryErrorService reads the recent delivery errors edges reported.
type DeliveryErrorService interface {
	// DeliveryErrors returns the caller's newest errors, at most limit,
	// newest first.
	DeliveryErrors(ctx context.Context, c Caller, limit int) ([]DeliveryError, error)
}

// SettingsService reads and changes the caller's own account.
type SettingsService interface {
	// Account returns the caller's account.
	Account(ctx context.Context, c Caller) (Account, error)
	Settings(ctx context.Context, c Caller) (Settings, error)
	UpdateSettings(ctx context.Context, c Caller, p SettingsPatch) (Settings, error)
}

// SessionService backs dashboard logins.
type SessionService interface {
	// FindUserByEmail looks the email up case-insensitively.
	FindUserByEmail(ctx context.Context, email string) (User, error)
	CreateSession(ctx context.Context, c Caller, s NewSession) error
	// FindSession returns the unexpired session with this digest.
	FindSession(ctx context.Context, digest []byte) (Session, error)
	DeleteSession(ctx context.Context, c Caller, digest []byte) error
}

// RateLimiter counts requests per account in fixed windows shared by every
// control-plane replica.
type RateLimiter interface {
	// Hit counts one request of account in bucket's current window and
	// returns the hits so far in it and when it ends.
	Hit(ctx context.Context, account, bucket string, window time.Duration) (hits int, reset time.Time, err error)
}

// LoginLimiter counts login attempts per email, shared by every
// control-plane replica. Emails are given as the digest of their
// lower-cased form (LoginDigest): whether one owns an account plays no
// part.
type LoginLimiter interface {
	// CountLoginAttempt counts one attempt for the email in its current
	// window, which starts at the first attempt and lasts window, and
	// returns the attempts so far in it and when it ends.
	CountLoginAttempt(ctx context.Context, emailDigest []byte, window time.Duration) (attempts int, reset time.Time, err error)
	// ForgiveLoginAttempt uncounts one attempt of the current window: a
	// successful login does not use up its owner's allowance.
	ForgiveLoginAttempt(ctx context.Context, emailDigest []byte) error
}

// LoginDigest is the key LoginLimiter counts an email under.
func LoginDigest(email string) []byte {
	d := sha256.Sum256([]byte(strings.ToLower(email)))
	return d[:]
}

// EdgeService reports the edges' config streams (admin API).
type EdgeService interface {
	ListEdges(ctx context.Context) ([]EdgeNode, error)
}
