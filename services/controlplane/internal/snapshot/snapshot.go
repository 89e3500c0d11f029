// Package snapshot turns the stored configuration into the
// configv1.Snapshot that edges consume: one immutable message per config
// version, with API keys decrypted (edges need them to verify URL
// signatures) and so are the secret keys of S3 and S3_COMPATIBLE origins
// (edges sign their requests to the bucket) and the SAS tokens of
// AZURE_BLOB origins; all travel only on the authenticated config stream.
package snapshot

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	configv1 "pictor/proto/pictor/config/v1"
	"pictor/services/controlplane/internal/auth"
	"pictor/services/controlplane/internal/tenant"
)

// Source reads the configuration at one consistent version: whole, or
// what changed after a version.
type Source interface {
	LoadConfig(ctx context.Context) (tenant.ConfigState, error)
	LoadConfigSince(ctx context.Context, since uint64) (tenant.ConfigState, error)
}

// Builder builds snapshots from a Source.
type Builder struct {
	src  Source
	keys *auth.Keyring
	log  *slog.Logger
}

// NewBuilder returns a Builder that opens keys with keys.
func NewBuilder(src Source, keys *auth.Keyring, log *slog.Logger) *Builder {
	return &Builder{src: src, keys: keys, log: log}
}

// Build reads the current configuration and returns it as a snapshot.
// The result is never modified afterwards, so it may be shared by every
// stream that sends it.
func (b *Builder) Build(ctx context.Context) (*configv1.Snapshot, error) {
	st, err := b.src.LoadConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("build snapshot: %w", err)
	}
	snap := &configv1.Snapshot{
		Version:       st.Version,
		CreatedUnixMs: time.Now().UnixMilli(),
		Accounts:      make([]*configv1.Account, 0, len(st.Accounts)),
		Purges:        make([]*configv1.PurgeRule, 0, len(st.Purges)),
	}
	for _, a := range st.Accounts {
		snap.Accounts = append(snap.Accounts, b.account(a))
	}
	sortByID(snap.Accounts)
	for _, p := range st.Purges {
		snap.Purges = append(snap.Purges, purgeRule(p))
	}
	return snap, nil
}

// BuildFrom builds the current version from prev, a snapshot this
// Builder made, reading only what changed since prev's version: the
// accounts changed are read and built again, the others are prev's (the
// result shares them), deleted ones are dropped, and the purge rules
// issued since are added to prev's unexpired ones. The result equals what
// Build would make at that version, at a cost that grows with the change,
// not with the number of tenants (but for a pass over prev's pointers).
func (b *Builder) BuildFrom(ctx context.Context, prev *configv1.Snapshot) (*configv1.Snapshot, error) {
	st, err := b.src.LoadConfigSince(ctx, prev.GetVersion())
	if err != nil {
		return nil, fmt.Errorf("build snapshot from v%d: %w", prev.GetVersion(), err)
	}
	now := time.Now()
	snap := &configv1.Snapshot{
		Version:       st.Version,
		CreatedUnixMs: now.UnixMilli(),
	}
	changed := make(map[string]bool, len(st.Changed))
	for _, id := range st.Changed {
		changed[id] = true
	}
	fresh := make([]*configv1.Account, 0, len(st.Accounts))
	for _, a := range st.Accounts {
		if !changed[a.Account.ID] {
			return nil, fmt.Errorf("build snapshot from v%d: account %s was read but is not among the changed", prev.GetVersion(), a.Account.ID)
		}
		fresh = append(fresh, b.account(a))
	}
	sortByID(fresh)
	// Merge prev's unchanged accounts with the fresh ones, both in id
	// order; a changed account not read again was deleted.
	snap.Accounts = make([]*configv1.Account, 0, len(prev.GetAccounts())+len(fresh))
	for _, a := range prev.GetAccounts() {
		if changed[a.GetId()] {
			continue
		}
		for len(fresh) > 0 && fresh[0].GetId() < a.GetId() {
			snap.Accounts, fresh = append(snap.Accounts, fresh[0]), fresh[1:]
		}
		snap.Accounts = append(snap.Accounts, a)
	}
	snap.Accounts = append(snap.Accounts, fresh...)
	expired := now.Add(-tenant.PurgeTTL).UnixMilli()
	for _, p := range prev.GetPurges() {
		if p.GetCreatedUnixMs() > expired {
			snap.Purges = append(snap.Purges, p)
		}
	}
	for _, p := range st.Purges {
		snap.Purges = append(snap.Purges, purgeRule(p))
	}
	return snap, nil
}

// sortByID orders accounts by id, byte-wise: the database's collation
// need not agree, and BuildFrom merges in this order.
func sortByID(accounts []*configv1.Account) {
	slices.SortFunc(accounts, func(a, b *configv1.Account) int { return strings.Compare(a.GetId(), b.GetId()) })
}

func purgeRule(p tenant.PurgeRule) *configv1.PurgeRule {
	return &configv1.PurgeRule{
		Id:            p.ID,
		AccountId:     p.AccountID,
		EndpointId:    p.EndpointID,
		Path:          p.Path,
		Prefix:        p.Prefix,
		CreatedUnixMs: p.CreatedAt.UnixMilli(),
		Version:       p.Version,
	}
}

func (b *Builder) account(a tenant.AccountConfig) *configv1.Account {
	out := &configv1.Account{
		Id:             a.Account.ID,
		Status:         a.Account.Status,
		AvifEnabled:    a.Account.AVIFEnabled,
		DefaultQuality: uint32(a.Account.DefaultQuality),
		// The default travels as 0 so that edges keep their own default
		// (a year) and a snapshot stays small.
		CacheMaxAgeSeconds: cacheMaxAge(a.Account.CacheMaxAge),
	}
	for _, k := range a.Keys {
		secret, err := b.keys.Open(k.ID, k.Ciphertext)
		if err != nil {
			// One unreadable key must not stop config for every tenant:
			// leave it out (its signatures fail) and say so loudly.
			b.log.Error("API key left out of snapshot", "account_id", a.Account.ID, "key_id", k.ID, "err", err)
			continue
		}
		out.Keys = append(out.Keys, &configv1.SigningKey{Id: k.ID, Secret: secret})
	}
	var leftOut map[string]bool // origins whose secret does not open
	for _, o := range a.Origins {
		po := &configv1.Origin{
			Id:                        o.ID,
			Type:                      o.Type,
			Name:                      o.Name,
			BaseUrl:                   o.BaseURL,
			ForwardHostHeaderToOrigin: o.ForwardHostHeaderToOrigin,
			IncludeCanonicalHeader:    o.IncludeCanonicalHeader,
			BaseUrlForCanonicalHeader: o.BaseURLForCanonicalHeader,
			AllowedHosts:              allowedHosts(o),
		}
		if tenant.HasSecret(o.Type) {
			secret, err := b.keys.OpenOriginSecret(o.ID, o.SecretKeyCiphertext)
			if err != nil {
				// As with a key: leave the origin out, and out of the
				// endpoints that list it (edges refuse a snapshot naming
				// an unknown origin), rather than stop config for every
				// tenant. Its endpoints try their other origins.
				b.log.Error("origin left out of snapshot: its secret does not open", "account_id", a.Account.ID, "origin_id", o.ID, "err", err)
				if leftOut == nil {
					leftOut = map[string]bool{}
				}
				leftOut[o.ID] = true
				continue
			}
			po.Prefix = o.Prefix
			if o.Type == tenant.OriginAzureBlob {
				po.AccountName = o.AccountName
				po.Container = o.Container
				po.SasToken = secret
			} else {
				po.Bucket = o.Bucket
				po.AccessKey = o.AccessKey
				po.SecretKey = secret
				if o.Type == tenant.OriginS3Compatible {
					po.Endpoint = o.Endpoint
					po.S3ForcePathStyle = o.S3ForcePathStyle
				}
			}
		}
		out.Origins = append(out.Origins, po)
	}
	for _, e := range a.Endpoints {
		originIDs := e.OriginIDs
		if len(leftOut) > 0 {
			originIDs = slices.DeleteFunc(slices.Clone(originIDs), func(id string) bool { return leftOut[id] })
		}
		out.Endpoints = append(out.Endpoints, &configv1.Endpoint{
			Id:                    e.ID,
			UrlPrefix:             e.URLPrefix,
			OriginIds:             originIDs,
			CustomDomains:         e.CustomDomains,
			RestrictUnsignedUrls:  e.RestrictUnsignedURLs,
			CacheTtlSeconds:       e.CacheTTLSeconds,
			StaleGraceSeconds:     e.StaleGraceSeconds,
			UseOriginCacheControl: e.UseOriginCacheControl,
		})
	}
	for _, n := range a.NamedTransformations {
		out.NamedTransformations = append(out.NamedTransformations, &configv1.NamedTransformation{
			Name:           n.Name,
			Transformation: n.Transformation,
			Enabled:        n.Enabled,
		})
	}
	return out
}

// allowedHosts sends an origin's host list only for WEB_PROXY, where it
// means something. Edges refuse a WEB_FOLDER origin that carries one (and
// with it the whole snapshot, for every tenant), and a stale list can be
// left on a row that a control plane predating the column turned into a
// WEB_FOLDER during a rolling upgrade.
func allowedHosts(o tenant.Origin) []string {
	if o.Type != tenant.OriginWebProxy || len(o.AllowedHosts) == 0 {
		return nil
	}
	return o.AllowedHosts
}

func cacheMaxAge(secs int64) int64 {
	if secs == tenant.DefaultCacheMaxAge {
		return 0
	}
	return secs
}
