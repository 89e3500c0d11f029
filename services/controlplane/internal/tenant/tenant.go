// Package tenant is the control plane's domain: accounts and the objects
// they own (API keys, origins, URL-endpoints, ...), the rules those objects
// obey, and the service interfaces the transports call. It depends on no
// database, wire format or framework, so the rules read in one place and
// every transport enforces the same ones.
package tenant

import (
	"context"
	"time"
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
	CreatedAt      time.Time
}

// NewAccount is what creating an account stores: the account, its owner and
// its first API key. The caller generates and seals the key, so storage
// never sees a key in the clear.
type NewAccount struct {
	ID                string
	Name              string
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

// OriginWebFolder is the one origin type Pictor implements: a web server
// that already serves the images under a base URL.
const OriginWebFolder = "WEB_FOLDER"

// Origin is where an account's original images come from.
type Origin struct {
	ID                        string
	AccountID                 string
	Type                      string
	Name                      string
	BaseURL                   string
	ForwardHostHeaderToOrigin bool
	IncludeCanonicalHeader    bool
	BaseURLForCanonicalHeader string
	CreatedAt                 time.Time
	UpdatedAt                 time.Time
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

// NamedTransformation is a transformation an account refers to by name
// (`n-name`).
type NamedTransformation struct {
	ID             string
	AccountID      string
	Name           string
	Transformation string
	Enabled        bool
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
	Connected       bool
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
}

// Caller says who makes a call: recorded in the audit log and, when
// AccountID is set, the only account the call may see or change.
type Caller struct {
	AccountID string
	Actor     string // "admin", "key:<key id>", ...
	RequestID string
}

// AccountService manages accounts (admin API).
type AccountService interface {
	// CreateAccount stores the account, its owner, its first key and its
	// default URL-endpoint, and returns the account and that endpoint.
	CreateAccount(ctx context.Context, c Caller, a NewAccount) (Account, URLEndpoint, error)
}

// KeyService finds API keys.
type KeyService interface {
	// FindKeyByDigest returns the active key with this SHA-256 digest.
	FindKeyByDigest(ctx context.Context, digest []byte) (APIKey, error)
}

// OriginService manages the origins of the caller's account.
type OriginService interface {
	ListOrigins(ctx context.Context, c Caller) ([]Origin, error)
	FindOrigin(ctx context.Context, c Caller, id string) (Origin, error)
	// CreateOrigin stores o; the account's first origin is also appended
	// to its default URL-endpoint.
	CreateOrigin(ctx context.Context, c Caller, o Origin) (Origin, error)
	UpdateOrigin(ctx context.Context, c Caller, o Origin) (Origin, error)
	// DeleteOrigin fails with a conflict while an endpoint uses the origin.
	DeleteOrigin(ctx context.Context, c Caller, id string) error
}
