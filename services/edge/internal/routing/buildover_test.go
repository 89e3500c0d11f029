package routing

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	configv1 "pictor/proto/pictor/config/v1"
)

// TestBuildOverRejectsAccountsAlone: an account the snapshot gets wrong is
// rejected with its reasons and keeps its previous version, custom domains
// included, while the other accounts' changes apply; a new account that is
// wrong is left out; a wrong account id is named by its index.
func TestBuildOverRejectsAccountsAlone(t *testing.T) {
	prev := mustBuild(t, fixture())
	next := proto.Clone(fixture()).(*configv1.Snapshot)
	next.Version = 8
	// tenant-b: poisoned (an origin no edge may fetch from) and its
	// domains moved, which must not happen either.
	b := next.Accounts[1]
	b.Origins[0].BaseUrl = "ftp://files.example.com"
	b.Endpoints[1].CustomDomains = []string{"other.b-example.com"}
	// demo: a valid change (suspension) that must apply.
	next.Accounts[0].Status = "suspended"
	// A new account with a bad endpoint, and one with a bad id.
	next.Accounts = append(next.Accounts,
		&configv1.Account{Id: "newbie", Status: "active", Endpoints: []*configv1.Endpoint{{Id: "n", OriginIds: []string{"missing"}}}},
		&configv1.Account{Id: "Bad Id", Status: "active"},
	)

	got, rejected, err := BuildOver(next, prev)
	if err != nil {
		t.Fatalf("BuildOver: %v", err)
	}
	if got.Version() != 8 {
		t.Fatalf("version %d, want 8", got.Version())
	}
	want := map[string]string{
		"account/tenant-b": "must use http or https",
		"account/newbie":   `origin "missing" not found`,
		"accounts[4]":      "Bad Id",
	}
	if len(rejected) != len(want) {
		t.Fatalf("rejected %+v, want %v", rejected, want)
	}
	for _, r := range rejected {
		if !strings.Contains(r.Err.Error(), want[r.Resource]) {
			t.Errorf("%s: %q does not say %q", r.Resource, r.Err, want[r.Resource])
		}
	}
	if !got.Account("demo").Suspended {
		t.Error("demo's suspension did not apply beside the rejected account")
	}
	if got.Account("tenant-b") != prev.Account("tenant-b") {
		t.Error("tenant-b is not its previous version")
	}
	if got.Account("newbie") != nil {
		t.Error("a rejected new account is in the table")
	}
	for _, host := range []string{"images.b-example.com", "media.b-example.com"} {
		if ep := got.domain(host); ep == nil || ep.Account != prev.Account("tenant-b") {
			t.Errorf("%s no longer routes to tenant-b's previous endpoint", host)
		}
	}
	if got.domain("other.b-example.com") != nil {
		t.Error("a domain of the rejected version is routed")
	}

	// Build, for a standalone config, still refuses the whole snapshot.
	if _, err := Build(next); err == nil || !strings.Contains(err.Error(), "must use http or https") {
		t.Fatalf("Build = %v, want the whole snapshot refused", err)
	}
}
