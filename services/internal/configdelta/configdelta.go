// Package configdelta computes, composes and applies config deltas: the
// control plane diffs consecutive snapshots and sends each edge only what
// changed since the version it holds; the edge advances the config it
// holds by the delta (State). Both sides use this one package, so what is sent and
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

// Since is the delta from version base to snap, given every account
// changed after base (changed may name more: accounts changed after snap,
// or unknown to it): each changed account snap holds is sent as snap has
// it, each one it does not is removed, and the purge rules issued after
// base are sent.
func Since(base uint64, snap *configv1.Snapshot, changed []string) *configv1.Delta {
	d := &configv1.Delta{FromVersion: base, Version: snap.GetVersion(), CreatedUnixMs: snap.GetCreatedUnixMs()}
	byID := make(map[string]*configv1.Account, len(changed))
	for _, id := range changed {
		byID[id] = nil
	}
	for _, a := range snap.GetAccounts() {
		if _, ok := byID[a.GetId()]; ok {
			byID[a.GetId()] = a
			d.Accounts = append(d.Accounts, a)
		}
	}
	for id, a := range byID {
		if a == nil {
			d.RemovedAccounts = append(d.RemovedAccounts, id)
		}
	}
	slices.Sort(d.RemovedAccounts)
	for _, p := range snap.GetPurges() {
		if p.GetVersion() > base {
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

// State is a config that deltas advance in place, at the cost of what
// each delta carries: an edge's config as it serves it, materialised as a
// Snapshot only to be written to disk.
type State struct {
	version       uint64
	createdUnixMs int64
	accounts      map[string]*configv1.Account
	purges        []*configv1.PurgeRule
}

// NewState holds snap (whose accounts it shares).
func NewState(snap *configv1.Snapshot) *State {
	st := &State{version: snap.GetVersion(), createdUnixMs: snap.GetCreatedUnixMs(),
		accounts: make(map[string]*configv1.Account, len(snap.GetAccounts())),
		purges:   slices.Clone(snap.GetPurges())}
	for _, a := range snap.GetAccounts() {
		st.accounts[a.GetId()] = a
	}
	return st
}

// Version is the version the state holds.
func (st *State) Version() uint64 { return st.version }

// Account is the account with id, or nil.
func (st *State) Account(id string) *configv1.Account { return st.accounts[id] }

// Advance applies d, which must start at the state's version, except the
// changed accounts keep refuses (by their index in d.Accounts and id):
// those stay as they are.
func (st *State) Advance(d *configv1.Delta, keep func(i int, id string) bool) error {
	if d.GetFromVersion() != st.version {
		return fmt.Errorf("delta from v%d does not apply to v%d", d.GetFromVersion(), st.version)
	}
	if d.GetVersion() <= d.GetFromVersion() {
		return fmt.Errorf("delta to v%d does not move past v%d", d.GetVersion(), d.GetFromVersion())
	}
	for _, id := range d.GetRemovedAccounts() {
		delete(st.accounts, id)
	}
	for i, a := range d.GetAccounts() {
		if keep == nil || !keep(i, a.GetId()) {
			st.accounts[a.GetId()] = a
		}
	}
	st.purges = append(st.purges, d.GetPurges()...)
	st.version, st.createdUnixMs = d.GetVersion(), d.GetCreatedUnixMs()
	return nil
}

// Snapshot is the state as a Snapshot (accounts by id, as the control
// plane orders them); purge rules past purge.Retention at now are dropped
// from both.
func (st *State) Snapshot(now time.Time) *configv1.Snapshot {
	oldest := now.Add(-purge.Retention).UnixMilli()
	st.purges = slices.DeleteFunc(st.purges, func(p *configv1.PurgeRule) bool { return p.GetCreatedUnixMs() < oldest })
	out := &configv1.Snapshot{Version: st.version, CreatedUnixMs: st.createdUnixMs,
		Accounts: make([]*configv1.Account, 0, len(st.accounts)), Purges: slices.Clone(st.purges)}
	for _, a := range st.accounts {
		out.Accounts = append(out.Accounts, a)
	}
	slices.SortFunc(out.Accounts, func(a, b *configv1.Account) int { return strings.Compare(a.GetId(), b.GetId()) })
	return out
}
