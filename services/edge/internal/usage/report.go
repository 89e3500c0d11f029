package usage

import (
	"cmp"
	"context"
	crand "crypto/rand"
	"log/slog"
	"math/rand/v2"
	"slices"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	usagev1 "pictor/proto/pictor/usage/v1"
	"pictor/services/edge/internal/panics"
)

// DefaultInterval is how often an edge reports.
const DefaultInterval = 5 * time.Second

const (
	// maxRowsPerReport keeps a report far below the control plane's 1 MiB
	// message limit (a row is under 100 bytes on the wire); an edge with
	// more accounts than this in one interval sends several reports.
	maxRowsPerReport = 2000
	// maxErrorsPerReport bounds the delivery errors in one report (an
	// error is at most about 1.7 KB: a 1 KiB path and 16 origin ids).
	maxErrorsPerReport = 400
	// callTimeout bounds one Report call; the control plane that does not
	// answer in time is asked again at the next tick.
	callTimeout = 10 * time.Second
	// flushTimeout bounds the last attempt on shutdown.
	flushTimeout = 5 * time.Second
)

// ReporterConfig configures a Reporter.
type ReporterConfig struct {
	NodeID string
	// Interval between reports; DefaultInterval when zero.
	Interval time.Duration
}

// Reporter sends a Meter's counts to the control plane.
//
// Exactly-once works like this. A report, once built, is immutable: it has
// an id and fixed contents, and it is retried (same id, same contents)
// until the control plane acknowledges it, which it does only after adding
// it in the same transaction that records the id. While reports are in
// flight, new counts are merged into one pending map, which becomes the
// next reports once the in-flight ones are through. Nothing in doubt is
// ever merged into anything else, so a retry can never count an event
// twice, and memory stays bounded by accounts × days, however long the
// control plane is away.
//
// Delivery errors ride along: drained into pendingErrs (bounded per account
// and in accounts, so older ones are dropped while the control plane is
// away: they are diagnostics, not billing), they join the next reports
// built and are then as immutable as the counters. A report retried carries
// the same errors under the same id, which the control plane stores once;
// after the acknowledgement they are gone, never sent again.
type Reporter struct {
	client usagev1.UsageServiceClient
	meter  *Meter
	cfg    ReporterConfig
	log    *slog.Logger

	// Owned by Run's goroutine.
	pending     map[Key]*Counters          // drained, not yet in a report
	pendingErrs map[string][]DeliveryError // drained errors per account, not yet in a report
	inflight    []*usagev1.UsageReport     // built, not yet acknowledged, oldest first
	failures    int                        // consecutive failed calls, to quiet the log

	now func() time.Time
}

// NewReporter returns a reporter of m's counts through client.
func NewReporter(client usagev1.UsageServiceClient, m *Meter, cfg ReporterConfig, log *slog.Logger) *Reporter {
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Reporter{
		client:      client,
		meter:       m,
		cfg:         cfg,
		log:         log.With("component", "usage"),
		pending:     make(map[Key]*Counters),
		pendingErrs: make(map[string][]DeliveryError),
		now:         time.Now,
	}
}

// Run reports every interval until ctx ends, then makes one last attempt to
// send everything counted (bounded by flushTimeout) and returns. Call it
// once; stop it after the HTTP server has drained, so the last requests are
// in the last report.
func (r *Reporter) Run(ctx context.Context) {
	for {
		// ±10 % jitter, so a fleet that restarted together does not report
		// in lockstep.
		wait := r.cfg.Interval*9/10 + rand.N(r.cfg.Interval/5+1)
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), flushTimeout)
			r.Flush(fctx)
			cancel()
			if left := r.unsent(); left.Requests > 0 {
				// An unacknowledged report may have been counted; the rest
				// was never sent.
				r.log.Error("usage not acknowledged before shutdown; these counts may be lost",
					"requests", left.Requests, "bytes_out", left.BytesOut, "unacknowledged_reports", len(r.inflight))
			}
			return
		case <-time.After(wait):
		}
		r.safeFlush(ctx)
	}
}

// safeFlush is Flush with a panic turned into a log line and a count: the
// counts it was sending stay pending for the next attempt, and the edge
// keeps serving.
func (r *Reporter) safeFlush(ctx context.Context) {
	defer func() {
		if p := recover(); p != nil {
			panics.Recovered(r.log, panics.UsageReport, p)
		}
	}()
	r.Flush(ctx)
}

// Flush moves the meter's counts into reports and sends every report it
// can, oldest first, stopping at the first failure (the rest wait for the
// next call). Counts drained while reports are in flight become new
// reports only once those are acknowledged. It must not run concurrently
// with Run or itself.
func (r *Reporter) Flush(ctx context.Context) {
	r.meter.Drain(r.pending)
	r.meter.DrainErrors(r.pendingErrs)
	for {
		if len(r.inflight) == 0 {
			// Only now: counts must never join a report in doubt.
			if len(r.pending) == 0 && len(r.pendingErrs) == 0 {
				return
			}
			r.inflight = r.build()
		}
		rep := r.inflight[0]
		cctx, cancel := context.WithTimeout(ctx, callTimeout)
		// Wait for a connection that is down or backing off instead of
		// failing at once: the last flush before shutdown gets one try.
		resp, err := r.client.Report(cctx, rep, grpc.WaitForReady(true))
		cancel()
		if err != nil && ctx.Err() != nil {
			return // stopping: the final flush retries it
		}
		if err != nil {
			if status.Code(err) == codes.InvalidArgument {
				// The control plane says this report can never be accepted;
				// retrying would block every later one behind it.
				t := totals(rep)
				r.log.Error("control plane rejected a usage report; dropping it",
					"report_id", rep.ReportId, "err", err, "requests", t.Requests, "bytes_out", t.BytesOut)
				r.inflight = r.inflight[1:]
				continue
			}
			r.failures++
			// Log the first failure and then one in twelve (once a minute
			// at the default interval), not one line per tick of an outage.
			if r.failures%12 == 1 {
				r.log.Warn("usage report not delivered; retrying the same report",
					"report_id", rep.ReportId, "err", err, "consecutive_failures", r.failures,
					"queued_reports", len(r.inflight), "pending_rows", len(r.pending))
			}
			return
		}
		if r.failures > 0 {
			r.log.Info("usage reporting recovered", "report_id", rep.ReportId, "failed_attempts", r.failures)
			r.failures = 0
		}
		r.log.Debug("usage report delivered", "report_id", rep.ReportId, "rows", len(rep.Usage), "errors", len(rep.Errors),
			"duplicate", resp.GetDuplicate())
		r.inflight[0] = nil
		r.inflight = r.inflight[1:]
	}
}

// build turns the pending counts and errors into reports of at most
// maxRowsPerReport rows and maxErrorsPerReport errors each, in a stable
// order (logs and tests read better).
func (r *Reporter) build() []*usagev1.UsageReport {
	keys := make([]Key, 0, len(r.pending))
	for k := range r.pending {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b Key) int {
		return cmp.Or(cmp.Compare(a.Day, b.Day), cmp.Compare(a.AccountID, b.AccountID))
	})
	var out []*usagev1.UsageReport
	for len(keys) > 0 {
		n := min(len(keys), maxRowsPerReport)
		rep := &usagev1.UsageReport{
			ReportId:      newReportID(),
			NodeId:        r.cfg.NodeID,
			CreatedUnixMs: r.now().UnixMilli(),
			Usage:         make([]*usagev1.AccountUsage, 0, n),
		}
		for _, k := range keys[:n] {
			c := r.pending[k]
			rep.Usage = append(rep.Usage, &usagev1.AccountUsage{
				AccountId:     k.AccountID,
				Day:           k.Date(),
				Requests:      c.Requests,
				BytesOut:      c.BytesOut,
				HitsL1:        c.HitsL1,
				HitsL2:        c.HitsL2,
				Misses:        c.Misses,
				OriginFetches: c.OriginFetches,
				Transforms:    c.Transforms,
				Status_4Xx:    c.Status4xx,
				Status_5Xx:    c.Status5xx,
			})
		}
		out = append(out, rep)
		keys = keys[n:]
	}
	r.pending = make(map[Key]*Counters)

	errs := r.buildErrors()
	for i := 0; len(errs) > 0; i++ {
		if i == len(out) {
			out = append(out, &usagev1.UsageReport{ReportId: newReportID(), NodeId: r.cfg.NodeID, CreatedUnixMs: r.now().UnixMilli()})
		}
		n := min(len(errs), maxErrorsPerReport)
		out[i].Errors = errs[:n:n]
		errs = errs[n:]
	}
	return out
}

// buildErrors converts the pending errors, by account and then oldest
// first, and forgets them.
func (r *Reporter) buildErrors() []*usagev1.DeliveryError {
	accounts := make([]string, 0, len(r.pendingErrs))
	n := 0
	for a, list := range r.pendingErrs {
		accounts = append(accounts, a)
		n += len(list)
	}
	slices.Sort(accounts)
	out := make([]*usagev1.DeliveryError, 0, n)
	for _, a := range accounts {
		for _, d := range r.pendingErrs[a] {
			out = append(out, &usagev1.DeliveryError{
				AccountId:  d.AccountID,
				Path:       d.Path,
				Status:     uint32(d.Status),
				Reason:     d.Reason,
				OriginIds:  d.OriginIDs,
				EndpointId: d.EndpointID,
				UnixMs:     d.At.UnixMilli(),
			})
		}
	}
	r.pendingErrs = make(map[string][]DeliveryError)
	return out
}

// unsent sums what is counted but not acknowledged.
func (r *Reporter) unsent() Counters {
	r.meter.Drain(r.pending)
	var t Counters
	for _, c := range r.pending {
		t.Add(*c)
	}
	for _, rep := range r.inflight {
		t.Add(totals(rep))
	}
	return t
}

func totals(rep *usagev1.UsageReport) Counters {
	var t Counters
	for _, u := range rep.GetUsage() {
		t.Add(Counters{
			Requests: u.Requests, BytesOut: u.BytesOut, HitsL1: u.HitsL1, HitsL2: u.HitsL2, Misses: u.Misses,
			OriginFetches: u.OriginFetches, Transforms: u.Transforms, Status4xx: u.Status_4Xx, Status5xx: u.Status_5Xx,
		})
	}
	return t
}

// newReportID returns 128 random bits (base32): collisions between the
// reports of every edge, ever, are not a concern.
func newReportID() string { return crand.Text() }
