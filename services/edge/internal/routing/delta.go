package routing

import (
	"fmt"
	"slices"
	"time"

	configv1 "pictor/proto/pictor/config/v1"
)

// Update builds the table of a config the edge received: from d alone
// (ApplyDelta, which refuses a delta from another version than prev's)
// when it came as a delta, else whole from snap (BuildOver).
func Update(snap *configv1.Snapshot, d *configv1.Delta, prev *Table) (*Table, []Rejection, error) {
	if d != nil {
		return ApplyDelta(prev, d)
	}
	return BuildOver(snap, prev)
}

// ApplyDelta builds the table of d's version from prev, the table of the
// version d starts at, rebuilding only what d carries: the accounts it
// changes (each validated, and rejected alone, as BuildOver does) and the
// purge indexes of the accounts it brings rules for. Every other account
// is shared with prev, so a change costs the same with ten thousand
// tenants as with ten. Neither prev nor d is modified.
func ApplyDelta(prev *Table, d *configv1.Delta) (*Table, []Rejection, error) {
	if prev == nil || d.GetFromVersion() != prev.version {
		return nil, nil, fmt.Errorf("delta from v%d does not apply to the table served", d.GetFromVersion())
	}
	b := &builder{verr: ValidationError{Version: d.GetVersion()}}
	t := &Table{
		version:  d.GetVersion(),
		created:  prev.created,
		accounts: prev.accounts.fork(),
		domains:  prev.domains.fork(),
		purges:   prev.purges.fork(),
	}
	if ms := d.GetCreatedUnixMs(); ms > 0 {
		t.created = time.UnixMilli(ms)
	}
	// Take out every account d touches, with the domains it held: what
	// comes back is built from d alone.
	touched := slices.Clone(d.GetRemovedAccounts())
	for _, a := range d.GetAccounts() {
		touched = append(touched, a.GetId())
	}
	for _, id := range touched {
		a, _ := t.accounts.get(id)
		if a == nil {
			continue
		}
		for _, bd := range a.domains {
			if ep, _ := t.domains.get(bd.name); ep == bd.endpoint {
				t.domains.del(bd.name)
			}
		}
		t.accounts.del(id)
	}
	rejected := b.accounts(t, prev, d.GetAccounts())

	added := map[string][]PurgeRule{}
	for i, pp := range d.GetPurges() {
		if r, ok := b.purge(t, i, pp); ok {
			added[r.AccountID] = append(added[r.AccountID], r)
		}
	}
	for acct, rules := range added {
		// Indexes are shared with prev: the account's is rebuilt, not
		// changed in place.
		x := newPurgeIndex()
		for _, r := range prev.Purges(acct).Rules() {
			x.add(r)
		}
		for _, r := range rules {
			x.add(r)
		}
		t.purges.set(acct, x)
	}
	if len(b.verr.Problems) > 0 {
		return nil, nil, &b.verr
	}
	return t, rejected, nil
}
