package usage

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	usagev1 "pictor/proto/pictor/usage/v1"
)

func TestCountersOf(t *testing.T) {
	tests := []struct {
		e    Event
		want Counters
	}{
		{Event{AccountID: "a", Status: 200, Bytes: 10, CacheStatus: "HIT-L1"}, Counters{Requests: 1, BytesOut: 10, HitsL1: 1}},
		{Event{AccountID: "a", Status: 304, CacheStatus: "HIT-L2"}, Counters{Requests: 1, HitsL2: 1}},
		{Event{AccountID: "a", Status: 200, Bytes: 5, CacheStatus: "MISS", OriginFetched: true, Transformed: true},
			Counters{Requests: 1, BytesOut: 5, Misses: 1, OriginFetches: 1, Transforms: 1}},
		{Event{AccountID: "a", Status: 200, Bytes: 5, CacheStatus: "STALE"}, Counters{Requests: 1, BytesOut: 5, Misses: 1}},
		{Event{AccountID: "a", Status: 404}, Counters{Requests: 1, Status4xx: 1}},
		{Event{AccountID: "a", Status: 502, Bytes: -1}, Counters{Requests: 1, Status5xx: 1}},
	}
	for _, tt := range tests {
		if got := countersOf(tt.e); got != tt.want {
			t.Errorf("countersOf(%+v) = %+v, want %+v", tt.e, got, tt.want)
		}
	}
}

func TestDay(t *testing.T) {
	for _, tt := range []struct {
		t    time.Time
		want string
	}{
		{time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC), "2025-03-01"},
		{time.Date(2025, 3, 1, 23, 59, 59, 999, time.UTC), "2025-03-01"},
		// 01:30 in UTC+2 is still the previous UTC day.
		{time.Date(2025, 3, 2, 1, 30, 0, 0, time.FixedZone("x", 2*3600)), "2025-03-01"},
		{time.Date(1969, 12, 31, 23, 0, 0, 0, time.UTC), "1969-12-31"},
	} {
		if got := (Key{Day: DayOf(tt.t)}).Date(); got != tt.want {
			t.Errorf("day of %v = %s, want %s", tt.t, got, tt.want)
		}
	}
}

func TestMeterIgnoresEventsWithoutAccount(t *testing.T) {
	m := NewMeter()
	m.Record(Event{Status: 404})
	got := map[Key]*Counters{}
	m.Drain(got)
	if len(got) != 0 {
		t.Fatalf("drained %v", got)
	}
}

// TestMeterConcurrentExact: many goroutines record while another drains
// over and over; every event is counted exactly once.
func TestMeterConcurrentExact(t *testing.T) {
	m := NewMeter()
	const workers, perWorker = 8, 5000
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWorker {
				m.Record(Event{AccountID: fmt.Sprintf("acct-%d", (w+i)%3), Status: 200 + 200*(i%2), Bytes: 3, CacheStatus: "HIT-L1"})
			}
		}()
	}
	total := map[Key]*Counters{}
	stop := make(chan struct{})
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		for {
			select {
			case <-stop:
				return
			default:
				m.Drain(total)
			}
		}
	}()
	wg.Wait()
	close(stop)
	<-drained
	m.Drain(total)

	var sum Counters
	for _, c := range total {
		sum.Add(*c)
	}
	n := uint64(workers * perWorker)
	want := Counters{Requests: n, BytesOut: 3 * n, HitsL1: n, Status4xx: n / 2}
	if sum != want {
		t.Fatalf("totals %+v, want %+v", sum, want)
	}
	if len(total) != 3 {
		t.Fatalf("%d keys, want 3", len(total))
	}
}

func TestMeterSplitsDays(t *testing.T) {
	m := NewMeter()
	now := time.Date(2025, 6, 30, 23, 59, 59, 0, time.UTC)
	m.now = func() time.Time { return now }
	m.Record(Event{AccountID: "a", Status: 200})
	now = now.Add(2 * time.Second)
	m.Record(Event{AccountID: "a", Status: 200})
	m.Record(Event{AccountID: "a", Status: 200})
	got := map[Key]*Counters{}
	m.Drain(got)
	d1, d2 := DayOf(now.Add(-2*time.Second)), DayOf(now)
	if len(got) != 2 || got[Key{"a", d1}].Requests != 1 || got[Key{"a", d2}].Requests != 2 {
		t.Fatalf("got %v", got)
	}
}

// fakeCP is a control plane's usage ingest: it counts each report id once,
// as the real one does, and fails calls on demand.
type fakeCP struct {
	mu      sync.Mutex
	seen    map[string]*usagev1.UsageReport
	calls   []*usagev1.UsageReport
	totals  Counters
	byKey   map[string]uint64 // account/day → requests
	failing func(call int, rep *usagev1.UsageReport) error
}

func newFakeCP() *fakeCP {
	return &fakeCP{seen: map[string]*usagev1.UsageReport{}, byKey: map[string]uint64{}}
}

func (f *fakeCP) Report(_ context.Context, rep *usagev1.UsageReport, opts ...grpc.CallOption) (*usagev1.ReportResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	// A report waits for a connection that is coming back instead of
	// failing at once (which would lose the last one at shutdown).
	waits := false
	for _, o := range opts {
		if ff, ok := o.(grpc.FailFastCallOption); ok && !ff.FailFast {
			waits = true
		}
	}
	if !waits {
		panic("Report called without WaitForReady")
	}
	rep = proto.CloneOf(rep) // the wire would copy it
	call := len(f.calls)
	f.calls = append(f.calls, rep)
	// ingest happens before the failure: the lost-acknowledgement case
	ingest := func() bool {
		if prev, ok := f.seen[rep.ReportId]; ok {
			if !proto.Equal(prev, rep) {
				panic("report " + rep.ReportId + " retried with different contents")
			}
			return true
		}
		f.seen[rep.ReportId] = rep
		f.totals.Add(totals(rep))
		for _, u := range rep.Usage {
			f.byKey[u.AccountId+"/"+u.Day] += u.Requests
		}
		return false
	}
	var err error
	if f.failing != nil {
		err = f.failing(call, rep)
	}
	if status.Code(err) == codes.InvalidArgument {
		return nil, err
	}
	dup := ingest()
	if err != nil {
		return nil, err
	}
	return &usagev1.ReportResponse{Duplicate: dup}, nil
}

func (f *fakeCP) snapshot() (Counters, int, map[string]uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	keys := map[string]uint64{}
	for k, v := range f.byKey {
		keys[k] = v
	}
	return f.totals, len(f.calls), keys
}

func newTestReporter(cp *fakeCP) (*Meter, *Reporter) {
	m := NewMeter()
	return m, NewReporter(cp, m, ReporterConfig{NodeID: "edge-1", Interval: 10 * time.Millisecond}, nil)
}

// TestRetrySameReport: the first call is ingested but its answer lost; the
// retry carries the same id and contents, events recorded meanwhile go in
// a later report, and everything is counted exactly once.
func TestRetrySameReport(t *testing.T) {
	cp := newFakeCP()
	cp.failing = func(call int, _ *usagev1.UsageReport) error {
		if call == 0 {
			return status.Error(codes.Unavailable, "connection reset after commit")
		}
		return nil
	}
	m, r := newTestReporter(cp)
	ctx := context.Background()
	for range 3 {
		m.Record(Event{AccountID: "a", Status: 200, Bytes: 100, CacheStatus: "MISS", OriginFetched: true, Transformed: true})
	}
	r.Flush(ctx) // ingested, answer lost
	if len(r.inflight) != 1 {
		t.Fatalf("%d reports in flight after a failed call, want 1", len(r.inflight))
	}
	m.Record(Event{AccountID: "a", Status: 404})
	m.Record(Event{AccountID: "b", Status: 200, Bytes: 7, CacheStatus: "HIT-L1"})
	r.Flush(ctx) // retry of the first, then the second report
	r.Flush(ctx) // nothing left

	cp.mu.Lock()
	calls := cp.calls
	cp.mu.Unlock()
	if len(calls) != 3 {
		t.Fatalf("%d calls, want 3 (first, its retry, the next report)", len(calls))
	}
	if calls[0].ReportId != calls[1].ReportId || !proto.Equal(calls[0], calls[1]) {
		t.Errorf("retry differs from the first attempt:\n%v\n%v", calls[0], calls[1])
	}
	if calls[2].ReportId == calls[0].ReportId {
		t.Error("later events reused the id of the report in doubt")
	}
	got, _, _ := cp.snapshot()
	want := Counters{Requests: 5, BytesOut: 307, HitsL1: 1, Misses: 3, OriginFetches: 3, Transforms: 3, Status4xx: 1}
	if got != want {
		t.Fatalf("counted %+v, want %+v", got, want)
	}
}

// TestOutageBoundedAndExact: during a long outage the same report is
// retried, new counts merge into one pending set (bounded by accounts ×
// days), and after recovery every event is counted once.
func TestOutageBoundedAndExact(t *testing.T) {
	cp := newFakeCP()
	var down atomic.Bool
	down.Store(true)
	cp.failing = func(int, *usagev1.UsageReport) error {
		if down.Load() {
			return status.Error(codes.Unavailable, "control plane down")
		}
		return nil
	}
	m, r := newTestReporter(cp)
	ctx := context.Background()
	accounts := []string{"a", "b", "c", "d"}
	var sent uint64
	for tick := range 50 {
		for i := range 20 {
			m.Record(Event{AccountID: accounts[(tick+i)%len(accounts)], Status: 200, Bytes: 1, CacheStatus: "HIT-L2"})
			sent++
		}
		r.Flush(ctx)
		if len(r.pending) > len(accounts) || len(r.inflight) > 1 {
			t.Fatalf("tick %d: %d pending rows, %d reports in flight: memory grows with the outage", tick, len(r.pending), len(r.inflight))
		}
	}
	_, calls, _ := cp.snapshot()
	cp.mu.Lock()
	ids := map[string]bool{}
	for _, c := range cp.calls {
		ids[c.ReportId] = true
	}
	cp.mu.Unlock()
	if calls != 50 || len(ids) != 1 {
		t.Fatalf("%d calls with %d distinct ids during the outage, want 50 retries of 1 report", calls, len(ids))
	}

	down.Store(false)
	r.Flush(ctx)
	r.Flush(ctx)
	got, _, _ := cp.snapshot()
	if got.Requests != sent || got.HitsL2 != sent || got.BytesOut != sent {
		t.Fatalf("counted %+v, want %d requests", got, sent)
	}
	if len(r.inflight) != 0 || len(r.pending) != 0 {
		t.Fatalf("left %d in flight, %d pending", len(r.inflight), len(r.pending))
	}
}

// TestRejectedReportDropped: a report the control plane can never accept
// does not block the ones after it.
func TestRejectedReportDropped(t *testing.T) {
	cp := newFakeCP()
	cp.failing = func(call int, _ *usagev1.UsageReport) error {
		if call == 0 {
			return status.Error(codes.InvalidArgument, "bad report")
		}
		return nil
	}
	m, r := newTestReporter(cp)
	m.Record(Event{AccountID: "a", Status: 200})
	r.Flush(context.Background())
	if len(r.inflight) != 0 {
		t.Fatal("rejected report kept")
	}
	m.Record(Event{AccountID: "a", Status: 200})
	r.Flush(context.Background())
	if got, _, _ := cp.snapshot(); got.Requests != 1 {
		t.Fatalf("counted %d requests, want the second report's 1", got.Requests)
	}
}

func TestLargeReportSplit(t *testing.T) {
	cp := newFakeCP()
	m, r := newTestReporter(cp)
	n := maxRowsPerReport*2 + 10
	for i := range n {
		m.Record(Event{AccountID: fmt.Sprintf("acct-%05d", i), Status: 200})
	}
	r.Flush(context.Background())
	got, calls, keys := cp.snapshot()
	if calls != 3 || got.Requests != uint64(n) || len(keys) != n {
		t.Fatalf("%d calls, %d requests, %d keys; want 3 calls, %d of each", calls, got.Requests, len(keys), n)
	}
	cp.mu.Lock()
	defer cp.mu.Unlock()
	for _, c := range cp.calls {
		if len(c.Usage) > maxRowsPerReport {
			t.Fatalf("report of %d rows", len(c.Usage))
		}
		if c.NodeId != "edge-1" || c.ReportId == "" || c.CreatedUnixMs == 0 {
			t.Fatalf("report header %q %q %d", c.NodeId, c.ReportId, c.CreatedUnixMs)
		}
	}
}

// TestRunReportsAndFlushesOnStop: Run reports on its own, and what is
// recorded just before it stops still goes out.
func TestRunReportsAndFlushesOnStop(t *testing.T) {
	cp := newFakeCP()
	m, r := newTestReporter(cp)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		r.Run(ctx)
		close(done)
	}()
	m.Record(Event{AccountID: "a", Status: 200})
	deadline := time.Now().Add(5 * time.Second)
	for {
		if got, _, _ := cp.snapshot(); got.Requests == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Run never reported")
		}
		time.Sleep(5 * time.Millisecond)
	}
	m.Record(Event{AccountID: "a", Status: 500})
	cancel()
	<-done
	if got, _, _ := cp.snapshot(); got.Requests != 2 || got.Status5xx != 1 {
		t.Fatalf("after stop: %+v, want the last event flushed", got)
	}
}

func BenchmarkRecordParallel(b *testing.B) {
	m := NewMeter()
	e := Event{AccountID: "acct", Status: 200, Bytes: 1234, CacheStatus: "HIT-L1"}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.Record(e)
		}
	})
}

// TestStopFlushesBehindReportInDoubt: when Run stops with a report in
// doubt and newer counts waiting behind it, the last flush delivers both.
func TestStopFlushesBehindReportInDoubt(t *testing.T) {
	cp := newFakeCP()
	var fail atomic.Bool
	fail.Store(true)
	cp.failing = func(int, *usagev1.UsageReport) error {
		if fail.Load() {
			return status.Error(codes.Unavailable, "down")
		}
		return nil
	}
	m, r := newTestReporter(cp)
	m.Record(Event{AccountID: "a", Status: 200})
	r.Flush(context.Background()) // in doubt now
	m.Record(Event{AccountID: "b", Status: 200})
	fail.Store(false)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r.Run(ctx) // stopped at once: only the final flush runs
	if got, _, keys := cp.snapshot(); got.Requests != 2 || len(keys) != 2 {
		t.Fatalf("after stop: %+v %v, want both events", got, keys)
	}
}

func errEvent(account, path string, status int) Event {
	return Event{AccountID: account, Status: status, Path: path, EndpointID: "default", OriginIDs: []string{"o1", "o2"}, Reason: "not_found"}
}

// TestMeterKeepsRecentErrors: only actionable statuses with a path are
// kept; per account the newest MaxErrorsPerAccount, one per endpoint, path
// and status (the newest); and the accounts kept are bounded.
func TestMeterKeepsRecentErrors(t *testing.T) {
	m := NewMeter()
	tick := time.Unix(1_700_000_000, 0)
	m.now = func() time.Time { tick = tick.Add(time.Second); return tick }
	m.Record(Event{AccountID: "a", Status: 200, Path: "ok.jpg"})
	m.Record(Event{AccountID: "a", Status: 400, Path: "bad.jpg"})
	m.Record(Event{AccountID: "a", Status: 404}) // no path: not reported
	origins := []string{"o1", "o2"}
	e := errEvent("a", "x.jpg", 404)
	e.OriginIDs = origins
	m.Record(e)
	origins[0] = "changed" // the meter kept its own copy
	m.Record(errEvent("a", "y.jpg", 502))
	m.Record(errEvent("a", "x.jpg", 404)) // newer duplicate of the first
	m.Record(errEvent("a", "x.jpg", 504)) // another status: another entry
	got := map[string][]DeliveryError{}
	m.DrainErrors(got)
	var paths []string
	for _, d := range got["a"] {
		paths = append(paths, fmt.Sprintf("%s %d", d.Path, d.Status))
	}
	if fmt.Sprint(paths) != "[y.jpg 502 x.jpg 404 x.jpg 504]" || len(got) != 1 {
		t.Fatalf("kept %v (%+v)", paths, got)
	}
	if d := got["a"][1]; d.OriginIDs[0] != "o1" || d.EndpointID != "default" || d.Reason != "not_found" || !d.At.Equal(time.Unix(1_700_000_000+6, 0)) {
		t.Fatalf("entry %+v", d)
	}
	again := map[string][]DeliveryError{}
	m.DrainErrors(again)
	if len(again) != 0 {
		t.Fatalf("drained twice: %+v", again)
	}

	for i := range 3 * MaxErrorsPerAccount {
		m.Record(errEvent("a", fmt.Sprintf("p%d.jpg", i), 404))
	}
	for i := range 2 * maxErrorAccounts {
		m.Record(errEvent(fmt.Sprintf("acct-%d", i), "p.jpg", 404))
	}
	got = map[string][]DeliveryError{}
	m.DrainErrors(got)
	if l := got["a"]; len(l) != MaxErrorsPerAccount || l[len(l)-1].Path != fmt.Sprintf("p%d.jpg", 3*MaxErrorsPerAccount-1) {
		t.Fatalf("account a kept %d errors, last %+v", len(l), l[len(l)-1])
	}
	if len(got) > maxErrorAccounts {
		t.Fatalf("%d accounts kept, at most %d", len(got), maxErrorAccounts)
	}
	long := errEvent("b", string(make([]byte, 3*maxErrorPathLen)), 404)
	m.Record(long)
	got = map[string][]DeliveryError{}
	m.DrainErrors(got)
	if len(got["b"][0].Path) != maxErrorPathLen {
		t.Fatalf("path of %d bytes kept", len(got["b"][0].Path))
	}
}

// TestErrorsSentOnceWithReport: errors ride in the next report; a retry
// carries the same ones under the same id; after the acknowledgement they
// are never sent again; errors recorded meanwhile go in a later report.
func TestErrorsSentOnceWithReport(t *testing.T) {
	cp := newFakeCP()
	cp.failing = func(call int, _ *usagev1.UsageReport) error {
		if call == 0 {
			return status.Error(codes.Unavailable, "connection reset after commit")
		}
		return nil
	}
	m, r := newTestReporter(cp)
	ctx := context.Background()
	m.Record(errEvent("a", "missing.jpg", 404))
	r.Flush(ctx) // ingested, answer lost
	m.Record(errEvent("a", "later.jpg", 502))
	r.Flush(ctx) // retry, then the next report
	r.Flush(ctx) // nothing left
	r.Flush(ctx)

	cp.mu.Lock()
	calls := cp.calls
	cp.mu.Unlock()
	if len(calls) != 3 {
		t.Fatalf("%d calls, want 3", len(calls))
	}
	if !proto.Equal(calls[0], calls[1]) || len(calls[0].Errors) != 1 || calls[0].Errors[0].Path != "missing.jpg" {
		t.Fatalf("first report %v, retry %v", calls[0], calls[1])
	}
	e := calls[0].Errors[0]
	if e.AccountId != "a" || e.Status != 404 || e.Reason != "not_found" || e.EndpointId != "default" ||
		fmt.Sprint(e.OriginIds) != "[o1 o2]" || e.UnixMs == 0 {
		t.Fatalf("error sent as %v", e)
	}
	if len(calls[2].Errors) != 1 || calls[2].Errors[0].Path != "later.jpg" {
		t.Fatalf("next report carries %v", calls[2].Errors)
	}
}

// TestManyErrorsSplit: errors beyond one report's share go in further
// reports, even without counters to carry them.
func TestManyErrorsSplit(t *testing.T) {
	cp := newFakeCP()
	_, r := newTestReporter(cp)
	for i := range maxErrorsPerReport/MaxErrorsPerAccount + 5 {
		acct := fmt.Sprintf("a%03d", i)
		for j := range MaxErrorsPerAccount {
			r.pendingErrs[acct] = addError(r.pendingErrs[acct], DeliveryError{AccountID: acct, Path: fmt.Sprint(j), Status: 404})
		}
	}
	r.Flush(context.Background())
	cp.mu.Lock()
	defer cp.mu.Unlock()
	if len(cp.calls) != 2 || len(cp.calls[0].Errors) != maxErrorsPerReport || len(cp.calls[1].Errors) != 5*MaxErrorsPerAccount {
		t.Fatalf("%d reports", len(cp.calls))
	}
}
