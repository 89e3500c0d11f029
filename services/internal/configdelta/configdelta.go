// Package configdelta computes, composes and applies config deltas: the
// control plane diffs consecutive snapshots and sends each edge only what
// changed since the version it holds; the edge applies the delta to the
// snapshot it serves. Both sides use this one package, so what is sent and
// what is applied cannot drift apart.
//
// The resource is the account, sent whole when anything in it changed
// (its keys, origins, endpoints, named transformations, settings). Purge
// rules are an append-only log: each rule is sent once, in the delta of
// the version that issued it, and dropped by every side after
// purge.Retention.
package configdelta

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	configv1 "pictor/proto/pictor/config/v1"
	"pictor/services/internal/purge"
)

// Diff is the delta that brings prev to next.
func Diff(prev, next *configv1.Snapshot) *configv1.Delta {
	d := &configv1.Delta{FromVersion: prev.GetVersion(), Version: next.GetVersion(), CreatedUnixMs: next.GetCreatedUnixMs()}
	before := make(map[string]*configv1.Account, len(prev.GetAccounts()))
	for _, a := range prev.GetAccounts() {
		before[a.GetId()] = a
	}
	for _, a := range next.GetAccounts() {
		old, ok := before[a.GetId()]
		delete(before, a.GetId())
		// A builder that reuses unchanged accounts makes this a pointer
		// comparison for all but the changed ones.
		if !ok || (old != a && !proto.Equal(old, a)) {
			d.Accounts = append(d.Accounts, a)
		}
	}
	for id := range before {
		d.RemovedAccounts = append(d.RemovedAccounts, id)
	}
	slices.Sort(d.RemovedAccounts)
	known := make(map[string]bool, len(prev.GetPurges()))
	for _, p := range prev.GetPurges() {
		known[p.GetId()] = true
	}
	for _, p := range next.GetPurges() {
		if !known[p.GetId()] {
			d.Purges = append(d.Purges, p)
		}
	}
	return d
}

// Compose joins consecutive deltas (each from the previous one's version)
// into one from the first's from_version to the last's version.
func Compose(ds []*configv1.Delta) (*configv1.Delta, error) {
	if len(ds) == 0 {
		return nil, fmt.Errorf("compose: no deltas")
	}
	if len(ds) == 1 {
		return ds[0], nil
	}
	last := ds[len(ds)-1]
	out := &configv1.Delta{FromVersion: ds[0].GetFromVersion(), Version: last.GetVersion(), CreatedUnixMs: last.GetCreatedUnixMs()}
	accounts := map[string]*configv1.Account{}
	removed := map[string]bool{}
	var order []string
	listed := map[string]bool{}
	for i, d := range ds {
		if i > 0 && d.GetFromVersion() != ds[i-1].GetVersion() {
			return nil, fmt.Errorf("compose: delta %d starts at v%d, the one before ends at v%d", i, d.GetFromVersion(), ds[i-1].GetVersion())
		}
		for _, a := range d.GetAccounts() {
			if !listed[a.GetId()] {
				listed[a.GetId()] = true
				order = append(order, a.GetId())
			}
			accounts[a.GetId()] = a
			delete(removed, a.GetId())
		}
		for _, id := range d.GetRemovedAccounts() {
			delete(accounts, id)
			removed[id] = true
		}
		out.Purges = append(out.Purges, d.GetPurges()...)
	}
	for _, id := range order {
		if a := accounts[id]; a != nil {
			out.Accounts = append(out.Accounts, a)
		}
	}
	for id := range removed {
		out.RemovedAccounts = append(out.RemovedAccounts, id)
	}
	slices.Sort(out.RemovedAccounts)
	return out, nil
}

// Apply returns snap with d applied; snap is not modified (the result
// shares its unchanged accounts). d must start at snap's version. Purge
// rules past purge.Retention at now are dropped.
func Apply(snap *configv1.Snapshot, d *configv1.Delta, now time.Time) (*configv1.Snapshot, error) {
	if d.GetFromVersion() != snap.GetVersion() {
		return nil, fmt.Errorf("delta from v%d does not apply to v%d", d.GetFromVersion(), snap.GetVersion())
	}
	if d.GetVersion() <= d.GetFromVersion() {
		return nil, fmt.Errorf("delta to v%d does not move past v%d", d.GetVersion(), d.GetFromVersion())
	}
	out := &configv1.Snapshot{Version: d.GetVersion(), CreatedUnixMs: d.GetCreatedUnixMs()}
	changed := make(map[string]*configv1.Account, len(d.GetAccounts()))
	for _, a := range d.GetAccounts() {
		changed[a.GetId()] = a
	}
	removed := make(map[string]bool, len(d.GetRemovedAccounts()))
	for _, id := range d.GetRemovedAccounts() {
		removed[id] = true
	}
	out.Accounts = make([]*configv1.Account, 0, len(snap.GetAccounts())+len(changed))
	for _, a := range snap.GetAccounts() {
		id := a.GetId()
		switch {
		case removed[id]:
		case changed[id] != nil:
			out.Accounts = append(out.Accounts, changed[id])
			delete(changed, id)
		default:
			out.Accounts = append(out.Accounts, a)
		}
	}
	added := false
	for _, a := range d.GetAccounts() { // new accounts, in the delta's order
		if changed[a.GetId()] != nil {
			out.Accounts = append(out.Accounts, a)
			added = true
		}
	}
	if added { // keep the control plane's order, by id
		slices.SortStableFunc(out.Accounts, func(a, b *configv1.Account) int { return strings.Compare(a.GetId(), b.GetId()) })
	}
	oldest := now.Add(-purge.Retention).UnixMilli()
	for _, p := range snap.GetPurges() {
		if p.GetCreatedUnixMs() >= oldest {
			out.Purges = append(out.Purges, p)
		}
	}
	out.Purges = append(out.Purges, d.GetPurges()...)
	return out, nil
}
