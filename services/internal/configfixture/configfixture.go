// Package configfixture makes configs of SaaS size for the benchmarks and
// tests of the code that sends, applies and persists them, so each
// measures the same tenants issue 17's fleet benchmark seeds.
package configfixture

import (
	"fmt"

	configv1 "pictor/proto/pictor/config/v1"
)

// Fleet is a config of n accounts, each with 2 origins, 3 endpoints (one
// with a custom domain), 2 keys and 5 named transformations.
func Fleet(n int) *configv1.Snapshot {
	snap := &configv1.Snapshot{Version: 1}
	for i := range n {
		snap.Accounts = append(snap.Accounts, Account(fmt.Sprintf("tenant-%05d", i)))
	}
	return snap
}

// Account is one of Fleet's accounts.
func Account(id string) *configv1.Account {
	a := &configv1.Account{Id: id, Status: "active",
		Keys: []*configv1.SigningKey{{Id: id + "-k1", Secret: "private_" + id + "_1"}, {Id: id + "-k2", Secret: "private_" + id + "_2"}},
		Origins: []*configv1.Origin{
			{Id: id + "-o1", Type: "WEB_FOLDER", BaseUrl: "https://img." + id + ".example.com/"},
			{Id: id + "-o2", Type: "WEB_FOLDER", BaseUrl: "https://backup." + id + ".example.com/"},
		},
		Endpoints: []*configv1.Endpoint{
			{Id: id + "-e0", OriginIds: []string{id + "-o1", id + "-o2"}},
			{Id: id + "-e1", UrlPrefix: "products", OriginIds: []string{id + "-o1"}},
			{Id: id + "-e2", UrlPrefix: "media", OriginIds: []string{id + "-o2"}, CustomDomains: []string{"cdn." + id + ".example.com"}},
		},
	}
	for j := range 5 {
		a.NamedTransformations = append(a.NamedTransformations, &configv1.NamedTransformation{Name: fmt.Sprintf("t%d", j), Transformation: "w-300,h-200", Enabled: true})
	}
	return a
}
