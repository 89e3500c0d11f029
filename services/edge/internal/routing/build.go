package routing

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	configv1 "pictor/proto/pictor/config/v1"
	"pictor/services/internal/configrules"
	"pictor/services/internal/hostmatch"
)

// maxLifetime bounds cache TTLs and grace periods: far beyond any sensible
// setting, and far from overflowing time.Duration.
const maxLifetime = 10 * 365 * 24 * time.Hour

// maxProblems bounds a ValidationError so a NACK detail stays readable.
const maxProblems = 20

// ValidationError lists what is wrong with a snapshot. Its text is what the
// edge sends back as the NACK detail, so it names every object at fault.
type ValidationError struct {
	Version  uint64
	Problems []string
	// Omitted counts problems beyond the ones listed.
	Omitted int
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "invalid snapshot v%d: ", e.Version)
	b.WriteString(strings.Join(e.Problems, "; "))
	if e.Omitted > 0 {
		fmt.Fprintf(&b, "; and %d more", e.Omitted)
	}
	return b.String()
}

type builder struct {
	verr ValidationError
	// cur collects the problems of the account being built: they reject
	// that account alone (BuildOver).
	cur *ValidationError
	// curDomains are the domains the account being built bound.
	curDomains []string
}

func (b *builder) problem(format string, args ...any) {
	e := &b.verr
	if b.cur != nil {
		e = b.cur
	}
	if len(e.Problems) >= maxProblems {
		e.Omitted++
		return
	}
	e.Problems = append(e.Problems, fmt.Sprintf(format, args...))
}

// Rejection is an account BuildOver refused: the table keeps its previous
// version (or leaves it out when there was none).
type Rejection struct {
	Resource  string // "account/{id}", or "accounts[{index}]" for a bad id
	AccountID string
	Err       *ValidationError
}

// Build validates a snapshot and turns it into a Table. Everything the
// request path relies on is checked here, so a snapshot that could make a
// request misroute or fail is rejected as a whole rather than half-applied
// (a hand-written standalone config must not start with an account
// missing). The returned table copies what it needs and keeps no
// reference to snap.
func Build(snap *configv1.Snapshot) (*Table, error) {
	t, rejected, err := BuildOver(snap, nil)
	if err != nil {
		return nil, err
	}
	if len(rejected) > 0 {
		verr := &ValidationError{Version: snap.GetVersion()}
		for _, r := range rejected {
			room := max(0, maxProblems-len(verr.Problems))
			n := min(room, len(r.Err.Problems))
			verr.Problems = append(verr.Problems, r.Err.Problems[:n]...)
			verr.Omitted += r.Err.Omitted + len(r.Err.Problems) - n
		}
		return nil, verr
	}
	return t, nil
}

// RejectionsProto is rejected as the ACK carries it.
func RejectionsProto(rejected []Rejection) []*configv1.Rejection {
	var out []*configv1.Rejection
	for _, r := range rejected {
		out = append(out, &configv1.Rejection{Resource: r.Resource, ErrorDetail: r.Err.Error()})
	}
	return out
}

// BuildOver builds snap's table with prev (nil for none) as the fallback
// for each account snap gets wrong: such an account is rejected alone and
// keeps its version in prev (or is left out), while every other account
// applies, so one tenant's bad row holds back no other tenant's changes
// (suspensions, key revocations). Problems outside any account (purge
// rules) still fail the whole snapshot.
func BuildOver(snap *configv1.Snapshot, prev *Table) (*Table, []Rejection, error) {
	if snap == nil {
		return nil, nil, errors.New("invalid snapshot: missing")
	}
	b := &builder{
		verr: ValidationError{Version: snap.GetVersion()},
	}
	t := &Table{
		version: snap.GetVersion(),
	}
	if ms := snap.GetCreatedUnixMs(); ms > 0 {
		t.created = time.UnixMilli(ms)
	}
	rejected := b.accounts(t, prev, snap.GetAccounts())
	var rules []PurgeRule
	for i, pp := range snap.GetPurges() {
		if r, ok := b.purge(t, i, pp); ok {
			rules = append(rules, r)
		}
	}
	slices.SortStableFunc(rules, func(a, b PurgeRule) int { return a.Created.Compare(b.Created) })
	for _, r := range rules {
		x, _ := t.purges.get(r.AccountID)
		if x == nil {
			x = newPurgeIndex()
			t.purges.set(r.AccountID, x)
		}
		x.add(r)
	}
	if len(b.verr.Problems) > 0 {
		return nil, nil, &b.verr
	}
	return t, rejected, nil
}

// accounts builds each of accounts into t, rejecting alone each one that
// has problems (kept at its version in prev, or left out).
func (b *builder) accounts(t, prev *Table, accounts []*configv1.Account) []Rejection {
	var rejected []Rejection
	for i, pa := range accounts {
		b.cur, b.curDomains = &ValidationError{Version: t.version}, b.curDomains[:0]
		b.account(t, i, pa)
		if len(b.cur.Problems) == 0 {
			continue
		}
		r := Rejection{Resource: fmt.Sprintf("accounts[%d]", i), Err: b.cur}
		if id := pa.GetId(); configrules.AccountID(id) == nil {
			r.Resource, r.AccountID = "account/"+id, id
			b.unbind(t)
			b.keep(t, prev, id)
		}
		rejected = append(rejected, r)
	}
	b.cur = nil
	return rejected
}

// unbind takes back the table entries of the account just rejected.
func (b *builder) unbind(t *Table) {
	for _, d := range b.curDomains {
		t.domains.del(d)
	}
}

// keep puts prev's version of account id in t, with the custom domains no
// account of t has taken since.
func (b *builder) keep(t *Table, prev *Table, id string) {
	t.accounts.del(id)
	if prev == nil {
		return
	}
	acc, _ := prev.accounts.get(id)
	if acc == nil {
		return
	}
	t.accounts.set(id, acc)
	for _, bd := range acc.domains {
		if _, taken := t.domains.get(bd.name); !taken {
			t.domains.set(bd.name, bd.endpoint)
		}
	}
}

func (b *builder) account(t *Table, idx int, pa *configv1.Account) {
	id := pa.GetId()
	if err := configrules.AccountID(id); err != nil {
		b.problem("accounts[%d]: id %q: %v", idx, id, err)
		return
	}
	where := fmt.Sprintf("account %q", id)
	if _, dup := t.accounts.get(id); dup {
		b.problem("%s: duplicate account id", where)
		return
	}
	acc := &Account{
		ID:                   id,
		AVIFEnabled:          pa.GetAvifEnabled(),
		DefaultQuality:       DefaultQuality,
		NamedTransformations: make(map[string]string),
		byPrefix:             make(map[string]*Endpoint),
	}
	t.accounts.set(id, acc)

	switch pa.GetStatus() {
	case "active":
	case "suspended":
		acc.Suspended = true
	default:
		b.problem("%s: unknown status %q (want active or suspended)", where, pa.GetStatus())
	}
	switch q := pa.GetDefaultQuality(); {
	case q == 0:
	case q <= 100:
		acc.DefaultQuality = int(q)
	default:
		b.problem("%s: default_quality %d out of range 1-100", where, q)
	}
	acc.CacheMaxAge = b.lifetime(where, "cache_max_age_seconds", pa.GetCacheMaxAgeSeconds(), 0)

	keyIDs := make(map[string]bool, len(pa.GetKeys()))
	for i, k := range pa.GetKeys() {
		switch {
		case k.GetId() == "":
			b.problem("%s: keys[%d]: empty id", where, i)
		case keyIDs[k.GetId()]:
			b.problem("%s: key %q: duplicate id", where, k.GetId())
		case k.GetSecret() == "":
			// An empty HMAC key would let anyone sign URLs for this account.
			b.problem("%s: key %q: empty secret", where, k.GetId())
		default:
			acc.Keys = append(acc.Keys, []byte(k.GetSecret()))
		}
		keyIDs[k.GetId()] = true
	}

	for i, nt := range pa.GetNamedTransformations() {
		switch name := nt.GetName(); {
		case name == "":
			b.problem("%s: named_transformations[%d]: empty name", where, i)
		case !nt.GetEnabled():
		case acc.NamedTransformations[name] != "":
			b.problem("%s: named transformation %q: duplicate enabled name", where, name)
		case nt.GetTransformation() == "":
			b.problem("%s: named transformation %q: empty transformation", where, name)
		default:
			acc.NamedTransformations[name] = nt.GetTransformation()
		}
	}

	// An invalid origin stays in the map with a nil value, so endpoints
	// that use it do not add a misleading "not found" to its own problem.
	origins := make(map[string]*Origin, len(pa.GetOrigins()))
	for i, po := range pa.GetOrigins() {
		id := po.GetId()
		if id == "" {
			b.problem("%s: origins[%d]: empty id", where, i)
			continue
		}
		if _, dup := origins[id]; dup {
			b.problem("%s: origin %q: duplicate id", where, id)
			continue
		}
		origins[id] = b.origin(where, po)
	}

	epIDs := make(map[string]bool, len(pa.GetEndpoints()))
	for i, pe := range pa.GetEndpoints() {
		b.endpoint(t, acc, origins, epIDs, where, i, pe)
	}
	if acc.defaultEndpoint == nil {
		b.problem("%s: no default endpoint (url_prefix \"\")", where)
	}
}

// origin converts one origin, or reports its problems and returns nil.
func (b *builder) origin(where string, po *configv1.Origin) *Origin {
	id := po.GetId()
	where = fmt.Sprintf("%s: origin %q", where, id)
	ok := true
	proxy := po.GetType() == "WEB_PROXY"
	store, storeOK := b.objectStore(where, po)
	blob, blobOK := b.azureBlob(where, po)
	ok = ok && storeOK && blobOK
	if typ := po.GetType(); typ != "" && typ != "WEB_FOLDER" && !proxy && store == nil && blob == nil {
		b.problem("%s: unsupported type %q", where, typ)
		ok = false
	}
	var base *url.URL
	switch {
	case (proxy || store != nil || blob != nil) && po.GetBaseUrl() != "":
		b.problem("%s: a %s origin has no base_url", where, po.GetType())
		ok = false
	case !proxy && store == nil && blob == nil:
		var err error
		if base, err = originURL(po.GetBaseUrl()); err != nil {
			b.problem("%s: base_url %q: %v", where, po.GetBaseUrl(), err)
			ok = false
		}
	}
	if !proxy && len(po.GetAllowedHosts()) > 0 {
		b.problem("%s: allowed_hosts is for WEB_PROXY origins", where)
		ok = false
	}
	for _, h := range po.GetAllowedHosts() {
		if err := hostmatch.Check(h); err != nil {
			b.problem("%s: allowed_hosts: %q %v", where, h, err)
			ok = false
		}
	}
	canonical := po.GetBaseUrlForCanonicalHeader()
	if canonical != "" {
		if _, err := originURL(canonical); err != nil {
			b.problem("%s: base_url_for_canonical_header %q: %v", where, canonical, err)
			ok = false
		}
	} else {
		canonical = po.GetBaseUrl()
	}
	if !ok {
		return nil
	}
	return &Origin{
		ID:                     id,
		BaseURL:                base,
		Proxy:                  proxy,
		AllowedHosts:           po.GetAllowedHosts(),
		Store:                  store,
		Blob:                   blob,
		ForwardHostHeader:      po.GetForwardHostHeaderToOrigin(),
		IncludeCanonicalHeader: po.GetIncludeCanonicalHeader(),
		CanonicalBase:          strings.TrimRight(canonical, "/"),
	}
}

// prefix is a bucket's or container's key prefix without its trailing
// '/' (configrules.KeyPrefix).
func (b *builder) prefix(where, raw string) (string, bool) {
	if err := configrules.KeyPrefix(raw); err != nil {
		b.problem("%s: prefix %q: %v", where, raw, err)
		return "", false
	}
	return strings.TrimRight(raw, "/"), true
}

// azureBlob reads an AZURE_BLOB origin's container, or returns nil for
// other types; ok is false when it has problems.
func (b *builder) azureBlob(where string, po *configv1.Origin) (*BlobContainer, bool) {
	if po.GetType() != "AZURE_BLOB" {
		if po.GetAccountName() != "" || po.GetContainer() != "" || po.GetSasToken() != "" {
			b.problem("%s: account_name, container and sas_token are for AZURE_BLOB origins", where)
			return nil, false
		}
		return nil, true
	}
	ok := true
	for _, f := range []struct {
		name, v string
		rule    func(string) error
	}{{"account_name", po.GetAccountName(), configrules.StorageAccount}, {"container", po.GetContainer(), configrules.Container}} {
		if err := f.rule(f.v); err != nil {
			b.problem("%s: %s %q: %v", where, f.name, f.v, err)
			ok = false
		}
	}
	sas := strings.TrimPrefix(po.GetSasToken(), "?")
	if err := configrules.SASToken(sas); err != nil {
		b.problem("%s: sas_token: %v", where, err) // never the token itself
		ok = false
	}
	prefix, prefixOK := b.prefix(where, po.GetPrefix())
	ok = ok && prefixOK
	if po.GetBucket() != "" || po.GetEndpoint() != "" || po.GetSecretKey() != "" {
		b.problem("%s: bucket, secret_key and endpoint are for S3 origins", where)
		ok = false
	}
	return &BlobContainer{Account: po.GetAccountName(), Container: po.GetContainer(), Prefix: prefix, SAS: sas}, ok
}

// objectStore reads an S3 or S3_COMPATIBLE origin's bucket, or returns
// nil for other types; ok is false when it has problems.
func (b *builder) objectStore(where string, po *configv1.Origin) (*ObjectStore, bool) {
	typ := po.GetType()
	if typ != "S3" && typ != "S3_COMPATIBLE" {
		if po.GetBucket() != "" || po.GetSecretKey() != "" || po.GetEndpoint() != "" {
			b.problem("%s: bucket, secret_key and endpoint are for S3 origins", where)
			return nil, false
		}
		return nil, true
	}
	ok := true
	bucket := po.GetBucket()
	if err := configrules.Bucket(bucket); err != nil {
		b.problem("%s: bucket %q: %v", where, bucket, err)
		ok = false
	}
	prefix, prefixOK := b.prefix(where, po.GetPrefix())
	ok = ok && prefixOK
	if po.GetAccessKey() == "" || po.GetSecretKey() == "" {
		b.problem("%s: an S3 origin needs access_key and secret_key", where)
		ok = false
	}
	store := &ObjectStore{Bucket: bucket, Prefix: prefix, AccessKey: po.GetAccessKey(), SecretKey: po.GetSecretKey(),
		PathStyle: po.GetS3ForcePathStyle()}
	switch {
	case typ == "S3" && (po.GetEndpoint() != "" || po.GetS3ForcePathStyle()):
		b.problem("%s: endpoint and s3_force_path_style are for S3_COMPATIBLE origins", where)
		ok = false
	case typ == "S3_COMPATIBLE":
		u, err := originURL(po.GetEndpoint())
		if err != nil {
			b.problem("%s: endpoint %q: %v", where, po.GetEndpoint(), err)
			ok = false
		} else {
			store.Endpoint = u.String()
		}
	}
	if len(po.GetAllowedHosts()) > 0 {
		ok = false // reported with the other types' check
	}
	return store, ok
}

func (b *builder) endpoint(t *Table, acc *Account, origins map[string]*Origin, ids map[string]bool, where string, idx int, pe *configv1.Endpoint) {
	id := pe.GetId()
	if id == "" {
		b.problem("%s: endpoints[%d]: empty id", where, idx)
		return
	}
	where = fmt.Sprintf("%s: endpoint %q", where, id)
	if ids[id] {
		b.problem("%s: duplicate id", where)
		return
	}
	ids[id] = true

	ep := &Endpoint{
		ID:                    id,
		URLPrefix:             pe.GetUrlPrefix(),
		Account:               acc,
		RestrictUnsignedURLs:  pe.GetRestrictUnsignedUrls(),
		UseOriginCacheControl: pe.GetUseOriginCacheControl(),
	}
	ep.CacheTTL = b.lifetime(where, "cache_ttl_seconds", pe.GetCacheTtlSeconds(), DefaultCacheTTL)
	ep.StaleGrace = b.lifetime(where, "stale_grace_seconds", pe.GetStaleGraceSeconds(), DefaultStaleGrace)

	seen := make(map[string]bool, len(pe.GetOriginIds()))
	for _, oid := range pe.GetOriginIds() {
		o, known := origins[oid]
		switch {
		case !known:
			b.problem("%s: origin %q not found in the account", where, oid)
		case o == nil: // invalid, and already reported
		case seen[oid]:
			b.problem("%s: origin %q listed twice", where, oid)
		default:
			ep.Origins = append(ep.Origins, o)
		}
		seen[oid] = true
	}
	ep.OriginSet = originSet(ep.Origins)

	switch p := ep.URLPrefix; {
	case p == "":
		if acc.defaultEndpoint != nil {
			b.problem("%s: second default endpoint (url_prefix \"\"), first is %q", where, acc.defaultEndpoint.ID)
		} else {
			acc.defaultEndpoint = ep
		}
	case configrules.URLPrefix(p) != nil:
		b.problem("%s: url_prefix %q: %v", where, p, configrules.URLPrefix(p))
	case acc.byPrefix[p] != nil:
		b.problem("%s: url_prefix %q already used by endpoint %q", where, p, acc.byPrefix[p].ID)
	default:
		acc.byPrefix[p] = ep
	}

	for _, raw := range pe.GetCustomDomains() {
		d := strings.TrimSuffix(strings.ToLower(raw), ".")
		if err := configrules.Domain(d); err != nil {
			b.problem("%s: custom domain %q: %v", where, raw, err)
			continue
		}
		if prev, dup := t.domains.get(d); dup {
			b.problem("%s: custom domain %q already bound to account %q endpoint %q", where, d, prev.Account.ID, prev.ID)
			continue
		}
		b.curDomains = append(b.curDomains, d)
		acc.domains = append(acc.domains, boundDomain{d, ep})
		t.domains.set(d, ep)
	}
}

func (b *builder) lifetime(where, field string, secs int64, def time.Duration) time.Duration {
	switch {
	case secs == 0:
		return def
	case secs < 0 || secs > int64(maxLifetime/time.Second):
		b.problem("%s: %s %d out of range 0-%d", where, field, secs, int64(maxLifetime/time.Second))
		return def
	}
	return time.Duration(secs) * time.Second
}

func (b *builder) purge(t *Table, idx int, pp *configv1.PurgeRule) (PurgeRule, bool) {
	// Rules of deleted accounts are harmless leftovers, so they are kept
	// rather than failing the whole snapshot; only a rule that cannot be
	// attributed to an account at all is an error.
	if pp.GetAccountId() == "" {
		b.problem("purges[%d] (id %q): empty account_id", idx, pp.GetId())
		return PurgeRule{}, false
	}
	r := PurgeRule{
		ID:         pp.GetId(),
		AccountID:  pp.GetAccountId(),
		EndpointID: pp.GetEndpointId(),
		Path:       pp.GetPath(),
		Prefix:     pp.GetPrefix(),
		Created:    time.UnixMilli(pp.GetCreatedUnixMs()),
		Version:    pp.GetVersion(),
	}
	switch {
	case r.Version == 0:
		// A rule without a version covers everything stored before this
		// snapshot: purging too much is safe, too little is not.
		r.Version = t.version
	case r.Version > t.version:
		b.problem("purges[%d] (id %q): version %d is newer than the snapshot (%d)", idx, pp.GetId(), r.Version, t.version)
		return PurgeRule{}, false
	}
	return r, true
}

// originSet fingerprints an ordered origin list: everything that decides
// where an image is looked for.
func originSet(origins []*Origin) string {
	h := sha256.New()
	for _, o := range origins {
		base := ""
		if o.BaseURL != nil {
			base = o.BaseURL.String()
		}
		// A proxy's hosts decide what it may fetch, so they are part of it;
		// so is a bucket's place (not its credentials).
		fmt.Fprintf(h, "%s\x00%s\x00%t\x00%t\x00%s\x00", o.ID, base, o.ForwardHostHeader, o.Proxy, strings.Join(o.AllowedHosts, ","))
		if st := o.Store; st != nil {
			fmt.Fprintf(h, "s3\x00%s\x00%s\x00%s\x00%t\x00", st.Endpoint, st.Bucket, st.Prefix, st.PathStyle)
		}
		if bc := o.Blob; bc != nil {
			fmt.Fprintf(h, "azure\x00%s\x00%s\x00%s\x00", bc.Account, bc.Container, bc.Prefix)
		}
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// originURL parses an origin URL by the rule the control plane applies
// (configrules.OriginURL); the edge's dialer applies the address policy.
func originURL(raw string) (*url.URL, error) {
	u, _, err := configrules.OriginURL(raw)
	return u, err
}
