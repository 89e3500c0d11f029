package routing

import (
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	configv1 "pictor/proto/pictor/config/v1"
	"pictor/services/internal/configdelta"
)

// domain is the endpoint a custom domain routes to.
func (t *Table) domain(d string) *Endpoint {
	ep, _ := t.domains.get(d)
	return ep
}

// describe flattens what a table routes, for comparing two tables.
func describe(t *Table) []string {
	var out []string
	t.accounts.each(func(id string, a *Account) {
		eps := []*Endpoint{a.defaultEndpoint}
		for _, ep := range a.byPrefix {
			eps = append(eps, ep)
		}
		for _, ep := range eps {
			if ep == nil {
				continue
			}
			var origins []string
			for _, o := range ep.Origins {
				if o.BaseURL != nil {
					origins = append(origins, o.BaseURL.String())
				}
			}
			out = append(out, id+" "+ep.ID+" /"+ep.URLPrefix+" "+strings.Join(origins, ","))
		}
		out = append(out, id+" suspended="+map[bool]string{true: "y", false: "n"}[a.Suspended])
	})
	t.domains.each(func(d string, ep *Endpoint) {
		out = append(out, "domain "+d+" -> "+ep.Account.ID+"/"+ep.ID)
	})
	t.purges.each(func(acct string, x *PurgeIndex) {
		for _, r := range x.Rules() {
			out = append(out, "purge "+acct+" "+r.ID)
		}
	})
	slices.Sort(out)
	return out
}

// TestApplyDelta: the table ApplyDelta makes from the previous table
// routes exactly as the table built whole from the merged snapshot, while
// sharing every untouched account with the previous table.
func TestApplyDelta(t *testing.T) {
	prevSnap := fixture()
	prev := mustBuild(t, prevSnap)
	nextSnap := proto.Clone(prevSnap).(*configv1.Snapshot)
	nextSnap.Version = 9
	nextSnap.Accounts[0].Status = "suspended"                                   // demo changes
	nextSnap.Accounts[1].Endpoints[1].CustomDomains = []string{"new.b.example"} // tenant-b moves a domain
	nextSnap.Accounts = append(nextSnap.Accounts[:2],                           // frozen_1 removed, newbie added
		&configv1.Account{Id: "newbie", Status: "active", Origins: []*configv1.Origin{{Id: "n", BaseUrl: "https://n.example"}},
			Endpoints: []*configv1.Endpoint{{Id: "nd", OriginIds: []string{"n"}, CustomDomains: []string{"frozen.example.net"}}}})
	nextSnap.Purges = append(nextSnap.Purges, &configv1.PurgeRule{Id: "p9", AccountId: "demo", EndpointId: "ep-default", Path: "new/", Prefix: true, Version: 9, CreatedUnixMs: 3000})
	d := configdelta.Diff(prevSnap, nextSnap)

	got, rejected, err := ApplyDelta(prev, d)
	if err != nil || len(rejected) != 0 {
		t.Fatalf("ApplyDelta: %v, rejected %v", err, rejected)
	}
	held := configdelta.NewState(prevSnap)
	if err := held.Advance(d, nil); err != nil {
		t.Fatal(err)
	}
	merged := held.Snapshot(time.UnixMilli(4000))
	whole := mustBuild(t, merged)
	if g, w := describe(got), describe(whole); !slices.Equal(g, w) {
		t.Fatalf("ApplyDelta routes\n%s\nBuild of the merged snapshot routes\n%s", strings.Join(g, "\n"), strings.Join(w, "\n"))
	}
	if got.Account("tenant-b") == prev.Account("tenant-b") || got.Account("frozen_1") != nil {
		t.Error("changed or removed accounts were shared")
	}
	if got.Version() != 9 || got.Purges("demo").Newest("ep-default", "new/a.jpg") != 9 {
		t.Error("the delta's purge rule is not in force")
	}

	// A poisoned account in a delta: rejected alone, its previous version
	// (and domains) kept; the delta's other changes apply.
	bad := proto.Clone(nextSnap).(*configv1.Snapshot)
	bad.Version = 10
	bad.Accounts[1].Origins[0].BaseUrl = "ftp://nope.example"
	bad.Accounts[2].Status = "suspended"
	got2, rejected, err := ApplyDelta(got, configdelta.Diff(nextSnap, bad))
	if err != nil || len(rejected) != 1 || rejected[0].Resource != "account/tenant-b" {
		t.Fatalf("poisoned delta: %v, rejected %v", err, rejected)
	}
	if got2.Account("tenant-b") != got.Account("tenant-b") || got2.domain("new.b.example") == nil || !got2.Account("newbie").Suspended {
		t.Fatal("the poisoned account was not kept, or the other change did not apply")
	}
	if _, _, err := ApplyDelta(prev, configdelta.Diff(nextSnap, bad)); err == nil {
		t.Fatal("a delta applied to a table of another version")
	}
}
