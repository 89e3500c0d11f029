package usage_test

import (
	"context"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	usagev1 "pictor/proto/pictor/usage/v1"
	"pictor/services/controlplane/internal/configpush"
	"pictor/services/controlplane/internal/postgres"
	"pictor/services/controlplane/internal/tenant"
	"pictor/services/controlplane/internal/usage"
	"pictor/services/internal/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

const edgeToken = "edge-token-for-usage-tests"

type harness struct {
	db     *postgres.DB
	client usagev1.UsageServiceClient
	// loseNext makes the server drop the answer of its next successful
	// call, after the report was ingested: a lost acknowledgement.
	loseNext atomic.Bool
}

func start(t *testing.T) *harness {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	db, err := postgres.Open(context.Background(), pgtest.NewDatabase(t), log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	h := &harness{db: db}
	lose := func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		resp, err := handler(ctx, req)
		if err == nil && h.loseNext.CompareAndSwap(true, false) {
			return nil, status.Error(codes.Unavailable, "connection reset (test)")
		}
		return resp, err
	}
	srv := grpc.NewServer(append(configpush.ServerOptions(edgeToken, log), grpc.ChainUnaryInterceptor(lose))...)
	usagev1.RegisterUsageServiceServer(srv, usage.New(db, log, usage.Options{}))
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	h.client = usagev1.NewUsageServiceClient(conn)
	if _, _, err := db.CreateAccount(context.Background(), tenant.Caller{Actor: "admin"}, tenant.NewAccount{
		ID: "acme", Name: "acme", OwnerEmail: "acme@example.com",
		Key: tenant.NewKey{ID: tenant.NewID(), DisplayPrefix: "p", Digest: []byte("acme"), Ciphertext: []byte("c")},
	}); err != nil {
		t.Fatal(err)
	}
	return h
}

func authed(t *testing.T, token string) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	if token == "" {
		return ctx
	}
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
}

func (h *harness) requests(t *testing.T, day string) int64 {
	t.Helper()
	d, _ := time.Parse(time.DateOnly, day)
	list, err := h.db.Usage(context.Background(), tenant.Caller{AccountID: "acme", Actor: "test"}, d, d.AddDate(0, 0, 1))
	if err != nil {
		t.Fatal(err)
	}
	if len(list) == 0 {
		return 0
	}
	return list[0].Requests
}

func report(id string, day string, requests uint64) *usagev1.UsageReport {
	return &usagev1.UsageReport{ReportId: id, NodeId: "edge-1", CreatedUnixMs: time.Now().UnixMilli(), Usage: []*usagev1.AccountUsage{
		{AccountId: "acme", Day: day, Requests: requests, BytesOut: 10 * requests, HitsL1: requests},
	}}
}

// TestLostAcknowledgementCountedOnce: the first delivery is ingested but
// its answer lost; the edge's retry of the same report is acknowledged as
// a duplicate and nothing is counted twice.
func TestLostAcknowledgementCountedOnce(t *testing.T) {
	h := start(t)
	day := time.Now().UTC().Format(time.DateOnly)
	rep := report("report-1", day, 7)

	h.loseNext.Store(true)
	if _, err := h.client.Report(authed(t, edgeToken), rep); status.Code(err) != codes.Unavailable {
		t.Fatalf("first delivery: %v, want the lost answer", err)
	}
	resp, err := h.client.Report(authed(t, edgeToken), rep)
	if err != nil || !resp.Duplicate {
		t.Fatalf("retry: %v, %v; want a duplicate acknowledgement", resp, err)
	}
	if got := h.requests(t, day); got != 7 {
		t.Fatalf("%d requests counted, want 7", got)
	}
	resp, err = h.client.Report(authed(t, edgeToken), report("report-2", day, 3))
	if err != nil || resp.Duplicate {
		t.Fatalf("next report: %v, %v", resp, err)
	}
	if got := h.requests(t, day); got != 10 {
		t.Fatalf("%d requests counted, want 10", got)
	}
}

func TestInvalidReports(t *testing.T) {
	h := start(t)
	day := time.Now().UTC().Format(time.DateOnly)
	tomorrowPlus := time.Now().UTC().AddDate(0, 0, 3).Format(time.DateOnly)
	tooMany := &usagev1.UsageReport{ReportId: "big", NodeId: "edge-1"}
	for range 5001 {
		tooMany.Usage = append(tooMany.Usage, &usagev1.AccountUsage{AccountId: "acme", Day: day})
	}
	twice := report("twice", day, 1)
	twice.Usage = append(twice.Usage, twice.Usage[0])
	huge := report("huge", day, 1)
	huge.Usage[0].BytesOut = 1 << 63
	for _, tt := range []struct {
		name string
		rep  *usagev1.UsageReport
		want string
	}{
		{"no report id", report("", day, 1), "report_id"},
		{"report id with space", report("a b", day, 1), "report_id"},
		{"no node id", &usagev1.UsageReport{ReportId: "x"}, "node_id"},
		{"bad day", report("d1", "2025-13-01", 1), "day"},
		{"day in the future", report("d2", tomorrowPlus, 1), "day"},
		{"day long ago", report("d3", "1999-12-31", 1), "day"},
		{"duplicate row", twice, "second row"},
		{"counter overflow", huge, "out of range"},
		{"too many rows", tooMany, "at most"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := h.client.Report(authed(t, edgeToken), tt.rep)
			if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want InvalidArgument naming %q", err, tt.want)
			}
		})
	}
	if got := h.requests(t, day); got != 0 {
		t.Fatalf("invalid reports counted %d requests", got)
	}
}

func TestReportNeedsEdgeToken(t *testing.T) {
	h := start(t)
	day := time.Now().UTC().Format(time.DateOnly)
	for _, tok := range []string{"", "wrong"} {
		if _, err := h.client.Report(authed(t, tok), report("r", day, 1)); status.Code(err) != codes.Unauthenticated {
			t.Fatalf("token %q: %v, want Unauthenticated", tok, err)
		}
	}
	if got := h.requests(t, day); got != 0 {
		t.Fatalf("unauthenticated report counted %d requests", got)
	}
}

// TestDatabaseDownIsRetryable: a report the database could not take is
// answered with a code the edge retries, never InvalidArgument (which
// would make it drop the counts).
func TestDatabaseDownIsRetryable(t *testing.T) {
	h := start(t)
	h.db.Close()
	_, err := h.client.Report(authed(t, edgeToken), report("r", time.Now().UTC().Format(time.DateOnly), 1))
	if c := status.Code(err); c == codes.OK || c == codes.InvalidArgument {
		t.Fatalf("with the database down: %v, want a retryable error", err)
	}
}

// TestDeliveryErrorsStoredOnce: a report's delivery errors are stored with
// it, once however often it is retried; implausible entries are skipped
// without refusing the report (its counters still count).
func TestDeliveryErrorsStoredOnce(t *testing.T) {
	h := start(t)
	day := time.Now().UTC().Format(time.DateOnly)
	at := time.Now().Add(-time.Minute).Truncate(time.Millisecond)
	rep := report("report-errs", day, 2)
	good := &usagev1.DeliveryError{AccountId: "acme", Path: "photos/missing.jpg", Status: 404, Reason: "not_found",
		OriginIds: []string{"o2", "o1"}, EndpointId: "default", UnixMs: at.UnixMilli()}
	rep.Errors = []*usagev1.DeliveryError{
		good,
		{AccountId: "acme", Path: "", Status: 404, Reason: "not_found", EndpointId: "default", UnixMs: at.UnixMilli()},
		{AccountId: "acme", Path: "a b.jpg", Status: 404, Reason: "not_found", EndpointId: "default", UnixMs: at.UnixMilli()},
		{AccountId: "acme", Path: "x.jpg", Status: 200, Reason: "ok", EndpointId: "default", UnixMs: at.UnixMilli()},
		{AccountId: "acme", Path: "x.jpg", Status: 404, Reason: "not_found", EndpointId: "default", UnixMs: 1},
	}
	h.loseNext.Store(true)
	if _, err := h.client.Report(authed(t, edgeToken), rep); status.Code(err) != codes.Unavailable {
		t.Fatalf("first delivery: %v", err)
	}
	if resp, err := h.client.Report(authed(t, edgeToken), rep); err != nil || !resp.Duplicate {
		t.Fatalf("retry: %v %v", resp, err)
	}
	if got := h.requests(t, day); got != 2 {
		t.Fatalf("%d requests counted, want 2", got)
	}
	list, err := h.db.DeliveryErrors(context.Background(), tenant.Caller{AccountID: "acme", Actor: "test"}, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 {
		t.Fatalf("stored %+v, want the one plausible error once", list)
	}
	e := list[0]
	if e.Path != good.Path || e.Status != 404 || e.Reason != "not_found" || e.EndpointID != "default" || e.NodeID != "edge-1" ||
		strings.Join(e.OriginIDs, ",") != "o2,o1" || !e.OccurredAt.Equal(at) {
		t.Fatalf("stored %+v", e)
	}
}
