package postgres

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"pictor/services/controlplane/internal/tenant"
	"pictor/services/internal/errkind"
)

func usageRow(account string, day time.Time, requests int64) tenant.AccountUsage {
	return tenant.AccountUsage{AccountID: account, UsageDay: tenant.UsageDay{
		Day: day, Requests: requests, BytesOut: 100 * requests, HitsL1: 1, HitsL2: 2, Misses: 3,
		OriginFetches: 4, Transforms: 5, Status4xx: 6, Status5xx: 7,
	}}
}

func readUsage(ctx context.Context, t *testing.T, db *DB, account string) map[string]tenant.UsageDay {
	t.Helper()
	list, err := db.Usage(ctx, tenant.Caller{AccountID: account, Actor: "test"}, time.Unix(0, 0), time.Now().AddDate(1, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]tenant.UsageDay{}
	for _, d := range list {
		out[d.Day.Format(time.DateOnly)] = d
	}
	return out
}

// TestIngestUsageOnce: a report counts once however often it arrives, two
// reports add up, and rows of vanished accounts are dropped without
// failing the rest.
func TestIngestUsageOnce(t *testing.T) {
	ctx := testContext(t)
	db := newDB(t)
	mustCreateAccount(ctx, t, db, "acme")
	mustCreateAccount(ctx, t, db, "beta")
	day1 := time.Date(2025, 5, 1, 0, 0, 0, 0, time.UTC)
	day2 := day1.AddDate(0, 0, 1)

	r1 := tenant.UsageReport{ID: "r1", NodeID: "edge-1", Rows: []tenant.AccountUsage{
		usageRow("beta", day1, 2), usageRow("acme", day2, 10), usageRow("acme", day1, 1), usageRow("gone", day1, 99),
	}}
	for i, wantDup := range []bool{false, true, true} {
		dup, err := db.IngestUsage(ctx, r1)
		if err != nil || dup != wantDup {
			t.Fatalf("ingest #%d: duplicate %v, %v; want %v", i+1, dup, err, wantDup)
		}
	}
	r2 := tenant.UsageReport{ID: "r2", NodeID: "edge-2", Rows: []tenant.AccountUsage{usageRow("acme", day1, 5)}}
	if dup, err := db.IngestUsage(ctx, r2); err != nil || dup {
		t.Fatalf("second report: duplicate %v, %v", dup, err)
	}

	acme := readUsage(ctx, t, db, "acme")
	d1 := acme["2025-05-01"]
	if d1.Requests != 6 || d1.BytesOut != 600 || d1.HitsL1 != 2 || d1.HitsL2 != 4 || d1.Misses != 6 ||
		d1.OriginFetches != 8 || d1.Transforms != 10 || d1.Status4xx != 12 || d1.Status5xx != 14 {
		t.Errorf("acme day 1 = %+v, want r1+r2", d1)
	}
	if acme["2025-05-02"].Requests != 10 || len(acme) != 2 {
		t.Errorf("acme = %+v", acme)
	}
	if beta := readUsage(ctx, t, db, "beta"); beta["2025-05-01"].Requests != 2 || len(beta) != 1 {
		t.Errorf("beta = %+v", beta)
	}

	// An empty report is still recorded, so its retry is a duplicate too.
	empty := tenant.UsageReport{ID: "r3", NodeID: "edge-1"}
	if dup, err := db.IngestUsage(ctx, empty); err != nil || dup {
		t.Fatalf("empty report: %v %v", dup, err)
	}
	if dup, _ := db.IngestUsage(ctx, empty); !dup {
		t.Fatal("empty report counted twice")
	}
}

// TestIngestUsageConcurrent: replicas ingesting the same report at once
// count it once; reports over the same accounts in opposite orders do not
// deadlock.
func TestIngestUsageConcurrent(t *testing.T) {
	ctx := testContext(t)
	db := newDB(t)
	accounts := []string{"aa", "bb", "cc", "dd"}
	for _, a := range accounts {
		mustCreateAccount(ctx, t, db, a)
	}
	day := time.Date(2025, 5, 1, 0, 0, 0, 0, time.UTC)
	var wg sync.WaitGroup
	var mu sync.Mutex
	dups := 0
	errs := []error{}
	for i := range 24 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := tenant.UsageReport{ID: fmt.Sprintf("r%d", i/2), NodeID: "edge"}
			for j := range accounts {
				a := accounts[j]
				if i%4 >= 2 {
					a = accounts[len(accounts)-1-j]
				}
				r.Rows = append(r.Rows, usageRow(a, day, 1))
			}
			dup, err := db.IngestUsage(ctx, r)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
			}
			if dup {
				dups++
			}
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("ingest errors: %v", errs)
	}
	if dups != 12 {
		t.Errorf("%d duplicates among 24 deliveries of 12 reports, want 12", dups)
	}
	for _, a := range accounts {
		if got := readUsage(ctx, t, db, a)["2025-05-01"].Requests; got != 12 {
			t.Errorf("%s: %d requests, want 12", a, got)
		}
	}
}

func TestPruneUsageReports(t *testing.T) {
	ctx := testContext(t)
	db := newDB(t)
	for _, id := range []string{"old", "new"} {
		if _, err := db.IngestUsage(ctx, tenant.UsageReport{ID: id, NodeID: "edge"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.pool.Exec(ctx, `UPDATE usage_reports SET received_at = now() - interval '40 days' WHERE report_id = 'old'`); err != nil {
		t.Fatal(err)
	}
	n, err := db.PruneUsageReports(ctx, 35*24*time.Hour)
	if err != nil || n != 1 {
		t.Fatalf("pruned %d, %v; want 1", n, err)
	}
	if dup, _ := db.IngestUsage(ctx, tenant.UsageReport{ID: "new", NodeID: "edge"}); !dup {
		t.Error("a recent report id was pruned")
	}
}

func TestAdvanceVersion(t *testing.T) {
	ctx := testContext(t)
	db := newDB(t)
	v0 := version(ctx, t, db)

	notified := make(chan uint64, 16)
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go db.ListenVersions(lctx, func(v uint64) { notified <- v })
	if got := <-notified; got != v0 {
		t.Fatalf("listener started at %d, want %d", got, v0)
	}

	if v, err := db.AdvanceVersion(ctx, v0-1); err != nil || v != v0 {
		t.Fatalf("advance past an older version: %d, %v; want %d unchanged", v, err, v0)
	}
	if v, err := db.AdvanceVersion(ctx, v0+40); err != nil || v != v0+41 {
		t.Fatalf("advance past v%d: %d, %v", v0+40, v, err)
	}
	select {
	case got := <-notified:
		if got != v0+41 {
			t.Fatalf("announced %d, want %d", got, v0+41)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("advance not announced")
	}
	if got := version(ctx, t, db); got != v0+41 {
		t.Fatalf("version %d after advance", got)
	}
	if _, err := db.AdvanceVersion(ctx, v0+41+maxVersionJump+1); errkind.KindOf(err) != errkind.Invalid {
		t.Fatalf("absurd jump: %v, want Invalid", err)
	}
}

// TestIngestDeliveryErrors: errors are stored with their report, once;
// the same endpoint, path and status keeps only its newest; each account
// keeps its newest MaxDeliveryErrorsPerAccount; errors of unknown
// accounts are dropped; a tenant reads only its own, newest first.
func TestIngestDeliveryErrors(t *testing.T) {
	ctx := testContext(t)
	db := newDB(t)
	acme := mustCreateAccount(ctx, t, db, "acme")
	beta := mustCreateAccount(ctx, t, db, "beta")
	t0 := time.Date(2025, 5, 1, 12, 0, 0, 0, time.UTC)
	derr := func(account, path string, status int, at time.Time) tenant.DeliveryError {
		return tenant.DeliveryError{AccountID: account, EndpointID: "default", Path: path, Status: status,
			Reason: "not_found", OriginIDs: []string{"o1", "o2"}, OccurredAt: at}
	}
	r1 := tenant.UsageReport{ID: "e1", NodeID: "edge-1", Errors: []tenant.DeliveryError{
		derr("acme", "a.jpg", 404, t0), derr("beta", "b.jpg", 502, t0), derr("gone", "c.jpg", 404, t0),
		derr("acme", "z.jpg", 504, t0.Add(time.Second)),
	}}
	for range 2 {
		if _, err := db.IngestUsage(ctx, r1); err != nil {
			t.Fatal(err)
		}
	}
	read := func(c tenant.Caller, limit int) []tenant.DeliveryError {
		t.Helper()
		list, err := db.DeliveryErrors(ctx, c, limit)
		if err != nil {
			t.Fatal(err)
		}
		return list
	}
	got := read(acme, 100)
	if len(got) != 2 || got[0].Path != "z.jpg" || got[1].Path != "a.jpg" || got[1].NodeID != "edge-1" ||
		fmt.Sprint(got[1].OriginIDs) != "[o1 o2]" || !got[1].OccurredAt.Equal(t0) {
		t.Fatalf("acme reads %+v", got)
	}
	if b := read(beta, 100); len(b) != 1 || b[0].Path != "b.jpg" || b[0].Status != 502 {
		t.Fatalf("beta reads %+v", b)
	}
	// A newer a.jpg 404 replaces the old one; an older one is ignored.
	r2 := tenant.UsageReport{ID: "e2", NodeID: "edge-2", Errors: []tenant.DeliveryError{derr("acme", "a.jpg", 404, t0.Add(time.Hour))}}
	r3 := tenant.UsageReport{ID: "e3", NodeID: "edge-3", Errors: []tenant.DeliveryError{derr("acme", "a.jpg", 404, t0.Add(-time.Hour))}}
	for _, r := range []tenant.UsageReport{r2, r3} {
		if _, err := db.IngestUsage(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if got := read(acme, 100); len(got) != 2 || got[0].Path != "a.jpg" || got[0].NodeID != "edge-2" {
		t.Fatalf("after a newer duplicate: %+v", got)
	}
	// Past the cap, the oldest go; the limit bounds a read.
	var many []tenant.DeliveryError
	for i := range MaxDeliveryErrorsPerAccount + 10 {
		many = append(many, derr("acme", fmt.Sprintf("p%03d.jpg", i), 404, t0.Add(2*time.Hour+time.Duration(i)*time.Second)))
	}
	if _, err := db.IngestUsage(ctx, tenant.UsageReport{ID: "e4", NodeID: "edge-1", Errors: many}); err != nil {
		t.Fatal(err)
	}
	got = read(acme, 1000)
	if len(got) != MaxDeliveryErrorsPerAccount || got[0].Path != fmt.Sprintf("p%03d.jpg", MaxDeliveryErrorsPerAccount+9) || got[len(got)-1].Path != "p010.jpg" {
		t.Fatalf("kept %d, newest %s, oldest %s", len(got), got[0].Path, got[len(got)-1].Path)
	}
	if got := read(acme, 5); len(got) != 5 {
		t.Fatalf("limit 5 read %d", len(got))
	}
	if b := read(beta, 100); len(b) != 1 {
		t.Fatalf("pruning acme touched beta: %+v", b)
	}
	// The default endpoint, known to edges by its real id, reads as
	// "default" as in the endpoints API.
	var defaultID string
	if err := db.pool.QueryRow(ctx, `SELECT id FROM url_endpoints WHERE account_id = 'beta' AND url_prefix = ''`).Scan(&defaultID); err != nil {
		t.Fatal(err)
	}
	e := derr("beta", "d.jpg", 404, t0.Add(time.Hour))
	e.EndpointID = defaultID
	if _, err := db.IngestUsage(ctx, tenant.UsageReport{ID: "e5", NodeID: "edge-1", Errors: []tenant.DeliveryError{e}}); err != nil {
		t.Fatal(err)
	}
	if b := read(beta, 1); b[0].Path != "d.jpg" || b[0].EndpointID != tenant.DefaultEndpointID {
		t.Fatalf("beta's default endpoint reads as %+v", b[0])
	}
}
